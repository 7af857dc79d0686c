"""GPT-NeoX (Pythia) and Phi (issue 22): what they add to a family, each against numbers from elsewhere.

* where each config class reads RoPE's θ and the partial rotary fraction: the values GPTNeoXConfig and PhiConfig
  (transformers 5.24) give for the same config.json, written down here from a run of them;
* partial rotary: the core's rotation against numpy written from modeling_gpt_neox.py's apply_rotary_pos_emb
  (the first r features rotate_half'ed within themselves, the rest passed through);
* Phi's q/k LayerNorm (weight and bias, per head over d_head) against numpy;
* each golden bites: the same checkpoint with the fraction, the residual form or qk_layernorm changed is far from
  transformers' maps, while the golden itself is within 1e-5 (tests/golden/models/gpt_neox*, phi*, from
  transformers; compared in full in test_models_golden.py);
* one layer from `compute --config` against transformers' maps of that layer;
* the settings attncli does not compute (an odd number of rotary features, none) refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_error
from model_helpers import golden_copy
from safetensors.numpy import load_file

from attncli.core.attend import rotate
from attncli.core.spec import Rope, Spec
from attncli.models import rope_config
from attncli.models.checkpoint import open_checkpoint
from attncli.models.families import FAMILIES
from attncli.models.forward import forward
from attncli.models.layer_attention import layer_spec
from attncli.models.weights import Layer, shapes

GOLDEN = Path(__file__).parent / "golden" / "models"
NEOX, PHI = FAMILIES["gpt_neox"].rope_keys, FAMILIES["phi"].rope_keys
CASES = ["gpt_neox", "gpt_neox_sequential", "gpt_neox_rope_dynamic", "phi", "phi_rope_linear"]


def copy_with(tmp_path: Path, case: str, changes: dict) -> Path:
    """The golden `case` with config.json's top-level keys changed (None: removed)."""
    return golden_copy(tmp_path, case, changes)


def passes(folder: Path, case: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Maps (L, 1, H, n, n) and hidden states of the golden's ids through `folder`."""
    ids = np.array(json.loads((GOLDEN / case / "case.json").read_text())["ids"][:1])
    ckpt = open_checkpoint(str(folder))
    got = forward(ckpt, ids, None, layers=list(range(shapes(ckpt).layers)), hidden=True)
    return got.attentions.transpose(1, 0, 2, 3, 4), got.hidden


def expected(case: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / case / "expected.npz") as z:
        return {k: z[k] for k in z.files}


# ---------------------------------------------------------------- where θ and the fraction are read

# config.json -> (θ, fraction) as GPTNeoXConfig(**config).rope_parameters gives them (transformers 5.24)
NEOX_READS = [
    ({}, 10000.0, 0.25),
    ({"rotary_pct": 0.5, "rotary_emb_base": 500}, 500, 0.5),
    ({"rope_theta": 77.0, "partial_rotary_factor": 0.75}, 10000.0, 0.25),  # GPTNeoXConfig ignores both
    ({"rope_scaling": {"type": "linear", "factor": 2.0}, "rotary_emb_base": 500, "rotary_pct": 0.5}, 500, 0.5),
    ({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 9.0, "partial_rotary_factor": 0.75},
      "rotary_emb_base": 500, "rotary_pct": 0.5}, 9.0, 0.75),
]
PHI_READS = [
    ({}, 10000.0, 0.5),
    ({"partial_rotary_factor": 0.4, "rope_theta": 77.0}, 77.0, 0.4),
    ({"rope_scaling": {"type": "dynamic", "factor": 2.0}, "partial_rotary_factor": 0.4, "rope_theta": 77.0},
     77.0, 0.4),
    ({"rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 5.0, "partial_rotary_factor": 1.0},
      "partial_rotary_factor": 0.4}, 5.0, 1.0),
]


@pytest.mark.parametrize("keys,cfg,theta,fraction", [(NEOX, *r) for r in NEOX_READS] + [(PHI, *r) for r in PHI_READS])
def test_theta_and_the_rotary_fraction_are_read_where_the_config_class_reads_them(keys, cfg, theta, fraction):
    p = rope_config.rope_parameters(cfg, keys)
    assert (p["rope_theta"], p["partial_rotary_factor"]) == (theta, fraction)
    assert rope_config.rope_frequencies({**cfg, "max_position_embeddings": 64}, 16, 5, keys=keys)[3] == (
        None if fraction == 1.0 else int(16 * fraction))


def test_without_keys_the_rules_read_as_before():
    """Llama's families pass no keys: top-level rope_theta and partial_rotary_factor, no default fraction."""
    assert rope_config.rope_parameters({"rope_theta": 5.0}) == {"rope_type": "default", "rope_theta": 5.0}
    assert rope_config.rope_frequencies({"partial_rotary_factor": 0.5}, 8, 3)[3] is None


