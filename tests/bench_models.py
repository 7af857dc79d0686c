"""Benchmark: attncli's forward pass over a checkpoint (every layer's maps) beside transformers' eager forward.

    python tests/bench_models.py --torch /path/to/python-with-torch-and-transformers [--n 512] [--runs 5]
        [--threads N] [--quick] [--shape bert-base|llama-3.2-1b|qwen3-0.6b|gemma-3-1b|moe-1b|all]

The torch interpreter makes a random model of the shape asked for (SHAPES: BERT-base's, the default, or the
shapes of Llama-3.2-1B, Qwen3-0.6B, Gemma-3-1B and a 1B mixture of experts, with their vocabularies, grouped kv
heads and RoPE settings), saves it as safetensors in a temporary folder (BF16 on disk for the decoders, as the
Hub ships them), and stays up to time `model(ids, output_attentions=True)` (eager attention, float32, model and
ids in memory) on request. attncli is timed two ways: its forward alone,
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

# name -> (transformers config class, its settings, the dtype saved on disk); the layer count is --quick's to cut
SHAPES = {
    "bert-base": ("BertConfig", {}, "float32"),
    "llama-3.2-1b": ("LlamaConfig", dict(
        hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        head_dim=64, vocab_size=128256, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                             high_freq_factor=4.0, original_max_position_embeddings=8192)), "bfloat16"),
    "qwen3-0.6b": ("Qwen3Config", dict(
        hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
        head_dim=128, vocab_size=151936, max_position_embeddings=40960, rope_theta=1000000.0,
        tie_word_embeddings=True), "bfloat16"),
    "gemma-3-1b": ("Gemma3TextConfig", dict(
        hidden_size=1152, intermediate_size=6912, num_hidden_layers=26, num_attention_heads=4, num_key_value_heads=1,
        head_dim=256, vocab_size=262144, sliding_window=512, query_pre_attn_scalar=256,
        max_position_embeddings=32768), "bfloat16"),
    "moe-1b": ("Qwen3MoeConfig", dict(
        hidden_size=1024, intermediate_size=3072, moe_intermediate_size=768, num_experts=32, num_experts_per_tok=4,
        num_hidden_layers=12, num_attention_heads=16, num_key_value_heads=4, head_dim=64, vocab_size=151936,
        norm_topk_prob=True, tie_word_embeddings=True), "bfloat16"),
}

TORCH_CODE = """
import json, resource, sys, time, torch, transformers
transformers.logging.disable_progress_bar()
folder, n, layers, threads, shape = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cls, settings, dtype = json.loads(shape)
if threads:
    torch.set_num_threads(threads)
torch.manual_seed(0)
if layers:
    settings["num_hidden_layers"] = layers
cfg = getattr(transformers, cls)(**settings)
cfg._attn_implementation = "eager"
model = transformers.AutoModel.from_config(cfg).eval()
if dtype == "float32":
    model.save_pretrained(folder)
else:  # saved as the Hub ships it, run in float32 (its values rounded to the saved dtype first, as a load gives)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(getattr(torch, dtype)).to(torch.float32))
    model.to(getattr(torch, dtype)).save_pretrained(folder)
    model.to(torch.float32)
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
        raise RuntimeError(proc.stderr.read().decode().strip())  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", metavar="PYTHON", required=True, help="a Python with torch and transformers")
    ap.add_argument("--n", type=int, default=512, help="tokens (default 512)")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds; the minimum of each is shown")
    ap.add_argument("--threads", type=int, default=0, help="threads for both (default: torch's and attncli's own "
                    "defaults, every core); 1 compares the work done, whatever else the machine runs")
    ap.add_argument("--quick", action="store_true", help="2 layers instead of the shape's own")
    ap.add_argument("--shape", choices=[*SHAPES, "all"], default="bert-base", help="the model's shape (default "
                    "bert-base; all: one row each)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; {cpu_model()}; attncli threads {args.threads or 'default'}; "
          f"{args.runs} interleaved runs, minimums")
    kernels = subprocess.run([sys.executable, "-c", "import attncli.cli; from attncli import blas; "
                              "print(blas.describe_line())"], capture_output=True, text=True).stdout.strip()
    if kernels:
        print(f"attncli's BLAS: {kernels}")
    print("| case | transformers eager forward | attncli forward | ratio | attncli whole process | ratio | "
          "peak RSS transformers | attncli forward | ratio | attncli process |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape in SHAPES if args.shape == "all" else [args.shape]:
        try:
            print(row(shape, args), flush=True)
        except RuntimeError as err:  # a family attncli does not run (yet): said in its row, the others still run
            print(f"| {shape} | {err} |", flush=True)
    print("forward: model (or checkpoint) open, ids in memory, every layer's maps; whole process: start, reading "
          "the safetensors a layer at a time, forward, writing the maps (npy) to /dev/null.")


def cpu_model() -> str:
    """What lscpu calls this CPU (the Performance tables say which machine)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "CPU unknown"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = fields.get("Flags", "")
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return (f"{fields.get('Model name', '?').strip()} (family {fields.get('CPU family', '?').strip()}, model "
            f"{fields.get('Model', '?').strip()}), {simd}")


def row(shape: str, args: argparse.Namespace) -> str:
    """One table row: the shape's model made by transformers, timed beside attncli."""
    import json

    cls, settings, dtype = SHAPES[shape]
    layers = 2 if args.quick else 0
    with tempfile.TemporaryDirectory() as d:
        ref = Server([args.torch, "-c", TORCH_CODE, d, str(args.n), str(layers), str(args.threads),
                      json.dumps([cls, settings, dtype])])
        torch_threads, ids = ref.first.split(" ", 1)
        ours = Server([sys.executable, "-c", ATTNCLI_CODE, d, ids, str(args.threads)])
        if ours.first != "ready":
            ref.peak()
            raise RuntimeError(f"attncli did not start its forward pass ({ours.first or 'see its error above'})")
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
    wide = settings.get("hidden_size", 768)
    deep = layers or settings.get("num_hidden_layers", 12)
    case = (f"{shape} ({deep} layers, {wide} wide, {settings.get('num_attention_heads', 12)} heads, {dtype} on disk; "
            f"torch threads {torch_threads}), n = {args.n}, all maps")
    return (f"| {case} | {best_ref:.3f} s | {best_fwd:.3f} s | {best_fwd / best_ref:.2f} | {best_all:.3f} s | "
            f"{best_all / best_ref:.2f} | {peak_ref:.0f} MB | {peak_fwd:.0f} MB | {peak_fwd / peak_ref:.2f} | "
            f"{peak_all:.0f} MB |")


if __name__ == "__main__":
    main()
