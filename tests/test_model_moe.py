"""Mixtures of experts (models/moe.py, models/topk.py): the router's top-k breaks ties as torch.topk does on the
CPU. The expected indices below were printed by torch 2.13.0's torch.topk(torch.tensor(values), k).indices (CPU);
the whole pass is compared with transformers on the golden cases mixtral, mixtral_tie, qwen3_moe, qwen3_moe_norm
(tests/test_models_golden.py)."""

from __future__ import annotations

import numpy as np
import pytest

from attncli.models import rules
from attncli.models.topk import topk, torch_order

TORCH = [  # (values, k, torch.topk's indices)
    ([0.25, 0.5, 0.5, 0.5, 0.125, 0.5], 2, [3, 5]),  # nth_element (k·64 > n): not the lowest indices 1, 2
    ([1.0] * 8, 3, [6, 5, 4]),
    ([0.5, 1.0] * 10, 4, [11, 13, 15, 9]),
    ([2.0] * 3 + [1.0] * 130, 1, [0]),  # partial_sort (k·64 ≤ n): a heap
    ([2.0] * 3 + [1.0] * 130, 2, [0, 1]),
    ([3.0, 1.0, 2.0, 2.0, 2.0, 2.0, 1.0, 2.0], 4, [0, 5, 4, 7]),
]


@pytest.mark.parametrize("values,k,expected", TORCH)
def test_ties_are_broken_as_torch_topk_breaks_them(values, k, expected):
    assert torch_order(values, k) == expected
    got_values, got = topk(np.array([values, values], dtype=np.float32), k)
    assert got.tolist() == [expected, expected]
    assert np.array_equal(got_values[0], np.array(values, dtype=np.float32)[expected])


def test_without_a_tie_at_the_kth_place_the_k_largest_come_first():
    x = np.array([[0.1, 0.7, 0.2, 0.9, 0.3], [5.0, 4.0, 3.0, 2.0, 1.0]], dtype=np.float32)
    values, idx = topk(x, 2)
    assert idx.tolist() == [[3, 1], [0, 1]]
    assert values.tolist() == [[np.float32(0.9), np.float32(0.7)], [5.0, 4.0]]


@pytest.mark.parametrize("cfg,moe_layers", [
    ({}, [True, True, True, True]),
    ({"decoder_sparse_step": 2}, [False, True, False, True]),
    ({"mlp_only_layers": [0, 3]}, [False, True, True, False]),
    ({"num_experts": 0}, [False] * 4),
    ({"num_local_experts": 0}, [False] * 4),
])
def test_qwen3_moe_layers_as_its_decoder_layer_chooses(cfg, moe_layers):
    """Qwen3MoeDecoderLayer: experts unless i in mlp_only_layers, when num_experts > 0 and (i + 1) % step == 0."""
    assert [rules.qwen3_moe_layers(cfg, i) for i in range(4)] == moe_layers


def test_windows_of_the_moe_families():
    assert rules.mixtral_window({}, 0) is None and rules.mixtral_window({"sliding_window": 5}, 1) == 5
    assert rules.qwen3_moe_window({"sliding_window": 4}, 2) is None
    assert rules.qwen3_moe_window({"use_sliding_window": True}, 2) == 4096
    assert [rules.gpt_oss_window({}, i) for i in range(3)] == [128, None, 128]
    types = ["full_attention", "sliding_attention"]
    assert [rules.gpt_oss_window({"layer_types": types, "sliding_window": 4}, i) for i in range(2)] == [None, 4]


def test_gpt_oss_without_attention_bias_in_config_json_has_biases(tmp_path):
    """GptOssConfig's attention_bias defaults to true (Llama's to false): a config.json without the key reads the
    q, k, v and o biases, and the maps stay transformers' (tests/golden/models/gpt_oss, which has them)."""
    import json
    import shutil
    from pathlib import Path

    from cli_helpers import run

    golden = Path(__file__).parent / "golden" / "models" / "gpt_oss"
    folder = tmp_path / "gpt_oss"
    shutil.copytree(golden, folder)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg.pop("attention_bias") is True
    (folder / "config.json").write_text(json.dumps(cfg))
    ids = json.loads((golden / "case.json").read_text())["ids"][0]
    run(["model", folder, "--ids", " ".join(map(str, ids)), "--format", "npz", "-o", tmp_path / "out.npz"])
    expected = np.load(golden / "expected.npz")["attentions"][:, 0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["attentions"], expected, atol=1e-5, rtol=0)
