"""Variants of each head's q and k that today's models bring: q/k norms (Spec.qk_norm; compute --q-norm/--k-norm),
each head's q and k through an RMSNorm over d_k before RoPE (Qwen3, Gemma 3), and partial rotary (Rope(dim);
compute --rope-dim). Expected values: the norm written out in numpy here, then attention on the normed q and
k with no q/k norm (a different code path); transformers' through tests/test_model_layer.py (qwen3 layers)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli import Plan, Spec, attend
from attncli.core.spec import QKNorm, Rope
from attncli.errors import AttnError

RNG = np.random.default_rng(22)


def rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


@pytest.mark.parametrize("backend", ["dense", "fused", "trace"])
def test_attend_norms_each_head_before_rope(backend: str):
    q, k, v = RNG.normal(size=(2, 6, 7, 8)), RNG.normal(size=(2, 2, 7, 8)), RNG.normal(size=(2, 2, 7, 8))
    wq, wk = RNG.normal(size=8), RNG.normal(size=8)
    base = Spec(causal=True, rope=Rope(500.0))
    need = ("heads",) if backend == "fused" else ("weights", "heads", "q", "k")
    got = attend(q, k, v, base.replace(qk_norm=QKNorm(wq, wk, 1e-5)), Plan(need=need, backend=backend))
    want = attend(rms(q, wq, 1e-5), rms(k, wk, 1e-5), v, base, Plan(need=("weights", "heads", "q", "k")))
    np.testing.assert_allclose(got.heads, want.heads, atol=1e-12)
    if backend != "fused":
        np.testing.assert_allclose(got.weights, want.weights, atol=1e-12)
        np.testing.assert_allclose(got.q, want.q, atol=1e-12)  # q after the norm and RoPE
        np.testing.assert_allclose(got.k, want.k, atol=1e-12)


def test_the_norm_comes_before_rope_not_after():
    q, k, v = RNG.normal(size=(1, 1, 5, 4)), RNG.normal(size=(1, 1, 5, 4)), RNG.normal(size=(1, 1, 5, 4))
    w = np.array([1.0, 2.0, 0.5, 3.0])  # uneven: RoPE then the norm would differ
    spec = Spec(rope=Rope(), qk_norm=QKNorm(w, w))
    got = attend(q, k, v, spec, Plan(need=("weights",))).weights
    after = attend(q, k, v, Spec(rope=Rope()), Plan(need=("q", "k", "weights")))
    wrong = attend(rms(after.q, w, 1e-6), rms(after.k, w, 1e-6), v, Spec(), Plan(need=("weights",))).weights
    assert np.abs(got - wrong).max() > 1e-3


def test_spec_round_trip_and_validation():
    spec = Spec(qk_norm=QKNorm([1.0, 2.0], [0.5, 1.0], eps=1e-5))
    assert Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["qk_norm"] == {"q": [1.0, 2.0], "k": [0.5, 1.0], "eps": 1e-5}
    for bad, field in (((np.ones(2), np.ones(3)), "spec.qk_norm.q"), (([1.0, np.nan], [1.0, 1.0]), "spec.qk_norm.q"),
                       ((np.ones((2, 2)), np.ones(2)), "spec.qk_norm.q")):
        with pytest.raises(AttnError, match=field):
            QKNorm(*bad)
    with pytest.raises(AttnError, match="spec.qk_norm.eps"):
        QKNorm([1.0], [1.0], eps=0)
    with pytest.raises(AttnError, match="d_q = 4"):
        attend(np.ones((1, 1, 2, 4)), np.ones((1, 1, 2, 4)), np.ones((1, 1, 2, 4)),
               Spec(qk_norm=QKNorm([1.0, 1.0], [1.0, 1.0])))


def test_compute_options_match_the_formula(tmp_path):
    x = RNG.normal(size=(5, 4))
    np.save(tmp_path / "x.npy", x)
    run(["compute", "--x", tmp_path / "x.npy", "--heads", "2", "--q-norm", "1 0.5", "--k-norm", "2 1",
         "--qk-norm-eps", "1e-3", "--causal", "--rope", "--show", "weights", "-o", tmp_path / "w.npy"])
    qh = x.reshape(5, 2, 2).transpose(1, 0, 2)[None]  # (1, 2, 5, 2): X as Q, K and V, split into 2 heads
    want = attend(rms(qh, np.array([1, 0.5]), 1e-3), rms(qh, np.array([2.0, 1]), 1e-3), qh,
                  Spec(causal=True, rope=Rope()), Plan(need=("weights",))).weights[0]
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), want, atol=1e-12)


def test_compute_refuses_one_side_and_wrong_sizes():
    x = "1 0 1 0; 0 2 0 2; 1 1 1 1"
    assert "give --k-norm too" in run_error(["compute", "--x", x, "--q-norm", "1 1 1 1"])
    assert "--q-norm/--k-norm has 2 weights per head" in run_error(["compute", "--x", x, "--q-norm", "1 1",
                                                                     "--k-norm", "1 1"])
    assert "--qk-norm-eps" in run_error(["compute", "--x", x, "--q-norm", "1 1 1 1", "--k-norm", "1 1 1 1",
                                         "--qk-norm-eps", "0"])


def test_config_decides_the_norms(tmp_path):
    from pathlib import Path

    golden = Path(__file__).parent / "golden" / "models" / "qwen3"
    err = run_error(["compute", "--config", golden / "config.json", "--layer", "0", "--x", "1 1", "--q-norm", "1 1"])
    assert "--q-norm" in err and "--config decides" in err


# ---- partial rotary from the command line (--rope-dim), against the rotation written out by hand ----------------

def test_rope_dim_turns_only_the_first_features(tmp_path):
    x = np.array([[1.0, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]])
    np.save(tmp_path / "x.npy", x)
    run(["compute", "--x", tmp_path / "x.npy", "--rope", "--rope-dim", "2", "--show", "q", "-o", tmp_path / "q.npy"])
    want = x.copy()
    for pos in range(3):  # D = 2: one pair (x0, x1) in half layout, ω_0 = base^0 = 1; x2, x3 unchanged
        c, s = np.cos(pos), np.sin(pos)
        want[pos, :2] = [x[pos, 0] * c - x[pos, 1] * s, x[pos, 1] * c + x[pos, 0] * s]
    np.testing.assert_allclose(np.load(tmp_path / "q.npy"), want, atol=1e-12)


def test_rope_dim_needs_rope_and_an_even_count_within_the_head():
    x = "1 0 1 0; 0 2 0 2; 1 1 1 1"
    assert "give --rope too" in run_error(["compute", "--x", x, "--rope-dim", "2"])
    assert "--rope-dim must be even" in run_error(["compute", "--x", x, "--rope", "--rope-dim", "3"])
    assert "--rope-dim 6 is more than the 4 features" in run_error(["compute", "--x", x, "--rope", "--rope-dim", "6"])
