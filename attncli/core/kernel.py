"""The attention kernel, a block of query rows at a time.

Every normalizer works row by row, so attention over query rows i0..i1 needs only those rows of the
scores: the kernel computes S, the weights A and A·V for one block, and the driver runs the blocks on
every core. When the maps are asked for, each block's rows are copied into them; when only the output
is (streaming), memory stays ∝ block rows × n_k instead of n_q × n_k. Tracing runs one block of every
row. Output-only softmax over scaled or dot scores goes to the fused kernel (fused.py) instead, which
computes the same numbers in fewer passes; tests compare the two paths over the whole variant grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.core import positions as pos
from attncli.core.masks import Masks
from attncli.core.normalize import normalize
from attncli.core.scores import SCORES
from attncli.core.steps import Tracer
from attncli.core.validate import check_scores

BLOCK_BYTES = 16 * 2**20  # scores of one block, all batch items and heads: bigger GEMMs run faster here
SPLIT_BYTES = 2**20  # smaller problems run as one block: starting threads would cost more than they save


@dataclass
class Kernel:
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
    check_overflow: bool = True  # finite inputs must give finite scores (off with --allow-nonfinite)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        B, G, r, n_q, _ = self.qg.shape
        return B, G * r, n_q, self.kh.shape[2]

    def key_range(self, i0: int, i1: int) -> tuple[int, int]:
        """Keys that rows i0..i1 can see at all under the causal mask and the local window; the rest are
        masked for every one of these rows, so the streaming path skips them."""
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
            check_scores(s, ft, first_query=i0)
        return s, allowed

    def weights(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalize over keys; (weights, empty rows)."""
        if self.over_queries:  # normalizing down each column of S instead of along each row
            w, _ = normalize(np.swapaxes(s, -1, -2), self.normalize)
            return np.ascontiguousarray(np.swapaxes(w, -1, -2)), np.zeros(s.shape[:3], dtype=bool)
        return normalize(s, self.normalize)

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


def default_threads() -> int:
    """Every core when BLAS runs one thread per call (the CLI sets OPENBLAS_NUM_THREADS=1 before numpy loads);
    otherwise 1, and BLAS's own threads share each GEMM: two pools on the same cores slow each other down."""
    if any(os.environ.get(var) == "1" for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")):
        return os.cpu_count() or 1
    return 1


def run(kernel: Kernel, *, keep_maps: bool, tr: Tracer, empty_value: float | None, rows: int | None = None,
        threads: int | None = None, maps: dict[str, Any] | None = None,
        keep: tuple[str, ...] = ("scores", "weights")) -> dict[str, Any]:
    """Heads for every query (and the maps when `keep_maps`), over blocks of query rows on `threads` threads.

    Tracing (explain) and the wrong-axis mistake need every row at once: one block.
    empty_value: NaN to write into empty rows' weights (None leaves them 0).
    Returns heads (B, H, n_q, d_v), empty (B, H, n_q) and scores, weights, allowed (None unless keep_maps).
    maps: with keep_maps, where the maps go instead of new arrays: {"scores"/"weights": anything taking
    `m[:, :, i0:i1] = block` of (B, H, rows, n_k), e.g. a file}; a name left out is not kept, nor is `allowed`.
    keep: without `maps`, the maps held in memory (the weights alone when the scores are not asked for).
    """
    B, H, n_q, n_k = kernel.shape
    ft = kernel.qg.dtype
    if tr.enabled or kernel.over_queries:
        s, allowed = kernel.scores(0, n_q, tr)
        w, empty = kernel.weights(s.copy())  # the normalizer may work in place; keep the scores
        if empty_value is not None and empty.any():
            w[empty] = empty_value
        tr.add("a_" + kernel.normalize, w, "map")
        return {"scores": s, "weights": w, "allowed": allowed, "empty": empty, "heads": kernel.values(w)}

    fused = None
    if not keep_maps:
        from attncli.core.fused import Fallback, Fused, eligible

        fused = Fused(kernel, empty_value) if eligible(kernel) else None
    n_threads = threads or default_threads()
    if fused is not None:  # items: (kv groups g0..g1, rows i0..i1)
        items: list[tuple[int, ...]] = fused.plan(n_threads, rows)
    else:  # items: rows i0..i1 of every head
        step = rows or block_rows(kernel.shape, ft.itemsize)
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
        keys = None if keep_maps else kernel.key_range(i0, i1)  # maps keep every column
        s, _ = kernel.scores(i0, i1, off, keys)
        if scores is not None:
            scores[:, :, i0:i1] = s
        w, e = kernel.weights(s)
        if empty_value is not None and e.any():
            w[e] = empty_value
        if weights is not None:
            weights[:, :, i0:i1] = w
        heads[:, :, i0:i1] = kernel.values(w, keys)
        empty[:, :, i0:i1] = e

    n_threads = min(n_threads, len(items))
    if n_threads > 1:  # biggest first (a causal mask's last rows see the most keys): the threads finish together
        items.sort(key=lambda it: -_cost(kernel, it))
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=n_threads)
        try:
            list(pool.map(one, items))  # numpy releases the GIL in matmul and ufuncs
        finally:  # on Ctrl-C, drop the queued blocks instead of finishing them
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for item in items:
            one(item)
    allowed = kernel.masks.allowed if whole else None
    return {"scores": scores, "weights": weights, "allowed": allowed, "empty": empty, "heads": heads}


def _cost(kernel: Kernel, item: tuple[int, ...]) -> int:
    """Scores one work item computes: (groups ×) rows × the keys those rows can see."""
    i0, i1 = item[-2:]
    j0, j1 = kernel.key_range(i0, i1)
    return (item[1] - item[0] if len(item) == 4 else 1) * (i1 - i0) * (j1 - j0)
