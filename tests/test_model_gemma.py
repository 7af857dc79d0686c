"""Gemma 1/2/3 and OLMo 2 (issue 22): the pieces they add, each against numbers derived here or against
transformers' goldens (tests/golden/models/gemma*, olmo2, made by generate.py): (1 + w) RMSNorm, q/k norms over
the whole projection, soft-capping that bites, the windows and RoPE bases per layer type, the nested text_config
of a Gemma3ForConditionalGeneration checkpoint under either tensor naming, and one layer in `compute --config`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from safetensors.numpy import load_file, save_file

from attncli.errors import AttnError
from attncli.models import rope_config, rules
from attncli.models.checkpoint import open_checkpoint
from attncli.models.layer_attention import layer_spec
from attncli.models.weights import Layer, shapes

GOLDEN = Path(__file__).parent / "golden" / "models"


def maps(folder: Path, ids: list[int], tmp_path: Path) -> np.ndarray:
    """attncli model's maps (L, H, n, n) for one id sequence."""
    out = tmp_path / "out.npz"
    run(["model", folder, "--ids", " ".join(map(str, ids)), "--format", "npz", "-o", out])
    with np.load(out) as z:
        return z["attentions"]


def case_of(name: str) -> tuple[dict, dict]:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    with np.load(GOLDEN / name / "expected.npz") as z:
        return case, {k: z[k] for k in z.files}


def copy_case(name: str, tmp_path: Path, **config) -> Path:
    folder = tmp_path / name
    shutil.copytree(GOLDEN / name, folder)
    if config:
        cfg = json.loads((folder / "config.json").read_text())
        cfg.update(config)
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


# ---------------------------------------------------------------- the norms


def test_gemma_rms_norm_multiplies_by_one_plus_the_weight():
    """norm_kind "rms_offset": x / √(mean(x²) + ε) · (1 + w), against numpy in float64 (gemma's layer 1
    input_layernorm, whose stored weights are about 1, so the factor is about 2)."""
    ckpt = open_checkpoint(str(GOLDEN / "gemma"))
    layer = Layer(ckpt, 1, shapes(ckpt), np.dtype(np.float32))
    w = load_file(str(GOLDEN / "gemma" / "model.safetensors"))["model.layers.1.input_layernorm.weight"]
    x = np.random.default_rng(3).standard_normal((5, 32)).astype(np.float32) * 4
    x64 = x.astype(np.float64)
    expected = x64 / np.sqrt(np.mean(x64 * x64, axis=-1, keepdims=True) + 1e-6) * (1 + w.astype(np.float64))
    got = layer.norm(("input_layernorm.weight", None), x)
    np.testing.assert_allclose(got, expected, atol=2e-6, rtol=1e-6)


def test_olmo2_qk_norm_is_one_rms_norm_over_all_heads():
    """qk_norm_over "full": q (r, H·hd) normed as one vector per row with q_norm (H·hd,), k with k_norm (G·hd,),
    not head by head."""
    ckpt = open_checkpoint(str(GOLDEN / "olmo2"))  # 6 heads over 2 kv heads, head_dim 8, rms_norm_eps 1e-6
    layer = Layer(ckpt, 0, shapes(ckpt), np.dtype(np.float32))
    w = load_file(str(GOLDEN / "olmo2" / "model.safetensors"))
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((4, 48)).astype(np.float32), rng.standard_normal((4, 16)).astype(np.float32)
    expected = []
    for y, name in ((q, "q_norm"), (k, "k_norm")):
        x = y.astype(np.float64)
        g = w[f"model.layers.0.self_attn.{name}.weight"].astype(np.float64)
        expected.append(x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * g)
    layer.qk_norm_(q, k)
    np.testing.assert_allclose(q, expected[0], atol=2e-6, rtol=0)
    np.testing.assert_allclose(k, expected[1], atol=2e-6, rtol=0)


# ---------------------------------------------------------------- the goldens exercise what they claim


def test_gemma2_soft_capping_bites(tmp_path):
    """Without attn_logit_softcapping (null) the gemma2 golden's maps move far from transformers': the
    golden's 2.0 changes every layer, so matching it proves the soft-capping."""
    case, expected = case_of("gemma2")
    assert json.loads((GOLDEN / "gemma2" / "config.json").read_text())["attn_logit_softcapping"] == 2.0
    got = maps(copy_case("gemma2", tmp_path, attn_logit_softcapping=None), case["ids"][0], tmp_path)
    for layer in range(got.shape[0]):
        assert np.abs(got[layer] - expected["attentions"][layer, 0]).max() > 1e-2, layer


def test_gemma3_ignores_attn_logit_softcapping_as_transformers_does():
    ckpt = open_checkpoint(str(GOLDEN / "gemma3_text"))
    assert ckpt.config["attn_logit_softcapping"] == 1.0
    assert all(layer_spec(ckpt, i, shapes(ckpt)).softcap is None for i in range(4))


def test_gemma2_scale_and_softcap_per_layer():
    ckpt = open_checkpoint(str(GOLDEN / "gemma2"))
    specs = [layer_spec(ckpt, i, shapes(ckpt)) for i in range(3)]
    assert [s.scale for s in specs] == [20 ** -0.5] * 3  # query_pre_attn_scalar, not head_dim 16
    assert [s.softcap for s in specs] == [2.0] * 3
    assert [s.window for s in specs] == [(3, 0), None, (3, 0)]  # sliding_window 4: i − 4 < j ≤ i


