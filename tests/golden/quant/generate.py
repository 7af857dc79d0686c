"""Golden values for quantized checkpoints (attncli/models/quant.py, io/safetensors_format.py), from torch and
transformers' own functions (a separate environment, as tests/golden/models/generate.py):

    /path/to/torchenv/bin/python tests/golden/quant/generate.py

writes tests/golden/quant/quant.npz:
  f8_e4m3, f8_e5m2, f8_e8m0  (256,) float32: every byte as torch reads it (torch.float8_e4m3fn / float8_e5m2 /
                     float8_e8m0fnu -> float32)
  mx_blocks (3, 5, 4, 16) uint8 and mx_scales (3, 5, 4) uint8: random MXFP4 blocks and exponents (the scales
                     take every exponent the format has, 0..255, over the tensor), and mx_expected
                     (3, 128, 5) float32: transformers.integrations.mxfp4.convert_moe_packed_tensors(blocks,
                     scales, dtype=torch.float32), as transformers dequantizes gpt-oss's experts
  fp8_w (2, 40, 24) uint8 (F8_E4M3 bits), fp8_scale_inv (2, 5, 3) float32, fp8_block [8, 8] and fp8_expected
                     (2, 40, 24) float32: transformers.integrations.finegrained_fp8._dequantize_fp8_weight
                     (the fp8 bits as torch.float8_e4m3fn, the scales, block [8, 8], dtype float32)
Made with torch 2.13.0 (CPU), transformers 5.24.0; seeded, so the same bytes every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers.integrations.finegrained_fp8 import _dequantize_fp8_weight
from transformers.integrations.mxfp4 import convert_moe_packed_tensors

if torch.__version__.split("+")[0] != "2.13.0" or transformers.__version__ != "5.24.0":
    sys.exit(f"needs torch 2.13.0 and transformers 5.24.0; found {torch.__version__}, {transformers.__version__}")

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(2207)
    every = torch.arange(256, dtype=torch.uint8)
    e4m3 = every.view(torch.float8_e4m3fn).to(torch.float32).numpy()
    e5m2 = every.view(torch.float8_e5m2).to(torch.float32).numpy()
    e8m0 = every.view(torch.float8_e8m0fnu).to(torch.float32).numpy()

    blocks = rng.integers(0, 256, size=(3, 5, 4, 16), dtype=np.uint8)
    scales = rng.integers(100, 150, size=(3, 5, 4), dtype=np.uint8)
    scales.reshape(-1)[:6] = [0, 1, 127, 128, 254, 255]  # the extremes: 2^-127 (subnormal), 2^127, 2^128
    mx = convert_moe_packed_tensors(torch.from_numpy(blocks), torch.from_numpy(scales), dtype=torch.float32)

    bits = rng.integers(0, 256, size=(2, 40, 24), dtype=np.uint8)
    bits[(bits & 0x7F) == 0x7F] = 0  # no NaN bytes: the dequantized values are compared exactly
    scale_inv = rng.uniform(1e-4, 1e-2, size=(2, 5, 3)).astype(np.float32)
    w = torch.from_numpy(bits.copy()).view(torch.float8_e4m3fn)
    fp8 = _dequantize_fp8_weight(w, torch.from_numpy(scale_inv), [8, 8], torch.float32)

    np.savez_compressed(HERE / "quant.npz", f8_e4m3=e4m3, f8_e5m2=e5m2, f8_e8m0=e8m0, mx_blocks=blocks,
                        mx_scales=scales, mx_expected=mx.numpy(), fp8_w=bits, fp8_scale_inv=scale_inv,
                        fp8_block=np.array([8, 8]), fp8_expected=fp8.numpy())
    print(f"mxfp4 {tuple(mx.shape)}, fp8 {tuple(fp8.shape)}: wrote {HERE / 'quant.npz'}")


if __name__ == "__main__":
    main()
