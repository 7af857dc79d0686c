"""The installed CLI in a subprocess: every input format, stdin, every output format, every error.

Expected values are closed forms: with X = [[1, 0], [0, 1]] and --score dot, S = X·Xᵀ = I, so each
weights row is [e/(e+1), 1/(e+1)] (in its own order) and the output is the weights (V = X = I).
"""

from __future__ import annotations

import io
import json
import math
import os
import pty
import struct
import subprocess

import numpy as np
import pytest
from cli_helpers import attncli_command, run, run_error

E = math.e
W_DOT = np.array([[E / (E + 1), 1 / (E + 1)], [1 / (E + 1), E / (E + 1)]])
X = np.eye(2)


def json_out(args, **kw) -> dict:
    proc = run([*args, "--format", "json"], **kw)
    return json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def weights_of(args, **kw) -> np.ndarray:
    return np.array(json_out([*args, "--score", "dot", "--show", "weights"], **kw)["weights"])


def bf16_safetensors(arrays: dict[str, np.ndarray]) -> bytes:
    """A safetensors file with BF16 tensors, built by hand (bf16 = the top 16 bits of float32)."""
    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        raw = (np.asarray(a, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# ---- every input format ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["npy", "npz", "npz_named", "safetensors_bf16", "csv", "tsv", "txt",
                                  "json", "json_named", "inline_json", "inline_matlab"])
def test_input_formats(kind, tmp_path):
    if kind == "npy":
        np.save(tmp_path / "x.npy", X)
        src = tmp_path / "x.npy"
    elif kind == "npz":
        np.savez(tmp_path / "x.npz", X)
        src = tmp_path / "x.npz"
    elif kind == "npz_named":
        np.savez(tmp_path / "d.npz", other=np.zeros(3), x=X)
        src = f"{tmp_path / 'd.npz'}:x"
    elif kind == "safetensors_bf16":
        (tmp_path / "m.safetensors").write_bytes(bf16_safetensors({"other": np.ones((2, 3)), "x": X}))
        src = f"{tmp_path / 'm.safetensors'}:x"
    elif kind == "csv":
        (tmp_path / "x.csv").write_text("# X\n1,0\n0,1\n")
        src = tmp_path / "x.csv"
    elif kind == "tsv":
        (tmp_path / "x.tsv").write_text("a\tb\n1\t0\n0\t1\n")
        src = tmp_path / "x.tsv"
    elif kind == "txt":
        (tmp_path / "x.txt").write_text("1 0   # first token\n0 1\n")
        src = tmp_path / "x.txt"
    elif kind == "json":
        (tmp_path / "x.json").write_text("[[1, 0], [0, 1]]")
        src = tmp_path / "x.json"
    elif kind == "json_named":
        (tmp_path / "a.json").write_text('{"x": [[1, 0], [0, 1]], "y": [1, 2]}')
        src = f"{tmp_path / 'a.json'}:x"
    elif kind == "inline_json":
        src = "[[1,0],[0,1]]"
    else:
        src = "1 0; 0 1"
    np.testing.assert_allclose(weights_of(["compute", "--x", src]), W_DOT, rtol=0, atol=1e-7)


@pytest.mark.parametrize("kind", ["npy", "npz", "safetensors", "json", "csv"])
def test_stdin_is_sniffed(kind):
    if kind == "npy":
        buf = io.BytesIO()
        np.save(buf, X)
        data = buf.getvalue()
    elif kind == "npz":
        buf = io.BytesIO()
        np.savez(buf, x=X)
        data = buf.getvalue()
    elif kind == "safetensors":
        data = bf16_safetensors({"x": X})
    elif kind == "json":
        data = b"[[1,0],[0,1]]"
    else:
        data = b"1,0\n0,1\n"
    np.testing.assert_allclose(weights_of(["compute", "--x", "-"], stdin=data), W_DOT, atol=1e-7)


def test_float32_binary_stays_float32_text_is_float64(tmp_path):
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    assert json_out(["compute", "--x", tmp_path / "x.npy"])["meta"]["dtype"] == "float32"
    assert json_out(["compute", "--x", "1 0; 0 1"])["meta"]["dtype"] == "float64"


# ---- every output format --------------------------------------------------------------------------

def test_table_is_labelled_and_marks_masked_cells():
    out = run(["compute", "--x", "1 0; 0 1; 1 1", "--causal", "--show", "weights"]).stdout.decode()
    assert "q0" in out and "k2" in out and "·" in out and "masked" in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal
    assert "1.0000" in out  # the first query attends only to itself