@pytest.mark.parametrize("cfg,windows", [
    ({"sliding_window": 4}, [4, None, 4, None]),  # Gemma2Config: every other layer from the first
    ({"sliding_window": 4, "layer_types": ["full_attention"] * 3 + ["sliding_attention"]}, [None] * 3 + [4]),
    ({"sliding_window": None}, [None] * 4),
])
def test_gemma2_window_rule(cfg, windows):
    assert [rules.gemma2_window(cfg, i) for i in range(4)] == windows


@pytest.mark.parametrize("cfg,windows", [
    ({"sliding_window": 8}, [8] * 5 + [None] + [8] * 5 + [None]),  # sliding_window_pattern 6 by default
    ({"sliding_window": 8, "sliding_window_pattern": 2}, [8, None] * 6),
    ({"sliding_window": 8, "sliding_window_pattern": 2, "layer_types": ["full_attention"] * 12}, [None] * 12),
])
def test_gemma3_window_rule(cfg, windows):
    assert [rules.gemma3_window(cfg, i) for i in range(12)] == windows


def test_gemma3_rope_per_layer_type_in_both_layouts():
    """transformers 5's rope_parameters per layer type, and transformers 4's rope_theta / rope_local_base_freq /
    rope_scaling (the global layers' scaling only), each layer's RoPE as Gemma3TextConfig standardizes it."""
    new = {"layer_types": ["sliding_attention", "full_attention"],
           "rope_parameters": {"sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
                               "full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 5e4}}}
    old = {"sliding_window_pattern": 2, "rope_theta": 5e4, "rope_local_base_freq": 100.0,
           "rope_scaling": {"rope_type": "linear", "factor": 4.0}}
    for cfg in (new, old):
        local, full = (rope_config.rope_parameters(rules.gemma3_rope(cfg, i)) for i in (0, 1))
        assert local["rope_type"] == "default" and local["rope_theta"] == 100.0 and "factor" not in local
        assert full["rope_type"] == "linear" and full["factor"] == 4.0 and full["rope_theta"] == 5e4
    defaults = [rope_config.rope_parameters(rules.gemma3_rope({}, i))["rope_theta"] for i in (0, 5)]
    assert defaults == [10_000.0, 1_000_000.0]  # Gemma3TextConfig.default_theta: local, global


def test_gemma3_text_layers_rotate_with_their_own_base():
    ckpt = open_checkpoint(str(GOLDEN / "gemma3_text"))
    ropes = [layer_spec(ckpt, i, shapes(ckpt), 26).rope for i in range(4)]
    assert [r.base for r in ropes] == [100.0, 100.0, 50000.0, 100.0]
    assert ropes[0].inv_freq is None and ropes[2].inv_freq is not None  # linear scaling on the full layer only
    np.testing.assert_allclose(ropes[2].inv_freq, 50000.0 ** -(np.arange(0, 16, 2) / 16) / 4, rtol=1e-12)


# ---------------------------------------------------------------- gemma3: the text tower of a multimodal checkpoint


def test_gemma3_reads_its_text_config_with_the_config_class_defaults():
    ckpt = open_checkpoint(str(GOLDEN / "gemma3"))
    s = shapes(ckpt)
    assert (s.heads, s.kv_heads, s.head_dim, s.layers) == (8, 4, 8, 6)  # heads: Gemma3TextConfig's defaults
    assert ckpt.prefix == "language_model.model."
    assert [rules.gemma3_window(ckpt.config, i) for i in range(6)] == [3] * 5 + [None]


def test_gemma3_tensors_under_transformers_5s_in_memory_names(tmp_path):
    """model.language_model.* (the names transformers 5 gives the module) read as the Hub's
    language_model.model.*: the same maps as transformers'."""
    folder = copy_case("gemma3", tmp_path)
    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    renamed = {("model.language_model." + k[len("language_model.model."):]
                if k.startswith("language_model.model.") else k): v for k, v in tensors.items()}
    save_file(renamed, str(path))
    case, expected = case_of("gemma3")
    got = maps(folder, case["ids"][0], tmp_path)
    np.testing.assert_allclose(got, expected["attentions"][:, 0], atol=1e-5, rtol=0)


def test_gemma3_without_text_config_is_refused_in_one_line(tmp_path):
    folder = copy_case("gemma3", tmp_path, text_config=None)
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert "has no text_config object" in err and "gemma3" in err, err
    with pytest.raises(AttnError, match="text_config"):
        open_checkpoint(str(folder))


def test_gemma3_refuses_bidirectional_attention_inside_text_config(tmp_path):
    folder = copy_case("gemma3", tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["text_config"]["use_bidirectional_attention"] = True
    (folder / "config.json").write_text(json.dumps(cfg))
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert "use_bidirectional_attention to true" in err, err


# ---------------------------------------------------------------- one layer in compute --config


def test_compute_config_refuses_a_second_softcap(tmp_path):
    np.save(tmp_path / "h.npy", np.zeros((3, 48), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "gemma2" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy", "--softcap", "30"])
    assert err.startswith("error: --softcap: layer 0 of this gemma2 model soft-caps its scores at 2"), err


def test_compute_config_refuses_olmo2s_whole_width_qk_norms(tmp_path):
    np.save(tmp_path / "h.npy", np.zeros((3, 48), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "olmo2" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy", "-o", tmp_path / "w.npy"])
    assert "puts q and k, all heads at once, through an RMSNorm" in err, err
    assert not (tmp_path / "w.npy").exists()
