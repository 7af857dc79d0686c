"""Causal and windowed attention in blocks of rows that skip the keys they cannot see (kernel.band_rows,
fused.Fused.plan): the same numbers as a masked softmax written out here in float64 and as the dense path
(one block of every row and every key, `trace=True`), for any block size and thread count; and the plan
computes (almost) none of the upper triangle."""

from __future__ import annotations

import numpy as np
import pytest

from attncli import Plan, attend
from attncli.core import fused
from attncli.core import kernel as kn
from attncli.core.masks import combine
from attncli.core.spec import Spec

RNG = np.random.default_rng(15)


def reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, window: tuple[int, int] | None,
              key_lens=None, query_lens=None) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q·Kᵀ/√d masked)·V in float64, rows with every key masked all 0; (heads, weights)."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    B, H, n_q, d = q.shape
    G, n_k = k.shape[1], k.shape[2]
    k, v = np.repeat(k, H // G, axis=1), np.repeat(v, H // G, axis=1)  # kv head g serves query heads g·r ..
    i, j = np.arange(n_q)[:, None], np.arange(n_k)[None, :]
    allowed = np.ones((B, 1, n_q, n_k), dtype=bool)
    if causal:
        allowed &= j <= i  # top-left aligned, as PyTorch's is_causal
    if window is not None:
        allowed &= (j >= i - window[0]) & (j <= i + window[1])
    if key_lens is not None:
        allowed &= (np.arange(n_k)[None, :] < np.array(key_lens)[:, None])[:, None, None, :]
    if query_lens is not None:
        allowed &= (np.arange(n_q)[None, :] < np.array(query_lens)[:, None])[:, None, :, None]
    s = np.where(allowed, q @ np.swapaxes(k, -1, -2) / np.sqrt(d), -np.inf)
    top = s.max(axis=-1, keepdims=True)
    top[np.isneginf(top)] = 0
    e = np.exp(s - top)
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1)
    return w @ v, w


def draw(B: int, H: int, G: int, n_q: int, n_k: int, d: int, dtype: str):
    q = RNG.standard_normal((B, H, n_q, d)).astype(dtype)
    k, v = (RNG.standard_normal((B, G, n_k, d)).astype(dtype) for _ in range(2))
    return q, k, v


TOL = {"float32": 2e-6, "float64": 1e-12}  # × max |output|

