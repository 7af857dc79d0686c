"""The one place where masks combine.

Every way of saying "query i may not look at key j" (causal, key padding lengths, a boolean mask
file, an additive bias holding -inf) is canonicalized here into two arrays, as
jax.nn.dot_product_attention does before its kernel runs:

    allowed: bool, broadcastable to (B, H, n_q, n_k); True = may attend. None = everything allowed.
    bias:    float, broadcastable to (B, H, n_q, n_k); added to the scores. None = no bias.

Masks compose by intersection (logical AND). Shapes of user masks broadcast NumPy-style against
(B, H, n_q, n_k) in rows layout, so an (n_q, n_k) file applies to every batch item and head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attncli.errors import AttnError


def causal_mask(n_q: int, n_k: int) -> np.ndarray:
    """Causal (autoregressive) mask, top-left aligned as PyTorch's is_causal: allowed[i, j] = j ≤ i."""
    return np.tril(np.ones((n_q, n_k), dtype=bool))  # (n_q, n_k)


def key_length_mask(key_lens: Sequence[int], n_k: int) -> np.ndarray:
    """Key padding (d2l's valid_lens): for batch item b, keys at index ≥ key_lens[b] are masked."""
    lens = np.asarray(key_lens, dtype=np.int64)
    return np.arange(n_k)[None, :] < lens[:, None]  # (B, n_k)


def _broadcast_to_4d(a: np.ndarray, option: str, shape: tuple[int, int, int, int]) -> np.ndarray:
    if a.ndim > 4:
        raise AttnError(f"{option} has {a.ndim} dimensions {a.shape}; at most 4 (batch × heads × n_q × n_k)")
    a4 = a.reshape((1,) * (4 - a.ndim) + a.shape)
    try:
        np.broadcast_shapes(a4.shape, shape)
    except ValueError:
        raise AttnError(
            f"{option} of shape {a.shape} does not broadcast to the scores' shape "
            f"(batch {shape[0]}, heads {shape[1]}, n_q {shape[2]}, n_k {shape[3]}); "
            f"give an n_q × n_k = {shape[2]} × {shape[3]} matrix, or one that broadcasts to it"
        ) from None
    return a4


def as_bool_mask(mask: np.ndarray, option: str = "--mask", invert: bool = False) -> np.ndarray:
    """Read a user mask as booleans: 1/true = may attend (0/false when `invert`, nn.MultiheadAttention's)."""
    if mask.dtype != bool:
        if mask.dtype.kind not in "fiu" or not np.all(np.isin(mask, (0, 1))):
            raise AttnError(
                f"{option} holds values other than 0 and 1 (e.g. {_first_odd(mask)}); a boolean mask marks "
                "who may attend with 1/true; for an additive float mask (0 / -inf) use --bias"
            )
        mask = mask != 0
    return ~mask if invert else mask


def _first_odd(mask: np.ndarray) -> str:
    flat = mask.reshape(-1)
    odd = flat[~np.isin(flat, (0, 1))]
    return repr(float(odd[0])) if odd.size else "?"


def combine(
    shape: tuple[int, int, int, int],
    *,
    causal: bool = False,
    key_lens: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
    mask_invert: bool = False,
    bias: np.ndarray | None = None,
    dtype: np.dtype | type = np.float64,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Canonicalize every mask and bias into (allowed, bias); see the module docstring.

    shape = (B, H, n_q, n_k), the scores' shape. Returns `allowed` with 4 axes (some may be 1) or None,
    and `bias` with 4 axes cast to `dtype` or None.
    """
    B, H, n_q, n_k = shape
    allowed: np.ndarray | None = None

    def both(a: np.ndarray) -> np.ndarray:
        return a if allowed is None else (allowed & a)

    if causal:
        allowed = both(causal_mask(n_q, n_k)[None, None])  # (1, 1, n_q, n_k)
    if key_lens is not None:
        lens = list(key_lens)
        if len(lens) != B:
            raise AttnError(
                f"--key-lens gives {len(lens)} lengths ({_join(lens)}) but the batch has {B} item"
                f"{'s' if B != 1 else ''}; give one length per batch item"
            )
        bad = [n for n in lens if n < 0 or n > n_k]
        if bad:
            raise AttnError(f"--key-lens value {bad[0]} is outside 0..{n_k} (there are {n_k} keys)")
        allowed = both(key_length_mask(lens, n_k)[:, None, None, :])  # (B, 1, 1, n_k)
    if mask is not None:
        m = as_bool_mask(mask, "--mask", invert=mask_invert)
        allowed = both(_broadcast_to_4d(m, "--mask", shape))
    if bias is not None:
        b = np.asarray(bias)
        if b.dtype.kind not in "fiub":
            raise AttnError(f"--bias must be real numbers; got dtype {b.dtype}")
        bias = _broadcast_to_4d(b.astype(dtype, copy=False), "--bias", shape)
    return allowed, bias


def _join(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)
