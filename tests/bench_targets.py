"""The issue's target rows of tests/bench.py (T1-T6), and the helpers both files use: run a command and time it,
write random inputs, print a table row.

T1-T4 take their ratios from one run: an attncli worker process and a PyTorch worker process, both kept alive,
are asked for one timing at a time, taking turns (attncli full, PyTorch full, attncli causal, PyTorch causal,
then the next size, then all again); each side's time is its minimum over the rounds, after one untimed warm-up
call per case. T5 runs tests/bench_models.py's two servers the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORKER_CODE = """
import os, sys, time
kind = sys.argv[1]
if kind == "attncli":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI runs: attncli's threads, one BLAS thread each
    try:  # the BLAS kernels the CLI would pick on this CPU, when this attncli chooses them
        from attncli import blas
        blas.apply()
    except (ImportError, AttributeError):
        pass
import numpy as np
if kind == "attncli":
    from attncli import Plan, Spec, attend
    def op(q, k, v, causal):
        attend(q, k, v, Spec(causal=causal), Plan(need=["output"]))
else:
    import torch
    F = torch.nn.functional
    def op(q, k, v, causal):
        F.scaled_dot_product_attention(q, k, v, is_causal=causal)
cache = {}
said = ""
try:  # which BLAS kernels this worker's products run on (attncli.blas.describe(), when this attncli has it)
    from attncli import blas
    said = blas.describe_line(blas.describe())
except Exception:
    pass
print("ready", said, flush=True)
last = {}
for line in sys.stdin:
    prefix, causal = line.split()
    if prefix not in cache:
        arrays = tuple(np.load(prefix + t + ".npy") for t in "qkv")
        cache[prefix] = arrays if kind == "attncli" else tuple(torch.from_numpy(a) for a in arrays)
        op(*cache[prefix], True); op(*cache[prefix], False)  # warm-up: threads, buffers, first-touch pages
    if last.get(line, 1.0) < 0.1:  # a short call: untimed calls of the same case for 20 ms first (see SHORT_CALLS)
        until = time.perf_counter() + 0.02
        while time.perf_counter() < until:
            op(*cache[prefix], causal == "1")
    t = time.perf_counter()
    op(*cache[prefix], causal == "1")
    last[line] = time.perf_counter() - t
    print(last[line], flush=True)
"""
# SHORT_CALLS: a call under 0.1 s is timed right after 20 ms of untimed calls of the same case, on both sides.
# Measured here: the other side's threads are still busy for several ms after its call (PyTorch's OpenMP threads
# spin before they sleep; CPUs left idle come back slowly), which a 4 ms call cannot absorb: attncli at n = 512
# measured 1.3-2× PyTorch's time when timed just after PyTorch's call.


class Worker:
    """A process that times one attention call per request: attncli's library call or PyTorch's SDPA."""

    def __init__(self, python: str, kind: str) -> None:
        env = {**os.environ}
        self.proc = subprocess.Popen([python, "-c", WORKER_CODE, kind], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().split(maxsplit=1)
        assert ready and ready[0] == "ready", ready
        self.blas = ready[1].strip() if len(ready) > 1 else ""  # attncli.blas.describe_line(), if any

    def time(self, prefix: Path, causal: bool) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{prefix} {int(causal)}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


WHOLE_ROUNDS = 7  # T4: whole processes, each followed by PyTorch's operation


def rounds_for(n: int) -> int:
    """Turns each side takes at size n: more for the short calls, which a busy machine disturbs most."""
    return 3 if n >= 8192 else 7 if n >= 4096 else 15


def target_rows(cli: list[str], ours: Worker, ref: Worker | None, tmp: Path, quick: bool) -> None:
    """T1-T4: library call vs SDPA (full, causal), causal vs full, whole process vs SDPA; ratios from one run."""
    full_sizes = (256, 512, 1024) if quick else (1024, 2048, 4096, 8192, 16384)
    causal_sizes = (256, 512, 1024) if quick else (512, 1024, 2048, 4096, 8192, 16384)
    n_whole = 1024 if quick else 8192
    sizes = sorted(set(full_sizes) | set(causal_sizes) | {n_whole})
    prefix = {}
    for n in sizes:
        prefix[n] = tmp / f"t{n}_"
        inputs(tmp, f"t{n}", (1, 8, n, 64))  # t{n}_q.npy, ...
    best: dict[tuple[str, int, bool], float] = {}
    turns: dict[tuple[str, int, bool], list[float]] = {}  # every time, in turn order: ratios of neighbours

    def keep(key: tuple[str, int, bool], t: float) -> None:
        best[key] = min(best.get(key, float("inf")), t)
        turns.setdefault(key, []).append(t)

    def paired(a: tuple[str, int, bool], b: tuple[str, int, bool]) -> str:
        """The median of a/b over the turns (each pair timed back to back: a machine whose speed drifts
        moves both); the table's ratio is of the minimums."""
        if a not in turns or b not in turns:
            return ""
        return f"; paired median {float(np.median(np.divide(turns[a], turns[b]))):.2f}"

    whole_cmd = cli + ["compute", "--q", f"{prefix[n_whole]}q.npy", "--k", f"{prefix[n_whole]}k.npy", "--v",
                       f"{prefix[n_whole]}v.npy", "--show", "output", "-o", str(tmp / "whole_out.npy")]
    peak = 0.0
    for turn in range(max(map(rounds_for, sizes))):
        for n in (n for n in sizes if turn < rounds_for(n)):
            for causal in (False, True):
                if causal and n not in causal_sizes:  # (full runs at every size: causal vs full needs it)
                    continue
                keep(("attncli", n, causal), ours.time(prefix[n], causal))
                if ref:
                    keep(("torch", n, causal), ref.time(prefix[n], causal))
    # T4 on its own, after the rest: the whole process taking turns with SDPA's operation on the same inputs and
    # nothing else in between (a process started right after a long PyTorch call at another size, or after the
    # machine sat idle, measured 10-20% slower here)
    for _ in range(WHOLE_ROUNDS):
        t, rss = run_timed(whole_cmd, reps=1)
        keep(("whole", n_whole, False), t)
        peak = max(peak, rss)
        if ref:
            keep(("torch whole", n_whole, False), ref.time(prefix[n_whole], False))

    def ref_of(n: int, causal: bool, kind: str = "torch") -> float | None:
        return best.get((kind, n, causal))

    for n in full_sizes:
        row(f"T1. library vs SDPA, full, n={n}, 8 heads, d=64, f32", best["attncli", n, False], ref_of(n, False),
            None, "target ≤ 1.0" + paired(("attncli", n, False), ("torch", n, False)))
    for n in causal_sizes:
        row(f"T2. library vs SDPA, causal, n={n}", best["attncli", n, True], ref_of(n, True), None,
            "target ≤ 1.0" + paired(("attncli", n, True), ("torch", n, True)))
    for n in causal_sizes:
        if ("attncli", n, False) in best:
            ratio_ref = ref_of(n, True) / ref_of(n, False) if ref_of(n, False) else None
            note = "target ≤ 0.6" + paired(("attncli", n, True), ("attncli", n, False))
            note += f"; PyTorch's causal/full {ratio_ref:.2f}" if ratio_ref else ""
            row(f"T3. causal vs full, attncli library, n={n}", best["attncli", n, True], best["attncli", n, False],
                None, note)
    row(f"T4. whole process vs SDPA operation, n={n_whole}", best["whole", n_whole, False],
        ref_of(n_whole, False, "torch whole"), peak,
        "attncli compute: start, read 3 .npy, compute, write .npy; target ≤ 1.15"
        + paired(("whole", n_whole, False), ("torch whole", n_whole, False)))