CASES = [  # (B, H, G, n_q, n_k, options)
    (1, 2, 2, 1, 1, {"causal": True}),
    (1, 2, 2, 17, 17, {"causal": True}),
    (1, 3, 3, 100, 100, {"causal": True}),
    (1, 4, 2, 129, 129, {"causal": True}),  # grouped kv heads
    (2, 2, 1, 300, 300, {"causal": True, "key_lens": [300, 77]}),
    (2, 2, 2, 211, 211, {"causal": True, "query_lens": [211, 90], "key_lens": [150, 211]}),
    (1, 2, 2, 70, 150, {"causal": True}),  # cross-attention: more keys than queries
    (1, 2, 2, 150, 70, {"causal": True}),  # fewer keys: the last queries see every key
    (1, 2, 2, 257, 257, {"window": (3, 5)}),
    (1, 2, 2, 257, 257, {"window": (40, 0)}),
    (1, 2, 1, 190, 190, {"window": (0, 9), "causal": True}),  # only the diagonal is left
    (1, 2, 2, 333, 333, {"window": 20, "causal": True}),
    (1, 2, 2, 120, 200, {"window": (10, 30)}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}/{c[2]}x{c[3]}x{c[4]} {c[5]}")
def test_blocks_equal_the_masked_softmax(case, dtype):
    B, H, G, n_q, n_k, kw = case
    q, k, v = draw(B, H, G, n_q, n_k, 16, dtype)
    window = kw.get("window")
    lr = None if window is None else (window, window) if isinstance(window, int) else window
    truth, w_truth = reference(q, k, v, kw.get("causal", False), lr, kw.get("key_lens"), kw.get("query_lens"))
    scale = np.max(np.abs(truth))
    dense = attend(q, k, v, Spec(**kw), Plan(backend="trace"))  # one block of every row and key
    assert np.max(np.abs(dense.heads - truth)) <= TOL[dtype] * scale
    for rows, threads in ((None, None), (None, 2), (1, 1), (7, 2), (16, 1), (33, 2), (64, 3)):
        for need in (["heads"], ["weights", "heads"]):  # the fused kernel, and the general one with maps
            got = attend(q, k, v, Spec(**kw), Plan(need=need, block_rows=rows, threads=threads))
            err = np.max(np.abs(got.heads - dense.heads))
            assert err <= TOL[dtype] * scale, (rows, threads, need, err)
            assert got.empty_rows == dense.empty_rows
            if "weights" in need:  # the keys a block skips are exactly 0
                np.testing.assert_allclose(got.weights, w_truth, rtol=0, atol=TOL[dtype])
                assert (got.weights[w_truth == 0] == 0).all()


@pytest.mark.parametrize("normalize", ["softmax", "sparsemax", "relu"])
def test_general_kernel_maps_skip_keys(normalize):
    """Maps of a causal, windowed problem: masked scores −∞ and weights 0, the rest equal to the dense path,
    for blocks that skip keys (empty rows keep the empty value over the whole row)."""
    q, k, v = draw(2, 2, 2, 90, 90, 8, "float64")
    spec = Spec(causal=True, window=(6, 0), key_lens=[90, 40], query_lens=[90, 60], normalize=normalize)
    dense = attend(q, k, v, spec, Plan(backend="trace"))
    for rows, threads in ((None, 2), (5, 1), (13, 2)):
        got = attend(q, k, v, spec, Plan(need=["scores", "weights", "heads"], block_rows=rows, threads=threads))
        np.testing.assert_allclose(got.scores, dense.scores, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(got.weights, dense.weights, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(got.heads, dense.heads, rtol=1e-12, atol=1e-13)
    nan = attend(q, k, v, Spec(empty_rows="nan", causal=True, window=(3, 0), key_lens=[90, 40]),
                 Plan(need=["weights"], block_rows=7))
    assert nan.empty_rows  # rows 44.. of batch 1 see no key: NaN everywhere in their rows, keys skipped or not
    for b, h, i in nan.empty_rows:
        assert np.isnan(nan.weights[b, h, i]).all()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy's, from the GEMM
def test_overflow_in_a_window_names_its_key():
    q = RNG.standard_normal((1, 1, 60, 4)).astype(np.float32)
    k = q.copy()
    q[0, 0, 50], k[0, 0, 47] = 1e20, 1e20
    from attncli.errors import AttnError

    for need in (["heads"], ["weights"]):
        with pytest.raises(AttnError, match="query 50 key 47"):
            attend(q, k, k, Spec(window=(5, 0)), Plan(need=need, block_rows=8))


def _kernel(n_q: int, n_k: int, H: int = 8, G: int = 8, **masks) -> kn.Kernel:
    q = np.zeros((1, G, H // G, n_q, 64), np.float32)
    kh = np.zeros((1, G, n_k, 64), np.float32)
    return kn.Kernel(qg=q, kh=kh, vh=kh, params={}, score="scaled", scale=0.125, scale_given=False, softcap=None,
                     temperature=1.0, alibi=False, causal=masks.get("causal", False),
                     masks=combine((1, H, n_q, n_k), Spec(**masks)), normalize="softmax")


@pytest.mark.parametrize("n", [512, 1024, 2048, 4096, 8192, 16384])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_causal_plans_compute_about_half_the_scores(n, threads):
    """The work items of the fused kernel's plan cover the lower triangle with at most 7% more (the diagonal
    squares), every row once, each group once per row."""
    kern = _kernel(n, n, causal=True)
    plan = fused.Fused(kern, None).plan(threads)
    computed = sum((g1 - g0) * (i1 - i0) * np.subtract(*kern.key_range(i0, i1)[::-1]) for g0, g1, i0, i1 in plan)
    assert computed <= 0.57 * 8 * n * n, computed / (8 * n * n)
    cover = np.zeros((8, n), int)
    for g0, g1, i0, i1 in plan:
        cover[g0:g1, i0:i1] += 1
    assert (cover == 1).all()
    assert len(plan) >= min(4 * threads, n // 16)  # enough items for every thread


@pytest.mark.parametrize("masks", [{"causal": True}, {"window": (64, 64)}, {"window": (100, 0), "causal": True}])
def test_general_kernel_rows_skip_keys(masks):
    kern = _kernel(2048, 2048, **masks)
    step = kn.band_rows(kern, 8, kn.block_rows(kern.shape, 4))
    i0 = np.arange(0, 2048, step)
    spans = [kern.key_range(a, min(2048, a + step)) for a in i0]
    computed = sum(min(step, 2048 - a) * (j1 - j0) for a, (j0, j1) in zip(i0, spans, strict=True))
    allowed = np.broadcast_to(kern.masks.allowed, (1, 1, 2048, 2048)).sum()
    assert computed <= 1.5 * allowed  # narrow windows: blocks of a few dozen rows, each seeing their band


@pytest.mark.parametrize("masks", [{"causal": True}, {"window": (3, 5)}, {"window": (4, 0), "causal": True},
                                   {"causal": True, "key_lens": [20]}])
def test_band_mask_is_the_mask(masks):
    """Kernel.band_mask (computed for the partly seen keys only) equals the combined mask's columns."""
    n_q, n_k = 23, 29
    kern = _kernel(n_q, n_k, H=1, G=1, **masks)
    full = np.broadcast_to(kern.masks.allowed, (1, 1, n_q, n_k))
    for i0 in range(n_q):
        for i1 in range(i0 + 1, n_q + 1, 3):
            for p0, p1 in ((0, n_k), (i0, min(n_k, i1 + 3)), (max(0, i0 - 5), i1)):
                got = np.broadcast_to(kern.band_mask(i0, i1, p0, p1), (1, 1, i1 - i0, p1 - p0))
                np.testing.assert_array_equal(got, full[:, :, i0:i1, p0:p1])
