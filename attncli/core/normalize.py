"""Normalizers: turn masked scores into attention weights.

`softmax_rows` is d2l's masked_softmax made exact: masked positions get weight exactly 0, the
softmax is shifted by the row maximum so large scores stay finite, and a query row whose every key
is masked (an "empty row") is reported instead of silently turning into NaN.
"""

from __future__ import annotations

import numpy as np


def _masked(s: np.ndarray) -> np.ndarray:
    return np.isneginf(s)


def softmax(s: np.ndarray) -> np.ndarray:
    """softmax: A_ij = exp(S_ij) / Σ_j' exp(S_ij'); rows sum to 1."""
    return softmax_rows(np.array(s, copy=True))[0]


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


def softmax_rows(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over the last axis, in place on `s` (4 passes: max, exp(s − max), sum, divide).
    Returns (weights, empty rows); −inf entries become exactly 0, rows of only −inf all 0."""
    m = np.max(s, axis=-1, keepdims=True)  # (..., n_q, 1)
    empty = np.isneginf(m[..., 0])
    if empty.any():
        m[empty] = 0
    np.subtract(s, m, out=s)
    np.exp(s, out=s)
    total = np.sum(s, axis=-1, keepdims=True)
    if empty.any():
        total[empty] = 1
    np.divide(s, total, out=s)
    return s, empty


def softmax_sinks_rows(s: np.ndarray, sinks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax with attention sinks over the last axis, in place on `s` (..., H, n_q, n_k); sinks (H,), one
    logit per head, joins each row's denominator (gpt-oss; transformers' eager_attention_forward concatenates the
    sink column, subtracts the row maximum, takes softmax and drops the column):

        A_ij = exp(S_ij − m) / (exp(s_h − m) + Σ_j' exp(S_ij' − m)),   m = max(max_j' S_ij', s_h)

    Rows sum to less than 1 (the rest is the sink's). Returns (weights, empty rows); −inf entries become exactly
    0, and a row of only −inf is all 0 (its weight is on the sink)."""
    sink = np.asarray(sinks, dtype=s.dtype).reshape(-1, 1, 1)  # (H, 1, 1)
    m = np.maximum(np.max(s, axis=-1, keepdims=True), sink)  # (..., H, n_q, 1): finite, the sink is
    empty = np.isneginf(np.max(s, axis=-1))
    np.subtract(s, m, out=s)
    np.exp(s, out=s)
    total = np.sum(s, axis=-1, keepdims=True)
    total += np.exp(sink - m)
    np.divide(s, total, out=s)
    return s, empty


def normalize(s: np.ndarray, name: str, sinks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Apply the normalizer `name` over keys; masked (−inf) entries are exactly 0 under every one.
    `sinks` (H,): softmax with attention sinks (softmax_sinks_rows; s is then (..., H, n_q, n_k)).

    May reuse the memory of `s`. Returns (weights, empty) where empty marks query rows with every key
    masked (their weights are 0).
    """
    if sinks is not None:
        return softmax_sinks_rows(s, sinks)
    if name == "softmax":
        return softmax_rows(s)
    empty = np.isneginf(np.max(s, axis=-1))  # (..., n_q)
    w = NORMALIZERS[name][0](s)  # every normalizer maps −inf to exactly 0
    if empty.any():
        w[empty] = 0
    return w.astype(s.dtype, copy=False), empty
