"""Benchmarks for attncli (issue targets), printed as a table: case, attncli, reference, ratio, peak memory.

    python tests/bench.py                                  # attncli alone
    python tests/bench.py --torch /path/to/python          # with PyTorch 2.x in that interpreter as reference
    python tests/bench.py --quick                          # smaller sizes, for a smoke run

The first rows (T1-T6) are the issue's targets. Each of their ratios comes from one run: an attncli worker
process and a PyTorch worker process, both kept alive, are asked for one timing at a time, taking turns
(attncli full, PyTorch full, attncli causal, PyTorch causal, then the next size, then all again); each side's
time is its minimum over the rounds, after one untimed warm-up call per case. "library" is attend() with
the inputs in memory (threads and BLAS set up as the CLI sets them up); "whole process" is `attncli compute`
reading and writing .npy files, timed from outside, taking turns with PyTorch's operation. T5 (with --torch, whose
interpreter must also have transformers) is the model forward pass of tests/bench_models.py: attncli's and
transformers' eager forward over the same random BERT-base-sized checkpoint, every layer's maps, taking turns.
T6 is start-up: a 4 × 4 run printing JSON (and a table) against `python -c "import numpy"`. Processes (T4, T6 and
the numbered rows) run a regular install of this checkout made for the run (`--editable`: this interpreter's
attncli as installed, e.g. editable, which under PYTHONDONTWRITEBYTECODE recompiles attncli at every start).
`--targets` prints the target rows alone.
The numbered rows (1-9) are older: each attncli time is the whole `attncli compute` process, and the PyTorch
time the operation alone (torch already imported, inputs in memory), the best of a few runs each.
Timings are never asserted in tests: run this on a quiet machine and read the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_targets import Worker, inputs, model_row, regular_install, row, run_timed, startup_rows, target_rows

TORCH_CODE = """
import sys, time, torch
import numpy as np
mode, causal, reps = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
q, k, v = (torch.from_numpy(np.load(p)) for p in sys.argv[4:7])
F = torch.nn.functional
def sdpa():
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
def math_path():  # weights materialized, as nn.MultiheadAttention with need_weights
    s = q @ k.transpose(-1, -2) * (q.shape[-1] ** -0.5)
    if causal:
        s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w
fn = sdpa if mode == "sdpa" else math_path
fn()
times = []
for _ in range(reps):
    t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
print(min(times), torch.get_num_threads())
"""


LIBRARY_CODE = """
import sys, time
import numpy as np
from attncli import Plan, Spec, attend
need, causal, reps = sys.argv[1].split(","), sys.argv[2] == "1", int(sys.argv[3])
q, k, v = (np.load(p) for p in sys.argv[4:7])
spec, plan = Spec(causal=causal), Plan(need=need)
attend(q, k, v, spec, plan)
times = []
for _ in range(reps):
    t = time.perf_counter(); attend(q, k, v, spec, plan); times.append(time.perf_counter() - t)
print(min(times))
"""


def machine_line() -> str:
    """The CPU model (from /proc/cpuinfo), cores, numpy and python versions."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"machine: {model}, {os.cpu_count()} cores, numpy {np.__version__}, python {sys.version.split()[0]}"


