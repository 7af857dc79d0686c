"""Benchmark: attncli's forward pass over a checkpoint (every layer's maps) beside transformers' eager forward.

    python tests/bench_models.py --torch /path/to/python-with-torch-and-transformers [--n 512] [--runs 5]
        [--threads N] [--quick]

The torch interpreter makes a random BERT-base-sized model (12 layers, 768 wide, 12 heads, MLP 3072; BertConfig's
defaults), saves it as safetensors in a temporary folder, and stays up to time `model(ids, output_attentions=True)`
(eager attention, float32, model and ids in memory) on request. attncli is timed two ways: its forward alone,
in a process that stays up the same way (`attncli.models.forward.forward`, every map; the environment the CLI
sets: BLAS threads, kernel), and as a whole process, `attncli model FOLDER --ids ... --show attentions --format npy
-o /dev/null` (start, read the checkpoint a layer at a time, the forward pass, every map written). The three run
interleaved, `--runs` rounds, on whatever else the machine runs: the minimum of each is printed, with the ratios
to transformers from the same run and each process's peak RSS. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCH_CODE = """
import resource, sys, time, torch
from transformers import BertConfig, BertModel
folder, n, layers, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if threads:
    torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = BertConfig(num_hidden_layers=layers, attn_implementation="eager")
model = BertModel(cfg).eval()
model.save_pretrained(folder, safe_serialization=True)
ids = torch.randint(1000, 2000, (1, n))
print(torch.get_num_threads(), " ".join(map(str, ids[0].tolist())), flush=True)
with torch.no_grad():
    model(ids, output_attentions=True)
    for line in sys.stdin:
        t = time.perf_counter(); model(ids, output_attentions=True); print(time.perf_counter() - t, flush=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
"""

# the forward pass alone, in the environment the CLI gives it (importing attncli.cli sets it before numpy loads)
ATTNCLI_CODE = """
import resource, sys, time
import attncli.cli
import numpy as np
from attncli.models.checkpoint import open_checkpoint
from attncli.models.forward import forward, shapes
ckpt = open_checkpoint(sys.argv[1])
ids = np.array([[int(t) for t in sys.argv[2].split()]])
threads = int(sys.argv[3]) or None
layers = list(range(shapes(ckpt).layers))
forward(ckpt, ids, None, layers=layers, hidden=False, threads=threads)
print("ready", flush=True)
for line in sys.stdin:
    t = time.perf_counter()
    forward(ckpt, ids, None, layers=layers, hidden=False, threads=threads)
    print(time.perf_counter() - t, flush=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
"""


def attncli_cmd() -> list[str]:
    script = Path(sys.executable).parent / "attncli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "attncli"]


class Server:
    """A process that times one forward pass for each line it is sent."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.first = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def time(self) -> float:
        self.proc.stdin.write("go\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return float(self.proc.stdout.readline())  # type: ignore[union-attr]

    def peak(self) -> float:
        self.proc.stdin.close()  # type: ignore[union-attr]
        peak = float(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.proc.wait()
        return peak


def whole_process(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one attncli run."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak
    elapsed = time.perf_counter() - t
    if status != 0:
        sys.exit(proc.stderr.read().decode())  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", metavar="PYTHON", required=True, help="a Python with torch and transformers")
    ap.add_argument("--n", type=int, default=512, help="tokens (default 512)")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds; the minimum of each is shown")
    ap.add_argument("--threads", type=int, default=0, help="threads for both (default: torch's and attncli's own "
                    "defaults, every core); 1 compares the work done, whatever else the machine runs")
    ap.add_argument("--quick", action="store_true", help="2 layers instead of 12")
    args = ap.parse_args()
    layers = 2 if args.quick else 12
    with tempfile.TemporaryDirectory() as d:
        ref = Server([args.torch, "-c", TORCH_CODE, d, str(args.n), str(layers), str(args.threads)])
        torch_threads, ids = ref.first.split(" ", 1)
        ours = Server([sys.executable, "-c", ATTNCLI_CODE, d, ids, str(args.threads)])
        cmd = attncli_cmd() + ["model", d, "--ids", ids, "--show", "attentions", "--format", "npy", "-o", os.devnull]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        t_ref, t_fwd, t_all, peak_all = [], [], [], 0.0
        for _ in range(args.runs):
            t_ref.append(ref.time())
            t_fwd.append(ours.time())
            elapsed, peak = whole_process(cmd)
            t_all.append(elapsed)
            peak_all = max(peak_all, peak)
        peak_ref, peak_fwd = ref.peak(), ours.peak()
    best_ref, best_fwd, best_all = min(t_ref), min(t_fwd), min(t_all)
    kernels = subprocess.run([sys.executable, "-c", "import attncli.cli; from attncli import blas; "
                              "print(blas.describe_line())"], capture_output=True, text=True).stdout.strip()
    case = f"BERT-base-sized ({layers} layers, 768 wide, 12 heads), n = {args.n}, all maps"
    print(f"machine: {os.cpu_count()} cores; torch threads {torch_threads}, attncli threads "
          f"{args.threads or 'default'}; {args.runs} interleaved runs, minimums")
    if kernels:
        print(f"attncli's BLAS: {kernels}")
    print("| case | transformers eager forward | attncli forward | ratio | attncli whole process | ratio | "
          "peak RSS transformers | attncli forward | attncli process |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {case} | {best_ref:.3f} s | {best_fwd:.3f} s | {best_fwd / best_ref:.2f} | {best_all:.3f} s | "
          f"{best_all / best_ref:.2f} | {peak_ref:.0f} MB | {peak_fwd:.0f} MB | {peak_all:.0f} MB |")
    print("forward: model (or checkpoint) open, ids in memory, every layer's maps; whole process: start, reading "
          "the safetensors a layer at a time, forward, writing the maps (npy) to /dev/null.")


if __name__ == "__main__":
    main()
