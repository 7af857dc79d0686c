"""Benchmark: attncli's forward pass over a checkpoint (every layer's maps) beside transformers' eager forward.

    python tests/bench_models.py --torch /path/to/python-with-torch-and-transformers [--n 512] [--quick]

The torch interpreter makes a random BERT-base-sized model (12 layers, 768 wide, 12 heads; BertConfig's
defaults), saves it as safetensors in a temporary folder, and times `model(ids, output_attentions=True)`
(eager attention, float32, inputs in memory, the best of 3) with its peak RSS. attncli is timed as a whole
process: `attncli model FOLDER --ids ... --show attentions --format npy -o /dev/null` (start, read the
checkpoint a layer at a time, the forward pass, every map written), and its peak RSS. A table is printed;
nothing is asserted.
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
folder, n, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
cfg = BertConfig(num_hidden_layers=layers, attn_implementation="eager")
model = BertModel(cfg).eval()
model.save_pretrained(folder, safe_serialization=True)
ids = torch.randint(1000, 2000, (1, n))
with torch.no_grad():
    model(ids, output_attentions=True)
    times = []
    for _ in range(3):
        t = time.perf_counter(); out = model(ids, output_attentions=True); times.append(time.perf_counter() - t)
print(min(times), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, torch.get_num_threads())
print(" ".join(map(str, ids[0].tolist())))
"""


def attncli_cmd() -> list[str]:
    script = Path(sys.executable).parent / "attncli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "attncli"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", metavar="PYTHON", required=True, help="a Python with torch and transformers")
    ap.add_argument("--n", type=int, default=512, help="tokens (default 512)")
    ap.add_argument("--quick", action="store_true", help="2 layers instead of 12")
    args = ap.parse_args()
    layers = 2 if args.quick else 12
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([args.torch, "-c", TORCH_CODE, d, str(args.n), str(layers)], capture_output=True,
                             text=True, check=True)
        first, ids = out.stdout.strip().splitlines()[-2:]
        ref, ref_peak, threads = first.split()
        cmd = attncli_cmd() + ["model", d, "--ids", ids, "--show", "attentions", "--format", "npy", "-o", os.devnull]
        best, peak = float("inf"), 0.0
        for _ in range(3):
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the torch one's
            elapsed = time.perf_counter() - t
            if status != 0:
                sys.exit(proc.stderr.read().decode())
            best, peak = min(best, elapsed), max(peak, usage.ru_maxrss / 1024)
    case = f"BERT-base-sized ({layers} layers, 768 wide, 12 heads), n = {args.n}, all maps"
    print(f"machine: {os.cpu_count()} cores; torch threads {threads}")
    print("| case | attncli | transformers eager | ratio | peak RSS attncli | peak RSS transformers |")
    print("|---|---|---|---|---|---|")
    print(f"| {case} | {best:.3f} s | {float(ref):.3f} s | {best / float(ref):.2f} | {peak:.0f} MB | "
          f"{float(ref_peak):.0f} MB |")
    print("attncli: the whole process (start, reading the safetensors a layer at a time, forward, writing the "
          "maps to /dev/null); transformers: the forward alone, model and ids in memory.")


if __name__ == "__main__":
    main()
