"""The pieces a family is made of (attncli/models/families/, family.py, rules.py, forward.py), each against numbers
derived here by hand or computed another way; the families themselves are tested against transformers in
test_models_golden.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from safetensors.numpy import load_file

from attncli.core.spec import Rope, Spec
from attncli.models import rules
from attncli.models.checkpoint import open_checkpoint
from attncli.models.families import FAMILIES, Family
from attncli.models.forward import forward
from attncli.models.layer_attention import attention_kwargs, layer_spec
from attncli.models.weights import Shapes, shapes, split_fused

GOLDEN = Path(__file__).parent / "golden" / "models"


def test_one_fused_splitter_reads_gpt2_blocks_and_bloom_heads():
    s = Shapes(layers=1, hidden=4, heads=2, kv_heads=2, head_dim=3, vocab=1, eps=0.0, inter=1)
    cols = np.arange(18)  # 3 · H · hd output columns
    q, k, v = split_fused(cols, "blocks", s)  # [q | k | v], each H·hd = 6 wide
    assert q.tolist() == [[0, 1, 2], [3, 4, 5]] and k.tolist() == [[6, 7, 8], [9, 10, 11]]
    assert v.tolist() == [[12, 13, 14], [15, 16, 17]]
    q, k, v = split_fused(cols, "per_head", s)  # head h holds q, k, v of hd each: columns 9h .. 9h + 8
    assert q.tolist() == [[0, 1, 2], [9, 10, 11]] and k.tolist() == [[3, 4, 5], [12, 13, 14]]
    assert v.tolist() == [[6, 7, 8], [15, 16, 17]]
    w = np.arange(4 * 18).reshape(4, 18)  # weights (d, 3·H·hd): the same split on every row, as views
    q, _, v = split_fused(w, "per_head", s)
    assert q.shape == (4, 2, 3) and np.shares_memory(q, w) and v[2, 1].tolist() == [51, 52, 53]


def test_blocks_with_grouped_kv_heads_split_at_h_and_h_plus_g():
    s = Shapes(layers=1, hidden=4, heads=4, kv_heads=1, head_dim=2, vocab=1, eps=0.0, inter=1)
    q, k, v = split_fused(np.arange(12), "blocks", s)  # (H + 2G)·hd = 12 columns
    assert q.shape == (4, 2) and k.tolist() == [[8, 9]] and v.tolist() == [[10, 11]]


def test_roberta_positions_skip_pads_wherever_they_stand():
    ids = np.array([[0, 7, 1, 1, 9, 2], [0, 5, 2, 1, 1, 1]])  # pad id 1: inside the first, trailing in the second
    got = rules.positions_after_pad({"pad_token_id": 1}, ids)
    assert got.tolist() == [[2, 3, 1, 1, 4, 5], [2, 3, 4, 1, 1, 1]]
    assert rules.positions_after_pad({}, np.array([[5, 6]])).tolist() == [[2, 3]]  # RobertaConfig's pad: 1
    assert rules.count_positions({}, ids).tolist() == [list(range(6))] * 2


@pytest.mark.parametrize("cfg,windows", [
    ({"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1}, [None, 3, 3]),
    ({"use_sliding_window": False, "sliding_window": 3, "max_window_layers": 1}, [None, None, None]),
    ({"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 0,
      "layer_types": ["full_attention", "sliding_attention", "full_attention"]}, [None, 3, None]),
    ({"use_sliding_window": True}, [None] * 3),  # max_window_layers 28 by default
    ({"use_sliding_window": True, "max_window_layers": 2}, [None, None, 4096]),  # sliding_window 4096 by default
    ({"use_sliding_window": True, "sliding_window": None, "max_window_layers": 0}, [None] * 3),
])
def test_qwen2_window_rule(cfg, windows):
    assert [rules.qwen2_window(cfg, i) for i in range(3)] == windows


def test_mistral_window_rule():
    assert rules.window_in_every_layer({"sliding_window": 5}, 7) == 5
    assert rules.window_in_every_layer({"sliding_window": None}, 0) is None
    assert rules.window_in_every_layer({}, 0) == 4096  # MistralConfig's default


def test_gpt2_scale_rule():
    assert rules.gpt2_scale({}, 2, 16) == 0.25
    assert rules.gpt2_scale({"scale_attn_weights": False}, 2, 16) == 1.0
    assert rules.gpt2_scale({"scale_attn_by_inverse_layer_idx": True}, 2, 16) == 0.25 / 3


def test_each_layer_is_one_spec():
    ckpt = open_checkpoint(str(GOLDEN / "qwen2_layer_types"))  # sliding window 3 on layers 0 and 2
    s = shapes(ckpt)
    first, second = (layer_spec(ckpt, i, s) for i in range(2))
    assert first == Spec(causal=True, window=(2, 0), rope=Rope(10000.0, "half"))
    assert second == first.replace(window=None)
    assert attention_kwargs(first) == {"causal": True, "rope": True, "rope_base": 10000.0, "rope_layout": "half",
                                       "window": (2, 0)}
    gpt2 = open_checkpoint(str(GOLDEN / "gpt2_layer_scaled"))
    assert [layer_spec(gpt2, i, shapes(gpt2)).scale for i in range(3)] == [1 / np.sqrt(8) / (i + 1) for i in range(3)]
    bloom = open_checkpoint(str(GOLDEN / "bloom"))
    assert layer_spec(bloom, 0, shapes(bloom)) == Spec(causal=True, alibi=True)


def test_a_family_says_where_its_norms_sit():
    with pytest.raises(ValueError, match="parallel residual is pre-norm"):
        replace(FAMILIES["bert"], parallel_residual=True)
    with pytest.raises(ValueError):
        Family("x", "x", ("",), "l.{i}.", "w", weights="transposed")


def test_parallel_residual_adds_attention_and_mlp_of_the_same_input(tmp_path):
    """GPT-NeoX's h + Attn(N₁(h)) + MLP(N₂(h)) on llama_gqa's weights: Attn from `compute --config` (W_O
    included), the MLP in numpy here, against the forward pass with parallel_residual set."""
    case = json.loads((GOLDEN / "llama_gqa" / "case.json").read_text())
    ids = np.array(case["ids"][:1])  # (1, n)
    ckpt = open_checkpoint(str(GOLDEN / "llama_gqa"))
    ckpt.family = replace(ckpt.family, parallel_residual=True)
    got = forward(ckpt, ids, None, layers=[], hidden=True)
    h = got.hidden[0][0].astype(np.float64)  # (n, d): the embeddings
    np.save(tmp_path / "h.npy", h.astype(np.float32))
    run(["compute", "--config", GOLDEN / "llama_gqa" / "config.json", "--layer", "0", "--x", tmp_path / "h.npy",
         "--show", "output", "--format", "npy", "-o", tmp_path / "attn.npy"])
    attn = np.load(tmp_path / "attn.npy").astype(np.float64)  # (n, d)
    w = {k.removeprefix("model.layers.0."): v.astype(np.float64)
         for k, v in load_file(str(GOLDEN / "llama_gqa" / "model.safetensors")).items()}
    x = h / np.sqrt(np.mean(h * h, axis=-1, keepdims=True) + 1e-5) * w["post_attention_layernorm.weight"]
    gate, up = x @ w["mlp.gate_proj.weight"].T, x @ w["mlp.up_proj.weight"].T  # (n, inter)
    mlp = (gate / (1 + np.exp(-gate)) * up) @ w["mlp.down_proj.weight"].T  # (n, d)
    want = h + attn + mlp
    np.testing.assert_allclose(got.hidden[1][0], want, atol=1e-4 * max(1, np.abs(want).max()), rtol=0)
    sequential = forward(open_checkpoint(str(GOLDEN / "llama_gqa")), ids, None, layers=[], hidden=True)
    assert np.abs(sequential.hidden[1][0] - want).max() > 1e-2  # the two residual forms differ here


@pytest.mark.parametrize("case,kv", [("mistral_window", 8), ("qwen2", 32), ("llama_gqa", None)])
def test_without_num_key_value_heads_the_config_class_default_is_used(case, kv, tmp_path):
    """MistralConfig's num_key_value_heads defaults to 8, Qwen2Config's to 32, LlamaConfig's to the heads: with
    4 heads, the first two do not fit (transformers cannot load them either); Llama has 4 kv heads."""
    import shutil

    from attncli.errors import AttnError

    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["num_key_value_heads"]
    (folder / "config.json").write_text(json.dumps(cfg))
    if kv is None:
        assert shapes(open_checkpoint(str(folder))).kv_heads == 4
    else:
        with pytest.raises(AttnError, match=f"heads 4, kv heads {kv},"):
            shapes(open_checkpoint(str(folder)))


def test_without_head_dim_qwen3_takes_its_config_class_default_128(tmp_path):
    """Qwen3Config's head_dim defaults to 128 (configuration_qwen3.py), not hidden_size / heads as Llama's: the
    qwen3 golden (head_dim 12, hidden 32, 4 heads) without head_dim implies q_proj (4·128, 32) and is refused."""
    import shutil

    from attncli.errors import AttnError

    for case, head_dim in (("qwen3", 128), ("llama_gqa", 8)):
        folder = tmp_path / case
        shutil.copytree(GOLDEN / case, folder)
        cfg = json.loads((folder / "config.json").read_text())
        del cfg["head_dim"]
        (folder / "config.json").write_text(json.dumps(cfg))
        ckpt = open_checkpoint(str(folder))
        assert shapes(ckpt).head_dim == head_dim
        with pytest.raises(AttnError, match=rf"\(48, 32\) but config.json implies \({4 * head_dim}, 32\)"):
            forward(ckpt, np.array([[1, 2, 3]]), None, layers=[0], hidden=False)


def test_qk_norms_need_separate_q_and_k_projections():
    with pytest.raises(ValueError, match="q/k norms"):
        replace(FAMILIES["gpt2"], qk_norm=("attn.q_norm.weight", "attn.k_norm.weight"))


def test_qk_norm_is_an_rms_norm_of_each_head_over_head_dim():
    """Layer.qk_norm_ against numpy here: q (r, H·hd) seen as heads, each x / √(mean(x²) + ε) · w over its hd
    values, with qwen3's q_norm and k_norm weights; in place, also for q columns that are not contiguous."""
    from attncli.models.weights import Layer

    ckpt = open_checkpoint(str(GOLDEN / "qwen3"))  # 4 heads over 2 kv heads, head_dim 12, rms_norm_eps 1e-6
    layer = Layer(ckpt, 1, shapes(ckpt), np.dtype(np.float32))
    w = load_file(str(GOLDEN / "qwen3" / "model.safetensors"))
    rng = np.random.default_rng(7)
    wide = rng.standard_normal((5, 2 * 48)).astype(np.float32)
    q, k = wide[:, ::2], rng.standard_normal((5, 24)).astype(np.float32)  # (5, 4·12) strided, (5, 2·12)
    expected = []
    for y, name, heads in ((q, "q_norm", 4), (k, "k_norm", 2)):
        x = y.astype(np.float64).reshape(5, heads, 12)
        g = w[f"model.layers.1.self_attn.{name}.weight"].astype(np.float64)  # (12,)
        expected.append((x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * g).reshape(5, -1))
    layer.qk_norm_(q, k)
    np.testing.assert_allclose(q, expected[0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(k, expected[1], atol=1e-6, rtol=0)


def test_embedding_rows_are_read_alone_and_equal_the_whole_tables():
    """The forward pass reads only the text's rows of the word embeddings (a BF16 vocabulary is not decoded whole):
    the same values as the whole table's rows, and an id past the table is the one-line error."""
    from attncli.models.rows import RowsOutside

    ckpt = open_checkpoint(str(GOLDEN / "llama_bf16"))
    ids = np.array([[1, 5, 5, 0], [7, 2, 3, 9]])
    np.testing.assert_array_equal(ckpt.rows(ckpt.family.word, ids), ckpt.tensor(ckpt.family.word)[ids])
    with pytest.raises(RowsOutside) as outside:
        ckpt.rows(ckpt.family.word, np.array([0, 10**6]))
    assert outside.value.rows == ckpt.tensor(ckpt.family.word).shape[0]


def test_a_token_id_past_the_embedding_table_is_one_line():
    err = run_error(["model", GOLDEN / "llama_bf16", "--ids", "1 99999"])
    assert "token id 99999 is outside the embedding table of" in err and "tokenizer the model's own" in err, err
