"""RoPE as the Hub's configs write it (issue 22): the frequencies of each rope_type of transformers'
modeling_rope_utils.py (linear, dynamic, yarn, longrope, llama3) and the attention factor on cos and sin.

Expected values here are closed forms worked by hand for small d, or independent numpy written from the papers'
formulas; the end-to-end numbers are transformers' own (tests/golden/models/llama_rope_*, compared in
test_models_golden.py and test_model_layer.py). The last tests show that every one of those goldens bites: the
same checkpoint without its scaling is off by far more than the tolerance.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

from attncli.core import positions as pos
from attncli.core.attend import rotate
from attncli.core.spec import Rope, Spec
from attncli.models import rope_config

GOLDEN = Path(__file__).parent / "golden" / "models"
ROPE_CASES = ["llama_rope_llama3", "llama_rope_linear", "llama_rope_dynamic", "llama_rope_yarn",
              "llama_rope_yarn_mscale", "llama_rope_longrope", "llama_rope_longrope_short"]


# ---------------------------------------------------------------- the frequencies, by hand

def test_linear_divides_every_frequency_by_the_factor():
    # d = 4, base 100: ω = (1, 100^(-1/2)) = (1, 0.1)
    np.testing.assert_allclose(pos.linear_frequencies(4, 100.0, 4.0), [0.25, 0.025], rtol=1e-15)


def test_dynamic_changes_the_base_only_past_max_positions():
    np.testing.assert_allclose(pos.dynamic_frequencies(4, 100.0, 3.0, 16, 16), [1.0, 0.1], rtol=1e-15)
    # n = 32, M = 16, s = 3: base' = 100 · (3·2 − 2)^(4/2) = 1600, ω = (1, 1/40)
    np.testing.assert_allclose(pos.dynamic_frequencies(4, 100.0, 3.0, 32, 16), [1.0, 1 / 40], rtol=1e-15)


def test_llama3_keeps_short_wavelengths_divides_long_ones_and_blends_between():
    # d = 6, base 10^4: ω = (1, 10^(-4/3), 10^(-8/3)), λ = 2π/ω ≈ (6.28, 135.4, 2916.4).
    # M₀ = 1000, low 1, high 8: λ < 125 kept, λ > 1000 divided by s = 4, and λ ≈ 135.4 blended with
    # t = (1000/λ − 1)/(8 − 1): ω·((1 − t)/4 + t).
    omega = np.array([1.0, 10 ** (-4 / 3), 10 ** (-8 / 3)])
    t = (1000 * omega[1] / (2 * math.pi) - 1) / 7
    want = [omega[0], omega[1] * ((1 - t) / 4 + t), omega[2] / 4]
    np.testing.assert_allclose(pos.llama3_frequencies(6, 1e4, 4.0, 1.0, 8.0, 1000), want, rtol=1e-14)


def test_yarn_ramps_from_the_original_frequencies_to_the_interpolated_ones():
    # d = 8, base 10^4, M₀ = 16, β_fast 32, β_slow 1: the pair index where a frequency turns β times over M₀ is
    # 8·ln(16/(2πβ))/(2 ln 10^4): β=32 → −2.71 → floor −3 → 0; β=1 → 0.406 → ceil 1. A ramp 0..1 over pairs
    # 0..1: pair 0 keeps ω, pairs 1..3 take ω/s.
    omega = 1e4 ** (-np.arange(0, 8, 2) / 8)
    want = omega / 4 * np.array([0, 1, 1, 1]) + omega * np.array([1, 0, 0, 0])
    np.testing.assert_allclose(pos.yarn_frequencies(8, 1e4, 4.0, 16), want, rtol=1e-15)
    # untruncated: lo = −2.71 → 0, hi = 0.406: r_1 = clip(1/0.406) = 1 as well; with β_slow 0.1 (hi ≈ 2.41)
    lo, hi = 0, 8 * math.log(16 / (2 * math.pi * 0.1)) / (2 * math.log(1e4))
    r = np.clip((np.arange(4) - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(pos.yarn_frequencies(8, 1e4, 4.0, 16, 32.0, 0.1, truncate=False),
                               omega / 4 * r + omega * (1 - r), rtol=1e-14)


def test_attention_factors_are_the_papers():
    assert pos.yarn_attention_factor(4.0) == pytest.approx(0.1 * math.log(4) + 1, rel=1e-15)
    assert pos.yarn_attention_factor(1.0) == 1.0
    assert pos.yarn_attention_factor(4.0, 0.7, 0.5) == pytest.approx((0.07 * math.log(4) + 1)
                                                                     / (0.05 * math.log(4) + 1), rel=1e-15)
    assert pos.longrope_attention_factor(4.0, 16) == pytest.approx(math.sqrt(1 + math.log(4) / math.log(16)))
    np.testing.assert_allclose(pos.longrope_frequencies(4, 100.0, [2.0, 5.0]), [0.5, 0.02], rtol=1e-15)


# ---------------------------------------------------------------- the core's Rope with given frequencies

def test_given_frequencies_equal_the_base_they_come_from_and_the_factor_scales_cos_and_sin():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 2, 5, 8))  # (B, H, n, d)
    plain = rotate(x, Spec(rope=Rope(500.0)))
    given = rotate(x, Spec(rope=Rope(500.0, inv_freq=500.0 ** (-np.arange(0, 8, 2) / 8))))
    np.testing.assert_allclose(given, plain, rtol=0, atol=1e-15)
    scaled = rotate(x, Spec(rope=Rope(500.0, attention_factor=1.5)))
    np.testing.assert_allclose(scaled, 1.5 * plain, rtol=1e-14)


def test_rope_with_frequencies_round_trips_and_refuses_a_wrong_count():
    spec = Spec(rope=Rope(1e4, inv_freq=[1.0, 0.25], attention_factor=1.2, dim=4))
    assert Spec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert hash(spec) == hash(Spec.from_dict(spec.to_dict()))
    from attncli.errors import AttnError
    with pytest.raises(AttnError, match="spec.rope.inv_freq has 2 frequencies; the 8 features"):
        rotate(np.zeros((1, 1, 3, 8)), Spec(rope=Rope(1e4, inv_freq=[1.0, 0.25])))
    with pytest.raises(AttnError, match="spec.rope.attention_factor must be a positive"):
        Rope(attention_factor=0.0)


# ---------------------------------------------------------------- config.json's two layouts

def test_rope_scaling_wins_over_rope_parameters_and_type_is_rope_type():
    cfg = {"rope_theta": 5e5, "rope_scaling": {"type": "linear", "factor": 2.0},
           "rope_parameters": {"rope_type": "llama3", "rope_theta": 1e4}}
    assert rope_config.rope_parameters(cfg) == {"type": "linear", "factor": 2.0, "rope_type": "linear",
                                          "rope_theta": 5e5}


def test_theta_inside_rope_parameters_wins_over_the_top_level():
    p = rope_config.rope_parameters({"rope_theta": 5e5, "rope_parameters": {"rope_type": "default", "rope_theta": 1e4}})
    assert p["rope_theta"] == 1e4


def test_original_max_positions_from_the_top_level_then_the_object_then_max_positions():
    scaled = {"rope_type": "yarn", "factor": 4.0}
    assert rope_config.rope_parameters({"max_position_embeddings": 64, "rope_parameters": scaled}
                                 )["original_max_position_embeddings"] == 64
    inside = {**scaled, "original_max_position_embeddings": 32}
    assert rope_config.rope_parameters({"max_position_embeddings": 64, "rope_parameters": inside}
                                 )["original_max_position_embeddings"] == 32
    assert rope_config.rope_parameters({"original_max_position_embeddings": 16, "rope_parameters": inside}
                                 )["original_max_position_embeddings"] == 16


def test_dynamic_and_longrope_depend_on_the_length_of_the_text():
    dyn = {"max_position_embeddings": 16, "rope_scaling": {"rope_type": "dynamic", "factor": 3.0}}
    assert rope_config.rope_frequencies(dyn, 4, 16)[1].tolist() == [1.0, 0.01]
    np.testing.assert_allclose(rope_config.rope_frequencies(dyn, 4, 32)[1], [1.0, 1 / 400], rtol=1e-15)
    lr = {"max_position_embeddings": 64, "rope_parameters": {
        "rope_type": "longrope", "original_max_position_embeddings": 16, "short_factor": [1.0, 2.0],
        "long_factor": [3.0, 4.0]}}
    np.testing.assert_allclose(rope_config.rope_frequencies(lr, 4, 16)[1], [1.0, 0.005], rtol=1e-15)
    base, omega, m, dim = rope_config.rope_frequencies(lr, 4, 17)
    np.testing.assert_allclose(omega, [1 / 3, 0.0025], rtol=1e-15)
    assert (base, dim) == (1e4, None) and m == pytest.approx(math.sqrt(1 + math.log(4) / math.log(16)))


# ---------------------------------------------------------------- each golden bites

def _maps(folder: Path, case: dict, tmp_path: Path) -> np.ndarray:
    out = tmp_path / "out.npz"
    run(["model", folder, "--ids", " ".join(map(str, case["ids"][0])), "--format", "npz", "-o", out])
    with np.load(out) as z:
        return z["attentions"]


@pytest.mark.parametrize("name", ROPE_CASES)
def test_each_rope_golden_is_far_from_rope_without_scaling(name, tmp_path):
    """Run with the scaling taken out of config.json (θ kept): the maps move by more than 100× the goldens'
    tolerance, so the goldens test the scaling, not just RoPE."""
    folder = tmp_path / name
    shutil.copytree(GOLDEN / name, folder)
    cfg = json.loads((folder / "config.json").read_text())
    theta = rope_config.rope_parameters(cfg)["rope_theta"]
    cfg.pop("rope_scaling", None)
    cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    cfg["rope_theta"] = theta
    (folder / "config.json").write_text(json.dumps(cfg))
    case = json.loads((GOLDEN / name / "case.json").read_text())
    expected = np.load(GOLDEN / name / "expected.npz")["attentions"][:, 0]  # (L, H, n, n)
    np.testing.assert_allclose(_maps(GOLDEN / name, case, tmp_path), expected, atol=1e-5, rtol=0)
    assert np.abs(_maps(folder, case, tmp_path) - expected).max() > 1e-3


def test_dynamic_up_to_max_positions_is_rope_without_scaling(tmp_path):
    """llama_rope_dynamic's first 16 tokens (max_position_embeddings): the same maps as without scaling."""
    folder = tmp_path / "plain"
    shutil.copytree(GOLDEN / "llama_rope_dynamic", folder)
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["rope_scaling"]
    (folder / "config.json").write_text(json.dumps(cfg))
    case = json.loads((GOLDEN / "llama_rope_dynamic" / "case.json").read_text())
    short = {"ids": [case["ids"][0][:16]]}
    np.testing.assert_allclose(_maps(GOLDEN / "llama_rope_dynamic", short, tmp_path),
                               _maps(folder, short, tmp_path), atol=1e-7, rtol=0)


