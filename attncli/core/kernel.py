"""The attention kernel, a block of query rows at a time.

Every normalizer works row by row, so attention over query rows i0..i1 needs only those rows of the
scores: the kernel computes S, the weights A and A·V for one block, and the driver runs the blocks on
every core. When the maps are asked for, each block's rows are copied into them; when only the output
is (streaming), memory stays ∝ block rows × n_k instead of n_q × n_k. Tracing runs one block of every
row. Output-only softmax over scaled or dot scores goes to the fused kernel (fused.py) instead, which
computes the same numbers in fewer passes; tests compare the two paths over the whole variant grid.
Under a causal mask or a local window a block of the output alone computes only the keys its rows can see, in
blocks small enough that little of the masked triangle is computed (band_rows). When the maps are asked for,
every key is computed (masked: −∞ scores, 0 weights), so a map streamed to a file, which takes whole rows, keeps
the memory budget and equals the map kept in memory bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from attncli.core import positions as pos
from attncli.core.masks import Masks
from attncli.core.normalize import normalize
from attncli.core.scores import SCORES
from attncli.core.steps import Tracer
from attncli.core.threads import default_threads, in_threads
from attncli.core.validate import check_scores
from attncli.record import Record


class NotFinite(ValueError):
    """Q, K or V holds a NaN or an infinity (found by the fused kernel while preparing; the caller says where)."""


class Fallback(Exception):
    """This block needs the general kernel (its scores may overflow: that path reports where)."""


BLOCK_BYTES = 16 * 2**20  # scores of one block, all batch items and heads: bigger GEMMs run faster here
SPLIT_BYTES = 2**20  # smaller problems run as one block: starting threads would cost more than they save


class Kernel(Record):
    qg: np.ndarray  # (B, G, r, n_q, d_q): queries grouped by their kv head
    kh: np.ndarray  # (B, G, n_k, d_k)
    vh: np.ndarray  # (B, G, n_k, d_v)
    params: dict[str, np.ndarray]  # score parameters, broadcast per head
    score: str
    scale: float
    scale_given: bool
    softcap: float | None
    temperature: float
    alibi: bool
    causal: bool
    masks: Masks
    normalize: str
    over_queries: bool = False  # only to reproduce that mistake (diagnose.py)
    fuse_scale: bool = False  # scale Q (n_q × d) instead of S (n_q × n_k): one pass less, ~1 ulp apart
    check_overflow: bool = True  # finite inputs must give finite scores (off with plan.allow_nonfinite)
    sinks: np.ndarray | None = None  # (H,) attention sinks' logits, in the compute dtype (normalize.softmax_sinks_rows)
    rel: Any = None  # disentangled.Terms: DeBERTa's c2p + p2c, added to the raw scores (None: none)
    _fields = ("qg", "kh", "vh", "params", "score", "scale", "scale_given", "softcap", "temperature", "alibi",
               "causal", "masks", "normalize", "over_queries", "fuse_scale", "check_overflow", "sinks", "rel")

    def __init__(self, qg: np.ndarray, kh: np.ndarray, vh: np.ndarray, params: dict[str, np.ndarray], score: str,
                 scale: float, scale_given: bool, softcap: float | None, temperature: float, alibi: bool,
                 causal: bool, masks: Masks, normalize: str, over_queries: bool = False, fuse_scale: bool = False,
                 check_overflow: bool = True, sinks: np.ndarray | None = None) -> None:
        self.qg, self.kh, self.vh, self.params, self.score = qg, kh, vh, params, score
        self.scale, self.scale_given, self.softcap, self.temperature = scale, scale_given, softcap, temperature
        self.alibi, self.causal, self.masks, self.normalize = alibi, causal, masks, normalize
        self.over_queries, self.fuse_scale, self.check_overflow = over_queries, fuse_scale, check_overflow
        self.sinks = sinks
        self.rel = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        B, G, r, n_q, _ = self.qg.shape
        return B, G * r, n_q, self.kh.shape[2]

    @property
    def banded(self) -> bool:
        """A causal mask or a local window: the keys a block of rows can see depend on its rows."""
        return bool(self.masks.described.get("causal")) or self.masks.described.get("window") is not None

    def key_range(self, i0: int, i1: int) -> tuple[int, int]:
        """Keys that rows i0..i1 can see at all under the causal mask and the local window; the rest are
        masked for every one of these rows, so the kernels skip them."""
        n_k = self.shape[3]
        j0, j1 = 0, n_k
        if self.masks.described.get("causal"):
            j1 = min(j1, i1)  # j ≤ i < i1
        window = self.masks.described.get("window")
        if window is not None:
            left, right = window
            j0, j1 = max(j0, i0 - left), min(j1, i1 + right)
        if j1 <= j0:  # no key at all: keep one, which the masks block
            j0 = min(max(j0, 0), n_k - 1)
            j1 = j0 + 1
        return j0, j1

    def band_mask(self, i0: int, i1: int, p0: int, p1: int) -> np.ndarray | None:
        """Which of keys p0..p1 rows i0..i1 may see, broadcastable to (B, H, rows, p1 − p0), or None.
        Causal and window masks are computed for those columns only (not rows × n_k)."""
        if set(self.masks.described) - {"causal", "window"}:
            allowed = self.masks.block(i0, i1)[0]
            return allowed if allowed is None or allowed.shape[-1] == 1 else allowed[..., p0:p1]
        d = np.arange(p0, p1)[None, :] - np.arange(i0, i1)[:, None]  # j − i, (rows, p1 − p0)
        a = d <= 0 if self.masks.described.get("causal") else None
        window = self.masks.described.get("window")
        if window is not None:
            w = (d >= -window[0]) & (d <= window[1])
            a = w if a is None else a & w
        return None if a is None else a[None, None]

    def scores(self, i0: int, i1: int, tr: Tracer, keys: tuple[int, int] | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """S for query rows i0..i1 (and keys j0..j1, default all): (B, H, rows, keys), masked entries −∞;
        and the allowed block."""
        B, H, _, n_k = self.shape
        j0, j1 = keys or (0, n_k)
        ft = self.qg.dtype
        qb = self.qg[..., i0:i1, :]  # (B, G, r, rows, d_q)
        fused = self.fuse_scale and self.score in ("scaled", "dot") and self.scale != 1.0
        if fused:
            qb = qb * ft.type(self.scale)
        params = self.params
        if self.score == "location" and (j0, j1) != (0, n_k):
            params = {"w_score": params["w_score"][..., j0:j1]}
        s = SCORES[self.score][0](qb, self.kh[:, :, None, j0:j1], params)
        s = s.reshape(B, H, i1 - i0, j1 - j0).astype(ft, copy=False)  # (B, H, rows, keys)
        tr.add("s_" + self.score, s, "map")
        if self.scale != 1.0 and not fused:
            s *= ft.type(self.scale)
            if self.score == "scaled" and not self.scale_given:
                tr.add("scale_sqrt", s, "map", d_k=self.kh.shape[3])
            else:
                tr.add("scale", s, "map", scale=self.scale)
        if self.rel is not None:  # DeBERTa: S = (q·k + c2p + p2c)·scale
            pos_terms = self.rel.block(i0, i1, j0, j1)  # (B, H, rows, keys)
            if self.scale != 1.0:
                pos_terms *= ft.type(self.scale)
            s = s + pos_terms
            tr.add("disentangled", s, "map")
        if self.softcap is not None:
            s = ft.type(self.softcap) * np.tanh(s / ft.type(self.softcap))
            tr.add("softcap", s, "map", c=self.softcap)
        allowed, bias = self.masks.block(i0, i1)
        if (j0, j1) != (0, n_k):
            allowed, bias = (None if a is None else (a if a.shape[-1] == 1 else a[..., j0:j1])
                             for a in (allowed, bias))
        if bias is not None:
            s = s + bias
            tr.add("bias", s, "map")
        if self.alibi:
            ali = pos.alibi_bias(H, self.shape[2], n_k, causal=self.causal, rows=(i0, i1), keys=(j0, j1))
            s = s + ali.astype(ft)[None]  # only this block's rows and keys: memory stays ∝ the block
            tr.add("alibi", s, "map")
        if allowed is not None:
            s = np.where(allowed, s, ft.type(-np.inf))
            tr.add("masked", s, "map", masks=", ".join(k for k in self.masks.described if k != "bias") or "mask")
        if self.temperature != 1.0:
            s /= ft.type(self.temperature)
            tr.add("temperature", s, "map", t=self.temperature)
        if self.check_overflow:
            if j0 > 0 and not np.max(s, initial=-np.inf) < np.inf:  # overflowed: say where in the whole row
                return self.scores(i0, i1, tr)
            check_scores(s, ft, first_query=i0)
        return s, allowed

    def weights(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalize over keys; (weights, empty rows)."""
        if self.over_queries:  # normalizing down each column of S instead of along each row
            w, _ = normalize(np.swapaxes(s, -1, -2), self.normalize)
            return np.ascontiguousarray(np.swapaxes(w, -1, -2)), np.zeros(s.shape[:3], dtype=bool)
        return normalize(s, self.normalize, self.sinks)

    def values(self, w: np.ndarray, keys: tuple[int, int] | None = None) -> np.ndarray:
        """A·V for a block of weights (B, H, rows, keys) -> (B, H, rows, d_v)."""
        B, G, r = self.qg.shape[:3]
        rows = w.shape[2]
        j0, j1 = keys or (0, self.vh.shape[2])
        return (w.reshape(B, G, r, rows, -1) @ self.vh[:, :, None, j0:j1]).reshape(B, G * r, rows, -1)


