"""Heads: projections Q = X·W + b, splitting columns into heads, and merging them back.

PyTorch's order: with N heads, the columns of W_Q (d_model × N·d_k) are N contiguous blocks of d_k
columns, block h belonging to head h. Per-head weights given separately (a list, or a 3-D
N × d_model × d_k array) are concatenated into that same order, so every path meets here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attncli.core.validate import named
from attncli.errors import AttnError, param

Weight = np.ndarray | Sequence[np.ndarray]


def count_heads(w: Weight | None) -> int | None:
    """How many heads a weight says it has: list length, or leading axis of a 3-D array; else None."""
    if w is None:
        return None
    if isinstance(w, (list, tuple)):
        return len(w) if len(w) > 1 else (count_heads(w[0]) if w else None)
    return w.shape[0] if w.ndim == 3 else None


def concat_heads_weight(w: Weight, name: str) -> np.ndarray:
    """Canonicalize a projection weight to one (d_in, heads·d_out) matrix. `name`: the parameter, for messages."""
    option = named(name)
    if isinstance(w, (list, tuple)):
        mats = [np.asarray(m) for m in w]
        for m in mats:
            if m.ndim != 2:
                raise AttnError(f"{option}: each per-head weight must be a matrix; got shape {m.shape}")
        rows = {m.shape[0] for m in mats}
        if len(rows) > 1:
            raise AttnError(f"{option}: per-head weights have different row counts {sorted(rows)}")
        return np.concatenate(mats, axis=1) if len(mats) > 1 else mats[0]
    if w.ndim == 2:
        return w
    if w.ndim == 3:  # (heads, d_in, d_out) -> (d_in, heads·d_out)
        return np.concatenate(list(w), axis=1)
    raise AttnError(f"{option} must be 2-D (d_in × d_out) or 3-D (heads × d_in × d_out); got shape {w.shape}")


def concat_heads_bias(b: Weight, name: str) -> np.ndarray:
    """Canonicalize a bias to one vector of length heads·d_out (per-head lists and 2-D arrays flatten)."""
    option = named(name)
    if isinstance(b, (list, tuple)):
        return np.concatenate([np.asarray(x).reshape(-1) for x in b])
    if b.ndim > 2:
        raise AttnError(f"{option} must be a vector (or heads × d); got shape {b.shape}")
    return b.reshape(-1)


class WeightShapeError(AttnError):
    """x·W cannot be formed: W's rows are not x's width d_model. Besides its message (rows layout, parameters by
    name) it carries what a caller needs to say it in its own words: `x`, `w` (the parameters, e.g. "x", "wq"),
    `x_shape` (x as the caller gave it, (..., n, d_model)), `w_shape` (W as the core holds it, d_in × d_out),
    `fits_transposed` (Wᵀ would fit), `stated` (the message without its hint) and `hint` ("" or "; ...")."""

    def __init__(self, x: str, w: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> None:
        self.x, self.w, self.x_shape, self.w_shape = x, w, tuple(x_shape), tuple(w_shape)
        self.fits_transposed = self.x_shape[-1] == self.w_shape[1]
        x_p, w_p = named(x), named(w)
        self.stated = (f"{x_p} has d_model = {self.x_shape[-1]} columns (shape {self.x_shape}) but {w_p} has "
                       f"{self.w_shape[0]} rows (shape {self.w_shape}); {w_p} must be d_model × d_out")
        self.hint = (f"; {w_p} transposed would fit: is it stored (out, in) like PyTorch's Linear.weight? "
                     + param(w, w + ".T") if self.fits_transposed else "")  # a library caller passes the transpose
        super().__init__(self.stated + self.hint)


def project(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, names: tuple[str, str, str],
            x_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """y = x·W + b for x (B, n, d_in), W (d_in, d_out), b (d_out,) -> (B, n, d_out).

    `names` are the parameters to blame (x, W, b); `x_shape` is x's shape as the caller gave it ((n, d_in) or
    (B, n, d_in)). A W whose rows are not d_in raises WeightShapeError.
    """
    w_opt, b_opt = named(names[1]), named(names[2])
    if x.shape[-1] != w.shape[0]:
        bare = [n.removeprefix("‹").removesuffix("›") for n in names[:2]]  # x, wq: whether "wq" or ‹wq›
        raise WeightShapeError(bare[0], bare[1], x_shape or x.shape, w.shape)
    y = matmul_rows(x, w)  # (B, n, d_in) @ (d_in, d_out) -> (B, n, d_out)
    if b is not None:
        if b.shape != (w.shape[1],):
            raise AttnError(f"{b_opt} has {b.size} values (shape {b.shape}) but {w_opt} gives {w.shape[1]} columns")
        y = y + b
    return y


PARALLEL_FLOPS = 1 << 24  # below this a product is not worth splitting over threads


def matmul_rows(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w with the rows of x split over the cores when BLAS itself runs one thread (as the CLI arranges) and
    the product is big: each row's result is the same dot products, so the numbers do not change."""
    from attncli.core.threads import default_threads

    rows = x.reshape(-1, x.shape[-1])  # (m, d_in)
    count = min(default_threads(), rows.shape[0] // 64)
    if count <= 1 or rows.shape[0] * w.shape[0] * w.shape[1] < PARALLEL_FLOPS:
        return x @ w
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty((rows.shape[0], w.shape[1]), dtype=np.result_type(x, w))
    bounds = np.linspace(0, rows.shape[0], count + 1).astype(int)

    def part(i: int) -> None:
        np.matmul(rows[bounds[i]:bounds[i + 1]], w, out=out[bounds[i]:bounds[i + 1]])

    with ThreadPoolExecutor(count) as pool:
        list(pool.map(part, range(count)))
    return out.reshape(*x.shape[:-1], w.shape[1])


def split_heads(y: np.ndarray, heads: int, name: str, heads_name: str = "heads") -> np.ndarray:
    """(B, n, heads·d) -> (B, heads, n, d): column block h goes to head h. `name`, `heads_name`: what to blame."""
    B, n, width = y.shape
    if width % heads:
        raise AttnError(
            f"{named(name)} has {width} columns, which {heads} heads cannot split evenly; "
            f"{named(heads_name)} must divide {width}"
        )
    return y.reshape(B, n, heads, width // heads).transpose(0, 2, 1, 3)  # (B, H, n, d)


def merge_heads(h: np.ndarray) -> np.ndarray:
    """(B, H, n, d) -> (B, n, H·d): concatenate head outputs in head order."""
    B, H, n, d = h.shape
    return h.transpose(0, 2, 1, 3).reshape(B, n, H * d)  # (B, n, H·d)
