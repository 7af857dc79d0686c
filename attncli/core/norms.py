"""RMSNorm over the last axis, in place and a cache-sized block of rows at a time (the forward pass's norms and
the q/k norms of a Spec use this one function):

    RMSNorm(x) = x / √(mean(x²) + ε) · w

numpy runs one pass over memory per operation; a block of about 128 KB of rows stays in the core's cache through
the five operations.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK = 32768  # elements per block: a few arrays of this size stay in the core's cache


def blocks(x: np.ndarray) -> Iterator[np.ndarray]:
    """Row blocks (r, d) of a 2-D array x (m, d), of about BLOCK elements each (views: writes go to x)."""
    step = max(1, BLOCK // max(1, x.shape[-1]))
    for i0 in range(0, x.shape[0], step):
        yield x[i0: i0 + step]


def rms_norm_(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm of the rows of x (m, d), in place, in x's dtype (mean of x² as a product with (1/d, ..., 1/d));
    w (d,). Returns x."""
    ft = x.dtype.type
    mean_of = np.full(x.shape[-1], 1 / x.shape[-1], dtype=x.dtype)  # (d,)
    for xb in blocks(x):
        inv = np.square(xb) @ mean_of  # (r,): mean of x²
        inv += ft(eps)
        np.sqrt(inv, out=inv)
        np.divide(ft(1), inv, out=inv)
        xb *= inv[:, None]
        xb *= w
    return x


def rms_norm_heads(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm of each head's vectors x (B, H, n, d) over d, into a new array; w (d,)."""
    y = np.array(x, copy=True, order="C")  # C order: the (B·H·n, d) view below writes into y
    rms_norm_(y.reshape(-1, y.shape[-1]), w.astype(y.dtype, copy=False), eps)
    return y
