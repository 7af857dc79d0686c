"""Issue #13, fixes on the seam between attncli and real checkpoints: hints that name the likely fix.

Expected numbers are closed forms; the model command itself is tested against transformers in
tests/test_models_golden.py.
"""

from __future__ import annotations

import numpy as np
from cli_helpers import run_error

I4 = "1 0 0 0; 0 1 0 0; 0 0 1 0; 0 0 0 1"
X = "1 0 1 0; 0 1 0 1"


def test_fewer_key_columns_than_heads_suggests_kv_heads() -> None:
    eye48 = "; ".join(" ".join("1" if i == j else "0" for j in range(8)) for i in range(4))
    err = run_error(["compute", "--x", X, "--wq", eye48, "--wk", "1 0; 0 1; 1 1; 0 0", "--wv", "1 0; 0 1; 1 1; 0 0",
                     "--heads", "4"])
    assert "add --kv-heads 1" in err and "shared by 4 query heads" in err


def test_narrower_keys_per_head_suggest_kv_heads() -> None:
    err = run_error(["compute", "--x", X, "--wq", I4, "--wk", "1 0; 0 1; 1 1; 0 0", "--wv", "1 0; 0 1; 1 1; 0 0",
                     "--heads", "2"])
    assert "d_q = 2 and d_k = 1" in err and "--kv-heads" in err


def test_alibi_slopes_for_six_heads_follow_the_paper() -> None:
    from attncli.core.positions import alibi_slopes

    # 2^⌊log₂ 6⌋ = 4 heads: 2^(−2h), h = 1..4; then 2^(−h) for h = 1, 3 (every other slope of 8 heads)
    np.testing.assert_array_equal(alibi_slopes(6), [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8])


def _linear_file(tmp_path, names):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    weights = {n: rng.normal(size=(4, 4)).astype(np.float32) for n in names}
    save_file(weights, str(tmp_path / "lin.safetensors"))
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return weights, x.astype(np.float64)


def test_a_square_torch_named_weight_is_read_out_by_in(tmp_path) -> None:
    import json

    from cli_helpers import run

    w, x = _linear_file(tmp_path, ["q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"])
    # PyTorch's Linear: y = x·Wᵀ; one head of width 4: scale 1/2
    q, k, v = (x @ w[f"{n}_proj.weight"].T.astype(np.float64) for n in "qkv")
    s = q @ k.T / 2
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    want = (a @ v) @ w["o_proj.weight"].T.astype(np.float64)
    f = tmp_path / "lin.safetensors"
    for args in (["--weights", f], ["--wq", f"{f}:q_proj.weight", "--wk", f"{f}:k_proj.weight",
                                    "--wv", f"{f}:v_proj.weight", "--wo", f"{f}:o_proj.weight"]):
        got = json.loads(run(["compute", "--x", tmp_path / "x.npy", *args, "--show", "output", "--format",
                              "json"]).stdout)["output"]
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_weights_without_a_recognised_output_projection_say_so(tmp_path) -> None:
    _linear_file(tmp_path, ["q_proj.weight", "k_proj.weight", "v_proj.weight", "dense.weight"])
    err = run_error(["compute", "--x", tmp_path / "x.npy", "--weights", tmp_path / "lin.safetensors"])
    assert "no output projection" in err and "dense.weight (4, 4)" in err and "--wo" in err


def test_erf_matches_the_standard_library() -> None:
    import math

    from attncli.models.ops import erf

    x = np.linspace(-9, 9, 20001)
    want = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - want)) < 1e-15
    x32 = x.astype(np.float32)
    assert np.max(np.abs(erf(x32) - np.array([math.erf(float(v)) for v in x32]))) < 1.5e-7


def test_inspect_lists_stored_types_metadata_natural_order_and_filters(tmp_path) -> None:
    import json
    import struct

    from cli_helpers import run

    # a hand-written safetensors file: BF16 and F32 tensors, layers 2 and 10, and metadata
    entries, blob = {}, b""
    for name, dtype, raw in (("model.layers.10.w", "BF16", struct.pack("<2H", 0x3F80, 0x4000)),  # 1.0, 2.0
                             ("model.layers.2.w", "F32", struct.pack("<2f", 3.0, 4.0))):
        entries[name] = {"dtype": dtype, "shape": [2], "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    entries["__metadata__"] = {"format": "pt", "note": "made by hand"}
    header = json.dumps(entries).encode()
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + blob)
    doc = json.loads(run(["inspect", tmp_path / "m.safetensors", "--format", "json"]).stdout)
    assert [a["name"] for a in doc["arrays"]] == ["model.layers.2.w", "model.layers.10.w"]
    assert [(a["stored"], a["dtype"], a["mean"]) for a in doc["arrays"]] == [("F32", "float32", 3.5),
                                                                              ("BF16", "float32", 1.5)]
    assert doc["metadata"] == {"format": "pt", "note": "made by hand"}
    table = run(["inspect", tmp_path / "m.safetensors", "--filter", "model.layers.1*"]).stdout.decode()
    assert "BF16 (read as float32)" in table and "layers.2." not in table and "note = made by hand" in table
    err = run_error(["inspect", tmp_path / "m.safetensors", "--filter", "nothing.*"])
    assert "--filter 'nothing.*' matches none of the 2 arrays" in err


def test_weights_layout_torch_is_not_suggested_when_already_set() -> None:
    args = ["compute", "--x", "1 0 1; 0 1 0", "--wk", "1 0; 0 1; 1 1", "--wv", "1 0; 0 1; 1 1"]
    err = run_error([*args, "--wq", "1 0 1; 0 1 1"])  # 2 × 3: transposed it would fit
    assert "--weights-layout torch reads weights that way" in err
    err = run_error([*args, "--wq", "1 0; 0 1; 1 1", "--weights-layout", "torch"])
    assert "drop --weights-layout torch" in err and "reads weights that way" not in err
