"""The pieces issue 22's encoders add (attncli/models/families/encoders2.py): ModernBERT's per-layer rules
(global and local layers, the bidirectional window, two RoPE bases), its first layer without N₁, ELECTRA's and
ALBERT's embedding projection, ALBERT's shared layer and the settings refused; each against numbers derived here
by hand or computed another way (numpy on the safetensors, transformers' hidden states and maps in the goldens).
The families themselves are compared with transformers in test_models_golden.py."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from safetensors.numpy import load_file

from attncli.core.spec import Rope, Spec
from attncli.models import rules
from attncli.models.checkpoint import open_checkpoint
from attncli.models.families import FAMILIES, family_of
from attncli.models.forward import forward
from attncli.models.layer_attention import layer_spec
from attncli.models.weights import shapes

GOLDEN = Path(__file__).parent / "golden" / "models"


def copy_with(tmp_path: Path, case: str, **changes) -> Path:
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


# ---------------------------------------------------------------- ModernBERT's rules


@pytest.mark.parametrize("cfg,types", [
    ({}, ["full", "sliding", "sliding", "full", "sliding", "sliding", "full"]),  # every 3rd from layer 0
    ({"global_attn_every_n_layers": 2}, ["full", "sliding", "full", "sliding", "full", "sliding", "full"]),
    ({"global_attn_every_n_layers": 3, "layer_types": ["sliding_attention", "full_attention"] * 3 +
      ["sliding_attention"]}, ["sliding", "full", "sliding", "full", "sliding", "full", "sliding"]),
])
def test_modernbert_layer_types(cfg, types):
    assert [rules.modernbert_layer_type(cfg, i).removesuffix("_attention") for i in range(7)] == types


@pytest.mark.parametrize("local,half", [(None, 64), (128, 64), (6, 3), (5, 2), (1, 0)])
def test_modernbert_window_is_half_of_local_attention_on_each_side(local, half):
    """|i − j| ≤ local_attention // 2 (transformers: config.sliding_window = local_attention // 2, and the mask
    abs(q_idx − kv_idx) <= sliding_window), on the local layers only."""
    cfg = {} if local is None else {"local_attention": local}
    assert rules.modernbert_window(cfg, 1) == (half, half)
    assert rules.modernbert_window(cfg, 0) is None and rules.modernbert_window(cfg, 3) is None


def test_modernbert_rope_bases():
    """A global layer's θ: rope_parameters.full_attention's, else global_rope_theta, else 160000; a local layer's:
    rope_parameters.sliding_attention's, else local_rope_theta, else 10000 (ModernBertConfig)."""
    assert [rules.modernbert_rope_base({}, i) for i in range(3)] == [160000.0, 10000.0, 10000.0]
    hub = {"global_rope_theta": 1000.0, "local_rope_theta": 50.0}
    assert [rules.modernbert_rope_base(hub, i) for i in range(4)] == [1000.0, 50.0, 50.0, 1000.0]
    both = {**hub, "rope_parameters": {"full_attention": {"rope_theta": 7.0}, "sliding_attention": {}}}
    assert [rules.modernbert_rope_base(both, i) for i in range(2)] == [7.0, 50.0]


def test_each_modernbert_layer_is_one_spec():
    """The Hub-layout golden: layers 0 and 3 global (θ 1000), 1 and 2 local (±3, θ 50); the transformers 5 one:
    layer_types [sliding, full, sliding], θ 2000 / 100 from rope_parameters, local_attention 5: ±2."""
    ckpt = open_checkpoint(str(GOLDEN / "modernbert"))
    s = shapes(ckpt)
    specs = [layer_spec(ckpt, i, s) for i in range(4)]
    assert specs[0] == specs[3] == Spec(rope=Rope(1000.0, "half"))
    assert specs[1] == specs[2] == Spec(window=(3, 3), rope=Rope(50.0, "half"))
    batch = open_checkpoint(str(GOLDEN / "modernbert_batch"))
    assert [layer_spec(batch, i, shapes(batch)) for i in range(3)] == [
        Spec(window=(2, 2), rope=Rope(100.0, "half")), Spec(rope=Rope(2000.0, "half")),
        Spec(window=(2, 2), rope=Rope(100.0, "half"))]


