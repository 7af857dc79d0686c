"""Layouts: rows (tokens are rows, papers and PyTorch) and cols (tokens are columns, the lecture's).

In cols layout X is d_model × n, Q = W_q·X with W_q d_k × d_model, A = Kᵀ·Q (n_k × n_q), the softmax
runs down each column and O = V·A′. Every matrix there is the transpose of its rows-layout twin, so
the core computes in rows layout only and the command line translates at its edges with these two functions
(its options, a problem file's matrices, the results it shows and writes).
"""

from __future__ import annotations

import numpy as np

from attncli.core.heads import WeightShapeError
from attncli.errors import AttnError, param

LAYOUTS = ("rows", "cols")


def to_rows(a: np.ndarray | None) -> np.ndarray | None:
    """Transpose the last two axes of a cols-layout matrix (or stack of matrices); vectors pass."""
    if a is None or a.ndim < 2:
        return a
    return np.swapaxes(a, -1, -2)


def from_rows(a: np.ndarray) -> np.ndarray:
    """The same transpose, for results going back out in cols layout."""
    return a if a.ndim < 2 else np.swapaxes(a, -1, -2)


def as_written(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """A rows-layout shape as the user wrote it in `layout` (cols: the last two axes swapped)."""
    return shape[:-2] + shape[-2:][::-1] if layout == "cols" and len(shape) >= 2 else shape


# parameter -> (matrix, its output width, what it gives a column token, the product) in the lecture layout's symbols
LECTURE_ROLES = {
    "wq": ("W_Q", "d_k", "a query", "Q = W_q·I"),
    "wk": ("W_K", "d_k", "a key", "K = W_k·I"),
    "wv": ("W_V", "d_v", "a value", "V = W_v·I"),
}


def weight_shape_error(e: WeightShapeError, layout: str, torch_weights: bool) -> AttnError:
    """The core's WeightShapeError (rows layout, W as d_model × d_out) in the command line's words: in the lecture
    layout (X d_model × n, W d_out × d_model as the user wrote them); with --weights-layout torch (W was read as
    (out, in) already, so the transpose that fits is the file as stored); in rows layout, a hint when X looks
    written with tokens as columns."""
    w = param(e.w)
    if layout == "cols":  # W is (out, in) here whatever the weights layout, so speak of that only
        role = LECTURE_ROLES.get(e.w)
        shape = f"{role[0]} is {role[1]} × d_model" if role else f"{w} is d_out × d_model"
        maps = f" (it maps a column token to {role[2]}: {role[3]})" if role else ""
        hint = (f"; {w} looks d_model × {role[1] if role else 'd_out'}, the rows layout's orientation (X·W): "
                "transpose it" if e.fits_transposed else "")
        return AttnError(
            f"{param(e.x)} has d_model = {e.x_shape[-1]} rows (shape {as_written(e.x_shape, layout)}; cols layout: "
            f"d_model × n) but {w} has {e.w_shape[0]} columns (shape {e.w_shape[::-1]}); in the lecture layout "
            f"({param('layout', 'cols')}) {shape}{maps}{hint}")
    hint = e.hint
    if e.fits_transposed and torch_weights:  # read as (out, in) already: the file holds (in, out)
        hint = f"; {w} as stored would fit: it is (in, out) already, so drop {param('torch_weights', True)}"
    columns = len(e.x_shape) == 2 and e.x_shape[0] == e.w_shape[1]  # X transposed would fit W as written
    return AttnError(e.stated + hint + (f"; or, if tokens are columns, add {param('layout', 'cols')}" if columns
                                        else ""))
