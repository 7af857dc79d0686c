"""Properties that hold for any input (hypothesis): they check the core without any reference values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attncli.cli.pipeline import compute_attention as attention


@st.composite
def problems(draw):
    batch = draw(st.integers(1, 2))
    heads = draw(st.sampled_from([1, 2, 4]))
    n_q = draw(st.integers(1, 6))
    n_k = draw(st.integers(1, 6))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(batch, heads, n_q, d)) * draw(st.sampled_from([0.1, 1.0, 10.0]))
    k = rng.normal(size=(batch, heads, n_k, d))
    v = rng.normal(size=(batch, heads, n_k, d + 1))
    mask = rng.random((batch, 1, n_q, n_k)) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    causal = draw(st.booleans())
    return dict(q=q, k=k, v=v, mask=mask, causal=causal)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_rows_sum_to_one_or_zero_and_masked_weights_are_zero(p):
    r = attention(**p)
    w = r.weights
    allowed = np.broadcast_to(p["mask"], w.shape).copy()
    if p["causal"]:
        allowed &= np.tril(np.ones(w.shape[-2:], dtype=bool))
    assert np.all(w[~allowed] == 0.0)
    sums = w.sum(-1)
    empty = ~allowed.any(-1)
    np.testing.assert_allclose(sums[~empty], 1.0, atol=1e-12)
    assert np.all(sums[empty] == 0.0)
    assert np.all(r.output[np.broadcast_to(empty.any(1), r.output.shape[:2])] == 0.0)
    assert sorted(r.empty_rows) == sorted(tuple(int(i) for i in ix) for ix in np.argwhere(empty))


@settings(max_examples=100, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_permuting_keys_and_values_together_leaves_output_unchanged(p, seed):
    perm = np.random.default_rng(seed).permutation(p["k"].shape[2])
    base = attention(q=p["q"], k=p["k"], v=p["v"], mask=p["mask"])
    moved = attention(q=p["q"], k=p["k"][:, :, perm], v=p["v"][:, :, perm], mask=p["mask"][..., perm])
    np.testing.assert_allclose(moved.output, base.output, atol=1e-10)
    np.testing.assert_allclose(moved.weights, base.weights[..., perm], atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_rows_and_cols_layouts_agree_up_to_transposition(p):
    rows = attention(**p)
    t = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731
    cols = attention(q=t(p["q"]), k=t(p["k"]), v=t(p["v"]), mask=t(p["mask"]), causal=p["causal"],
                     layout="cols")
    for name in ("q", "k", "v", "scores", "weights", "heads", "output"):
        np.testing.assert_array_equal(cols.export(name), t(rows.export(name)))
