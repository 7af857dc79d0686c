"""Phi-3, OPT and Granite (issue 22): the rules and settings each brings, against values derived here from
transformers' modeling files (named in each rule) and the golden files of tests/golden/models (made with
transformers by its generate.py; the families' maps and hidden states are compared in test_models_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from model_helpers import golden_copy

from attncli.models import rules
from attncli.models.checkpoint import open_checkpoint
from attncli.models.families import FAMILIES
from attncli.models.layer_attention import layer_spec
from attncli.models.weights import Layer, mlp_weights, shapes

GOLDEN = Path(__file__).parent / "golden" / "models"


def copy_case(tmp_path: Path, case: str, **changes) -> Path:
    """The golden folder `case` with config.json's keys changed (None: the key removed)."""
    return golden_copy(tmp_path, case, changes)


def npz_of(folder: Path, ids: list[int], tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / "out.npz"
    run(["model", folder, "--ids", " ".join(map(str, ids)), "--show", "attentions,hidden", "--format", "npz",
         "-o", out])
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def expected_of(case: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    ids = json.loads((GOLDEN / case / "case.json").read_text())["ids"][0]
    with np.load(GOLDEN / case / "expected.npz") as z:
        return ids, z["attentions"][:, 0, :, : len(ids), : len(ids)], z["hidden"][:, 0, : len(ids)]


# ---------------------------------------------------------------- the rules, as the modeling files say


def test_phi3_window_only_when_config_sets_one():
    assert rules.window_when_set({}, 0) is None  # Phi3Config's sliding_window: None (Mistral's rule: 4096)
    assert rules.window_when_set({"sliding_window": None}, 3) is None
    assert [rules.window_when_set({"sliding_window": 2047}, i) for i in range(3)] == [2047] * 3


def test_opt_positions_are_offset_by_two_whatever_the_ids():
    ids = np.array([[2, 40, 1, 1, 9], [2, 5, 1, 1, 1]])  # OPT's pad id 1 inside and after: positions from the mask
    assert rules.opt_positions({"pad_token_id": 1}, ids).tolist() == [[2, 3, 4, 5, 6]] * 2


@pytest.mark.parametrize("cfg,pre,final", [
    ({}, True, True),  # OPTConfig: do_layer_norm_before true, _remove_final_layer_norm false
    ({"do_layer_norm_before": False}, False, False),  # OPT-350m: post-norm, no final norm
    ({"_remove_final_layer_norm": True}, True, False),
    ({"do_layer_norm_before": True, "_remove_final_layer_norm": False}, True, True),
])
def test_opt_norms_sit_where_config_says(cfg, pre, final):
    fam = FAMILIES["opt"]
    assert fam.is_pre_norm(cfg) is pre and fam.has_final_norm(cfg) is final
    assert FAMILIES["llama"].is_pre_norm(cfg) and FAMILIES["bert"].is_pre_norm(cfg) is False  # norm_at decides


def test_granite_scale_is_attention_multiplier():
    assert rules.granite_scale({}, 0, 64) == 1.0  # GraniteConfig's default: not 1/√64
    assert rules.granite_scale({"attention_multiplier": 0.015625}, 3, 64) == 0.015625
    ckpt = open_checkpoint(str(GOLDEN / "granite"))
    assert layer_spec(ckpt, 1, shapes(ckpt)).scale == 0.2


def test_phi3_fused_gate_up_splits_gate_first():
    """transformers' Phi3MLP: gate, up = gate_up_proj(x).chunk(2): the first intermediate_size rows are the gate."""
    from safetensors.numpy import load_file

    ckpt = open_checkpoint(str(GOLDEN / "phi3"))
    s = shapes(ckpt)
    (up, _), _, (gate, _) = mlp_weights(Layer(ckpt, 1, s, np.dtype(np.float32)))
    stored = load_file(str(GOLDEN / "phi3" / "model.safetensors"))["model.layers.1.mlp.gate_up_proj.weight"]
    assert stored.shape == (2 * s.inter, s.hidden)
    assert np.array_equal(gate, stored[: s.inter].T) and np.array_equal(up, stored[s.inter:].T)


def test_phi3_partial_rotary_turns_three_quarters_of_each_head():
    ckpt = open_checkpoint(str(GOLDEN / "phi3"))
    s = shapes(ckpt)
    rope = layer_spec(ckpt, 0, s, 26).rope  # 26 tokens > original_max_position_embeddings 16: long factors
    assert s.head_dim == 16 and rope.dim == 12 and rope.inv_freq.shape == (6,)
    long = np.array([1.5, 2.5, 4.0, 6.0, 9.0, 14.0])
    np.testing.assert_allclose(rope.inv_freq, 10000.0 ** (-np.arange(0, 12, 2) / 12) / long, rtol=1e-12)
    assert rope.attention_factor == pytest.approx(np.sqrt(1 + np.log(64 / 16) / np.log(16)))


def test_phi3_partial_rotary_with_the_default_rope_turns_the_same_share(tmp_path):
    """Phi3RotaryEmbedding.compute_default_rope_parameters: dim = int(head_dim · partial_rotary_factor), inv_freq
    = θ^(−2i/dim) over those dim features: the core's Rope(dim=12) with its own frequencies, unscaled."""
    folder = copy_case(tmp_path, "phi3", rope_parameters={"rope_type": "default", "rope_theta": 500.0,
                                                          "partial_rotary_factor": 0.75})
    ckpt = open_checkpoint(str(folder))
    rope = layer_spec(ckpt, 0, shapes(ckpt), 26).rope
    assert (rope.base, rope.dim, rope.inv_freq, rope.attention_factor) == (500.0, 12, None, 1.0)


def test_phi3_without_original_max_position_embeddings_takes_its_config_class_default():
    """Phi3Config's field defaults to 4096 and replaces the value inside rope_scaling (8 here): 26 tokens take
    the short factors, and the attention factor is √(1 + ln 2 / ln 4096)."""
    cfg = json.loads((GOLDEN / "phi3_window" / "config.json").read_text())
    assert "original_max_position_embeddings" not in cfg
    assert cfg["rope_scaling"]["original_max_position_embeddings"] == 8
    ckpt = open_checkpoint(str(GOLDEN / "phi3_window"))
    rope = layer_spec(ckpt, 0, shapes(ckpt), 26).rope
    np.testing.assert_allclose(rope.inv_freq, 10000.0 ** (-np.arange(0, 8, 2) / 8) / [1.0, 1.3, 1.8, 2.6])
    assert rope.attention_factor == pytest.approx(np.sqrt(1 + np.log(2) / np.log(4096)))


# ---------------------------------------------------------------- config.json as the Hub has it


def test_an_opt_config_without_the_newer_keys_takes_their_defaults(tmp_path):
    """facebook/opt-125m's config.json predates enable_bias and layer_norm_elementwise_affine (both true by
    default): the golden `opt` (which has them true) without them gives transformers' maps and states."""
    folder = copy_case(tmp_path, "opt", enable_bias=None, layer_norm_elementwise_affine=None,
                       do_layer_norm_before=None, _remove_final_layer_norm=None)
    ids, att, hid = expected_of("opt")
    got = npz_of(folder, ids, tmp_path)
    np.testing.assert_allclose(got["attentions"], att, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got["hidden"], hid, atol=1e-4, rtol=1e-4)


def test_opt_refuses_a_text_longer_than_its_positions(tmp_path):
    err = run_error(["model", GOLDEN / "opt", "--ids", " ".join(["5"] * 41)])
    assert "40 learned positions" in err and "41 tokens" in err, err


@pytest.mark.parametrize("share,what", [
    (1.5, "partial_rotary_factor 1.5 turns int(8 · 1.5) = 12"),
    (0.05, "partial_rotary_factor 0.05 turns int(8 · 0.05) = 0"),  # no feature would turn
])
def test_phi3_partial_rotary_out_of_range_is_refused_in_one_line(tmp_path, share, what):
    folder = copy_case(tmp_path, "phi3_window", partial_rotary_factor=share)
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert what in err, err


def test_phi3_longrope_factors_count_the_pairs_that_turn(tmp_path):
    """With partial_rotary_factor 0.75 and head_dim 16, 12 features turn: 6 factors, not 8."""
    cfg = json.loads((GOLDEN / "phi3" / "config.json").read_text())
    rope = {**cfg["rope_parameters"], "short_factor": [1.0] * 8}
    err = run_error(["model", copy_case(tmp_path, "phi3", rope_parameters=rope), "--ids", "1 5 9"])
    assert "short_factor has 8 factors; the heads' 12 features turn in 6 pairs" in err, err


def test_phi3_refuses_rope_types_its_transformers_class_refuses(tmp_path):
    folder = copy_case(tmp_path, "phi3_window", rope_scaling={"type": "linear", "factor": 2.0})
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert 'rope_scaling.type to "linear"' in err and '"default" or "longrope"' in err, err


@pytest.mark.parametrize("kind", ["su", "yarn"])
def test_phi3_reads_su_and_yarn_as_longrope_as_transformers_does(tmp_path, kind):
    """Phi3Config.convert_rope_params_to_dict renames them (early Phi-3 128k checkpoints wrote "su"): the same
    maps as the golden's longrope."""
    cfg = json.loads((GOLDEN / "phi3_window" / "config.json").read_text())
    folder = copy_case(tmp_path, "phi3_window", rope_scaling={**cfg["rope_scaling"], "type": kind})
    ids, att, _ = expected_of("phi3_window")
    np.testing.assert_allclose(npz_of(folder, ids, tmp_path)["attentions"], att, atol=1e-5, rtol=0)
    assert json.loads((folder / "config.json").read_text())["rope_scaling"]["type"] == kind  # file as it was


def test_phi3_config_standardized_as_its_class_does():
    given = {"rope_scaling": {"type": "su", "factor": 2.0}, "rope_theta": 1e4}
    got = rules.phi3_config(given)
    assert got["original_max_position_embeddings"] == 4096 and got["rope_scaling"]["type"] == "longrope"
    assert given == {"rope_scaling": {"type": "su", "factor": 2.0}, "rope_theta": 1e4}  # not changed in place
    assert rules.phi3_config({"original_max_position_embeddings": 16})["original_max_position_embeddings"] == 16
    assert rules.phi3_config({"rope_parameters": {"rope_type": "longrope"}})["rope_parameters"] == {
        "rope_type": "longrope"}


@pytest.mark.parametrize("case,key", [("granite", "embedding_multiplier"), ("granite", "attention_multiplier"),
                                      ("granite", "residual_multiplier"), ("opt_post", "word_embed_proj_dim"),
                                      ("phi3_window", "sliding_window")])
def test_a_setting_that_is_not_a_number_is_refused_in_one_line(tmp_path, case, key):
    err = run_error(["model", copy_case(tmp_path, case, **{key: "x"}), "--ids", "1 5 9"])
    assert f'config.json sets {key} to "x"' in err and "finite number" in err, err


# ---------------------------------------------------------------- each golden bites


@pytest.mark.parametrize("family,change,case", [
    ("phi3", {"standardize": None}, "phi3_window"),  # the 8 inside rope_scaling instead of Phi3Config's 4096
    ("phi3", {"window": rules.no_window}, "phi3_window"),
    ("granite", {"residual_multiplier": None}, "granite"),
    ("granite", {"embed_multiplier": None}, "granite"),
    ("granite", {"scale": rules.inverse_sqrt_scale}, "granite"),
    ("opt", {"pre_norm_rule": None}, "opt_post"),  # pre-norm, as norm_at alone says
    ("opt", {"final_norm_rule": None}, "opt_bare"),  # a final norm although _remove_final_layer_norm
    ("opt", {"position_ids": rules.count_positions}, "opt"),  # no offset of 2
])
def test_each_setting_changes_what_its_golden_holds(monkeypatch, family, change, case):
    """Without the setting, the golden case that covers it is off by far more than its tolerance: the goldens
    test what they say."""
    from dataclasses import replace

    from attncli.models.forward import forward

    ids, att, hid = expected_of(case)

    def off() -> float:
        ckpt = open_checkpoint(str(GOLDEN / case))
        run = forward(ckpt, np.array([ids]), None, layers=list(range(att.shape[0])), hidden=True)
        states = np.stack([h[0] for h in run.hidden])  # (L+1, n, d)
        return max(np.abs(run.attentions[0] - att).max(), (np.abs(states - hid) / np.maximum(1, np.abs(hid))).max())

    assert off() < 1e-4
    monkeypatch.setitem(FAMILIES, family, replace(FAMILIES[family], **change))
    assert off() > 1e-2
