"""Score functions: how strongly query i matches key j.

Each function takes per-head queries and keys and returns the raw score matrix, before masks and
normalization. Shapes: q (..., n_q, d_k), k (..., n_k, d_k) -> s (..., n_q, n_k). The leading axes
broadcast, which is how grouped-query attention shares one key head between several query heads.

The registry `SCORES` maps the `--score` name to the function; `default_scale` gives the scale a
score uses when `--scale` is not given.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

ScoreFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def scaled_dot(q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
    """Scaled dot product (Vaswani et al. 2017): S = Q·Kᵀ · scale, scale = 1/√d_k by default."""
    s = q @ np.swapaxes(k, -1, -2)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if scale != 1.0:
        s *= s.dtype.type(scale)
    return s


def dot(q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
    """Plain dot product (Luong "dot"): S = Q·Kᵀ, no scaling unless `--scale` is given."""
    return scaled_dot(q, k, scale)


SCORES: dict[str, ScoreFn] = {"scaled": scaled_dot, "dot": dot}


def default_scale(score: str, d_k: int) -> float:
    """The scale a score function uses when none is given: 1/√d_k for `scaled`, 1 otherwise."""
    return 1.0 / math.sqrt(d_k) if score == "scaled" else 1.0
