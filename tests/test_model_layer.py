"""Issue #13: `attncli compute --config MODEL/config.json --layer L --x hidden.npy` computes one layer of a
checkpoint with every setting from config.json. Expected maps: transformers' output_attentions for layer L
given its hidden_states[L] (the golden files of tests/golden/models, made by its generate.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

GOLDEN = Path(__file__).parent / "golden" / "models"
CASES = ["bert", "roberta", "distilbert", "gpt2_6heads", "llama_gqa", "mistral_window", "qwen2", "bloom",
         "llama_bf16", "llama_rope_llama3", "llama_rope_linear", "llama_rope_dynamic", "llama_rope_yarn",
         "llama_rope_longrope", "qwen3", "qwen3_window", "gemma3_text", "gemma3",
         # issue 22, moe: the attention of a MoE layer; gpt-oss's sinks; Qwen3-MoE's q/k norms
         "mixtral", "gpt_oss", "gpt_oss_bf16", "qwen3_moe", "qwen3_moe_norm",
         "phi3", "phi3_window", "opt", "opt_post", "opt_bare", "granite",
         # gemma: the (1 + w) input norm, scale, soft-capping and window; neox: partial rotary, dynamic RoPE
         "gemma", "gemma2", "gpt_neox", "gpt_neox_sequential", "gpt_neox_rope_dynamic", "phi_rope_linear"]


def test_the_model_decides_the_sinks(tmp_path: Path) -> None:
    np.save(tmp_path / "h.npy", np.zeros((3, 32), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "gpt_oss" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy", "--sinks", "1 1 1 1"])
    assert "--sinks: --config decides these from the model" in err, err


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("layer", [0, -1])
def test_one_layer_from_config_matches_transformers(tmp_path: Path, case: str, layer: int) -> None:
    expected = np.load(GOLDEN / case / "expected.npz")
    L = expected["attentions"].shape[0]
    index = layer % L
    np.save(tmp_path / "h.npy", expected["hidden"][index, 0].astype(np.float32))
    run(["compute", "--config", GOLDEN / case / "config.json", "--layer", layer, "--x", tmp_path / "h.npy",
         "--show", "weights", "--format", "npy", "-o", tmp_path / "w.npy"])
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), expected["attentions"][index, 0], atol=1e-5, rtol=0)


def test_settings_the_model_decides_cannot_be_given_too(tmp_path: Path) -> None:
    np.save(tmp_path / "h.npy", np.zeros((3, 32), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "llama_gqa" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy", "--heads", "2", "--rope"])
    assert "--heads, --rope: --config decides these" in err
    err = run_error(["compute", "--config", GOLDEN / "llama_gqa" / "config.json", "--layer", "5", "--x",
                     tmp_path / "h.npy"])
    assert "the model has 2 layers" in err
    err = run_error(["compute", "--config", GOLDEN / "llama_gqa" / "config.json", "--x", tmp_path / "h.npy"])
    assert "--config and --layer go together" in err
    np.save(tmp_path / "h.npy", np.zeros((3, 7), dtype=np.float32))
    err = run_error(["compute", "--config", GOLDEN / "llama_gqa" / "config.json", "--layer", "0", "--x",
                     tmp_path / "h.npy"])
    assert "hidden size is 32" in err


def test_a_model_bigger_than_the_memory_cap_runs_a_layer_at_a_time(tmp_path: Path) -> None:
    """8 GPT-2 layers 1024 wide (400 MB of float32) under a 330 MiB address-space cap: the weights are read a
    layer at a time, never all at once."""
    import json

    from cli_helpers import run_capped
    from safetensors.numpy import save_file

    d, layers, vocab = 1024, 8, 64
    rng = np.random.default_rng(0)
    tensors = {"wte.weight": rng.normal(0, 0.02, (vocab, d)), "wpe.weight": rng.normal(0, 0.02, (32, d)),
               "ln_f.weight": np.ones(d), "ln_f.bias": np.zeros(d)}
    for i in range(layers):
        for name, shape in (("attn.c_attn", (d, 3 * d)), ("attn.c_proj", (d, d)), ("mlp.c_fc", (d, 4 * d)),
                            ("mlp.c_proj", (4 * d, d))):
            tensors[f"h.{i}.{name}.weight"] = rng.normal(0, 0.02, shape)
            tensors[f"h.{i}.{name}.bias"] = np.zeros(shape[1])
        for ln in ("ln_1", "ln_2"):
            tensors[f"h.{i}.{ln}.weight"], tensors[f"h.{i}.{ln}.bias"] = np.ones(d), np.zeros(d)
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(tmp_path / "model.safetensors"))
    del tensors
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": d, "n_layer": layers,
                                                      "n_head": 16, "vocab_size": vocab, "n_positions": 32}))
    assert (tmp_path / "model.safetensors").stat().st_size > 380 * 2**20  # more than the cap
    proc = run_capped(["model", tmp_path, "--ids", "1 2 3 4 5", "--layers", "-1", "--format", "npz", "-o",
                       tmp_path / "out.npz"], limit_mb=330)
    assert proc.returncode == 0, proc.stderr.decode()
    att = np.load(tmp_path / "out.npz")["attentions"]
    assert att.shape == (1, 16, 5, 5)
    np.testing.assert_allclose(att.sum(axis=-1), 1, atol=1e-5)  # rows of a causal softmax
    assert np.all(np.triu(att[0, 0], 1) == 0)


def test_tokens_are_looked_up_in_the_vocabulary_as_given(tmp_path: Path) -> None:
    import json

    sample = Path(__file__).parent.parent / "samples" / "tiny_gpt"
    vocab = json.loads((sample / "tokenizer.json").read_text())["model"]["vocab"]
    run(["model", sample, "--tokens", "sand key drum sand key", "--format", "npz", "-o", tmp_path / "out.npz"])
    assert np.load(tmp_path / "out.npz")["ids"].tolist() == [vocab[w] for w in "sand key drum sand key".split()]
    err = run_error(["model", sample, "--tokens", "sand keyz"])
    assert "'keyz' not in the tokenizer's vocabulary" in err


def test_hidden_states_print_as_tables_labelled_with_the_tokens() -> None:
    sample = Path(__file__).parent.parent / "samples" / "tiny_gpt"
    out = run(["model", sample, "--tokens", "sand key", "--show", "hidden"]).stdout.decode()
    assert "hidden state 0 (embeddings)" in out and "hidden state 2 (after layer 1)" in out and "│ sand" in out
