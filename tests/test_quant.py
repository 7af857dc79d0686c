"""Quantized checkpoints (attncli/models/quant.py): fp8 and mxfp4 dequantized exactly as transformers does, every
other quant_method refused before anything is computed.

Expected values come from torch and transformers (tests/golden/quant/generate.py: every F8 byte as torch reads
it, transformers' convert_moe_packed_tensors on random MXFP4 blocks, its fp8 dequantization on random blocks) and
from the llama_fp8 golden checkpoint (tests/golden/models: transformers' own load of an FP8 checkpoint, compared
by tests/test_models_golden.py like every case).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_error
from safetensors.numpy import save_file

from attncli.io.safetensors_format import decode
from attncli.models import quant
from attncli.models.checkpoint import open_checkpoint

GOLDEN = Path(__file__).parent / "golden"
FP8_CASE = GOLDEN / "models" / "llama_fp8"


@pytest.fixture(scope="module")
def gold() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "quant" / "quant.npz") as z:
        return {k: z[k] for k in z.files}


def test_every_f8_byte_reads_as_torch_reads_it(gold):
    every = np.arange(256, dtype=np.uint8)
    for dtype, key in (("F8_E4M3", "f8_e4m3"), ("F8_E5M2", "f8_e5m2"), ("F8_E8M0", "f8_e8m0")):
        got = decode(every, dtype)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, gold[key], err_msg=dtype)  # NaN where torch has NaN


def test_mxfp4_equals_transformers_convert_moe_packed_tensors(gold):
    got = quant.dequantize_mxfp4(gold["mx_blocks"], gold["mx_scales"], "experts.gate_up_proj")
    assert got.shape == gold["mx_expected"].shape == (3, 128, 5) and got.dtype == np.float32
    np.testing.assert_array_equal(got, gold["mx_expected"])  # exact, inf and NaN of the extreme exponents too


def test_fp8_blocks_equal_transformers_dequantization(gold):
    w = decode(gold["fp8_w"], "F8_E4M3")
    got = quant.dequantize_fp8(w, gold["fp8_scale_inv"], [int(b) for b in gold["fp8_block"]], "w")
    np.testing.assert_array_equal(got, gold["fp8_expected"])


def test_fp8_e8m0_byte_scales_and_one_scale_per_tensor():
    w = np.array([[1.0, -2.0], [0.5, 448.0]], dtype=np.float32)
    np.testing.assert_array_equal(quant.dequantize_fp8(w, np.array([[130, 120]], np.uint8), [2, 1], "w"),
                                  w * np.array([[8.0, 2.0**-7]], np.float32))
    np.testing.assert_array_equal(quant.dequantize_fp8(w, np.array(0.25, np.float32), None, "w"), w * 0.25)


def test_an_mxfp4_pair_is_read_as_the_tensor_it_packs(tmp_path, gold):
    """X_blocks and X_scales in a checkpoint are the tensor X (what a gpt-oss family asks for)."""
    folder = tmp_path / "m"
    shutil.copytree(GOLDEN / "models" / "llama_gqa", folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn"]}
    (folder / "config.json").write_text(json.dumps(cfg))
    from safetensors.numpy import load_file

    tensors = load_file(folder / "model.safetensors")
    tensors["model.layers.0.mlp.experts.down_proj_blocks"] = gold["mx_blocks"]
    tensors["model.layers.0.mlp.experts.down_proj_scales"] = gold["mx_scales"]
    save_file(tensors, folder / "model.safetensors")
    ckpt = open_checkpoint(str(folder))
    assert ckpt.has("layers.0.mlp.experts.down_proj")
    np.testing.assert_array_equal(ckpt._load("model.layers.0.mlp.experts.down_proj"), gold["mx_expected"])


def _fp8_copy(tmp_path: Path, **quantization) -> Path:
    folder = tmp_path / "fp8"
    shutil.copytree(FP8_CASE, folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    if quantization.pop("drop", False):
        del cfg["quantization_config"]
    else:
        cfg["quantization_config"].update(quantization)
    path.write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize("method", ["gptq", "awq", "bitsandbytes", "compressed-tensors"])
def test_other_quant_methods_are_refused_naming_them(tmp_path, method):
    err = run_error(["model", _fp8_copy(tmp_path, quant_method=method), "--ids", "1 5 9"])
    assert f"quant_method '{method}'" in err and "fp8 and mxfp4" in err, err


def test_scales_without_a_quantization_config_are_refused(tmp_path):
    err = run_error(["model", _fp8_copy(tmp_path, drop=True), "--ids", "1 5 9"])
    assert "weight_scale_inv" in err and "no quantization_config" in err, err


@pytest.mark.parametrize("block,words", [([16], "two positive integers"), ([16, 16], "needs scales"),
                                         ([8, 7], "not a whole number of fp8 blocks")])
def test_fp8_blocks_that_do_not_fit_are_refused(tmp_path, block, words):
    err = run_error(["model", _fp8_copy(tmp_path, weight_block_size=block), "--ids", "1 5 9"])
    assert words in err, err


def test_the_fp8_checkpoint_is_dequantized_where_its_tensors_are_loaded():
    """The weights as stored are fp8 values up to 448 (what attncli read before, exit 0); the checkpoint gives
    the dequantized ones, scales and all (the maps: tests/test_models_golden.py's llama_fp8)."""
    from attncli.models.checkpoint import _tensors

    names, raw = _tensors(FP8_CASE)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert np.abs(raw(name)).max() > 100
    w = open_checkpoint(str(FP8_CASE)).tensor("layers.0.self_attn.q_proj.weight")
    scales = np.repeat(np.repeat(raw(name[: -len("weight")] + "weight_scale_inv"), 16, 0), 8, 1)
    np.testing.assert_array_equal(w, raw(name) * scales)
    assert np.abs(w).max() < 2


# ---- what attncli refuses before anything is computed, besides quantizations


def test_an_unknown_model_type_names_it_and_the_supported_ones(tmp_path):
    folder = _fp8_copy(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_type"] = "falcon_mamba"
    (folder / "config.json").write_text(json.dumps(cfg))
    err = run_error(["model", folder, "--ids", "1 5 9"])
    from attncli.models.families import FAMILIES

    assert "model_type 'falcon_mamba'" in err and "does not support" in err, err
    assert all(name in err for name in FAMILIES), err


@pytest.mark.parametrize("name", ["model.pt", "weights.pth", "pytorch_model.bin"])
def test_a_folder_of_pickles_only_is_refused_without_unpickling(tmp_path, name):
    import pickle

    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(FP8_CASE / "config.json", folder / "config.json")
    (folder / name).write_bytes(pickle.dumps({"w": 1}, protocol=4))
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert f"only {name}" in err and "never unpickles" in err and "safetensors" in err, err