def model_row(torch_python: str, tmp: Path, quick: bool, rounds: int = 5) -> None:
    """T5: attncli's forward pass over a random BERT-base-sized checkpoint (every layer's maps) against transformers'
    eager forward on the same weights (tests/bench_models.py's two servers), taking turns; minimums."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_models as bm

    folder, n, layers = tmp / "bert", 128 if quick else 512, 2 if quick else 12
    folder.mkdir()
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' "Writing model shards" bar
    ref = bm.Server([torch_python, "-c", bm.TORCH_CODE, str(folder), str(n), str(layers), "0"])
    _, ids = ref.first.split(" ", 1)
    ours = bm.Server([sys.executable, "-c", bm.ATTNCLI_CODE, str(folder), ids, "0"])
    times: dict[str, list[float]] = {"ours": [], "ref": []}
    for _ in range(rounds):
        times["ref"].append(ref.time())
        times["ours"].append(ours.time())
    ref.peak()
    ours.peak()
    ratios = np.divide(times["ours"], times["ref"])
    row(f"T5. model forward vs transformers eager, BERT-base size ({layers} layers), n={n}, every map",
        min(times["ours"]), min(times["ref"]), None,
        f"forward pass, checkpoint open, ids in memory; target ≤ 1.0; paired median {float(np.median(ratios)):.2f}")


def run_timed(cmd: list[str], reps: int = 3, env: dict[str, str] | None = None,
              ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Best wall time of `cmd` over reps, and its peak RSS in MB (largest over the runs)."""
    best, peak = float("inf"), 0.0
    for _ in range(reps):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
        best, peak = min(best, elapsed), max(peak, usage.ru_maxrss / 1024)
    return best, peak


def inputs(tmp: Path, name: str, shape: tuple[int, ...]) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for t in "qkv":
        p = tmp / f"{name}_{t}.npy"
        np.save(p, rng.standard_normal(shape, dtype=np.float32))
        paths.append(p)
    return paths


def row(case: str, ours: float, ref: float | None, peak: float | None, note: str = "") -> None:
    ratio = f"{ours / ref:.2f}" if ref else "—"
    print(f"| {case} | {ours:.3f} s | {'—' if ref is None else f'{ref:.3f} s'} | {ratio} | "
          f"{'' if peak is None else f'{peak:.0f} MB'} | {note} |", flush=True)


def regular_install(tmp: Path) -> Path:
    """A regular (non-editable, compiled) install of this checkout in a new venv under tmp, its dependencies taken
    from this interpreter's site-packages (a .pth line): the interpreter of that venv. pip builds the project in an
    isolated environment, which it fetches from the package index (a few seconds)."""
    import sysconfig

    venv = tmp / "release"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "attncli-bench-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(Path(__file__).resolve().parent.parent)], check=True, cwd=tmp)
    return python


def startup_rows(python: Path, runs: int) -> None:
    """T6: a 4 × 4 `compute --format json` (and as a table) against `python -c "import numpy"` in the same
    environment, every command once per round (tests/bench_startup.py), best of `runs` rounds."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_startup as bs

    best = bs.best_times([str(python)], runs)[str(python)]
    numpy_t = best["import numpy"]
    for name, target in (("compute 4 × 4, --format json", "target ≤ 1.5"), ("compute 4 × 4, table", "target ≤ 1.7")):
        row(f"T6. start-up: {name}", best[name], numpy_t, None,
            f"vs python -c 'import numpy', same environment; {target}; best of {runs} interleaved rounds")