def test_json_is_strict_and_has_meta():
    doc = json_out(["compute", "--x", "1 0; 0 1", "--mask", "1 1; 0 0", "--empty-rows", "nan",
                    "--show", "weights,output,scores"])
    assert doc["weights"][1] == [None, None]  # NaN -> null
    assert doc["scores"][1] == [None, None]  # -inf -> null
    meta = doc["meta"]
    assert meta["variant"] == "scaled_dot_product" and meta["scale"] == pytest.approx(1 / math.sqrt(2))
    assert meta["masks"]["mask"] is True and meta["shapes"]["weights"] == [2, 2]
    assert meta["attncli_version"]


def test_json_shapes_batch_and_heads_axes(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 5, 4))
    np.save(tmp_path / "x.npy", x)
    doc = json_out(["compute", "--x", tmp_path / "x.npy", "--heads", "2", "--show", "weights,heads,output"])
    assert np.array(doc["weights"]).shape == (3, 2, 5, 5)
    assert np.array(doc["heads"]).shape == (3, 2, 5, 2)
    assert np.array(doc["output"]).shape == (3, 5, 4)
    doc = json_out(["compute", "--x", "1 0; 0 1; 1 1", "--show", "weights,heads,output"])
    assert np.array(doc["weights"]).shape == (3, 3)
    assert np.array(doc["heads"]).shape == (1, 3, 2)
    doc = json_out(["compute", "--x", "1 0 1; 0 2 1", "--layout", "cols", "--show", "weights,output"])
    assert np.array(doc["weights"]).shape == (3, 3) and np.array(doc["output"]).shape == (2, 3)


@pytest.mark.parametrize("fmt,sep", [("csv", ","), ("tsv", "\t")])
def test_csv_tsv_single_array_reads_back(fmt, sep, tmp_path):
    out = run(["compute", "--x", "1 0; 0 1", "--score", "dot", "--show", "weights", "--format", fmt]).stdout
    rows = [[float(c) for c in line.split(sep)] for line in out.decode().splitlines() if line]
    np.testing.assert_allclose(rows, W_DOT, atol=1e-15)
    path = tmp_path / f"w.{fmt}"
    path.write_bytes(out)
    np.testing.assert_allclose(weights_of(["compute", "--x", path])[0], weights_of(["compute", "--x", path])[0])


def test_csv_several_arrays_are_blocks():
    out = run(["compute", "--x", "1 0; 0 1", "--format", "csv"]).stdout.decode()
    assert "# weights" in out and "# output" in out


def test_npy_to_pipe_and_file(tmp_path):
    proc = run(["compute", "--x", "1 0; 0 1", "--score", "dot", "--format", "npy"])
    np.testing.assert_allclose(np.load(io.BytesIO(proc.stdout)), W_DOT, atol=1e-15)  # default: output
    run(["compute", "--x", "1 0; 0 1", "--score", "dot", "--show", "weights", "-o", tmp_path / "w.npy"])
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), W_DOT, atol=1e-15)


def test_npz_and_safetensors_hold_every_shown_array(tmp_path):
    run(["compute", "--x", "1 0; 0 1", "--score", "dot", "--show", "all", "-o", tmp_path / "a.npz"])
    with np.load(tmp_path / "a.npz") as z:
        assert set(z.files) == {"x", "q", "k", "v", "qk", "scores", "weights", "heads", "concat", "output"}
        np.testing.assert_allclose(z["weights"], W_DOT, atol=1e-15)
    run(["compute", "--x", "1 0; 0 1", "--score", "dot", "--causal", "-o", tmp_path / "a.safetensors"])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "a.safetensors"), framework="numpy") as f:
        assert set(f.keys()) == {"weights", "output"}
        meta = f.metadata()
        np.testing.assert_allclose(f.get_tensor("weights"), [[1, 0], [1 / (E + 1), E / (E + 1)]], atol=1e-15)
    assert json.loads(meta["attncli"])["masks"]["causal"] is True


def test_table_to_txt_file(tmp_path):
    run(["compute", "--x", "1 0; 0 1", "-o", tmp_path / "t.txt"])
    assert "weights" in (tmp_path / "t.txt").read_text()


def test_json_output_reads_back_as_source(tmp_path):
    run(["compute", "--x", "1 0; 0 1", "--score", "dot", "-o", tmp_path / "r.json"])
    doc = json_out(["inspect", f"{tmp_path / 'r.json'}:weights"])
    assert doc["arrays"][0]["shape"] == [2, 2]