@pytest.mark.parametrize("case,layer", [("modernbert", 0), ("modernbert", 1), ("modernbert_batch", 1),
                                        ("modernbert_batch", 2), ("albert", 2), ("electra", 1)])
def test_one_layer_in_compute_matches_transformers(case, layer, tmp_path):
    """compute --config --layer L from transformers' hidden_states[L] gives transformers' maps of layer L: the
    window on both sides, the layer's own RoPE base, and ModernBERT's layer 0 without a norm before attention
    (nn.Identity) but the others with theirs; ALBERT's one shared layer at any index."""
    case_json = json.loads((GOLDEN / case / "case.json").read_text())
    expected = np.load(GOLDEN / case / "expected.npz")
    n = case_json["lengths"][0]
    np.save(tmp_path / "x.npy", expected["hidden"][layer, 0, :n].astype(np.float32))  # (n, d)
    run(["compute", "--config", GOLDEN / case / "config.json", "--layer", str(layer), "--x", tmp_path / "x.npy",
         "--show", "weights", "--format", "npy", "-o", tmp_path / "w.npy"])
    want = expected["attentions"][layer, 0, :, :n, :n]  # (H, n, n)
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), want, atol=1e-5, rtol=0)


def test_modernbert_layer_0_has_no_attention_norm_and_a_fused_geglu():
    """Layer 0 by hand in numpy from the safetensors: h + Wo·attn(h·Wqkv) with no norm before attention, the maps
    taken from transformers (the golden's), then h₁ + Wo(gelu(x·W₁) · x·W₂), x = LN(h₁) without bias, W₁ the
    first half of Wi's outputs: attncli's hidden state 1."""
    from math import erf

    w = {k.removeprefix("model."): v.astype(np.float64)
         for k, v in load_file(str(GOLDEN / "modernbert" / "model.safetensors")).items()}
    assert "layers.0.attn_norm.weight" not in w and "layers.1.attn_norm.weight" in w
    expected = np.load(GOLDEN / "modernbert" / "expected.npz")
    h = expected["hidden"][0, 0]  # (n, 32): the embeddings
    att = expected["attentions"][0, 0]  # (4, n, n)
    v = (h @ w["layers.0.attn.Wqkv.weight"].T)[:, 64:].reshape(-1, 4, 8)  # [q | k | v]: v is the last third
    heads = np.einsum("hij,jhd->ihd", att, v).reshape(-1, 32)
    h1 = h + heads @ w["layers.0.attn.Wo.weight"].T
    x = (h1 - h1.mean(-1, keepdims=True)) / np.sqrt(h1.var(-1, keepdims=True) + 1e-5) * w["layers.0.mlp_norm.weight"]
    both = x @ w["layers.0.mlp.Wi.weight"].T  # (n, 80): [act input | multiplier]
    gelu = both[:, :40] * 0.5 * (1 + np.vectorize(erf)(both[:, :40] / np.sqrt(2)))
    want = h1 + (gelu * both[:, 40:]) @ w["layers.0.mlp.Wo.weight"].T
    ckpt = open_checkpoint(str(GOLDEN / "modernbert"))
    got = forward(ckpt, np.array(json.loads((GOLDEN / "modernbert" / "case.json").read_text())["ids"]), None,
                  layers=[], hidden=True, dtype="float64")
    np.testing.assert_allclose(got.hidden[1][0], want, atol=1e-5 * max(1, np.abs(want).max()), rtol=0)


# ---------------------------------------------------------------- ELECTRA's and ALBERT's embeddings


@pytest.mark.parametrize("case,project", [("electra", "embeddings_project"),
                                          ("albert", "encoder.embedding_hidden_mapping_in")])