def test_partial_rotary_turns_the_first_features_with_their_own_frequencies():
    """A family that reads partial_rotary_factor (Phi-3's way): dim = int(d_head · factor), ω_i = θ^(−2i/dim)
    over that width (transformers' int(head_dim * partial_rotary_factor)); llama's rule ignores it."""
    cfg = {"partial_rotary_factor": 0.75, "max_position_embeddings": 64,
           "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 100.0}}
    base, omega, m, dim = rope_config.rope_frequencies(cfg, 8, 5, partial=True)
    assert dim == 6 and m == 1.0
    np.testing.assert_allclose(omega, [0.5, 0.5 * 100 ** (-1 / 3), 0.5 * 100 ** (-2 / 3)], rtol=1e-15)
    assert rope_config.rope_frequencies(cfg, 8, 5)[3] is None  # all 8 features (Llama)


def test_theta_in_rope_parameters_wins_over_a_top_level_one_without_scaling_too(tmp_path):
    """transformers 5 (convert_rope_params_to_dict) keeps rope_parameters' θ and ignores a top-level rope_theta
    beside it: llama_gqa (θ 5000 in rope_parameters) with a top-level 1e6 added gives the same maps."""
    folder = tmp_path / "both"
    shutil.copytree(GOLDEN / "llama_gqa", folder)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["rope_parameters"]["rope_theta"] == 5000.0
    cfg["rope_theta"] = 1e6
    (folder / "config.json").write_text(json.dumps(cfg))
    case = json.loads((GOLDEN / "llama_gqa" / "case.json").read_text())
    expected = np.load(GOLDEN / "llama_gqa" / "expected.npz")["attentions"][:, 0]
    np.testing.assert_allclose(_maps(folder, case, tmp_path), expected, atol=1e-5, rtol=0)
