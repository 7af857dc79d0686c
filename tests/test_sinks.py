"""Attention sinks (gpt-oss): one logit per head joins each row's softmax denominator. The catalogue golden
sinks_heads3_causal_keylens (from torch's concatenate-softmax-drop, tests/test_catalogue_golden.py) checks the
values; here: softmax1 is the sink at 0, rows that see no key, the backends, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.core.attend import attend
from attncli.core.spec import Plan, Spec
from attncli.errors import AttnError


def qkv(seed: int = 0, B: int = 2, H: int = 3, n: int = 5, d: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=(B, H, n, d)) * 1.5 for _ in range(3))


def test_softmax1_is_softmax_with_a_sink_at_zero():
    q, k, v = qkv()
    one = attend(q, k, v, Spec(normalize="softmax1", causal=True))
    sink = attend(q, k, v, Spec(sinks=np.zeros(3), causal=True))
    np.testing.assert_allclose(sink.weights, one.weights, rtol=0, atol=1e-15)
    np.testing.assert_allclose(sink.output, one.output, rtol=0, atol=1e-15)


def test_the_formula_by_hand():
    """One row, scores (1, 2) (q·k with scale 1), sink log 2: weights e/(2 + e + e²), e²/(2 + e + e²)."""
    q, k = np.array([[1.0]]), np.array([[1.0], [2.0]])
    res = attend(q, k, np.eye(2), Spec(score="dot", sinks=[np.log(2.0)]))
    e = np.e
    np.testing.assert_allclose(res.weights[0, 0, 0], [e / (2 + e + e * e), e * e / (2 + e + e * e)], atol=1e-15)


def test_a_row_with_every_key_masked_is_all_on_the_sink():
    q, k, v = qkv(1, B=1, H=2)
    res = attend(q, k, v, Spec(key_lens=[0], sinks=[3.0, -2.0]))
    assert np.all(res.weights == 0) and np.all(res.output == 0)


def test_large_sinks_and_scores_stay_finite():
    q, k, v = qkv(2)
    res = attend(q * 4, k * 4, v, Spec(sinks=[800.0, -800.0, 0.0]))  # scores within ±200
    assert np.all(np.isfinite(res.weights))
    assert np.all(res.weights[:, 0] < 1e-100)  # a sink of 800 takes everything


@pytest.mark.parametrize("sinks", [[0.5, -1.0, 2.0], [800.0, -800.0, 60.0], [0.0, 0.0, 0.0]])
@pytest.mark.parametrize("kv_heads", [3, 1])
@pytest.mark.parametrize("masks", [dict(causal=True), dict(window=(1, 0), key_lens=[5, 2]), dict(key_lens=[0, 5])])
def test_the_fused_kernel_computes_sinks_as_the_dense_one(sinks, kv_heads, masks):
    """The fused kernel adds e^(s_h) to its unshifted row sums; a sink too large for them (800), a row with every
    key masked (key_lens 0) and grouped kv heads go through its shifted path."""
    q, k, v = qkv(5)
    k, v = k[:, :kv_heads], v[:, :kv_heads]
    spec = Spec(sinks=sinks, **masks)
    dense = attend(q, k, v, spec, Plan(need=("output",), backend="dense"))
    for dtype, tol in (("float64", 1e-12), ("float32", 2e-6)):
        fused = attend(q, k, v, spec, Plan(need=("output",), backend="fused", dtype=dtype))
        np.testing.assert_allclose(fused.output, dense.output, rtol=0, atol=tol)
        assert fused.empty_rows == dense.empty_rows


def test_one_sink_per_head():
    q, k, v = qkv(4)
    with pytest.raises(AttnError, match=r"spec.sinks must have one logit per head: 3 heads, got 2 logits"):
        attend(q, k, v, Spec(sinks=[1.0, 2.0]))


def test_compute_sinks_typed_or_from_a_file(tmp_path):
    args = ["compute", "--x", "1 0 1 0; 0 2 0 2; 1 1 1 1", "--heads", "2", "--causal", "--show", "weights",
            "--format", "json"]
    typed = json.loads(run([*args, "--sinks", "0.5 -1"]).stdout)
    np.save(tmp_path / "sinks.npy", np.array([0.5, -1.0]))
    read = json.loads(run([*args, "--sinks", tmp_path / "sinks.npy"]).stdout)
    assert typed["weights"] == read["weights"]
    assert typed["meta"]["sinks"] == [0.5, -1.0]
    w = np.array(typed["weights"])  # (H, n, n)
    assert np.all(w.sum(-1) < 1)


def test_compute_refuses_sinks_of_another_count_or_normalizer():
    base = ["compute", "--x", "1 0 1 0; 0 2 0 2; 1 1 1 1", "--heads", "2"]
    err = run_error([*base, "--sinks", "0.5 -1 2"])
    assert "--sinks must have one logit per head: 2 heads, got 3 logits" in err, err
    err = run_error([*base, "--sinks", "0.5 -1", "--normalize", "sparsemax"])
    assert "--sinks join a softmax's denominator" in err and "--normalize" in err, err


def test_explain_writes_the_sinks_formula():
    out = run(["explain", "--x", "1 0; 0 1; 1 1", "--sinks", "0.5"]).stdout.decode()
    assert "A_ij = exp(S_ij) / (exp(s_h) + Σ_j exp(S_ij))" in out, out
    assert "A = softmax(S)" not in out
