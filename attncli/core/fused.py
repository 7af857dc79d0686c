"""The fused output-only softmax kernel: heads = softmax(Q·Kᵀ·scale)·V without the maps.

kernel.run uses it when only the output (or heads) is wanted, the normalizer is softmax, the scores are
scaled or plain dot products and nothing is added to them (no bias, ALiBi or softcap). For one block of
query rows and one (batch, kv head), the r query heads that share K and V are stacked into one matrix and

    S' = (Q · scale/temperature · log₂e) · Kᵀ      one GEMM; the constants ride on Q (rows × d, not rows × keys)
    P  = 2^S'   (masked entries 0)                 numpy's exp2 is faster than its exp
    l  = P · 1,   head = (P · V) / l               row sums as a matrix-vector product; divide rows × d_v, not P

three passes over the score block where the textbook takes six (scale, max, subtract, exp, sum, divide).

Why no row maximum: softmax is unchanged by subtracting any constant from a row; the maximum is subtracted
only so exp cannot overflow. Here a row is shifted by 0 when the Cauchy–Schwarz bound S'_ij ≤ |q_i|·max_j|k_j|
proves that 2^S', its row sum and P·V stay finite. A row the bound does not clear, or whose sum comes out
below 2^-60 (every exponent far below 0, where underflow could cost digits; or every key masked), is
recomputed exactly as the dense path does: masked to −inf, shifted by its maximum. Results agree with the
dense path to rounding (a few ulps), for every mask and empty row.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from attncli.core.kernel import Kernel

LOG2E = 1.4426950408889634
TINY_SUM = 2.0**-60  # below this a row is recomputed with its maximum subtracted
BOUND_SLACK = 1 + 2**-8  # the norms and the GEMM round; the bound must stay an upper bound


class Fallback(Exception):
    """This block needs the general kernel (its scores may overflow: that path reports where)."""


def eligible(k: Kernel) -> bool:
    return (k.normalize == "softmax" and k.score in ("scaled", "dot") and k.softcap is None and not k.alibi
            and not k.masks.bias_parts and not k.over_queries and k.check_overflow)


class Fused:
    """Per-run constants (bounds, multiplier) and per-thread scratch for `block`."""

    def __init__(self, k: Kernel, empty_value: float | None):
        self.k = k
        self.ft = k.qg.dtype
        self.empty_value = empty_value
        self.mult = self.ft.type(k.scale / k.temperature * LOG2E)
        with np.errstate(over="ignore", invalid="ignore"):  # a huge key gives an infinite bound: no shortcut
            self.kmax = np.linalg.norm(k.kh, axis=-1).max(axis=-1).astype(np.float64)  # (B, G)
            vmax = np.abs(k.vh).max(axis=(-1, -2)).astype(np.float64)  # (B, G)
        # 2^S' ≤ 2^c, so Σ_j 2^S'·|v| ≤ n_k·max|v|·2^c must stay below the dtype's largest number
        n_k = max(1, k.kh.shape[2])
        top = math.log2(float(np.finfo(self.ft).max))
        with np.errstate(divide="ignore"):
            self.limit = top - 2 - math.log2(n_k) - np.log2(np.maximum(vmax, 1.0))  # (B, G)
        self.kt = np.ascontiguousarray(np.swapaxes(k.kh, -1, -2))  # (B, G, d, n_k): Q·Kᵀ without a transpose
        self.local = threading.local()

    def scratch(self, m: int, n: int) -> np.ndarray:
        """A rows × keys buffer reused by this thread (no fresh pages for every block)."""
        buf = getattr(self.local, "buf", None)
        if buf is None or buf.size < m * n:
            buf = self.local.buf = np.empty(m * n, dtype=self.ft)
        return buf[: m * n].reshape(m, n)

    def ones(self, n: int) -> np.ndarray:
        one = getattr(self.local, "ones", None)
        if one is None or one.size < n:
            one = self.local.ones = np.ones(n, dtype=self.ft)
        return one[:n]

    def block(self, i0: int, i1: int, keys: tuple[int, int], heads: np.ndarray, empty: np.ndarray) -> None:
        """heads[:, :, i0:i1] and empty[:, :, i0:i1] for query rows i0..i1, seeing keys j0..j1 only."""
        k = self.k
        B, G, r, _, _ = k.qg.shape
        n_k = k.kh.shape[2]
        j0, j1 = keys
        rows, nk = i1 - i0, j1 - j0
        allowed, _ = k.masks.block(i0, i1)  # broadcastable to (B, H, rows, n_k), or None
        if allowed is not None and allowed.shape[-1] != 1 and (j0, j1) != (0, n_k):
            allowed = allowed[..., j0:j1]
        for b in range(B):
            for g in range(G):
                a = None
                if allowed is not None:  # (r, rows, nk) for this batch item's heads g·r .. g·r + r
                    ab = allowed[b if allowed.shape[0] > 1 else 0]
                    ab = ab[g * r:(g + 1) * r] if ab.shape[0] > 1 else ab
                    a = np.broadcast_to(ab, (r, rows, nk)) if ab.shape[-1] == nk else np.broadcast_to(ab, (r, rows, 1))
                q = (k.qg[b, g, :, i0:i1] * self.mult).reshape(r * rows, -1)  # (r·rows, d)
                kt, vv = self.kt[b, g, :, j0:j1], k.vh[b, g, j0:j1]  # (d, nk), (nk, d_v)
                o, e = self._heads(q, kt, vv, a, float(self.kmax[b, g]), float(self.limit[b, g]))
                heads[b, g * r:(g + 1) * r, i0:i1] = o.reshape(r, rows, -1)
                empty[b, g * r:(g + 1) * r, i0:i1] = e.reshape(r, rows)

    def _heads(self, q: np.ndarray, kt: np.ndarray, vv: np.ndarray, a: np.ndarray | None, kmax: float,
               limit: float) -> tuple[np.ndarray, np.ndarray]:
        m, nk = q.shape[0], kt.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):
            bound = np.linalg.norm(q, axis=-1).astype(np.float64) * (kmax * BOUND_SLACK)  # ≥ max_j S'_ij
        if not np.all(bound <= limit):  # some row could overflow without its maximum subtracted
            return self._exact(q, kt, vv, a)
        s = np.matmul(q, kt, out=self.scratch(m, nk))  # S' (m, nk)
        np.exp2(s, out=s)
        if a is not None:
            s3 = s.reshape(a.shape[0], -1, nk)
            np.multiply(s3, a, out=s3)  # masked entries: exactly 0
        total = s @ self.ones(nk)  # (m,)
        out = s @ vv  # (m, d_v)
        low = ~(total >= TINY_SUM)  # underflowed or empty rows
        total[low] = 1
        out /= total[:, None]
        empty = np.zeros(m, dtype=bool)
        if low.any():
            idx = np.flatnonzero(low)
            sub = None if a is None else np.broadcast_to(a, (a.shape[0], m // a.shape[0], nk)).reshape(m, nk)[idx]
            out[idx], empty[idx] = self._exact(q[idx], kt, vv, sub)
        return out, empty

    def _exact(self, q: np.ndarray, kt: np.ndarray, vv: np.ndarray, a: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray]:
        """The dense path's arithmetic for rows q: masked to −inf, shifted by the row maximum."""
        m, nk = q.shape[0], kt.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught below
            s = np.matmul(q, kt, out=np.empty((m, nk), dtype=self.ft))
        if a is not None:
            np.copyto(s, self.ft.type(-np.inf), where=~a.reshape(m, -1) if a.ndim == 3 else ~a)
        mx = s.max(axis=-1)  # (m,)
        if not np.all(mx < np.inf):  # +inf or NaN: an overflow; the general kernel says where
            raise Fallback
        empty = np.isneginf(mx)
        mx[empty] = 0
        s -= mx[:, None]
        np.exp2(s, out=s)
        total = s @ np.ones(nk, dtype=self.ft)
        total[empty] = 1
        out = s @ vv
        out /= total[:, None]
        if self.empty_value is not None and empty.any():
            out[empty] = self.empty_value
        return out, empty
