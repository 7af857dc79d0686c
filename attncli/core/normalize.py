"""Normalizers: turn masked scores into attention weights.

`masked_softmax` is d2l's masked_softmax made exact: masked positions get weight exactly 0, the
softmax is shifted by the row maximum so large scores stay finite, and a query row whose every key
is masked (an "empty row") is reported instead of silently turning into NaN.
"""

from __future__ import annotations

import numpy as np


def masked_softmax(s: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over keys: A[i, j] = exp(S[i, j] - m_i) / Σ_j' exp(S[i, j'] - m_i), m_i = max_j S[i, j].

    s: (..., n_q, n_k) scores, already holding -inf at masked positions (bias -inf counts too).
    allowed: boolean mask broadcastable to s (True = may attend), or None.
    Returns (weights, empty) where weights has masked entries exactly 0 and empty rows all 0, and
    empty is a boolean (..., n_q) array marking rows with no key left to attend to.
    """
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)  # (..., n_q, 1)
    empty = ~np.isfinite(m[..., 0])  # a row of only -inf has no maximum
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)  # exp(-inf) = 0 exactly: masked weights are exact zeros
    total = np.sum(e, axis=-1, keepdims=True)
    total[total == 0] = 1  # empty rows: 0 / 1 = 0
    e /= total
    return e, empty


def _masked(s: np.ndarray) -> np.ndarray:
    return np.isneginf(s)


def softmax(s: np.ndarray) -> np.ndarray:
    """softmax: A_ij = exp(S_ij) / Σ_j' exp(S_ij'); rows sum to 1."""
    return masked_softmax(s, None)[0]


def softmax1(s: np.ndarray) -> np.ndarray:
    """softmax₁ ("off-by-one"): A_ij = exp(S_ij) / (1 + Σ_j' exp(S_ij')); a row may sum to almost 0."""
    m = np.maximum(np.max(s, axis=-1, keepdims=True), 0)  # shift by max(S, 0): the implicit 0 logit
    e = np.exp(s - m)
    return e / (np.exp(-m) + np.sum(e, axis=-1, keepdims=True))


def sparsemax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """sparsemax (Martins & Astudillo 2016): argmin_p ‖p − z‖² over the simplex; A_ij = max(S_ij − τ_i, 0).

    τ_i is found by sorting: with z sorted descending, k* = max{k : 1 + k·z_(k) > Σ_{j≤k} z_(j)} and
    τ = (Σ_{j≤k*} z_(j) − 1) / k*. Entries at −inf (masked) get exactly 0; a row of only −inf is all 0.
    """
    z = np.moveaxis(np.asarray(z), axis, -1)
    finite = np.isfinite(z)
    zs = -np.sort(-np.where(finite, z, -np.inf), axis=-1)  # descending; -inf last
    zs_f = np.where(np.isfinite(zs), zs, 0.0)
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cumsum = np.cumsum(zs_f, axis=-1)
    support = (1 + k * zs_f > cumsum) & np.isfinite(zs)  # (..., n)
    k_star = support.sum(axis=-1, keepdims=True)  # ≥ 1 unless the row is empty
    safe_k = np.maximum(k_star, 1)
    tau = (np.take_along_axis(cumsum, safe_k - 1, axis=-1) - 1) / safe_k
    p = np.where(finite, np.maximum(np.where(finite, z, 0) - tau, 0), 0.0)
    p = np.where(k_star > 0, p, 0.0)
    return np.moveaxis(p.astype(z.dtype, copy=False), -1, axis)


def relu(s: np.ndarray) -> np.ndarray:
    """ReLU: A_ij = max(S_ij, 0), no normalization (rows need not sum to 1)."""
    return np.maximum(s, 0)


def sigmoid(s: np.ndarray) -> np.ndarray:
    """sigmoid: A_ij = 1 / (1 + exp(−S_ij)), elementwise (rows need not sum to 1)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-s))


def identity(s: np.ndarray) -> np.ndarray:
    """none: A = S, the scores themselves (masked entries 0)."""
    return np.where(_masked(s), 0, s)


# name -> (function, what rows sum to)
NORMALIZERS = {
    "softmax": (softmax, "1"),
    "softmax1": (softmax1, "at most 1"),
    "sparsemax": (sparsemax, "1"),
    "relu": (relu, "unconstrained"),
    "sigmoid": (sigmoid, "unconstrained"),
    "none": (identity, "unconstrained"),
}


def normalize(s: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Apply the normalizer `name` over keys; masked (−inf) entries are exactly 0 under every one.

    Returns (weights, empty) where empty marks query rows with every key masked (their weights are 0).
    """
    empty = np.all(_masked(s), axis=-1)  # (..., n_q)
    w = NORMALIZERS[name][0](s)
    w = np.where(_masked(s), 0, w)  # exact zeros, whatever the normalizer did with -inf
    if empty.any():
        w[empty] = 0
    return w.astype(s.dtype, copy=False), empty
