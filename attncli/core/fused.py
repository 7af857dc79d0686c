"""The fused output-only softmax kernel: heads = softmax(Q·Kᵀ·scale)·V without the maps.

kernel.run uses it when only the output (or heads) is wanted, the normalizer is softmax, the scores are
scaled or plain dot products and nothing is added to them (no bias, ALiBi or softcap). Attention sinks add each
head's 2^(s_h·log₂e) = e^(s_h) to the row sums l (the shifted rows: max(row max, s_h·log₂e) is subtracted).
For one block of query rows and one (batch, kv head), the r query heads that share K and V are stacked into one
matrix and

    S' = Q' · K'ᵀ, the constant c = scale/temperature · log₂e on one side, once per run (prepare): on Kᵀ,
         copied out transposed, for many query rows; on Q, with Kᵀ a view (a transposed GEMM), for up to 1,024
    P  = 2^S'   (masked entries 0)                 numpy's exp2 is faster than its exp
    l  = P · 1,   head = (P · V) / l               row sums as a matrix-vector product; divide rows × d_v, not P

three passes over the score block where the textbook takes six (scale, max, subtract, exp, sum, divide).

Why no row maximum: softmax is unchanged by subtracting any constant from a row; the maximum is subtracted
only so exp cannot overflow. Here a row is shifted by 0 when the Cauchy–Schwarz bound S'_ij ≤ |q'_i|·max_j|k'_j|
proves that 2^S', its row sum and P·V stay finite. A row the bound does not clear, or whose sum comes out
below 2^-60 (every exponent far below 0, where underflow could cost digits; or every key masked), is
recomputed exactly as the dense path does: masked to −inf, shifted by its maximum. Results agree with the
dense path to rounding (a few ulps), for every mask and empty row.

A block is up to 512 rows × 2,048 keys (4 MB of float32 scores); longer rows add up their key chunks' sums.
Causal and windowed rows come in blocks of a few dozen to a few hundred rows (kernel.band_rows), each GEMM
over the keys its last row sees, so about half the products of full attention are computed (causal) and
the masked part of a block is only its diagonal square.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from attncli.core.kernel import SPLIT_BYTES, Fallback, Kernel, NotFinite, band_rows

LOG2E = 1.4426950408889634
FUSED_BLOCK_BYTES = 4 * 2**20  # scores of one work item (per key chunk): 512 rows × 2048 keys of float32
KEY_CHUNK = 2048  # keys per GEMM; longer rows add up their chunks (measured: 512 × 2048 beat 128 × 8192 by 8%)
TINY_SUM = 2.0**-60  # below this a row is recomputed with its maximum subtracted
NT_ROWS = 1024  # up to this many query rows per group (half, causal) the scale goes on Q, and Kᵀ is not copied
BOUND_SLACK = 1 + 2**-8  # the norms and the GEMM round; the bound must stay an upper bound


_LOCAL = threading.local()  # per thread (the kernel's threads live as long as the process): scratch buffers
_CALLER = threading.local()  # per calling thread: Kᵀ or the scaled queries of the run under way
REUSE_BYTES = 64 * 2**20


__all__ = ["Fused", "Fallback", "NotFinite", "eligible"]


def eligible(k: Kernel) -> bool:
    """The fused kernel computes this: softmax (with or without sinks) over scaled or dot scores, nothing added to
    them, finite inputs."""
    return (k.normalize == "softmax" and k.score in ("scaled", "dot") and k.softcap is None and not k.alibi
            and k.rel is None
            and not k.masks.bias_parts and not k.over_queries and k.check_overflow)


class Fused:
    """Per-run constants (bounds, multiplier), the plan of work items and the work on one item."""

    def __init__(self, k: Kernel, empty_value: float | None, check_inputs: bool = False):
        self.k = k
        self.check_inputs = check_inputs  # raise NotFinite for a NaN or ±inf in Q, K or V
        B, G, r, n_q, d = k.qg.shape
        n_k = k.kh.shape[2]
        self.ft = k.qg.dtype
        self.empty_value = empty_value
        self.mult = self.ft.type(k.scale / k.temperature * LOG2E)
        # (batch, kv head) pairs flattened to one axis of B·G "groups"
        self.kh = k.kh.reshape(B * G, n_k, d)
        # S' = q'·k't with the constant on one side (prepare): on Kᵀ, copied out transposed, when the queries are many
        # (a GEMM with a transposed operand is ~2.5% slower); on the queries, with Kᵀ a view, when they are few (the
        # transposing copy, ~0.7 ns a value, costs more than the slower GEMM saves: n_q = 512, 8 heads: 0.18 vs 0.07 ms)
        self.scale_q = r * n_q * (0.5 if k.banded else 1.0) <= NT_ROWS
        self.q_in = k.qg.reshape(B * G, r, n_q, d)
        if self.scale_q:  # q' = q·mult, k't = Kᵀ (a view)
            self.q, self.kt = _reused((B * G, r, n_q, d), self.ft, "q"), np.swapaxes(self.kh, -1, -2)
        else:  # q' = q, k't = Kᵀ·mult
            self.q, self.kt = self.q_in, _reused((B * G, d, n_k), self.ft, "kt")
        self.v = k.vh.reshape(B * G, n_k, -1)
        self.top = math.log2(float(np.finfo(self.ft).max))
        self.cleared = np.empty((B * G, r, n_q), dtype=bool)  # rows the bound clears: no shift needed (prepare)
        self.masks: dict[tuple[int, int, int], np.ndarray | None] = {}  # causal/window blocks' masks by their shape
        self.band_only = not set(k.masks.described) - {"causal", "window"}
        # attention sinks: each head's logit s_h as a base-2 exponent, s_h·log₂e, and its term 2^(s_h·log₂e) in the
        # unshifted sums (G, r) (inf when it overflows: those rows are recomputed shifted)
        self.sink2 = self.sink_pow = None
        if k.sinks is not None:
            s2 = np.asarray(k.sinks, dtype=np.float64).reshape(G, r) * LOG2E
            self.sink2 = s2.astype(self.ft)
            with np.errstate(over="ignore"):
                self.sink_pow = np.exp2(s2).astype(self.ft)

    def prepare(self, groups: tuple[int, int]) -> None:
        """Q' or K'ᵀ (the constant on its side), max_j |k'_j|, the exponent limit and the rows it clears, for groups
        g0..g1 (on the kernel's threads, before the blocks): 2^S' ≤ 2^c, so Σ_j 2^S'·|v| ≤ n_k·max|v|·2^c must stay
        below the dtype's largest number. With check_inputs, a NaN or ±inf in Q, K or V raises NotFinite."""
        g0, g1 = groups
        kt, vh, q = self.kt[g0:g1], self.v[g0:g1], self.q[g0:g1]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a huge key: an infinite bound
            if self.scale_q:
                np.multiply(self.q_in[g0:g1], self.mult, out=q)
            else:
                np.multiply(np.swapaxes(self.kh[g0:g1], -1, -2), self.mult, out=kt)
            # max_j |k'_j| and max_j |v_j| without temporaries the size of K and V
            kmax = np.sqrt(np.einsum("gdn,gdn->gn", kt, kt).max(axis=-1)).astype(np.float64)
            # max_j |v_j| (the row's length: at least its largest value) in one pass, not a max and a min
            vmax = np.sqrt(np.einsum("gnd,gnd->gn", vh, vh).max(axis=-1)).astype(np.float64)
            limit = self.top - 2 - math.log2(max(1, kt.shape[2])) - np.log2(np.maximum(vmax, 1.0))
            # row i is cleared when |q'_i|·max_j|k'_j| ≤ limit (Cauchy–Schwarz, with slack for rounding): the
            # largest |q'_i| cleared, per group; none (−1) when the limit is below 0 or not a number
            most = limit / (kmax * BOUND_SLACK)
            most = np.where((limit >= 0) & (kmax == 0), np.inf, np.where(most >= 0, most, -1.0))
            # |q_i|² ≤ most², no square root (−1 clears no row; a NaN or overflowed norm is not cleared)
            bound = np.where(most >= 0, most * most, -1.0).astype(self.ft)
            norms = np.einsum("grnd,grnd->grn", q, q)
            np.less_equal(norms, bound[:, None, None], out=self.cleared[g0:g1])
        if self.check_inputs:  # the passes above carry any NaN or ±inf (or squares beyond the dtype: look closer)
            for seen, given in ((norms, self.q_in), (kmax, self.kh), (vmax, self.v)):
                if not np.isfinite(seen).all() and not np.isfinite(given[g0:g1]).all():
                    raise NotFinite

    def plan(self, n_threads: int, rows: int | None = None) -> list[tuple[int, int, int, int]]:
        """Work items (g0, g1, i0, i1): groups g0..g1, query rows i0..i1; each holds at most about
        FUSED_BLOCK_BYTES of scores per key chunk, and there are a few per thread when the problem allows.
        Causal and windowed rows come in blocks small enough that the keys no row of a block can see are
        (almost) never computed (kernel.band_rows), each block with as many groups as fit."""
        BG, r, n_q, _ = self.q.shape
        chunk = min(self.kt.shape[2], KEY_CHUNK) * self.ft.itemsize
        balance = BG * r * n_q * chunk >= SPLIT_BYTES  # else one item: threads would cost more than they save

        def fit(rows: int) -> int:  # groups per item
            return max(1, min(BG, FUSED_BLOCK_BYTES // (r * rows * chunk)))

        if rows is None:
            rows = max(1, min(n_q, FUSED_BLOCK_BYTES // (r * chunk)))
            if self.k.banded:
                rows = band_rows(self.k, BG * r, rows, r, lambda size: -(-BG // fit(size)))
            elif balance and BG < 4 * n_threads:
                rows = max(1, min(rows, -(-n_q // (4 * n_threads))))
        groups = fit(rows) if rows >= n_q or self.k.banded else 1
        if balance:  # at least 4 items per thread
            groups = min(groups, -(-BG // -(-4 * n_threads // -(-n_q // rows))))
        return [(g0, min(BG, g0 + groups), i0, min(n_q, i0 + rows))
                for i0 in range(0, n_q, rows) for g0 in range(0, BG, groups)]

    def scratch(self, shape: tuple[int, ...], name: str = "scores") -> np.ndarray:
        """A buffer this thread keeps between blocks and calls: no fresh pages to fault in, no mmap/munmap (whose
        TLB shootdowns stall the other threads) for each block."""
        size = math.prod(shape) * self.ft.itemsize
        bufs = getattr(_LOCAL, "bufs", None)
        if bufs is None:
            bufs = _LOCAL.bufs = {}
        buf = bufs.get(name)
        if buf is None or buf.size < size:
            buf = bufs[name] = None  # let the old one go first
            buf = bufs[name] = np.empty(size, dtype=np.uint8)
        return buf[:size].view(self.ft).reshape(shape)

    def ones(self, n: int) -> np.ndarray:
        one = getattr(_LOCAL, "ones", None)
        if one is None or one.size < n or one.dtype != self.ft:
            one = _LOCAL.ones = np.ones(max(n, KEY_CHUNK), dtype=self.ft)
        return one[:n]

    def block(self, item: tuple[int, int, int, int], heads: np.ndarray, empty: np.ndarray) -> None:
        """heads and empty (B, H, n_q, ...) for one work item: groups g0..g1, query rows i0..i1."""
        k = self.k
        g0, g1, i0, i1 = item
        n, m = g1 - g0, k.qg.shape[2] * (i1 - i0)
        j0, j1 = k.key_range(i0, i1)  # keys these rows can see at all (causal, window)
        p0, p1 = k.masks.partial_keys(i0, i1, j0, j1)  # keys where a mask may block: a causal block's diagonal
        a = self._mask(g0, g1, i0, i1, p0, p1) if p1 > p0 else None
        q = self.q[g0:g1, :, i0:i1].reshape(n, m, -1)  # (groups, r·rows, d); a view when r = 1
        redo = ~self.cleared[g0:g1, :, i0:i1].reshape(n, m)  # rows the bound does not clear: shift by the maximum
        with np.errstate(over="ignore", invalid="ignore"):  # rows the bound does not clear may overflow
            if np.count_nonzero(redo) > redo.size // 4:  # mostly such rows: skip the shortcut
                out, total = np.zeros((n, m, self.v.shape[2]), dtype=self.ft), np.ones((n, m), self.ft)
                redo = np.ones_like(redo)
            else:
                out, total = self._sums(q, (g0, g1), (j0, j1), a, (p0, p1))
            redo = redo | ~(total >= TINY_SUM)  # underflowed (or overflowed) rows, and empty ones
            if self.sink_pow is not None:  # the sinks join each row's denominator
                sink = self._per_row(self.sink_pow, g0, g1, i1 - i0)  # (groups, r·rows)
                total = total + sink
                redo |= ~np.isfinite(sink)
        if not redo.any():  # the common case: divide straight into the heads
            return self._put(heads, out, item, total)
        total[redo] = 1
        out /= total[..., None]
        gone = np.zeros(redo.shape, dtype=bool)
        sinks = None if self.sink2 is None else self._per_row(self.sink2, g0, g1, i1 - i0)  # (groups, r·rows)
        for t, idx in ((t, np.flatnonzero(redo[t])) for t in range(n) if redo[t].any()):
            sub = None if a is None else a[t if a.shape[0] > 1 else 0][idx]
            out[t, idx], gone[t, idx] = self._exact(q[t, idx], g0 + t, (j0, j1), sub, (p0, p1),
                                                    None if sinks is None else sinks[t, idx])
        self._put(heads, out, item)
        self._put(empty, gone[..., None], item)

    def _per_row(self, a: np.ndarray, g0: int, g1: int, rows: int) -> np.ndarray:
        """A per-head value a (G, r) for the rows of groups g0..g1 (r·rows each, head-major): (groups, r·rows)."""
        return np.repeat(a[np.arange(g0, g1) % a.shape[0]], rows, axis=1)

    def _mask(self, g0: int, g1: int, i0: int, i1: int, p0: int, p1: int) -> np.ndarray | None:
        """Which of keys p0..p1 the rows i0..i1 of groups g0..g1 may see: (groups or 1, r·rows, p1 − p0 or 1).
        A causal mask and a window alone depend only on where the keys start from the rows and on the sizes: made
        once per shape (every causal block of the same size has the same diagonal square)."""
        key = (p0 - i0, i1 - i0, p1 - p0)
        if key in self.masks:
            return self.masks[key]
        allowed = self.k.band_mask(i0, i1, p0, p1)  # broadcastable to (B, H, rows, p1 − p0 or 1), or None
        G, r = self.k.qg.shape[1:3]
        if allowed is None or (allowed.shape[:2] == (1, 1) and r == 1):  # the same for every group
            a = allowed if allowed is None else allowed[0]
        elif allowed.shape[:2] == (1, 1):
            a = _group_mask(allowed, 0, 0, r, i1 - i0)[None]
        else:
            return np.stack([_group_mask(allowed, *divmod(g, G), r, i1 - i0) for g in range(g0, g1)])
        if self.band_only:
            self.masks[key] = a
        return a

    def _put(self, dst: np.ndarray, src: np.ndarray, item: tuple[int, int, int, int],
             total: np.ndarray | None = None) -> None:
        """src (groups, r·rows, 1 or d_v), divided by total (groups, r·rows) if given, into dst (B, H, n_q, ...):
        rows i0..i1 of the heads of groups g0..g1, one assignment per batch item."""
        g0, g1, i0, i1 = item
        G, r = self.k.qg.shape[1:3]
        rows = i1 - i0
        for b in range(g0 // G, (g1 - 1) // G + 1):
            h0, h1 = max(g0, b * G), min(g1, (b + 1) * G)  # groups of batch item b
            part = src[h0 - g0:h1 - g0].reshape((h1 - h0) * r, rows, -1)  # (heads, rows, 1 or d_v)
            view = dst[b, (h0 - b * G) * r:(h1 - b * G) * r, i0:i1]
            if dst.ndim == 3:
                view = view[..., None]
            if total is None:
                view[...] = part
            else:
                np.divide(part, total[h0 - g0:h1 - g0].reshape((h1 - h0) * r, rows, 1), out=view)

    def _sums(self, q: np.ndarray, groups: tuple[int, int], keys: tuple[int, int], a: np.ndarray | None,
              cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Σ_j 2^S'_ij·v_j and Σ_j 2^S'_ij over the keys, a chunk of keys at a time (no shift, so the chunks
        just add up). q: (groups, m, d); `a` says which of the key columns `cols` may be seen."""
        (g0, g1), (j0, j1), (p0, p1) = groups, keys, cols
        n, m = g1 - g0, q.shape[1]
        out = total = None
        for c0 in range(j0, j1, KEY_CHUNK):
            c1 = min(j1, c0 + KEY_CHUNK)
            s = np.matmul(q, self.kt[g0:g1, :, c0:c1], out=self.scratch((n, m, c1 - c0)))  # S' (n, m, c)
            np.exp2(s, out=s)
            o0, o1 = max(c0, p0), min(c1, p1)
            if a is not None and o0 < o1:  # masked entries: exactly 0
                mask = a if a.shape[-1] == 1 else a[..., o0 - p0:o1 - p0]
                np.multiply(s[..., o0 - c0:o1 - c0], mask, out=s[..., o0 - c0:o1 - c0])
            first = out is None  # the first chunk straight into the sums, the others added to them
            part = np.matmul(s, self.v[g0:g1, c0:c1],
                             out=self.scratch((n, m, self.v.shape[2]), "out" if first else "part"))
            part_total = np.matmul(s, self.ones(c1 - c0), out=self.scratch((n, m), "total" if first else "part_total"))
            if first:
                out, total = part, part_total
            else:
                out += part
                total += part_total
        return out, total

    def _exact(self, q: np.ndarray, group: int, keys: tuple[int, int], a: np.ndarray | None,
               cols: tuple[int, int], sinks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The dense path's arithmetic for rows q (m, d) of one group: masked to −inf, shifted by the row
        maximum (and each row's sink exponent, sinks (m,), which joins the denominator); in slices of rows that
        keep the scores near FUSED_BLOCK_BYTES."""
        (j0, j1), (p0, p1) = keys, cols
        m, nk = q.shape[0], j1 - j0
        step = max(1, FUSED_BLOCK_BYTES // (nk * self.ft.itemsize))
        out = np.empty((m, self.v.shape[2]), dtype=self.ft)
        empty = np.zeros(m, dtype=bool)
        for s0 in range(0, m, step):
            s1 = min(m, s0 + step)
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught below
                s = q[s0:s1] @ self.kt[group, :, j0:j1]
            if a is not None:
                np.copyto(s[:, p0 - j0:p1 - j0], self.ft.type(-np.inf), where=~a[s0:s1])
            mx = s.max(axis=-1)
            if not np.all(mx < np.inf):  # +inf or NaN: an overflow; the general kernel says where
                raise Fallback
            e = np.isneginf(mx)
            if sinks is not None:  # m = max(the row's max, its sink): finite, the sink is
                mx = np.maximum(mx, sinks[s0:s1])
            else:
                mx[e] = 0
            s -= mx[:, None]
            np.exp2(s, out=s)
            total = s @ self.ones(nk)
            if sinks is not None:
                total += np.exp2(sinks[s0:s1] - mx)
            else:
                total[e] = 1
            out[s0:s1] = (s @ self.v[group, j0:j1]) / total[:, None]
            empty[s0:s1] = e
        if self.empty_value is not None and empty.any():
            out[empty] = self.empty_value
        return out, empty


def _reused(shape: tuple[int, ...], dtype: np.dtype, name: str) -> np.ndarray:
    """An array kept by the calling thread between runs (up to REUSE_BYTES): no fresh pages to fault in each call.
    Each calling thread has its own, so runs in different threads do not share it."""
    size = math.prod(shape) * dtype.itemsize
    if size > REUSE_BYTES:
        return np.empty(shape, dtype)
    buf = getattr(_CALLER, name, None)
    if buf is None or buf.size < size:
        setattr(_CALLER, name, None)  # let the old one go first
        buf = np.empty(size, dtype=np.uint8)
        setattr(_CALLER, name, buf)
    return buf[:size].view(dtype).reshape(shape)


def _group_mask(allowed: np.ndarray, b: int, g: int, r: int, rows: int) -> np.ndarray:
    """The (r·rows, c) mask of batch item b, kv head g (query heads g·r .. g·r + r) from a 4-D broadcastable one."""
    ab = allowed[b if allowed.shape[0] > 1 else 0]
    ab = ab[g * r:(g + 1) * r] if ab.shape[0] > 1 else ab
    return np.broadcast_to(ab, (r, rows, ab.shape[-1])).reshape(r * rows, -1)


