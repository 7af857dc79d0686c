"""Homework mode: problem files, init, explain and check with its diagnoses.

Wrong answers are built here with a small numpy reference written for the test (not attncli's code),
each with one mistake, and `attncli check` must name that mistake."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "self_attention"

# ---- a two-head problem with biases and W_O, and a reference written for the test -------------------
RNG = np.random.default_rng(11)
X = RNG.normal(size=(3, 4))
WQ, WK, WV, WO = (RNG.normal(size=(4, 4)) for _ in range(4))
BQ, BK, BV, BO = (RNG.normal(size=4) * 0.5 for _ in range(4))
H = 2


def reference(x=X, wq=WQ, wk=WK, wv=WV, bq=BQ, bk=BK, bv=BV, wo=WO, bo=BO, *, scale=None, axis=-1, softmax=True,
              causal=False, reverse_heads=False, what="output"):
    q, k, v = x @ wq + bq, x @ wk + bk, x @ wv + bv
    d = q.shape[1] // H
    heads, weights = [], []
    for h in range(H):
        qh, kh, vh = q[:, h * d:(h + 1) * d], k[:, h * d:(h + 1) * d], v[:, h * d:(h + 1) * d]
        s = qh @ kh.T * (1 / math.sqrt(d) if scale is None else scale)
        if causal:
            s = np.where(np.tril(np.ones_like(s)) > 0, s, -np.inf)
        if softmax:
            e = np.exp(s - s.max(axis=axis, keepdims=True))
            a = e / e.sum(axis=axis, keepdims=True)
        else:
            a = np.where(np.isfinite(s), s, 0)
        weights.append(a)
        heads.append(a @ vh)
    if what == "weights":
        return np.stack(weights)
    if what == "heads":
        return np.stack(heads)
    cat = np.concatenate(heads[::-1] if reverse_heads else heads, axis=1)
    return cat if wo is None else cat @ wo + (0 if bo is None else bo)


def write(path: Path, a: np.ndarray) -> Path:
    np.save(path, a)
    return path


@pytest.fixture
def problem(tmp_path) -> Path:
    for name, a in (("x", X), ("wq", WQ), ("wk", WK), ("wv", WV), ("wo", WO), ("bq", BQ), ("bk", BK), ("bv", BV),
                    ("bo", BO)):
        np.save(tmp_path / f"{name}.npy", a)
    p = tmp_path / "problem.toml"
    p.write_text('[inputs]\nx = "x.npy"\nwq = "wq.npy"\nwk = "wk.npy"\nwv = "wv.npy"\n'
                 'bq = "bq.npy"\nbk = "bk.npy"\nbv = "bv.npy"\nwo = "wo.npy"\nbo = "bo.npy"\n'
                 '[options]\nheads = 2\n[check]\nwhat = "output"\n')
    return p


def test_reference_agrees_with_attncli(problem, tmp_path):
    d = json.loads(run(["compute", problem, "--format", "json", "--show", "weights,output"], cwd=tmp_path).stdout)
    np.testing.assert_allclose(d["output"], reference(), atol=1e-12)
    np.testing.assert_allclose(d["weights"], reference(what="weights"), atol=1e-12)


@pytest.mark.parametrize("mistake,answer,phrase", [
    ("no scaling", lambda: reference(scale=1.0), "1/√d_k was left out"),
    ("√n", lambda: reference(scale=1 / math.sqrt(3)), "√n"),
    ("softmax axis", lambda: reference(axis=-2), "wrong axis"),
    ("raw scores", lambda: reference(softmax=False), "softmax was left out"),
    ("transposed weights", lambda: reference(wq=WQ.T, wk=WK.T, wv=WV.T), "transposed"),
    ("biases", lambda: reference(bq=0, bk=0, bv=0, bo=None), "without the biases"),
    ("causal missing/applied", lambda: reference(causal=True), "causal"),
    ("heads order", lambda: reference(reverse_heads=True), "reversed"),
    ("W_O left out", lambda: reference(wo=None), "W_O was left out"),
])
def test_each_mistake_is_diagnosed(problem, tmp_path, mistake, answer, phrase):
    path = write(tmp_path / "answer.npy", answer())
    proc = run(["check", path, problem], cwd=tmp_path, check=False)
    out = proc.stdout.decode()
    assert proc.returncode == 1, out
    assert "diagnosis:" in out and phrase in out, f"{mistake}: {out[-400:]}"


def test_weights_given_for_output_and_layout_mix(tmp_path):
    x = "1 0 1; 0 2 1; 1 1 0"
    w = json.loads(run(["compute", "--x", x, "--format", "json", "--show", "weights"]).stdout)["weights"]
    np.save(tmp_path / "w.npy", np.array(w))
    out = run(["check", tmp_path / "w.npy", "--x", x, "--what", "output"], check=False).stdout.decode()
    assert "·V was left out" in out
    out = run(["check", tmp_path / "w.npy", "--x", x, "--what", "weights", "--causal"], check=False).stdout.decode()
    assert "without the causal mask: it is missing" in out
    np.save(tmp_path / "wt.npy", np.array(w).T + 0)  # the same map, transposed (tokens as columns)
    x2 = "1 0 1; 0 2 1; 1 2 0"
    w2 = np.array(json.loads(run(["compute", "--x", x2, "--format", "json", "--show", "weights"]).stdout)["weights"])
    np.save(tmp_path / "w2t.npy", w2.T)
    out = run(["check", tmp_path / "w2t.npy", "--x", x2, "--what", "weights"], check=False).stdout.decode()
    assert "transposed" in out or "wrong axis" in out  # S = X·Xᵀ is symmetric: the two mistakes coincide
    proc = run(["check", "1 2; 3 4", "--expected", "1 3; 2 4"], check=False)
    assert "transposed" in proc.stdout.decode()


def test_pass_is_one_line_and_exit_0():
    proc = run(["check", SAMPLE / "answer.csv", SAMPLE / "problem.toml"])
    lines = proc.stdout.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("PASS")


def test_sample_wrong_answer_is_diagnosed():
    proc = run(["check", SAMPLE / "answer_wrong.csv", SAMPLE / "problem.toml"], check=False)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "FAIL" in out and "1/√d_k was left out" in out
    assert "cell" in out and "difference" in out


def test_tolerances_and_rounding_hint(tmp_path):
    ans = SAMPLE / "answer.csv"
    assert run(["check", ans, SAMPLE / "problem.toml", "--decimals", "1"], check=True).returncode == 0
    proc = run(["check", ans, SAMPLE / "problem.toml", "--atol", "1e-6", "--decimals", "2"], check=False)
    assert proc.returncode == 2  # --decimals and --atol together
    out = run(["check", ans, "--x", SAMPLE / "x.csv", "--wq", SAMPLE / "wq.csv", "--wk", SAMPLE / "wk.csv",
               "--wv", SAMPLE / "wv.csv", "--what", "weights"], check=False).stdout.decode()
    assert "--decimals 2" in out  # the answer is right to 2 decimals: say how to check it that way
    assert run(["check", ans, "--x", SAMPLE / "x.csv", "--wq", SAMPLE / "wq.csv", "--wk", SAMPLE / "wk.csv",
                "--wv", SAMPLE / "wv.csv", "--what", "weights", "--atol", "0.005"]).returncode == 0


def test_shape_mismatch_names_both_shapes(tmp_path):
    out = run(["check", "1 2 3; 4 5 6", "--expected", "1 4; 2 5; 3 6"], check=False)
    text = out.stdout.decode()
    assert out.returncode == 1 and "2×3" in text and "3×2" in text and "transpose" in text


def test_expected_source_and_reports(tmp_path):
    (tmp_path / "good.csv").write_text("1,2\n3,4\n")
    (tmp_path / "bad.csv").write_text("1,2\n3,5\n")
    (tmp_path / "broken.csv").write_text("1,2\n3\n")
    proc = run(["check", tmp_path / "good.csv", tmp_path / "bad.csv", tmp_path / "broken.csv", "--expected",
                "1 2; 3 4", "--report", tmp_path / "r.json"], check=False)
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "1 of 3 answers pass" in out
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [a["pass"] for a in rep["answers"]] == [True, False, False]
    assert rep["answers"][1]["max_error"] == 1.0 and rep["answers"][1]["cells_wrong"] == 1
    assert "cannot read" in rep["answers"][2]["detail"]
    run(["check", tmp_path / "good.csv", "--expected", "1 2; 3 4", "--report", tmp_path / "r.csv"])
    assert (tmp_path / "r.csv").read_text().splitlines()[0].startswith("student,answer,result,score")


def test_many_answers_one_process(problem, tmp_path):
    good, bad = reference(), reference(scale=1.0)
    paths = [write(tmp_path / f"s{i:03d}.npy", good if i % 3 else bad) for i in range(60)]
    proc = run(["check", *paths, problem], cwd=tmp_path, check=False)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "40 of 60 answers pass" in out and out.count("1/√d_k was left out") == 20


# ---- problem files and init ---------------------------------------------------------------------------

def test_problem_equals_flags_and_flags_win(problem, tmp_path):
    by_file = json.loads(run(["compute", problem, "--format", "json"], cwd=ROOT).stdout)  # paths relative to file
    np.testing.assert_allclose(by_file["output"], reference(), atol=1e-12)
    causal = json.loads(run(["compute", problem, "--causal", "--format", "json"], cwd=ROOT).stdout)
    np.testing.assert_allclose(causal["output"], reference(causal=True), atol=1e-12)
    one_head = json.loads(run(["compute", problem, "--heads", "1", "--format", "json"], cwd=ROOT).stdout)
    assert one_head["meta"]["heads"] == 1


def test_inline_toml_matrices_and_lists(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('x = [[1, 0], [0, 1]]\nscore = "dot"\nkey-lens = [2]\nwindow = [1, 0]\n')
    d = json.loads(run(["compute", p, "--format", "json", "--show", "weights"]).stdout)
    assert d["weights"] == [[1.0, 0.0], [1 / (math.e + 1), math.e / (math.e + 1)]]
    assert d["meta"]["masks"]["window"] == [1, 0]


@pytest.mark.parametrize("content,needle", [
    ("x = [[1, 0]]\nkey-len = [1]\n", "did you mean 'key-lens'"),
    ("x = [[1, 0]]\nheads = \"two\"\n", "integer"),
    ("x = [[1, 0]]\ncausal = 1\n", "true or false"),
    ("x = [[1, 0]]\nscore = \"cosinus\"\n", "score"),
    ("x = [[1, 0]\n", "TOML"),
])
def test_problem_file_errors(tmp_path, content, needle):
    (tmp_path / "p.toml").write_text(content)
    assert needle in run_error(["compute", tmp_path / "p.toml"])


def test_init_template_runs(tmp_path):
    run(["init", tmp_path / "p.toml"])
    assert "[inputs]" in (tmp_path / "p.toml").read_text()
    assert run(["compute", tmp_path / "p.toml"]).returncode == 0
    assert run(["explain", tmp_path / "p.toml"]).returncode == 0
    assert "exists" in run_error(["init", tmp_path / "p.toml"])
    assert run(["init", tmp_path / "p.toml", "--force"]).returncode == 0


# ---- explain ------------------------------------------------------------------------------------------

def _explain_json(args) -> dict:
    return json.loads(run(["explain", *args, "--format", "json"]).stdout)


def test_explain_numbers_are_computes(problem, tmp_path):
    steps = _explain_json([problem])["steps"]
    keys = [s["key"] for s in steps]
    assert keys == ["x", "q", "k", "v", "s_scaled", "scale_sqrt", "a_softmax", "head", "concat", "output"]
    comp = json.loads(run(["compute", problem, "--format", "json", "--show", "q,weights,heads,output"]).stdout)
    by_key = {s["key"]: s for s in steps}
    np.testing.assert_array_equal(by_key["output"]["matrices"][0]["values"], comp["output"])
    np.testing.assert_array_equal([m["values"] for m in by_key["a_softmax"]["matrices"]], comp["weights"])
    np.testing.assert_array_equal([m["values"] for m in by_key["head"]["matrices"]], comp["heads"])
    assert by_key["q"]["formula"] == "Q = X·W_Q + b_Q" and by_key["q"]["dims"] == "n_q × H·d_k = 3 × 4"


def test_explain_cols_uses_lecture_notation():
    steps = _explain_json(["--x", "1 0 1; 0 2 1", "--layout", "cols", "--score", "dot"])["steps"]
    formulas = [s["formula"] for s in steps]
    assert "Kᵀ·Q" in formulas and "A′ = softmax(A) down each column" in formulas and "O = V·A′" in formulas
    a = next(s for s in steps if s["key"] == "a_softmax")["matrices"][0]["values"]
    np.testing.assert_allclose(np.sum(a, axis=0), 1.0)  # columns sum to 1


def test_explain_every_variant_names_its_steps():
    cases = [(["--softcap", "2"], "softcap"), (["--temperature", "0.5"], "temperature"), (["--alibi"], "alibi"),
             (["--rope"], "q_rope"), (["--pe", "sinusoidal"], "x_pe"), (["--window", "1"], "masked"),
             (["--normalize", "sparsemax"], "a_sparsemax"), (["--score", "cosine"], "s_cosine"),
             (["--bias", "[[0, -1], [0, 0]]"], "bias"), (["--sinks", "0.5"], "a_sinks")]
    for extra, key in cases:
        keys = [s["key"] for s in _explain_json(["--x", "1 0; 0 1", *extra])["steps"]]
        assert key in keys, (extra, keys)


def test_explain_markdown_renders_as_tables(problem):
    from markdown_it import MarkdownIt

    md = run(["explain", problem, "--format", "markdown", "--precision", "3"]).stdout.decode()
    html = MarkdownIt("commonmark").enable("table").render(md)
    steps = _explain_json([problem])["steps"]
    assert html.count("<table>") == sum(len(s["matrices"]) for s in steps)
    assert "<h3>Step 1. x</h3>" in html and "<h3>Step 5. qk</h3>" in html


def test_explain_latex_and_output_file(problem, tmp_path):
    tex = run(["explain", problem, "--format", "latex"]).stdout.decode()
    assert tex.count(r"\begin{bmatrix}") == tex.count(r"\end{bmatrix}") > 5 and r"Q = X W_Q + b_Q" in tex
    run(["explain", problem, "-o", tmp_path / "steps.md"])
    assert (tmp_path / "steps.md").read_text().startswith("### Step 1.")


def test_explain_pictures(problem, tmp_path):
    pytest.importorskip("matplotlib")
    run(["explain", problem, "-o", tmp_path / "steps.png"])
    assert (tmp_path / "steps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = run(["explain", problem, "--format", "heatmap"]).stdout.decode()
    assert "weights" in out and "scores" in out
    assert "explain writes" in run_error(["explain", problem, "-o", tmp_path / "steps.xyz"])
