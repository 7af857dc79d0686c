"""Layouts: rows (tokens are rows, papers and PyTorch) and cols (tokens are columns, the lecture's).

In cols layout X is d_model × n, Q = W_q·X with W_q d_k × d_model, A = Kᵀ·Q (n_k × n_q), the softmax
runs down each column and O = V·A′. Every matrix there is the transpose of its rows-layout twin, so
the core computes in rows layout and these two functions translate at the edges.
"""

from __future__ import annotations

import numpy as np

LAYOUTS = ("rows", "cols")


def to_rows(a: np.ndarray | None) -> np.ndarray | None:
    """Transpose the last two axes of a cols-layout matrix (or stack of matrices); vectors pass."""
    if a is None or a.ndim < 2:
        return a
    return np.swapaxes(a, -1, -2)


def from_rows(a: np.ndarray) -> np.ndarray:
    """The same transpose, for results going back out in cols layout."""
    return a if a.ndim < 2 else np.swapaxes(a, -1, -2)
