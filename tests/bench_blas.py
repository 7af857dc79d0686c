"""GEMM speed of OpenBLAS's core types in attncli's shapes: the measurement behind attncli.blas's choice.

    python tests/bench_blas.py                          # OpenBLAS's own choice, SkylakeX, Haswell, Zen; 1 and 2 threads
    python tests/bench_blas.py --cores SkylakeX,Haswell --threads 1 --rounds 5
    python tests/bench_blas.py --quick                  # fewer shapes, one round: a smoke run

Each core type runs in a fresh interpreter with OPENBLAS_CORETYPE set before numpy loads (OpenBLAS picks its
kernels once, at load time) and OPENBLAS_NUM_THREADS set; the rounds go over every core type in turn, so a noisy
moment hits them all alike, and each cell is the best (minimum) time over the rounds. A cell is GFLOP/s of
np.matmul(a, b, out=c) for C-contiguous operands, as attncli's kernels call it. The column header says which
kernels OpenBLAS actually loaded: a DYNAMIC_ARCH build without a core type's own kernels gives another's (numpy's
wheel runs Haswell's for Zen and SkylakeX's for Cooperlake). Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

D = 64  # head size of the attention shapes
DEFAULT = "default"  # OpenBLAS's own choice: OPENBLAS_CORETYPE unset
ATTENTION = ((2048, False), (4096, False), (4096, True))  # attncli.attend(), 8 heads: (n, causal)


def shapes(quick: bool) -> list[tuple[str, int, int, int]]:
    """(what, m, k, n) for C = A (m × k) · B (k × n)."""
    rows, keys = ((256, 2048), (512, 8192)) if quick else ((256, 1024, 2048), (512, 2048, 8192))
    out = [(f"scores {m}×{D}·{D}×{n}", m, D, n) for m in rows for n in keys]  # Q·Kᵀ
    out += [(f"P·V {m}×{n}·{n}×{D}", m, n, D) for m in rows for n in keys]  # P·V
    out += [("MLP up 512×768·768×3072", 512, 768, 3072), ("MLP down 512×3072·3072×768", 512, 3072, 768)]
    return out


def child(quick: bool, budget: float) -> None:
    """Time every shape in this process (core type and threads come from the environment); print JSON."""
    import time

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from attncli import blas

    rng = np.random.default_rng(0)
    best: dict[str, float] = {}
    for dtype in ("float32", "float64"):
        for what, m, k, n in shapes(quick):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = np.empty((m, n), dtype=dtype)
            np.matmul(a, b, out=c)  # first touch, thread start
            times: list[float] = []
            while len(times) < 3 or (sum(times) < budget and len(times) < 50):
                t = time.perf_counter()
                np.matmul(a, b, out=c)
                times.append(time.perf_counter() - t)
            best[f"{what}|{dtype}"] = min(times)
    if os.environ.get("OPENBLAS_NUM_THREADS") == "1":  # one core: the CLI's threads=1, a BLAS thread each
        from attncli import Plan, Spec, attend

        for dtype in ("float32", "float64"):
            for n, causal in ATTENTION:
                q, k, v = (rng.standard_normal((1, 8, n, D)).astype(dtype) for _ in range(3))
                attend(q, k, v, Spec(causal=causal), Plan(need=["output"], threads=1))
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    attend(q, k, v, Spec(causal=causal), Plan(need=["output"], threads=1))
                    times.append(time.perf_counter() - t)
                best[f"attention|{n}|{causal}|{dtype}"] = min(times)
    info = blas.describe()
    print(json.dumps({"core": info.get("core"), "library": info.get("library"), "times": best}))


def run_child(core: str, threads: int, quick: bool, budget: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_VERBOSE")}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if core != DEFAULT:
        env["OPENBLAS_CORETYPE"] = core
    cmd = [sys.executable, __file__, "--child", "--budget", str(budget)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def flops(m: int, k: int, n: int) -> float:
    return 2.0 * m * k * n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default=f"{DEFAULT},SkylakeX,Haswell,Zen",
                    help=f"comma-separated OPENBLAS_CORETYPE values; '{DEFAULT}' leaves it unset")
    ap.add_argument("--threads", default="1,2", help="comma-separated OPENBLAS_NUM_THREADS values")
    ap.add_argument("--rounds", type=int, default=3, help="passes over all core types; each cell is the best")
    ap.add_argument("--budget", type=float, default=0.05, help="seconds of repeats per shape and pass")
    ap.add_argument("--quick", action="store_true", help="fewer shapes, one round")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.quick, args.budget)
        return
    cores = [c.strip() for c in args.cores.split(",") if c.strip()]
    threads = [int(t) for t in args.threads.split(",")]
    rounds = 1 if args.quick else args.rounds
    best: dict[tuple[int, str], dict[str, float]] = {}
    loaded: dict[str, str] = {}
    library = ""
    for _ in range(rounds):
        for t in threads:
            for core in cores:
                res = run_child(core, t, args.quick, args.budget)
                loaded[core], library = str(res["core"]), str(res["library"])
                cell = best.setdefault((t, core), {})
                for key, sec in res["times"].items():
                    cell[key] = min(sec, cell.get(key, math.inf))
    cpu = _cpu_name()
    print(f"{cpu}; {library}; {rounds} round(s), best of each; GFLOP/s of np.matmul (higher is better)")
    heads = [c if loaded[c] == c else f"{c} (runs {loaded[c]})" for c in cores]
    for t in threads:
        for dtype in ("float32", "float64"):
            print(f"\nOPENBLAS_NUM_THREADS={t}, {dtype}\n")
            print("| shape | " + " | ".join(heads) + " | best / default |")
            print("|---|" + "---|" * len(cores) + "---|")
            logs: dict[str, list[float]] = {c: [] for c in cores}
            for what, m, k, n in shapes(args.quick):
                key = f"{what}|{dtype}"
                rates = {c: flops(m, k, n) / best[(t, c)][key] / 1e9 for c in cores}
                for c in cores:
                    logs[c].append(math.log(rates[c]))
                top = max(rates.values())
                ref = rates.get(DEFAULT)
                cells = [f"**{rates[c]:.0f}**" if rates[c] == top else f"{rates[c]:.0f}" for c in cores]
                print(f"| {what} | " + " | ".join(cells) + (f" | {top / ref:.2f} |" if ref else " | — |"))
            means = {c: math.exp(sum(v) / len(v)) for c, v in logs.items()}
            ref = means.get(DEFAULT)
            print("| geometric mean | " + " | ".join(f"{means[c]:.0f}" for c in cores) + " | "
                  + (" / ".join(f"{means[c] / ref:.2f}" for c in cores) if ref else "—") + " |")
    if 1 in threads:
        print("\nattncli.attend(q, k, v, Plan(threads=1)), 8 heads, d = 64, output only, OPENBLAS_NUM_THREADS=1; "
              "seconds (lower is better)\n")
        print("| case | " + " | ".join(heads) + " | default / best |")
        print("|---|" + "---|" * len(cores) + "---|")
        for dtype in ("float32", "float64"):
            for n, causal in ATTENTION:
                sec = {c: best[(1, c)][f"attention|{n}|{causal}|{dtype}"] for c in cores}
                top = min(sec.values())
                cells = [f"**{sec[c]:.3f}**" if sec[c] == top else f"{sec[c]:.3f}" for c in cores]
                ref = sec.get(DEFAULT)
                print(f"| n = {n}{', causal' if causal else ''}, {dtype} | " + " | ".join(cells)
                      + (f" | {ref / top:.2f} |" if ref else " | — |"))


def _cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return "CPU: unknown"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    get = {k.strip(): v.strip() for k, v in fields.items()}.get
    where = f"family {get('cpu family', '?')}, model {get('model', '?')}, {os.cpu_count()} cores"
    return f"{get('model name', '?')} ({where})"


if __name__ == "__main__":
    main()