def test_the_default_types_theta_of_each_golden_is_the_config_classes():
    """layer_spec's θ for the default rope type (the family's rope_theta keys) on the goldens: rotary_emb_base
    (Pythia's layout), rope_parameters.rope_theta (transformers 5's), rope_theta (Phi-2's)."""
    for case, theta, dim in (("gpt_neox", 10000.0, 4), ("gpt_neox_sequential", 500.0, 4), ("phi", 10000.0, 4)):
        ckpt = open_checkpoint(str(GOLDEN / case))
        assert layer_spec(ckpt, 0, shapes(ckpt)) == Spec(causal=True, rope=Rope(theta, "half", dim=dim)), case


# ---------------------------------------------------------------- partial rotary, by hand


def test_partial_rotary_turns_the_first_features_and_passes_the_rest():
    """modeling_gpt_neox.py: q_rot, q_pass = q[..., :r], q[..., r:]; q_rot·cos + rotate_half(q_rot)·sin with
    cos, sin = cat(freqs, freqs), freqs = position · θ^(−2i/r); rotate_half(x) = cat(−x₂, x₁) of x's halves."""
    rng = np.random.default_rng(3)
    q = rng.standard_normal((1, 2, 5, 16))  # (B, H, n, d_head)
    r, theta = 4, 10000.0
    freqs = np.arange(5)[:, None] * theta ** (-np.arange(0, r, 2) / r)[None, :]  # (n, r/2)
    cos, sin = np.cos(np.concatenate([freqs, freqs], -1)), np.sin(np.concatenate([freqs, freqs], -1))
    q_rot, q_pass = q[..., :r], q[..., r:]
    half = np.concatenate([-q_rot[..., r // 2:], q_rot[..., : r // 2]], -1)
    want = np.concatenate([q_rot * cos + half * sin, q_pass], -1)
    got = rotate(q, Spec(rope=Rope(theta, "half", dim=r)))
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
    assert np.array_equal(got[..., r:], q[..., r:])


def test_phi_qk_layernorm_normalizes_each_head_with_weight_and_bias():
    """Layer.qk_norm_ on the phi golden (6 heads of 8, layer_norm_eps 1e-5) against numpy: each head's q and k
    (x − mean) / √(var + ε) · w + b over its 8 values, with q_layernorm's and k_layernorm's weights and biases."""
    ckpt = open_checkpoint(str(GOLDEN / "phi"))
    layer = Layer(ckpt, 1, shapes(ckpt), np.dtype(np.float64))
    assert layer.has_qk_norm()
    w = {k.removeprefix("model.layers.1.self_attn."): v.astype(np.float64)
         for k, v in load_file(str(GOLDEN / "phi" / "model.safetensors")).items()}
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((3, 48)), rng.standard_normal((3, 48))
    want = []
    for y, name in ((q, "q_layernorm"), (k, "k_layernorm")):
        x = y.reshape(3, 6, 8)
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        want.append(((x - mean) / np.sqrt(var + 1e-5) * w[f"{name}.weight"] + w[f"{name}.bias"]).reshape(3, 48))
    layer.qk_norm_(q, k)
    np.testing.assert_allclose(q, want[0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(k, want[1], atol=1e-12, rtol=0)
    plain = open_checkpoint(str(GOLDEN / "phi_rope_linear"))  # qk_layernorm false: nothing to read or apply
    assert not Layer(plain, 0, shapes(plain), np.dtype(np.float32)).has_qk_norm()


# ---------------------------------------------------------------- each golden bites


@pytest.mark.parametrize("case,changes", [
    ("gpt_neox", {"rotary_pct": 1.0}),
    ("gpt_neox_sequential", {"rope_parameters": {"rope_type": "default", "rope_theta": 500.0,
                                                 "partial_rotary_factor": 1.0}}),
    ("gpt_neox_rope_dynamic", {"rope_scaling": None}),
    ("phi", {"partial_rotary_factor": 1.0}),
    ("phi_rope_linear", {"rope_parameters": {"rope_type": "linear", "factor": 4.0, "rope_theta": 100.0,
                                             "partial_rotary_factor": 1.0}}),
    ("gpt_neox", {"use_parallel_residual": False}),
    ("gpt_neox_sequential", {"use_parallel_residual": True}),
    ("phi", {"qk_layernorm": False}),
])
def test_each_golden_is_far_from_the_same_checkpoint_read_otherwise(case, changes, tmp_path):
    want = expected(case)["attentions"]  # (L, 1, H, n, n)
    np.testing.assert_allclose(passes(GOLDEN / case, case)[0], want, atol=1e-5, rtol=0)
    assert np.abs(passes(copy_with(tmp_path, case, changes), case)[0] - want).max() > 1e-3


def test_absent_attention_bias_and_parallel_residual_take_gpt_neoxs_defaults(tmp_path):
    """GPTNeoXConfig's attention_bias and use_parallel_residual both default to true (the golden sets both true):
    without them in config.json, the same maps and states."""
    want = expected("gpt_neox")
    maps, hidden = passes(copy_with(tmp_path, "gpt_neox", {"attention_bias": None, "use_parallel_residual": None}),
                          "gpt_neox")
    np.testing.assert_allclose(maps, want["attentions"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.stack(hidden), want["hidden"], atol=1e-4 * max(1, np.abs(want["hidden"]).max()),
                               rtol=0)


def test_pythias_buffers_in_the_file_change_nothing(tmp_path):
    """Pythia's safetensors on the Hub also hold each layer's attention.bias (a bool causal mask),
    attention.masked_bias and attention.rotary_emb.inv_freq (transformers ignores them on load): the same maps."""
    from safetensors.numpy import save_file

    folder = copy_with(tmp_path, "gpt_neox", {})
    tensors = load_file(str(folder / "model.safetensors"))
    for i in range(2):
        tensors[f"gpt_neox.layers.{i}.attention.bias"] = np.tril(np.ones((1, 1, 64, 64), dtype=bool))
        tensors[f"gpt_neox.layers.{i}.attention.masked_bias"] = np.array(-1e9, dtype=np.float32)
        tensors[f"gpt_neox.layers.{i}.attention.rotary_emb.inv_freq"] = np.ones(2, dtype=np.float32)
    save_file(tensors, str(folder / "model.safetensors"))
    np.testing.assert_allclose(passes(folder, "gpt_neox")[0], expected("gpt_neox")["attentions"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch,family", [("GPTNeoXForCausalLM", "gpt_neox"), ("GPTNeoXModel", "gpt_neox"),
                                         ("PhiForCausalLM", "phi"), ("PhiModel", "phi")])
def test_a_config_without_model_type_is_known_by_its_architecture(arch, family):
    from attncli.errors import AttnError
    from attncli.models.families import family_of

    assert family_of({"architectures": [arch]}).name == family
    try:  # Phi-3 is not Phi (whether attncli knows it or not)
        other = family_of({"architectures": ["Phi3ForCausalLM"]}).name
    except AttnError:
        other = None
    assert other != "phi"


def test_qk_norm_settings_need_the_qk_norms():
    from dataclasses import replace

    with pytest.raises(ValueError, match="q/k norms of qk_norm"):
        replace(FAMILIES["gpt2"], qk_norm_if="qk_layernorm")


# ---------------------------------------------------------------- one layer: compute --config


def test_one_layer_of_phi_with_qk_layernorm_is_refused_in_compute(tmp_path):
    np.save(tmp_path / "h.npy", np.zeros((3, 48), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "phi" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy", "-o", tmp_path / "w.npy"])
    assert "layer 0 of this phi model puts each head's q and k through a LayerNorm" in err and "q_layernorm" in err, err
    assert not (tmp_path / "w.npy").exists()


# ---------------------------------------------------------------- what attncli does not compute


@pytest.mark.parametrize("case,changes,what", [
    ("gpt_neox", {"rotary_pct": 0.2}, "rotary_pct 0.2 turns int(16 · 0.2) = 3 of each head's 16 features"),
    ("phi", {"partial_rotary_factor": 0.1}, "partial_rotary_factor 0.1 turns int(8 · 0.1) = 0 of each head's 8"),
    ("gpt_neox", {"rotary_pct": "half"}, "rotary_pct is 'half'; attncli computes it only as a positive number"),
    ("gpt_neox_sequential", {"rope_parameters": {"rope_type": "default", "partial_rotary_factor": 1.5}},
     "rope_parameters.partial_rotary_factor 1.5 turns int(8 · 1.5) = 12 of each head's 8"),
    ("gpt_neox", {"hidden_size": 36, "num_attention_heads": 3, "rotary_pct": None},
     "partial rotary fraction (no rotary_pct: the default) 0.25 turns int(12 · 0.25) = 3"),
])
def test_a_rotary_fraction_attncli_does_not_compute_is_refused_in_one_line(case, changes, what, tmp_path):
    folder = copy_with(tmp_path, case, changes)
    err = run_error(["model", folder, "--ids", "1 5 9", "-o", tmp_path / "out.npz"])
    assert what in err, err
    assert not (tmp_path / "out.npz").exists()