def test_inspect_lists_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.array([1.0, np.nan, 3.0]), b=np.ones((2, 3), np.float32))
    doc = json_out(["inspect", tmp_path / "d.npz"])
    rows = {r["name"]: r for r in doc["arrays"]}
    assert rows["a"]["nonfinite"] == 1 and rows["a"]["max"] == 3.0 and rows["a"]["mean"] == 2.0
    assert rows["b"]["shape"] == [2, 3] and rows["b"]["dtype"] == "float32"
    table = run(["inspect", tmp_path / "d.npz"]).stdout.decode()
    assert "float32" in table and "2×3" in table


def test_python_dash_m_works():
    import sys

    proc = subprocess.run([*attncli_command(), "--help"], capture_output=True)
    assert proc.returncode == 0
    proc = subprocess.run([sys.executable, "-m", "attncli", "compute", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--key-lens" in proc.stdout


@pytest.mark.parametrize("command", ["compute", "inspect", "pe", "mask", "show"])
def test_help_has_an_example_for_every_option(command):
    import typer

    from attncli.cli import load_commands

    cmd = typer.main.get_command(load_commands()).commands[command]
    for param in cmd.params:
        if param.name != "help" and getattr(param, "help", None) is not None and param.param_type_name == "option":
            assert "e.g." in param.help, f"{command} {param.opts}: {param.help}"
    assert "Examples" in (cmd.epilog or ""), f"{command} has no examples"
    assert run([command, "--help"]).returncode == 0


# ---- errors: one line, exit 2, no traceback, no file left -----------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["compute", "--x", "missing.csv"], "no such file"),
    (["compute", "--x", "1 0; 0 1", "--wq", "1 0 0; 0 1 0", "--wk", "1 0; 0 1", "--wv", "1 0; 0 1"], "--wq"),
    (["compute", "--x", "1 0 0; 0 1 0", "--wq", "1 0 0; 0 1 0", "--wk", "1 0; 0 1; 0 0", "--wv", "1 0; 0 1; 0 0"],
     "weights-layout torch"),
    (["compute", "--x", "1 0 0; 0 1 0", "--heads", "2"], "--heads"),
    (["compute", "--q", "[1, 0, 0, 0]", "--k", "1 0 0 0;", "--v", "1 0 0 0;", "--heads", "4", "--kv-heads", "3"],
     "--q"),
    (["compute", "--x", "1 0; 0 1", "--key-lens", "1,2,3"], "--key-lens"),
    (["compute", "--x", "1 0; 0 1", "--key-lens", "x"], "--key-lens"),
    (["compute", "--x", "1 0; 0 1", "--mask", "1 0 1"], "--mask"),
    (["compute", "--x", "1 0; 0 1", "--show", "nonsense"], "--show"),
    (["compute", "--x", "1 0; 0 1", "--format", "json", "-o", "x.csv"], "--format"),
    (["compute", "--x", "1 0; 0 1", "-o", "out.xyz"], "out.xyz"),
    (["compute", "--x", "1 0; 0 1", "--format", "npy", "--show", "weights,output"], "npy"),
    (["compute", "--x", "[[1, 0], [0, NaN]]"], "--x"),
    (["compute", "--x", "1 0; 0 1", "--mask", "1 1; 0 0", "--empty-rows", "error"], "every key masked"),
    (["compute", "--q", "1 0; 0 1"], "--k"),
    (["compute"], "--x"),
    (["compute", "--x", "1 0; 0 1", "--wq", "1 0; 0 1"], "--wk"),
    (["compute", "--x", "-", "--bias", "-"], "standard input"),
])
def test_user_errors(args, needle, tmp_path):
    err = run_error(args, cwd=tmp_path, stdin=b"1 0\n0 1\n")
    assert needle in err, err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_missing_safetensors_key_lists_keys(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(bf16_safetensors({"alpha": np.ones(2), "beta": np.ones(2)}))
    err = run_error(["compute", "--x", f"{tmp_path / 'm.safetensors'}:gamma"])
    assert "alpha" in err and "beta" in err


def test_refuses_to_overwrite_an_input(tmp_path):
    np.save(tmp_path / "x.npy", X)
    before = (tmp_path / "x.npy").read_bytes()
    err = run_error(["compute", "--x", tmp_path / "x.npy", "--show", "output", "-o", tmp_path / "x.npy"])
    assert "input" in err
    assert (tmp_path / "x.npy").read_bytes() == before


def test_missing_output_directory(tmp_path):
    err = run_error(["compute", "--x", "1 0; 0 1", "-o", tmp_path / "nope" / "out.json"])
    assert "nope" in err
    assert not (tmp_path / "nope").exists()


def test_failed_compute_leaves_existing_output_alone(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("precious")
    run_error(["compute", "--x", "1 0; 0 1", "--heads", "3", "-o", out])
    assert out.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_binary_is_never_written_to_a_terminal():
    main, secondary = pty.openpty()
    try:
        proc = subprocess.run(attncli_command() + ["compute", "--x", "1 0; 0 1", "--format", "npy"],
                              stdout=secondary, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        os.close(secondary)
        os.close(main)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("error: ")


def test_unknown_option_names_it_without_traceback():
    proc = run(["compute", "--x", "1 0; 0 1", "--nonsense"], check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "--nonsense" in err and "Traceback" not in err


def test_debug_shows_traceback():
    proc = run(["compute", "--x", "missing.csv", "--debug"], check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr.decode()


def test_empty_rows_warning_names_rows():
    proc = run(["compute", "--x", "1 0; 0 1", "--mask", "1 1; 0 0"])
    err = proc.stderr.decode()
    assert err.startswith("warning: ") and "query 1" in err


def test_large_tables_show_corners_with_a_notice(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(100, 4)))
    out = run(["compute", "--x", tmp_path / "x.npy", "--show", "weights"]).stdout.decode()
    assert "q99" in out and "k99" in out and "q50" not in out
    assert "showing 39 of 100 rows" in out


def test_named_arrays_of_one_piped_container(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, q=X, k=X, v=X)
    w = weights_of(["compute", "--q", "-:q", "--k", "-:k", "--v", "-:v"], stdin=buf.getvalue())
    np.testing.assert_allclose(w, W_DOT, atol=1e-15)


def test_weights_file_with_prefixed_torch_names(tmp_path):
    # a state_dict saved from a bigger model: names carry a prefix; PyTorch stores Linear weights (out, in)
    rng = np.random.default_rng(0)
    wq, wk, wv = rng.normal(size=(3, 3, 2))  # rows layout (d_model=3, d_k=2)
    np.savez(tmp_path / "sd.npz", **{"enc.attn.q_proj.weight": wq.T, "enc.attn.k_proj.weight": wk.T,
                                      "enc.attn.v_proj.weight": wv.T})
    x = "1 0 0; 0 1 0; 0 0 1"
    via_file = json_out(["compute", "--x", x, "--weights", tmp_path / "sd.npz", "--show", "weights"])
    np.save(tmp_path / "wq.npy", wq)
    np.save(tmp_path / "wk.npy", wk)
    np.save(tmp_path / "wv.npy", wv)
    direct = json_out(["compute", "--x", x, "--wq", tmp_path / "wq.npy", "--wk", tmp_path / "wk.npy",
                       "--wv", tmp_path / "wv.npy", "--show", "weights"])
    np.testing.assert_allclose(via_file["weights"], direct["weights"], atol=1e-15)
    # --weights-layout torch reads separate files as (out, in) too
    for name, w in (("wq", wq), ("wk", wk), ("wv", wv)):
        np.save(tmp_path / f"{name}_t.npy", w.T)
    torch_layout = json_out(["compute", "--x", x, "--wq", tmp_path / "wq_t.npy", "--wk", tmp_path / "wk_t.npy",
                             "--wv", tmp_path / "wv_t.npy", "--weights-layout", "torch", "--show", "q"])
    np.testing.assert_allclose(torch_layout["q"], wq, atol=1e-15)  # X = I, so Q = W_Q


def test_weights_file_without_projections_lists_keys(tmp_path):
    np.savez(tmp_path / "sd.npz", foo=np.ones(2), bar=np.ones(2))
    err = run_error(["compute", "--x", "1 0; 0 1", "--weights", tmp_path / "sd.npz"])
    assert "foo" in err and "bar" in err


def test_cols_layout_with_a_torch_state_dict(tmp_path):
    from pathlib import Path

    golden = Path(__file__).parent / "golden"
    with np.load(golden / "mha_selfattn.npz") as z:
        x, want = z["x"], z["weights"][0]  # (H, n, n)
    np.save(tmp_path / "xt.npy", x.T)
    doc = json_out(["compute", "--x", tmp_path / "xt.npy", "--weights", golden / "mha_selfattn.torch.safetensors",
                    "--heads", str(want.shape[0]), "--layout", "cols", "--show", "weights"])
    np.testing.assert_allclose(doc["weights"], np.swapaxes(want, -1, -2), atol=1e-6)
