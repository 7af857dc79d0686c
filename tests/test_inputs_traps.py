"""Inputs a student types, and traps (issue 14): every spelling of a matrix reads as the matrix written by hand
below, inline and through standard input alike; a problem file's layout is never silently reinterpreted;
--labels must match the tokens; `attncli --version`, bare `attncli`, and --format npy with two arrays.

Expected numbers are computed here with numpy from the matrices written by hand, never from attncli's output.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

import attncli
from attncli.errors import AttnError
from attncli.io import read_array


def as_json(args: list, **kw) -> dict:
    return json.loads(run([*args, "--format", "json"], **kw).stdout)


def softmax_rows(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- spellings: inline and stdin read the same

ROW = np.array([[1.0, 0.0, 1.0]])  # one token, 1 × 3
SQUARE = np.array([[1.0, 0.0], [0.0, 1.0]])
SPELLINGS = [
    ("1 0 1", ROW),
    ("1,0,1", ROW),
    ("1, 0, 1", ROW),
    ("1 0 1;", ROW),
    ("[1 0 1]", ROW),
    ("[[1, 0, 1]]", ROW),
    ("  1 0 1  \n", ROW),
    ("1 0; 0 1", SQUARE),
    ("1 0;0 1;", SQUARE),
    ("1,0;0,1", SQUARE),
    ("1 0\n0 1", SQUARE),  # pasted over two lines
    ("1 0;\n0 1;\n", SQUARE),  # pasted with the semicolons
    ("\n1 0\n\n0 1\n", SQUARE),  # blank lines between rows
    ("[1 0; 0 1]", SQUARE),
    ("[[1, 0], [0, 1]]", SQUARE),
    ("0.5", np.array([[0.5]])),  # a scalar is 1 × 1, as in MATLAB
    ("1; 2; 3", np.array([[1.0], [2.0], [3.0]])),  # a column
    ("1 nan; -inf 2", np.array([[1.0, np.nan], [-np.inf, 2.0]])),
    ("[1, 2, 3]", np.array([1.0, 2.0, 3.0])),  # JSON says its own shape: a vector
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS, ids=[repr(t) for t, _ in SPELLINGS])
def test_inline_and_stdin_read_the_matrix_written(text: str, expected: np.ndarray):
    inline = read_array(text, option="--x").array
    piped = read_array("-", option="--x", stdin=io.BytesIO(text.encode())).array
    for got in (inline, piped):
        assert got.shape == expected.shape and got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)


def test_bool_row_is_a_one_row_mask():
    for source, stdin in (("true false true", None), ("-", b"true false true\n")):
        got = read_array(source, stdin=None if stdin is None else io.BytesIO(stdin)).array
        assert got.dtype == np.bool_ and got.tolist() == [[True, False, True]]


@pytest.mark.parametrize(("text", "message"), [
    ("1 2;;3 4", "row 2 is empty"),
    ("1,,2", "row 1, item 2 is empty"),
    ("1 2\n3", "row 2 has 1 value but row 1 has 2 values"),
])
def test_inline_and_stdin_refuse_the_same_text(text: str, message: str):
    for source, label in ((text, "the inline matrix"), ("-", "standard input")):
        with pytest.raises(AttnError) as info:
            read_array(source, option="--x", stdin=io.BytesIO(text.encode()))
        assert message in str(info.value) and label in str(info.value)


def test_one_typed_row_is_one_token():
    got = as_json(["compute", "--x", "1 0 1"])
    assert got["weights"] == [[1.0]] and got["output"] == [[1.0, 0.0, 1.0]]


def test_stdin_with_semicolons_computes_as_inline():
    text = "1 0 1 0; 0 2 0 2; 1 1 1 1"
    x = np.array([[1.0, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]])
    inline = as_json(["compute", "--x", text, "--score", "dot"])
    piped = as_json(["compute", "--x", "-", "--score", "dot"], stdin=text.encode())
    pasted = as_json(["compute", "--x", "-", "--score", "dot"], stdin=text.replace("; ", "\n").encode())
    expected = softmax_rows(x @ x.T)
    for got in (inline, piped, pasted):
        np.testing.assert_allclose(got["weights"], expected, rtol=1e-12)
        np.testing.assert_allclose(got["output"], expected @ x, rtol=1e-12)


def test_a_typed_row_is_still_a_bias_vector():
    x = np.array([[1.0, 2.0], [0.0, 1.0]])
    w = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([0.5, -1.0])
    args = ["compute", "--x", "1 2; 0 1", "--wq", "1 0; 1 1", "--wk", "1 0; 1 1", "--wv", "1 0; 1 1",
            "--wo", "1 0; 0 1", "--show", "q,output"]
    for spelling in ("0.5 -1", "0.5, -1", "[0.5, -1]", "0.5 -1;"):
        got = as_json([*args, "--bq", spelling, "--bo", spelling])
        np.testing.assert_allclose(got["q"], x @ w + b, rtol=1e-12)
        q, k, v = x @ w + b, x @ w, x @ w
        a = softmax_rows(q @ k.T / np.sqrt(2))
        np.testing.assert_allclose(got["output"], a @ v + b, rtol=1e-12)


def test_a_typed_row_is_still_va_with_two_heads():
    x = np.array([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.0]])
    wa = np.array([[1.0, 0.5], [0.0, 1.0]])
    va = np.array([1.0, -2.0])
    got = as_json(["compute", "--x", "1 0 0.5 1; 0 1 1 0", "--heads", "2", "--score", "additive",
                   "--wa-q", "1 0.5; 0 1", "--wa-k", "1 0.5; 0 1", "--va", "1 -2", "--show", "scores"])
    for h in range(2):
        xh = x[:, 2 * h:2 * h + 2]  # head h's columns
        s = np.tanh((xh @ wa)[:, None, :] + (xh @ wa)[None, :, :]) @ va  # (n_q, n_k)
        np.testing.assert_allclose(got["scores"][h], s, rtol=1e-12)


def test_a_mask_row_broadcasts_like_the_json_vector():
    args = ["compute", "--x", "1 0; 0 1; 1 1", "--score", "dot", "--show", "weights"]
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = x @ x.T
    s[:, 2] = -np.inf  # the third key is masked for every query
    expected = softmax_rows(s)
    for mask in ("1 1 0", "[1, 1, 0]", "true true false"):
        np.testing.assert_allclose(as_json([*args, "--mask", mask])["weights"], expected, rtol=1e-12)


def test_a_typed_mask_row_is_one_value_per_key_in_cols_layout_too():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 3 tokens; in cols layout their transpose is typed
    s = x @ x.T
    s[:, 2] = -np.inf  # key 2 masked for every query
    expected = softmax_rows(s)
    for mask in ("1 1 0", "[1, 1, 0]"):
        got = as_json(["compute", "--x", "1 0 1; 0 1 1", "--layout", "cols", "--score", "dot", "--show", "weights",
                       "--mask", mask])
        np.testing.assert_allclose(np.array(got["weights"]).T, expected, rtol=1e-12)  # cols: A is n_k × n_q
    bias = np.array([0.5, 0.0, -1.0])  # one value per key
    got = as_json(["compute", "--x", "1 0; 0 1; 1 1", "--score", "dot", "--show", "weights", "--bias", "0.5 0 -1"])
    np.testing.assert_allclose(got["weights"], softmax_rows(x @ x.T + bias), rtol=1e-12)


def test_a_scalar_is_one_by_one_where_that_fits():
    got = as_json(["compute", "--x", "3"])
    assert got["weights"] == [[1.0]] and got["output"] == [[3.0]]


def test_a_scalar_or_row_that_does_not_fit_says_how_it_was_read():
    err = run_error(["compute", "--x", "3", "--wq", "1 0; 0 1", "--wk", "1 0; 0 1", "--wv", "1 0; 0 1"])
    assert '--x "3" was read as a 1 × 1 matrix' in err
    err = run_error(["compute", "--x", "1 0 1", "--wq", "1 0; 0 1", "--wk", "1 0; 0 1", "--wv", "1 0; 0 1"])
    assert '--x "1 0 1" was read as one row, 1 × 3' in err
    err = run_error(["compute", "--x", "[1, 0, 1]"])
    assert "is a JSON list, read as a vector of 3" in err


# ---------------------------------------------------------------- a problem file's layout

X_ROWS = [[1, 0, 1], [0, 1, 1]]  # 2 tokens × d_model 3
W = [[1, 0], [0, 1], [1, 1]]  # d_model × d_k


def _problem(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_layout_flag_against_a_rows_problem_is_an_error(tmp_path: Path):
    p = _problem(tmp_path, "p.toml", f"x = {X_ROWS}\nwq = {W}\nwk = {W}\nwv = {W}\n")
    err = run_error(["compute", "p.toml", "--layout", "cols"], cwd=tmp_path)
    assert err == ("error: --layout cols conflicts with PROBLEM 'p.toml', whose matrices are written with "
                   'layout = "rows" (the default); drop --layout, or set layout = "cols" in the file and write its '
                   "matrices with tokens as columns\n")
    for command in (["explain"], ["check", "--expected", "1 0; 0 1", "1 0; 0 1"]):
        assert "--layout cols conflicts with PROBLEM" in run_error([*command, str(p), "--layout", "cols"])
    run(["compute", "p.toml", "--layout", "rows"], cwd=tmp_path)  # agreeing with the file is fine


def test_layout_flag_against_a_cols_problem_is_an_error(tmp_path: Path):
    xt, wt = np.array(X_ROWS).T.tolist(), np.array(W).T.tolist()  # tokens as columns, W as d_k × d_model
    _problem(tmp_path, "c.toml", f'layout = "cols"\nx = {xt}\nwq = {wt}\nwk = {wt}\nwv = {wt}\n')
    err = run_error(["compute", "c.toml", "--layout", "rows"], cwd=tmp_path)
    assert ("--layout rows conflicts with PROBLEM 'c.toml', whose matrices are written with layout = \"cols\"; "
            'drop --layout, or set layout = "rows" in the file and write its matrices with tokens as rows') in err
    x, w = np.array(X_ROWS, dtype=float), np.array(W, dtype=float)
    q = x @ w
    expected = softmax_rows(q @ q.T / np.sqrt(2))  # rows layout: query i's weights in row i
    for extra in ([], ["--layout", "cols"]):
        got = as_json(["compute", "c.toml", *extra, "--show", "weights"], cwd=tmp_path)
        np.testing.assert_allclose(np.array(got["weights"]).T, expected, rtol=1e-12)  # cols: A is n_k × n_q


def test_layout_flag_with_a_problem_of_options_only(tmp_path: Path):
    _problem(tmp_path, "o.toml", 'score = "dot"\n')
    got = as_json(["compute", "o.toml", "--x", "1 0; 0 1; 1 1", "--layout", "cols"], cwd=tmp_path)
    x = np.array([[1.0, 0], [0, 1], [1, 1]])  # cols layout: 2 tokens as columns of 3 features
    np.testing.assert_allclose(np.array(got["weights"]).T, softmax_rows(x.T @ x), rtol=1e-12)


# ---------------------------------------------------------------- --labels must name every token


def test_compute_labels_count_is_checked():
    run(["compute", "--x", "1 0; 0 1", "--labels", "a,b"])
    err = run_error(["compute", "--x", "1 0; 0 1", "--labels", "a,b,c"])
    assert "--labels has 3 labels but the input has 2 tokens" in err
    err = run_error(["compute", "--x", "1 0 1; 0 1 1", "--layout", "cols", "--labels", "a,b"])
    assert "--labels has 2 labels but the input has 3 tokens" in err  # cols: tokens are the 3 columns
    run(["compute", "--x", "1 0 1; 0 1 1", "--layout", "cols", "--labels", "a,b,c"])
    err = run_error(["compute", "--q", "1 0; 0 1", "--k", "1 0; 0 1; 1 1", "--v", "1 0; 0 1; 1 1",
                     "--labels", "a,b,c"])
    assert "--labels has 3 labels but the input has 2 tokens (queries) and 3 keys" in err


def test_show_labels_count_is_checked_too(tmp_path: Path):
    np.save(tmp_path / "a.npy", np.full((2, 2), 0.5))
    assert "--labels has 3 labels" in run_error(["show", str(tmp_path / "a.npy"), "--labels", "a,b,c"])


# ---------------------------------------------------------------- version, bare attncli, npy with two arrays


def test_version():
    proc = run(["--version"])
    assert proc.stdout.decode() == f"attncli {attncli.__version__}\n"
    assert attncli.__version__ == importlib.metadata.version("attncli")


def test_bare_attncli_prints_the_help_and_exits_0():
    proc = run([], check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "Usage: attncli" in out and "compute" in out and "--version" in out


@pytest.mark.parametrize("how", [["--format", "npy"], ["-o", "out.npy"]])
def test_npy_with_two_arrays_names_show(how: list[str], tmp_path: Path):
    err = run_error(["compute", "--x", "1 0; 0 1", "--show", "weights,output", *how], cwd=tmp_path)
    assert err.startswith("error: --show: npy holds one array but 2 were asked for (weights, output)")
    assert "--show weights" in err and "-o/--output" not in err
    assert not (tmp_path / "out.npy").exists()
