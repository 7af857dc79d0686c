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
