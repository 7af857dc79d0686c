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
         "llama_bf16"]


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