def block_rows(shape: tuple[int, int, int, int], itemsize: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Query rows per streaming block so that one block's scores take about `block_bytes`."""
    B, H, n_q, n_k = shape
    return int(max(1, min(n_q, block_bytes // max(1, B * H * n_k * itemsize))))


ITEM_SCORES = 2**14  # starting one work item costs about as much as computing this many scores (~50 µs)


def band_rows(kernel: Kernel, heads: int, most: int, per_gemm: int = 1,
              items: Callable[[int], int] = lambda rows: 1) -> int:
    """Query rows per block when a causal mask or a local window decides which keys a block sees.

    A block computes every key its rows see between them, so a causal block of b rows computes a b × b
    square of which the triangle above the diagonal is masked (b²/2 scores wasted, b/(2·n_q) of the work):
    smaller blocks waste less, but each work item has a fixed cost and GEMMs of fewer than ~32 rows run
    slower. Among sizes 16, 24, 32, 48, ... up to `most`, pick the one of least estimated cost,
    heads · Σ_blocks rows · keys · (1 + 4/(per_gemm · rows)) + ITEM_SCORES · work items, where `heads` is
    the rows of scores per query row in one block, `per_gemm` the rows per query row in one GEMM and
    `items(rows)` the work items per block.
    """
    n_q = kernel.shape[2]
    top = min(n_q, most)
    sizes = sorted({top} | {size for e in range(4, 20) for size in (2**e, 3 * 2**(e - 1)) if size < top})
    best, best_cost = top, math.inf
    for size in sizes:
        scores = 0
        for i0 in range(0, n_q, size):
            i1 = min(n_q, i0 + size)
            j0, j1 = kernel.key_range(i0, i1)
            scores += (i1 - i0) * (j1 - j0)
        cost = heads * scores * (1 + 4 / (per_gemm * size)) + ITEM_SCORES * items(size) * -(-n_q // size)
        if cost < best_cost:
            best, best_cost = size, cost
    return best


def run(kernel: Kernel, *, keep_maps: bool, tr: Tracer, empty_value: float | None, rows: int | None = None,
        threads: int | None = None, maps: dict[str, Any] | None = None,
        keep: tuple[str, ...] = ("scores", "weights"), fused: Any = None) -> dict[str, Any]:
    """Heads for every query (and the maps when `keep_maps`), over blocks of query rows on `threads` threads.

    Tracing (explain) and the wrong-axis mistake need every row at once: one block.
    empty_value: NaN to write into empty rows' weights (None leaves them 0).
    Returns heads (B, H, n_q, d_v), empty (B, H, n_q) and scores, weights, allowed (None unless keep_maps).
    maps: with keep_maps, where the maps go instead of new arrays: {"scores"/"weights": anything taking
    `m[:, :, i0:i1] = block` of (B, H, rows, n_k), e.g. a file}; a name left out is not kept, nor is `allowed`.
    keep: without `maps`, the maps held in memory (the weights alone when the scores are not asked for).
    fused: the fused kernel (fused.Fused) for this run, chosen by core/backends.py, or None for the general one.
    """
    B, H, n_q, n_k = kernel.shape
    ft = kernel.qg.dtype
    if tr.enabled or kernel.over_queries:
        s, allowed = kernel.scores(0, n_q, tr)
        w, empty = kernel.weights(s.copy())  # the normalizer may work in place; keep the scores
        if empty_value is not None and empty.any():
            w[empty] = empty_value
        tr.add("a_" + ("sinks" if kernel.sinks is not None else kernel.normalize), w, "map")
        return {"scores": s, "weights": w, "allowed": allowed, "empty": empty, "heads": kernel.values(w)}

    n_threads = threads or default_threads()
    if fused is not None:  # Kᵀ and bounds per group, on the threads too
        BG = fused.q.shape[0]
        step = -(-BG // min(BG, n_threads))
        prep = [(g0, min(BG, g0 + step)) for g0 in range(0, BG, step)]
        if len(prep) > 1 and fused.q.size * ft.itemsize >= SPLIT_BYTES // 4:
            in_threads(fused.prepare, prep, len(prep))
        else:
            fused.prepare((0, BG))
    if fused is not None:  # items: (kv groups g0..g1, rows i0..i1)
        items: list[tuple[int, ...]] = fused.plan(n_threads, rows)
    else:  # items: rows i0..i1 of every head
        step = rows or block_rows(kernel.shape, ft.itemsize)
        if not rows and kernel.banded and not keep_maps:  # blocks that skip (almost) every key their rows cannot see
            step = band_rows(kernel, B * H, step)
        if not rows and B * H * n_q * n_k * ft.itemsize >= SPLIT_BYTES:  # a few blocks per thread, for balance
            step = max(1, min(step, -(-n_q // (4 * n_threads))))
        items = [(i0, min(n_q, i0 + step)) for i0 in range(0, n_q, step)]
    kernel.fuse_scale = not keep_maps  # the shown scores keep the order of the formula: (Q·Kᵀ)·scale
    # (B, H, n_q, d_v) viewing (B, n_q, H, d_v) memory: concatenating the heads is then free
    heads = np.empty((B, n_q, H, kernel.vh.shape[3]), dtype=ft).transpose(0, 2, 1, 3)
    empty = np.zeros((B, H, n_q), dtype=bool)
    whole = keep_maps and maps is None  # the maps in memory, whole
    if whole:
        maps = {name: np.empty((B, H, n_q, n_k), dtype=ft) for name in keep}
    scores, weights = (maps or {}).get("scores"), (maps or {}).get("weights")
    off = Tracer(False)

    def one(item: tuple[int, ...]) -> None:
        if fused is not None:
            try:
                return fused.block(item, heads, empty)
            except Fallback:  # scores that may overflow: the general path below reports where
                item = item[2:]
        i0, i1 = item
        # the keys no row of the block can see are skipped; maps keep every key: a map streamed to a file takes
        # whole rows (widening each block would double its memory) and must equal the map kept in memory bit for bit
        keys = (0, n_k) if keep_maps else kernel.key_range(i0, i1)
        s, _ = kernel.scores(i0, i1, off, keys)
        if scores is not None:
            scores[:, :, i0:i1] = s  # normalize may work in place on s: written first
        w, e = kernel.weights(s)
        if empty_value is not None and e.any():
            w[e] = empty_value
        if weights is not None:
            weights[:, :, i0:i1] = w
        heads[:, :, i0:i1] = kernel.values(w, keys)
        empty[:, :, i0:i1] = e

    items.sort(key=lambda it: -_cost(kernel, it))  # biggest first (a causal block's last rows see the most keys)
    in_threads(one, items, min(n_threads, len(items)))
    allowed = kernel.masks.allowed if whole else None
    return {"scores": scores, "weights": weights, "allowed": allowed, "empty": empty, "heads": heads}


def _cost(kernel: Kernel, item: tuple[int, ...]) -> int:
    """Scores one work item computes: (groups ×) rows × the keys those rows can see."""
    i0, i1 = item[-2:]
    j0, j1 = kernel.key_range(i0, i1)
    return (item[1] - item[0] if len(item) == 4 else 1) * (i1 - i0) * (j1 - j0)