def library_time(need: str, causal: bool, files: list[Path], reps: int = 3) -> float:
    """attncli's computation alone (the library call, inputs in memory): comparable to the PyTorch times."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}  # as the CLI runs: attncli's threads, one BLAS thread each
    out = subprocess.run([sys.executable, "-c", LIBRARY_CODE, need, "1" if causal else "0", str(reps),
                          *map(str, files)], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.split()[0])


def attncli_cmd() -> list[str]:
    exe = shutil.which("attncli", path=str(Path(sys.executable).parent)) or shutil.which("attncli")
    return [exe] if exe else [sys.executable, "-m", "attncli"]


def torch_time(python: str | None, mode: str, causal: bool, files: list[Path], reps: int = 3) -> float | None:
    if python is None:
        return None
    out = subprocess.run([python, "-c", TORCH_CODE, mode, "1" if causal else "0", str(reps), *map(str, files)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"(PyTorch reference failed: {out.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return float(out.stdout.split()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", metavar="PYTHON", help="a Python interpreter with torch, for the reference times")
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--targets", action="store_true", help="the issue's target rows (T) alone")
    ap.add_argument("--editable", action="store_true", help="time the attncli command of this interpreter (as "
                    "installed here, e.g. editable) instead of a regular install made for the run")
    args = ap.parse_args()
    n_big, n_maps, n_mem = (2048, 512, 8192) if args.quick else (8192, 2048, 65536)
    ours = Worker(sys.executable, "attncli")
    ref = Worker(args.torch, "torch") if args.torch else None
    print(machine_line())
    if ours.blas:  # attncli.blas.describe_line(), asked in a process set up as the CLI sets itself up
        print(f"BLAS (as attncli compute runs): {ours.blas}")
    if ref:
        torch_version = subprocess.run([args.torch, "-c", "import torch; print(torch.__version__, "
                                        "torch.get_num_threads())"], capture_output=True, text=True).stdout.split()
        print(f"reference: PyTorch {' '.join(torch_version[:1])} on {' '.join(torch_version[1:])} threads")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        release = None if args.editable else regular_install(tmp)  # processes: as users run them (compiled)
        cli = attncli_cmd() if release is None else [str(release.parent / "attncli")]
        print(f"attncli command: {' '.join(cli)} ({'as installed here' if release is None else 'a regular install'})")
        print("| case | attncli | reference | ratio | peak RSS | note |")
        print("|---|---|---|---|---|---|")
        try:
            target_rows(cli, ours, ref, tmp, args.quick)
        finally:
            for worker in (ours, ref):
                if worker:
                    worker.close()
        if args.torch:
            model_row(args.torch, tmp, args.quick)
        startup_rows(release or Path(sys.executable), runs=10 if args.quick else 25)
        if args.targets:
            return
        files = inputs(tmp, "big", (1, 8, n_big, 64))
        for causal in (False, True):
            cmd = cli + ["compute", "--q", str(files[0]), "--k", str(files[1]), "--v", str(files[2]), "--show",
                         "output", "-o", str(tmp / "out.npy")] + (["--causal"] if causal else [])
            ours, peak = run_timed(cmd)
            ref = torch_time(args.torch, "sdpa", causal, files)
            case = f"output, n={n_big}, 8 heads, d=64, f32{', causal' if causal else ''}"
            row(f"1. {case}", ours, ref, peak, "whole process (start, read, compute, write) vs torch SDPA (CPU)")
            row(f"1. {case}, library", library_time("output", causal, files), ref, None,
                "attend() alone, inputs in memory, vs torch SDPA")
        files = inputs(tmp, "maps", (1, 8, n_maps, 64))
        cmd = cli + ["compute", "--q", str(files[0]), "--k", str(files[1]), "--v", str(files[2]), "--show",
                     "weights,output", "-o", str(tmp / "out.npz")]
        ours, peak = run_timed(cmd)
        ref = torch_time(args.torch, "math", False, files)
        row(f"2. weights + output, n={n_maps}, 8 heads", ours, ref, peak,
            f"whole process, writing a {(8 * n_maps * n_maps + n_maps * 512) * 4 / 1e6:.0f} MB .npz, vs torch math "
            "path with weights")
        row(f"2. weights + output, n={n_maps}, 8 heads, library", library_time("weights,output", False, files), ref,
            None, "attend() alone vs torch math path")
        files = inputs(tmp, "mem", (1, 1, n_mem, 64))
        cmd = cli + ["compute", "--q", str(files[0]), "--k", str(files[1]), "--v", str(files[2]), "--show",
                     "output", "-o", str(tmp / "out.npy")]
        ours, peak = run_timed(cmd, reps=1)
        io_mb = 4 * n_mem * 64 * 4 / 2**20
        row(f"3. memory: output, n={n_mem}, 1 head", ours, None, peak,
            f"budget {io_mb:.0f} MB in+out + 256 MB + interpreter; dense map would be "
            f"{n_mem * n_mem * 4 / 2**30:.1f} GB")
        n_disk = n_mem // 4
        files = inputs(tmp, "disk", (n_disk, 16))
        cmd = cli + ["compute", "--x", str(files[0]), "--show", "weights", "--dtype", "float32", "-o",
                     str(tmp / "w.npy")]
        env = {**os.environ, "ATTNCLI_MEMORY_LIMIT": "256M"}
        ours, peak = run_timed(cmd, reps=1, env=env)
        row(f"3. memory: weights to .npy, n={n_disk}, 1 head", ours, None, peak,
            f"ATTNCLI_MEMORY_LIMIT=256M; the {n_disk * n_disk * 4 / 2**30:.1f} GB map is streamed to disk")
        (tmp / "w.npy").unlink()
        tiny = cli + ["compute", "--x", "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1"]
        numpy_t, _ = run_timed([sys.executable, "-c", "import numpy"], reps=7)
        ours, peak = run_timed(tiny, reps=7)
        row("4. start-up: compute on 4 × 4", ours, numpy_t, peak, "vs python -c 'import numpy' (target ≤ 1.5)")
        ours, peak = run_timed(cli + ["--help"], reps=7)
        row("4. start-up: attncli --help", ours, numpy_t, peak, "vs python -c 'import numpy'")
        files = inputs(tmp, "thr", (1, 8, n_maps * 2, 64))
        base = cli + ["compute", "--q", str(files[0]), "--k", str(files[1]), "--v", str(files[2]), "--show", "output"]
        one, _ = run_timed(base + ["--threads", "1", "-o", str(tmp / "o1.npy")])
        two, peak = run_timed(base + ["--threads", str(os.cpu_count() or 1), "-o", str(tmp / "o2.npy")])
        a, b = np.load(tmp / "o1.npy"), np.load(tmp / "o2.npy")
        rel = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        row(f"5. threads: {os.cpu_count()} vs 1, n={n_maps * 2}, 8 heads", two, one, peak,
            f"ratio = speed-up⁻¹; results differ by {rel:.1e} (relative)")
        for n in (1000,) if args.quick else (1000, 3000):
            x = tmp / f"explain_{n}.npy"
            np.save(x, np.random.default_rng(0).standard_normal((n, 16)))
            for fmt in ("table", "json"):
                ours, peak = run_timed(cli + ["explain", "--x", str(x), "--format", fmt], reps=1)
                row(f"6. explain, {n} tokens, {fmt}", ours, None, peak,
                    "corners of each matrix and a notice" if fmt == "table" else "every value, written row by row")
        count = 140_000 if args.quick else 1_400_000
        path = many_tensors(tmp / "many.safetensors", count)
        for fmt in ("table", "json"):
            ours, peak = run_timed(cli + ["inspect", str(path), "--format", fmt], reps=1)
            row(f"7. inspect, {count:,} small tensors in one safetensors, {fmt}", ours, None, peak,
                "one pass over the header and the tensors (was: > 300 s)")
        env = {**os.environ, "ATTNCLI_MEMORY_LIMIT": "2G"}
        ours, peak = run_timed(cli + ["compute", "--x", "/dev/zero"], reps=1, env=env, ok=(2,))  # refused
        row("8. --x /dev/zero, ATTNCLI_MEMORY_LIMIT=2G", ours, None, peak,
            "text: refused once parsing what came (24 B/B) passes the budget")
        whole_class(cli, tmp / "class", students=1000)


def whole_class(cli: list[str], tmp: Path, students: int) -> None:
    """Row 9: a class of `students` generated problems (attncli init --roster), each student handing in one answer
    (right, one mistake, or garbage, in turn), graded in one `attncli check --problems` process."""
    import tomllib

    tmp.mkdir()
    roster = tmp / "roster.csv"
    roster.write_text("Name,SID\n" + "".join(f"Student {i},s{i:04d}\n" for i in range(students)))
    t, _ = run_timed(cli + ["init", "--roster", str(roster), "--out", str(tmp / "problems"), "--seed", "7"], reps=1)
    row(f"9. init --roster, {students} students", t, None, None, "one generated problem per student")
    rng = np.random.default_rng(0)
    answers = []
    for i in range(students):
        sid = f"s{i:04d}"
        prob = tomllib.loads((tmp / "problems" / f"{sid}.toml").read_text())
        flat = {k: v for part in prob.values() if isinstance(part, dict) for k, v in part.items()}
        x, wq, wk, wv = (np.array(flat[k], dtype=float) for k in ("x", "wq", "wk", "wv"))
        q, k, v = x @ wq, x @ wk, x @ wv
        j = i % 3
        scale = 1.0 if j == 1 else 1 / np.sqrt(k.shape[1])  # answer 1: 1/√d_k left out
        s = q @ k.T * scale
        w = np.exp(s - s.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        a = w if flat.get("what", "weights") == "weights" else w @ v
        if j == 2:
            a = a + rng.normal(size=a.shape)  # matches no mistake: every candidate is tried
        path = tmp / "answers" / f"{sid}.csv"
        path.parent.mkdir(exist_ok=True)
        np.savetxt(path, np.round(a, 4), delimiter=",")
        answers.append(str(path))
    cmd = cli + ["check", *answers, "--problems", str(tmp / "problems"), "--report", str(tmp / "grades.csv")]
    ours, peak = run_timed(cmd, reps=1, ok=(0, 1))
    row(f"9. check --problems: {students} students, one answer each", ours, None, peak,
        "one process: every expected array, diagnosis and the report (target < 5 s)")


def many_tensors(path: Path, count: int) -> Path:
    """A safetensors file of `count` float32 tensors of shape (2,), header written by hand (fast)."""
    import json
    import struct

    header = {f"t{i}": {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]} for i in range(count)}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        f.write(np.arange(2 * count, dtype=np.float32).tobytes())
    return path


if __name__ == "__main__":
    main()
