"""Quantized checkpoints: config.json's `quantization_config`, and the tensors it changes.

Two formats are plain arithmetic and are dequantized here, exactly as transformers does when it dequantizes them
(its CPU path), so every family gets them where tensors are loaded (checkpoint.open_checkpoint):

- `fp8` (transformers/integrations/finegrained_fp8.py, FineGrainedFP8Config; DeepSeek-V3, Qwen3-*-FP8): a weight
  `….weight` stored as F8_E4M3 (rows × cols, any leading axes) beside its `….weight_scale_inv`: one float32
  scale per `weight_block_size` [bm, bn] block (rows/bm × cols/bn, whole blocks only; one for the whole tensor
  when the config has no block size), or E8M0 exponents (F8_E8M0, or bytes as U8: scale 2^(e − 127)).
  W = fp8 → float32, times its block's scale, in float32 (Fp8Dequantize). Activations are not quantized
  (transformers' `dequantize=True`, what it does on a CPU).
- `mxfp4` (transformers/integrations/mxfp4.py, gpt-oss's experts): `X_blocks` (E, rows, G, 16) uint8, two
  E2M1 values per byte (low nibble first), and `X_scales` (E, rows, G) uint8 exponents: X = value · 2^(s − 127),
  (E, rows, G·32) transposed to (E, G·32, rows), as `convert_moe_packed_tensors` gives the tensor X.

Every other `quant_method` (gptq, awq, bitsandbytes, compressed-tensors, ...) is refused, naming it, before any
tensor is read; so is a checkpoint whose tensors carry such scales without a quantization_config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from attncli.errors import AttnError
from attncli.models.rows import check_rows

OPTION = "MODEL"
METHODS = ("fp8", "mxfp4")  # the quant_methods attncli dequantizes
FP8_SCALE = "weight_scale_inv"
# the 16 E2M1 (FP4) values, by nibble (transformers' FP4_VALUES)
FP4_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                      dtype=np.float32)

Loader = Callable[[str], np.ndarray]


def _exponents() -> np.ndarray:
    """2^(e − 127) as float32 for each byte e, exactly (2^128 overflows to inf, as torch's float32 power does)."""
    with np.errstate(over="ignore"):
        return np.ldexp(np.ones(256, dtype=np.float32), np.arange(256, dtype=np.int32) - 127)


def method(config: dict[str, Any]) -> str | None:
    """config.json's quant_method (None: not quantized)."""
    qc = config.get("quantization_config")
    if qc is None:
        return None
    if not isinstance(qc, dict):
        raise AttnError(f"{OPTION}: config.json's quantization_config is not an object; attncli dequantizes "
                        f"{' and '.join(METHODS)} checkpoints only")
    return str(qc.get("quant_method"))


def fp8_scale_name(name: str) -> str:
    """The tensor holding `name`'s fp8 scales: `x.weight` → `x.weight_scale_inv`, `x.gate_up_proj` →
    `x.gate_up_proj_scale_inv` (transformers' Fp8Quantize names them so)."""
    return name[: -len("weight")] + FP8_SCALE if name.endswith(".weight") else name + "_scale_inv"


def refusal(config: dict[str, Any], names: list[str]) -> str | None:
    """Why attncli cannot compute these tensors as config.json quantizes them (None: it can)."""
    kind = method(config)
    if kind is None:
        marked = next((n for n in names if n.endswith(FP8_SCALE) or n.endswith("_blocks")
                       and n[: -len("_blocks")] + "_scales" in names), None)
        if marked is None:
            return None
        return (f"{OPTION}: the checkpoint holds quantized tensors ('{marked}') but config.json has no "
                "quantization_config to say how to read them; attncli stops rather than compute with the raw "
                "values (is config.json the one saved with the weights?)")
    if kind not in METHODS:
        return (f"{OPTION}: config.json's quantization_config has quant_method {kind!r}, which attncli does not "
                f"dequantize; it reads {' and '.join(METHODS)} checkpoints (plain arithmetic) and unquantized ones: "
                "use the model's unquantized checkpoint")
    if kind == "fp8":
        block = config["quantization_config"].get("weight_block_size")
        if block is not None and not (isinstance(block, list) and len(block) == 2
                                      and all(type(b) is int and b > 0 for b in block)):
            return (f"{OPTION}: config.json's quantization_config.weight_block_size is {block!r}; fp8 block scales "
                    "need [rows, cols], two positive integers (or null: one scale per tensor)")
    return None


def dequantizing(config: dict[str, Any], names: list[str], load: Loader) -> tuple[list[str], Loader]:
    """(names, loader) of the tensors as the model uses them: fp8 weights times their scales, and each mxfp4
    pair X_blocks, X_scales read as the tensor X. Unquantized checkpoints are returned as they are."""
    kind = method(config)
    if kind == "fp8":
        have = set(names)
        block = config["quantization_config"].get("weight_block_size")

        def load_fp8(name: str, rows: np.ndarray | None = None) -> np.ndarray:
            scale = fp8_scale_name(name)
            if scale not in have:  # stored unquantized (embeddings, norms): as it is
                return load(name, rows)
            return _rows(dequantize_fp8(load(name), load(scale), block, name), rows)

        return names, load_fp8
    if kind == "mxfp4":
        packed = {n[: -len("_blocks")] for n in names if n.endswith("_blocks")
                  and n[: -len("_blocks")] + "_scales" in names}

        def load_mx(name: str, rows: np.ndarray | None = None) -> np.ndarray:
            if name in packed:
                return _rows(dequantize_mxfp4(load(name + "_blocks"), load(name + "_scales"), name), rows)
            return load(name, rows)

        return sorted(set(names) | packed), load_mx
    return names, load


def _rows(a: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """a, or its rows `rows` (a dequantized tensor is made whole first)."""
    if rows is None:
        return a
    check_rows(rows, a.shape)
    return a[rows]


def _scales(s: np.ndarray) -> np.ndarray:
    """float32 scales: as stored, or 2^(e − 127) for E8M0 exponents stored as bytes."""
    if s.dtype == np.uint8:
        return _exponents()[s]
    if s.dtype.kind != "f":
        raise AttnError(f"{OPTION}: fp8 scales of {s.dtype} values; attncli reads float scales or E8M0 bytes")
    return s.astype(np.float32, copy=False)


def dequantize_fp8(w: np.ndarray, scale_inv: np.ndarray, block: list[int] | None, name: str) -> np.ndarray:
    """W (..., rows, cols), already float32 (F8_E4M3 decoded), times each [bm, bn] block's scale from the grid
    (..., rows/bm, cols/bn) (transformers' Fp8Dequantize; `_dequantize_fp8_weight` gives the same); a single
    scale multiplies the whole tensor. float32 products, as torch's. A tensor that is not a whole number of
    blocks is refused: transformers' dequantization and its fp8 kernels read its last blocks differently."""
    from attncli.io.limits import check_read

    s = _scales(scale_inv)
    w = np.array(w, dtype=np.float32, copy=True)
    if s.size == 1 and (block is None or w.ndim < 2 or s.ndim < 2):
        w *= s.reshape(())
        return w
    if block is None or w.ndim < 2:
        raise AttnError(f"{OPTION}: tensor '{name}' has a {list(s.shape)} grid of fp8 scales but config.json's "
                        "quantization_config has no weight_block_size to say what each covers")
    (rows, cols), (bm, bn) = w.shape[-2:], block
    if rows % bm or cols % bn:
        raise AttnError(f"{OPTION}: tensor '{name}' {list(w.shape)} is not a whole number of fp8 blocks {block} "
                        "(weight_block_size); transformers' dequantization and its fp8 kernels read the last "
                        "blocks of such a tensor differently, so attncli stops rather than pick one")
    want = (*w.shape[:-2], rows // bm, cols // bn)
    if tuple(s.shape) != want:
        raise AttnError(f"{OPTION}: tensor '{name}' {list(w.shape)} in fp8 blocks of {block} needs scales "
                        f"{list(want)}, but its '{FP8_SCALE}' is {list(s.shape)}; the weights and config.json's "
                        "weight_block_size disagree")
    check_read(w.nbytes, f"dequantizing '{name}' (shape {list(w.shape)})", OPTION)
    tiles = w.reshape(*w.shape[:-2], rows // bm, bm, cols // bn, bn)  # a view of w
    tiles *= s[..., :, None, :, None]
    return w


def dequantize_mxfp4(blocks: np.ndarray, scales: np.ndarray, name: str) -> np.ndarray:
    """X from X_blocks (E, rows, G, B) uint8 (two E2M1 values a byte, low nibble first) and X_scales (E, rows, G)
    uint8: value · 2^(s − 127) in float32 (torch.ldexp, as transformers: exact, inf only where the value
    overflows), (E, rows, G·2B) transposed to (E, G·2B, rows) (`convert_moe_packed_tensors`)."""
    from attncli.io.limits import check_read

    if blocks.dtype != np.uint8 or scales.dtype != np.uint8:
        raise AttnError(f"{OPTION}: mxfp4 tensor '{name}' has blocks of {blocks.dtype} and scales of "
                        f"{scales.dtype}; both are uint8 (U8) in this format")
    if blocks.ndim != 4 or tuple(blocks.shape[:-1]) != tuple(scales.shape):
        raise AttnError(f"{OPTION}: mxfp4 tensor '{name}': blocks {list(blocks.shape)} and scales "
                        f"{list(scales.shape)} do not fit (blocks (experts, rows, groups, bytes), scales (experts, "
                        "rows, groups))")
    e, rows, g, b = blocks.shape
    check_read(e * rows * g * b * 2 * 4 * 2, f"dequantizing '{name}' (shape {[e, g * b * 2, rows]})", OPTION)
    out = np.empty((e, rows, g, 2 * b), dtype=np.float32)
    out[..., 0::2] = FP4_VALUES[blocks & 0x0F]
    out[..., 1::2] = FP4_VALUES[blocks >> 4]
    with np.errstate(over="ignore"):  # torch.ldexp: value · 2^(s − 127) exactly; only a result past float32 is inf
        np.ldexp(out, (scales.astype(np.int32) - 127)[..., None], out=out)
    return np.ascontiguousarray(out.reshape(e, rows, g * 2 * b).transpose(0, 2, 1))
