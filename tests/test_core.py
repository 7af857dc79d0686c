"""The core against hand-derived values and closed forms (no PyTorch needed; see test_golden.py for that).

The library's functions (attend, attention with a Spec) where the core is tested; the command line's keyword
pipeline (cli/pipeline.py) where what is tested is its own: the lecture layout, --mask-invert, its hints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attncli import Plan, Spec, attend, attention
from attncli.cli.pipeline import compute_attention  # the command line's keywords: layout, mask_invert, hints
from attncli.errors import AttnError

# The worked example of "Illustrated: Self-Attention" (Raimi Karim): 3 tokens, d_model 4, d_k = d_v = 3.
X = np.array([[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]], dtype=float)
WQ = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=float)
WK = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=float)
WV = np.array([[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]], dtype=float)
# Worked by hand: Q = X·W_Q, K = X·W_K, V = X·W_V
Q_HAND = [[1, 0, 2], [2, 2, 2], [2, 1, 3]]
K_HAND = [[0, 1, 1], [4, 4, 0], [2, 3, 1]]
V_HAND = [[1, 2, 3], [2, 8, 0], [2, 6, 3]]
S_HAND = [[2, 4, 4], [4, 16, 12], [4, 12, 10]]  # Q·Kᵀ


def softmax_closed_form(row):
    e = [math.exp(s) for s in row]
    return [x / sum(e) for x in e]


def test_worked_example_dot():
    r = attention(X, {"wq": WQ, "wk": WK, "wv": WV}, Spec(score="dot"))
    np.testing.assert_array_equal(r.export("q"), Q_HAND)
    np.testing.assert_array_equal(r.export("k"), K_HAND)
    np.testing.assert_array_equal(r.export("v"), V_HAND)
    np.testing.assert_array_equal(r.export("scores"), S_HAND)
    want_w = np.array([softmax_closed_form(row) for row in S_HAND])
    np.testing.assert_allclose(r.export("weights"), want_w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.export("output"), want_w @ np.array(V_HAND, float), atol=1e-12)
    # the first row by hand: e^2 / (e^2 + 2e^4) = 0.0634 …
    assert r.export("weights")[0, 0] == pytest.approx(math.exp(2) / (math.exp(2) + 2 * math.exp(4)), abs=1e-15)


def test_scaled_is_divided_by_sqrt_dk():
    r = attention(X, {"wq": WQ, "wk": WK, "wv": WV})
    np.testing.assert_allclose(r.export("scores"), np.array(S_HAND) / math.sqrt(3), atol=1e-12)
    assert r.meta["scale"] == pytest.approx(1 / math.sqrt(3))
    r2 = attention(X, {"wq": WQ, "wk": WK, "wv": WV}, Spec(scale=0.5))
    np.testing.assert_allclose(r2.export("scores"), np.array(S_HAND) * 0.5, atol=1e-12)


def test_two_tokens_is_a_sigmoid():
    # softmax([a, b]) = [σ(a − b), σ(b − a)]
    q = np.array([[1.0, 2.0]])
    k = np.array([[0.5, 0.0], [1.0, 1.0]])
    v = np.array([[1.0], [3.0]])
    r = attend(q, k, v, Spec(score="dot"))
    a, b = 0.5, 3.0
    sig = 1 / (1 + math.exp(-(a - b)))
    np.testing.assert_allclose(r.export("weights"), [[sig, 1 - sig]], atol=1e-15)
    np.testing.assert_allclose(r.export("output"), [[sig * 1 + (1 - sig) * 3]], atol=1e-14)


def test_no_weights_means_q_k_v_are_x():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = attention(x, None, Spec(score="dot"))
    e = math.e
    np.testing.assert_allclose(r.export("weights"), [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])


def test_biases_are_added():
    bq = np.array([1.0, 0.0, 0.0])
    r = attention(X, {"wq": WQ, "wk": WK, "wv": WV, "bq": bq}, Spec(score="dot"))
    np.testing.assert_array_equal(r.export("q"), np.array(Q_HAND) + bq)


def test_causal_first_row_sees_only_itself():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 5, 4))
    r = attend(q, k, v, Spec(causal=True))
    w = r.export("weights")
    assert np.all(w[np.triu_indices(5, 1)] == 0.0)
    np.testing.assert_array_equal(w[0], [1, 0, 0, 0, 0])
    np.testing.assert_allclose(r.export("output")[0], v[0], atol=1e-15)


def test_key_lens_equal_truncated_sequences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 4))
    r = attention(x, None, Spec(key_lens=[5, 3]))
    short = attend(x[1], x[1, :3], x[1, :3])
    np.testing.assert_allclose(r.export("weights")[1][:, :3], short.export("weights"), atol=1e-15)
    assert np.all(r.export("weights")[1][:, 3:] == 0.0)


def test_empty_rows_policies():
    q = np.eye(3)
    mask = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    r = attend(q, q, q, Spec(mask=mask))
    assert r.empty_rows == [(0, 0, 1)]
    np.testing.assert_array_equal(r.export("weights")[1], 0)
    np.testing.assert_array_equal(r.export("output")[1], 0)
    r = attend(q, q, q, Spec(mask=mask, empty_rows="nan"))
    assert np.isnan(r.export("weights")[1]).all() and np.isnan(r.export("output")[1]).all()
    with pytest.raises(AttnError, match="every key masked"):
        attend(q, q, q, Spec(mask=mask, empty_rows="error"))


def test_bias_minus_inf_masks_exactly():
    q = np.eye(2)
    bias = np.array([[0.0, -np.inf], [0.0, 0.0]])
    r = attend(q, q, q, Spec(bias=bias))
    np.testing.assert_array_equal(r.export("weights")[0], [1.0, 0.0])


def test_mask_invert_and_non_binary_mask():
    q = np.eye(2)
    r = compute_attention(q, q, q, mask=np.array([[0, 1], [0, 0]]), mask_invert=True)
    np.testing.assert_array_equal(r.export("weights")[0], [1.0, 0.0])
    with pytest.raises(AttnError, match="use spec.bias"):  # the CLI says --bias (tests/test_messages.py)
        attend(q, q, q, Spec(mask=np.array([[0, -np.inf], [0, 0]])))


def test_large_scores_stay_finite():
    q = np.array([[1e4, 0.0]])
    k = np.array([[1.0, 0.0], [-1.0, 0.0]])
    r = attend(q, k, k, Spec(score="dot"))
    np.testing.assert_array_equal(r.export("weights"), [[1.0, 0.0]])


def test_heads_split_columns_in_pytorch_order():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6))
    wq, wk, wv = rng.normal(size=(3, 6, 4))
    two = attention(x, {"wq": wq, "wk": wk, "wv": wv}, heads=2)
    for h in range(2):
        cols = slice(2 * h, 2 * h + 2)
        one = attention(x, {"wq": wq[:, cols], "wk": wk[:, cols], "wv": wv[:, cols]})
        np.testing.assert_allclose(two.export("weights")[h], one.export("weights"), atol=1e-14)
        np.testing.assert_allclose(two.export("heads")[h], one.export("heads")[0], atol=1e-14)
    # per-head lists and 3-D stacks give the same as the column split
    listed = attention(x, {"wq": [wq[:, :2], wq[:, 2:]], "wk": [wk[:, :2], wk[:, 2:]], "wv": [wv[:, :2], wv[:, 2:]]})
    stacked = attention(x, {"wq": np.stack([wq[:, :2], wq[:, 2:]]), "wk": np.stack([wk[:, :2], wk[:, 2:]]),
                            "wv": np.stack([wv[:, :2], wv[:, 2:]])})
    for r in (listed, stacked):
        np.testing.assert_allclose(r.export("output"), two.export("output"), atol=1e-14)


def test_wo_projects_concatenated_heads():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    wq, wk, wv = rng.normal(size=(3, 4, 4))
    wo, bo = rng.normal(size=(4, 5)), rng.normal(size=5)
    r = attention(x, {"wq": wq, "wk": wk, "wv": wv, "wo": wo, "bo": bo}, heads=2)
    concat = np.concatenate(list(r.export("heads")), axis=1)  # (n, H·d_v), head 0 first
    np.testing.assert_allclose(r.export("output"), concat @ wo + bo, atol=1e-13)


def test_gqa_shares_kv_heads():
    rng = np.random.default_rng(4)
    q = rng.normal(size=(4, 3, 2))  # 4 query heads
    k, v = rng.normal(size=(2, 2, 5, 2))  # 2 kv heads
    r = attend(q, k, v)  # 4 query heads, 2 kv heads: from the shapes
    for h in range(4):
        one = attend(q[h], k[h // 2], v[h // 2])
        np.testing.assert_allclose(r.export("weights")[h], one.export("weights"), atol=1e-14)


def test_cols_layout_is_rows_transposed():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3))
    wq, wk, wv = rng.normal(size=(3, 3, 2))
    rows = compute_attention(x=x, wq=wq, wk=wk, wv=wv, causal=True)
    cols = compute_attention(x=x.T, wq=wq.T, wk=wk.T, wv=wv.T, causal=True, layout="cols")
    for name in ("q", "scores", "weights", "output"):
        np.testing.assert_allclose(cols.export(name), rows.export(name).T, atol=1e-14)
    # columns of A′ sum to 1 in the lecture convention
    np.testing.assert_allclose(cols.export("weights").sum(axis=0), 1.0)


def test_dtype_auto():
    x32 = np.eye(3, dtype=np.float32)
    assert attention(x32).output.dtype == np.float32
    assert attention(x32.astype(np.float64)).output.dtype == np.float64
    assert attention(x32, plan=Plan(dtype="float64")).output.dtype == np.float64
    assert attention(x32.astype(np.float16)).output.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=np.ones((3, 4)), wq=np.ones((3, 2)), wk=np.ones((4, 2)), wv=np.ones((4, 2))),
         "wq must be d_model × d_out"),
        (dict(x=np.ones((3, 4)), wq=np.ones((4, 3)), wk=np.ones((4, 3)), wv=np.ones((4, 3)), heads=2),
         "(?<!-)heads must divide 3"),
        (dict(q=np.ones((3, 4)), k=np.ones((3, 4)), v=np.ones((3, 4)), heads=4, kv_heads=3), "kv"),
        (dict(q=np.ones((3, 4)), k=np.ones((3, 4)), v=np.ones((3, 4)), key_lens=[5]),
         "key_lens value 5 is outside 0..3"),
        (dict(q=np.ones((3, 4)), k=np.ones((3, 4)), v=np.ones((3, 4)), key_lens=[2, 2]), "batch"),
        (dict(q=np.ones((3, 4)), k=np.ones((3, 4)), v=np.ones((3, 4)), mask=np.ones((2, 2))), "broadcast"),
        (dict(q=np.array([[np.nan, 1.0]]), k=np.ones((1, 2)), v=np.ones((1, 2))), "NaN|nan"),
        (dict(q=np.ones((3, 4)), k=np.ones((3, 4))), "without (--)?v"),
        (dict(x=np.ones((3, 4)), q=np.ones((3, 4))), "not both"),
        (dict(q=np.ones((3, 4)) * 1j, k=np.ones((3, 4)), v=np.ones((3, 4))), "real"),
    ],
)
def test_user_mistakes_are_attn_errors(kwargs, message):
    with pytest.raises(AttnError, match=message):
        compute_attention(**kwargs)


def test_transposed_weight_hint():
    """A library caller is told to pass the transpose (the CLI: --weights-layout torch, test_library_messages)."""
    with pytest.raises(AttnError, match=r"transposed would fit: is it stored \(out, in\) like PyTorch's "
                       r"Linear\.weight\? wq=wq\.T"):
        compute_attention(x=np.ones((3, 4)), wq=np.ones((2, 4)), wk=np.ones((4, 2)), wv=np.ones((4, 2)))


def test_layout_hints_in_shape_errors():
    x_cols = np.ones((4, 3))  # d_model 4 × n 3: tokens are columns
    w_cols = np.ones((2, 4))  # d_k × d_model
    with pytest.raises(AttnError, match="add layout=cols"):  # the CLI says --layout cols (test_errors_catalogue)
        compute_attention(x=x_cols, wq=w_cols, wk=w_cols, wv=w_cols)
    with pytest.raises(AttnError, match=r"in the lecture layout \(layout=cols\) W_Q is d_k × d_model"):
        compute_attention(x=x_cols, wq=np.ones((2, 3)), wk=w_cols, wv=w_cols, layout="cols")


def test_key_padding_mask_shape_equals_key_lens():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 4))
    pad = np.arange(5)[None, :] < np.array([5, 2])[:, None]  # (B, n_k), True = real token
    by_mask = attention(x, None, Spec(mask=pad[:, None, None, :]), heads=2)
    by_lens = attention(x, None, Spec(key_lens=[5, 2]), heads=2)
    np.testing.assert_array_equal(by_mask.weights, by_lens.weights)