def test_factorized_embeddings_are_normed_then_projected(case, project):
    """hidden[0] = LN(E_word[ids] + E_pos + E_type[0]) (embedding_size 16 wide) · Wᵀ + b (to the hidden size),
    in numpy from the safetensors."""
    prefix = json.loads((GOLDEN / case / "case.json").read_text())["prefix"]
    w = {k.removeprefix(prefix): v.astype(np.float64)
         for k, v in load_file(str(GOLDEN / case / "model.safetensors")).items()}
    ids = json.loads((GOLDEN / case / "case.json").read_text())["ids"][0]
    e = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0])  # (n, 16)
    e = (e - e.mean(-1, keepdims=True)) / np.sqrt(e.var(-1, keepdims=True) + 1e-12)
    e = e * w["embeddings.LayerNorm.weight"] + w["embeddings.LayerNorm.bias"]
    want = e @ w[project + ".weight"].T + w[project + ".bias"]
    got = forward(open_checkpoint(str(GOLDEN / case)), np.array([ids]), None, layers=[], hidden=True,
                  dtype="float64")
    assert got.hidden[0].shape == (1, len(ids), w[project + ".weight"].shape[0])
    np.testing.assert_allclose(got.hidden[0][0], want, atol=1e-9, rtol=0)


def test_electra_projects_only_when_the_widths_differ(tmp_path):
    """ElectraModel has embeddings_project only when embedding_size ≠ hidden_size: BERT's golden read as an
    ELECTRA whose embedding_size is its hidden size (no projection tensor) computes BERT's numbers."""
    bert = open_checkpoint(str(GOLDEN / "bert"))
    as_electra = open_checkpoint(str(copy_with(tmp_path, "bert", embedding_size=32)))
    as_electra.family = FAMILIES["electra"]
    ids = np.array(json.loads((GOLDEN / "bert" / "case.json").read_text())["ids"])
    a = forward(bert, ids, None, layers=[0, 1], hidden=True)
    b = forward(as_electra, ids, None, layers=[0, 1], hidden=True)
    assert np.array_equal(a.attentions, b.attentions)
    assert all(np.array_equal(x, y) for x, y in zip(a.hidden, b.hidden, strict=True))


def test_electra_embedding_size_disagreeing_with_the_tables_is_refused(tmp_path):
    folder = copy_with(tmp_path, "electra", embedding_size=24)
    err = run_error(["model", folder, "--ids", "2 7 3", "-o", tmp_path / "out.npz"])
    assert "(vocabulary, 24) table config.json's embedding_size says" in err, err
    assert not (tmp_path / "out.npz").exists()


def test_albert_shares_one_layer():
    """The checkpoint holds one layer's weights; the model runs it num_hidden_layers (3) times."""
    names = load_file(str(GOLDEN / "albert" / "model.safetensors"))
    layers = {k.split("albert_layers.")[0] for k in names if "albert_layers." in k}
    assert layers == {"albert.encoder.albert_layer_groups.0."}
    got = forward(open_checkpoint(str(GOLDEN / "albert")), np.array([[2, 40, 41, 3]]), None, layers=[0, 1, 2],
                  hidden=False)
    assert got.attentions.shape[1] == 3 and not np.allclose(got.attentions[0, 0], got.attentions[0, 1])


@pytest.mark.parametrize("key", ["num_hidden_groups", "inner_group_num"])
def test_albert_with_layer_groups_is_refused_naming_the_key(key, tmp_path):
    folder = copy_with(tmp_path, "albert", **{key: 2})
    err = run_error(["model", folder, "--ids", "2 7 3", "-o", tmp_path / "out.npz"])
    assert err.startswith(f"error: MODEL: config.json sets {key} to 2; attncli computes a albert model only with "
                          f"{key} 1"), err
    assert not (tmp_path / "out.npz").exists()


def test_modernbert_rope_scaling_is_refused(tmp_path):
    folder = copy_with(tmp_path, "modernbert", rope_scaling={"rope_type": "linear", "factor": 2.0})
    err = run_error(["model", folder, "--ids", "2 7 3"])
    assert "config.json sets rope_scaling to" in err and "scaled RoPE" in err, err


def test_the_new_families_are_found_by_their_architectures():
    for arch, name in (("XLMRobertaForMaskedLM", "xlm-roberta"), ("ElectraForPreTraining", "electra"),
                       ("AlbertForMaskedLM", "albert"), ("ModernBertForMaskedLM", "modernbert"),
                       ("ModernBertModel", "modernbert"), ("RobertaModel", "roberta")):
        assert family_of({"architectures": [arch]}).name == name


def test_a_family_mlp_is_one_of_three_kinds():
    with pytest.raises(ValueError, match="gated_fused"):
        replace(FAMILIES["modernbert"], mlp="geglu")
