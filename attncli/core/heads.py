"""Heads: projections Q = X·W + b, splitting columns into heads, and merging them back.

PyTorch's order: with N heads, the columns of W_Q (d_model × N·d_k) are N contiguous blocks of d_k
columns, block h belonging to head h. Per-head weights given separately (a list, or a 3-D
N × d_model × d_k array) are concatenated into that same layout, so every path meets here.
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


def project(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, names: tuple[str, str, str],
            x_shape: tuple[int, ...] | None = None, cols: bool = False, torch_weights: bool = False) -> np.ndarray:
    """y = x·W + b for x (B, n, d_in), W (d_in, d_out), b (d_out,) -> (B, n, d_out).

    `names` are the parameters to blame (x, W, b); `x_shape` is x's shape as the user gave it; `cols`
    phrases errors in the lecture layout, where the user's X is d_model × n and W is d_out × d_model.
    `torch_weights`: the caller transposed W from PyTorch's (out, in), so the hint is not to do it again.
    """
    x_opt, w_opt, b_opt = (named(n) for n in names)
    w_name = names[1].removeprefix("--").removeprefix("‹").removesuffix("›")  # wq, whether "wq", ‹wq› or "--wq"
    if x.shape[-1] != w.shape[0]:
        fits_transposed = x.shape[-1] == w.shape[1]
        if cols:  # the lecture layout: W is (out, in) whatever the caller's weights layout, so speak of that only
            w_user = w.shape[::-1]
            role = LECTURE_ROLES.get(w_name)
            shape = f"{role[0]} is {role[1]} × d_model" if role else f"{w_opt} is d_out × d_model"
            maps = f" (it maps a column token to {role[2]}: {role[3]})" if role else ""
            hint = (f"; {w_opt} looks d_model × {role[1] if role else 'd_out'}, the rows layout's orientation (X·W): "
                    "transpose it" if fits_transposed else "")
            raise AttnError(
                f"{x_opt} has d_model = {x.shape[-1]} rows (shape {x_shape}; cols layout: d_model × n) but "
                f"{w_opt} has {w.shape[0]} columns (shape {w_user}); in the lecture layout ({param('layout', 'cols')}) "
                f"{shape}{maps}{hint}"
            )
        if not fits_transposed:
            hint = ""
        elif torch_weights:  # read as (out, in) already: the file holds (in, out)
            hint = f"; {w_opt} as stored would fit: it is (in, out) already, so drop {param('torch_weights', True)}"
        else:  # a library caller passes the transpose: ‹wq=wq.T› (the command line reads the file that way)
            hint = (f"; {w_opt} transposed would fit: is it stored (out, in) like PyTorch's Linear.weight? "
                    + param(w_name, w_name + ".T"))
        raise AttnError(
            f"{x_opt} has d_model = {x.shape[-1]} columns (shape {x_shape or x.shape}) but {w_opt} has "
            f"{w.shape[0]} rows (shape {w.shape}); {w_opt} must be d_model × d_out{hint}"
            + (f"; or, if tokens are columns, add {param('layout', 'cols')}" if x_shape and len(x_shape) == 2
               and x_shape[0] == w.shape[1] else "")
        )
    y = matmul_rows(x, w)  # (B, n, d_in) @ (d_in, d_out) -> (B, n, d_out)
    if b is not None:
        if b.shape != (w.shape[1],):
            raise AttnError(f"{b_opt} has {b.size} values (shape {b.shape}) but {w_opt} gives {w.shape[1]} columns")
        y = y + b
    return y


# parameter -> (matrix, its output width, what it gives a column token, the product) in the lecture layout's symbols
LECTURE_ROLES = {
    "wq": ("W_Q", "d_k", "a query", "Q = W_q·I"),
    "wk": ("W_K", "d_k", "a key", "K = W_k·I"),
    "wv": ("W_V", "d_v", "a value", "V = W_v·I"),
}
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
