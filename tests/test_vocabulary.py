"""One vocabulary for the steps (issue 20): x, q, k, v, qk, scores, weights, heads, concat, output, the same names
in compute --show, check --what, problem files, explain's titles and --what, the init template and the diagnoses.

Expected values come from numpy written here (Q = X·W_Q, Q·Kᵀ, softmax(Q·Kᵀ/√d_k) by hand), never from attncli."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.vocabulary import NAMES

RNG = np.random.default_rng(20)
X = RNG.normal(size=(3, 4))
WQ, WK, WV = (RNG.normal(size=(4, 4)) for _ in range(3))  # two heads of d_k = 2, or one of 4


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def by_hand(heads: int = 1, causal: bool = False) -> dict[str, np.ndarray]:
    """Every named array of X, W_Q, W_K, W_V (no W_O), per head, in numpy."""
    q, k, v = X @ WQ, X @ WK, X @ WV
    d = 4 // heads
    qk = np.stack([q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T for h in range(heads)])  # (H, n, n)
    scores = qk / np.sqrt(d)
    if causal:
        scores = np.where(np.tril(np.ones((3, 3), dtype=bool)), scores, -np.inf)
    weights = softmax(scores)
    per_head = np.stack([weights[h] @ v[:, h * d:(h + 1) * d] for h in range(heads)])
    one = (lambda a: a[0]) if heads == 1 else (lambda a: a)
    split = (lambda a: a) if heads == 1 else (lambda a: np.stack([a[:, h * d:(h + 1) * d] for h in range(heads)]))
    return {"x": X, "q": split(q), "k": split(k), "v": split(v), "qk": one(qk), "scores": one(scores),
            "weights": one(weights), "heads": per_head, "concat": np.concatenate(list(per_head), axis=1),
            "output": np.concatenate(list(per_head), axis=1)}


def problem(tmp_path: Path, what: str = "weights", heads: int = 1, causal: bool = False, decimals: int | None = None,
            extra: str = "") -> Path:
    for name, a in (("x", X), ("wq", WQ), ("wk", WK), ("wv", WV)):
        np.save(tmp_path / f"{name}.npy", a)
    text = ('[inputs]\nx = "x.npy"\nwq = "wq.npy"\nwk = "wk.npy"\nwv = "wv.npy"\n'
            f"[options]\nheads = {heads}\ncausal = {str(causal).lower()}\n{extra}"
            f'[check]\nwhat = "{what}"\n' + (f"decimals = {decimals}\n" if decimals is not None else ""))
    path = tmp_path / f"problem_{what}.toml"
    path.write_text(text)
    return path


def shown(tmp_path: Path, *args: str) -> dict[str, np.ndarray]:
    out = json.loads(run(["compute", *args, "--format", "json"], cwd=tmp_path).stdout)
    return {k: np.array(v, dtype=float) for k, v in out.items() if k != "meta"}


def check(tmp_path: Path, answer: np.ndarray, prob: Path, *args: str, name: str = "answer") -> dict:
    np.save(tmp_path / f"{name}.npy", answer)
    proc = run(["check", tmp_path / f"{name}.npy", prob, "--format", "json", *args], check=False)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return json.loads(proc.stdout)["answers"][0]


# ---- compute --show: every name, qk from Q and K ---------------------------------------------------------------

@pytest.mark.parametrize("heads", [1, 2])
def test_compute_shows_every_name(tmp_path, heads):
    got = shown(tmp_path, problem(tmp_path, heads=heads), "--show", ",".join(NAMES))
    want = by_hand(heads)
    assert list(got) == list(NAMES)
    for name in NAMES:
        np.testing.assert_allclose(got[name], want[name], atol=1e-12, err_msg=name)


def test_show_qk_is_before_scaling_and_masks(tmp_path):
    got = shown(tmp_path, problem(tmp_path, causal=True), "--show", "qk,scores")
    q, k = X @ WQ, X @ WK
    np.testing.assert_allclose(got["qk"], q @ k.T, atol=1e-12)  # no −∞: qk is before the masks
    assert np.isfinite(got["qk"]).all() and not np.isfinite(got["scores"]).all()


def test_show_qk_of_other_score_functions_and_layouts(tmp_path):
    x = "1 0 1; 0 2 1; 1 1 0"
    xs = np.array([[1.0, 0, 1], [0, 2, 1], [1, 1, 0]])
    w = np.array([[1.0, 0, 2], [0, 1, 0], [1, 0, 1]])
    general = shown(tmp_path, "--x", x, "--score", "general", "--w-score", "1 0 2; 0 1 0; 1 0 1", "--scale", "0.5",
                    "--show", "qk,scores")
    np.testing.assert_allclose(general["qk"], xs @ w @ xs.T, atol=1e-12)  # Q·W·Kᵀ, before the scale
    np.testing.assert_allclose(general["scores"], 0.5 * xs @ w @ xs.T, atol=1e-12)
    unit = xs / np.linalg.norm(xs, axis=1, keepdims=True)
    cosine = shown(tmp_path, "--x", x, "--score", "cosine", "--scale", "10", "--show", "qk")
    np.testing.assert_allclose(cosine["qk"], unit @ unit.T, atol=1e-12)
    cols = shown(tmp_path, "--x", x, "--layout", "cols", "--show", "qk,x")  # tokens are columns: qk_ji = k_j·q_i
    np.testing.assert_allclose(cols["qk"], xs.T @ xs, atol=1e-12)
    np.testing.assert_allclose(cols["x"], xs, atol=0)


def test_show_qk_with_grouped_query_heads(tmp_path):
    q = RNG.normal(size=(4, 3, 2))  # 4 query heads
    k = RNG.normal(size=(2, 3, 2))  # 2 kv heads: query heads 0, 1 share key head 0
    np.save(tmp_path / "q.npy", q)
    np.save(tmp_path / "k.npy", k)
    got = shown(tmp_path, "--q", "q.npy", "--k", "k.npy", "--v", "k.npy", "--kv-heads", "2", "--show", "qk")
    np.testing.assert_allclose(got["qk"], np.stack([q[h] @ k[h // 2].T for h in range(4)]), atol=1e-12)


def test_show_x_is_the_tokens_after_positions_and_needs_tokens(tmp_path):
    n, d = 3, 4
    pos, i = np.arange(n)[:, None], np.arange(0, d, 2)[None, :]
    pe = np.zeros((n, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos / 10000 ** (i / d)), np.cos(pos / 10000 ** (i / d))
    np.save(tmp_path / "x.npy", X)
    got = shown(tmp_path, "--x", "x.npy", "--pe", "sinusoidal", "--show", "x")
    np.testing.assert_allclose(got["x"], X + pe, atol=1e-12)
    err = run_error(["compute", "--q", "1 0; 0 1", "--k", "1 0; 0 1", "--v", "1 0; 0 1", "--show", "x"])
    assert "no tokens" in err and "--q" in err
    every = shown(tmp_path, "--q", "1 0; 0 1", "--k", "1 0; 0 1", "--v", "1 0; 0 1", "--show", "all")
    assert list(every) == [n for n in NAMES if n != "x"]  # all: every array the problem has


def test_show_qk_refused_when_it_would_not_fit(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((1500, 4), dtype=np.float32))
    env = dict(os.environ, ATTNCLI_MEMORY_LIMIT="4M")  # one 1500 × 1500 float32 map is 9 MB
    proc = run(["compute", "--x", tmp_path / "x.npy", "--show", "qk", "-o", tmp_path / "qk.npy"], check=False,
               env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: qk (Q·Kᵀ") and err.count("\n") == 1, err
    assert not (tmp_path / "qk.npy").exists()


# ---- check --what: every name, from the command line and from a problem file ------------------------------------

def test_check_what_qk_passes_qk(tmp_path):
    q, k = X @ WQ, X @ WK
    row = check(tmp_path, q @ k.T, problem(tmp_path, "qk"))  # [check] what = "qk" in the file
    assert row["pass"] and row["what"] == "qk", row
    row = check(tmp_path, q @ k.T / 2, problem(tmp_path, "weights"), "--what", "qk")  # the scores: the step after
    assert not row["pass"] and row["diagnosis"] == ["scores-for-qk"], row
    assert "the step after qk" in row["diagnosis_text"] and "divide by √d_k (= √4)" in row["diagnosis_text"]


def test_unknown_name_in_a_problem_file_is_refused_naming_the_names(tmp_path):
    err = run_error(["check", "1 2", problem(tmp_path, "QK")])
    assert "'QK'" in err and ", ".join(NAMES) in err


@pytest.mark.parametrize("what", ["x", "concat", "heads"])
def test_check_what_each_other_name_passes_its_array(tmp_path, what):
    want = by_hand(2)[what]
    assert check(tmp_path, want, problem(tmp_path, what, heads=2))["pass"]


# ---- diagnoses that name the neighbouring step ------------------------------------------------------------------

def test_qk_given_for_the_scores_is_named_qk_with_the_fix(tmp_path):
    q, k = X @ WQ, X @ WK
    row = check(tmp_path, q @ k.T, problem(tmp_path, "scores", heads=2), "--what", "scores")
    assert not row["pass"]  # two heads: d_k = 2 — the answer is both heads' Q·Kᵀ
    q2 = np.stack([q[:, h * 2:(h + 1) * 2] @ k[:, h * 2:(h + 1) * 2].T for h in range(2)])
    row = check(tmp_path, q2, problem(tmp_path, "scores", heads=2))
    assert row["diagnosis"] == ["no-scaling"], row
    assert row["diagnosis_text"] == ("matches qk = Q·Kᵀ, the step before the scores: 1/√d_k was left out; divide by "
                                     "√d_k (= √2)")
    masked = check(tmp_path, q @ k.T, problem(tmp_path, "scores", causal=True))  # qk: before the masks too
    assert masked["diagnosis"] == ["qk-for-scores"], masked
    assert masked["diagnosis_text"] == ("matches qk = Q·Kᵀ, the step before the scores: divide by √d_k (= √4), "
                                        "then set the masked cells to −∞ (causal)")


def test_the_scores_given_for_the_weights_are_named_the_scores(tmp_path):
    want = by_hand(1, causal=True)
    for scores in (want["scores"], np.where(np.isfinite(want["scores"]), want["scores"], 0)):  # −∞ or 0 masked
        row = check(tmp_path, scores, problem(tmp_path, "weights", causal=True))
        assert row["diagnosis"] == ["no-softmax"], row
        assert row["diagnosis_text"].startswith("matches the scores S") and \
            "the step before the weights: the softmax was left out; apply it to each row" in row["diagnosis_text"]


def test_a_masked_score_given_as_zero_fails(tmp_path):
    """A finite answer is never within tolerance of an expected −∞ (rtol·∞ is ∞)."""
    scores = by_hand(1, causal=True)["scores"]
    row = check(tmp_path, np.where(np.isfinite(scores), scores, 0.0), problem(tmp_path, "scores", causal=True))
    assert not row["pass"] and row["cells_wrong"] == 3, row


@pytest.mark.parametrize(("given", "what", "phrase"), [
    ("weights", "scores", "matches the attention weights A, the step after the scores"),
    ("weights", "output", "matches the attention weights A, a step before the output: ·V was left out"),
    ("output", "weights", "matches the output, a step after the weights"),
    ("k", "q", "matches K (the keys K) where Q (the queries Q) was asked: Q = X·W_Q"),
    ("v", "k", "matches V (the values V) where K (the keys K) was asked"),
    ("heads", "concat", "the step before concat: put the heads side by side"),
    ("concat", "heads", "with the heads side by side"),
    ("heads", "output", "not concatenated into one n × H·d_v matrix"),
])
def test_neighbouring_steps_are_named(tmp_path, given, what, phrase):
    row = check(tmp_path, by_hand(2)[given], problem(tmp_path, what, heads=2))
    assert not row["pass"] and phrase in row["diagnosis_text"], row


# ---- answers in percent ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("decimals", [None, 0, 1, 2])
def test_weights_in_percent(tmp_path, decimals):
    w = by_hand()["weights"]
    answer = 100 * w if decimals is None else np.round(100 * w, decimals)
    path = tmp_path / "w.csv"
    path.write_text("\n".join(",".join(repr(float(v)) if decimals is None else f"{v:.{decimals}f}" for v in row)
                              for row in answer) + "\n")
    proc = run(["check", path, problem(tmp_path), "--format", "json"], check=False)
    row = json.loads(proc.stdout)["answers"][0]
    assert row["diagnosis"] == ["percent"], row
    first = f"{answer[0, 0]:.6g}"
    assert row["diagnosis_text"].startswith("matches the expected array × 100 (every value is 100 × the expected): "
                                            "give the attention weights as fractions (") and \
        f"not percentages ({first})" in row["diagnosis_text"], row


def test_a_mistake_in_percent_and_tiny_values_are_not_percent(tmp_path):
    q, k = X @ WQ, X @ WK
    row = check(tmp_path, 100 * softmax(q @ k.T), problem(tmp_path))  # 1/√d_k left out, and × 100
    assert row["diagnosis"] == ["no-scaling", "percent"], row
    assert "as percentages" in row["diagnosis_text"] and "1/√d_k was left out" in row["diagnosis_text"]
    tiny = np.full((2, 2), 0.001)
    np.save(tmp_path / "want.npy", tiny)
    proc = run(["check", "0 0; 0 0", "--expected", tmp_path / "want.npy", "--format", "json"], check=False)
    assert json.loads(proc.stdout)["answers"][0]["diagnosis"] == [], proc.stdout  # zeros are not 0.1 %


# ---- explain titles its steps with the names -------------------------------------------------------------------

def test_explain_titles_are_the_names(tmp_path):
    prob = problem(tmp_path, causal=True)
    steps = json.loads(run(["explain", prob, "--format", "json"]).stdout)["steps"]
    assert [s["key"] for s in steps] == ["x", "q", "k", "v", "s_scaled", "scale_sqrt", "masked", "a_softmax",
                                         "output_plain"]  # keys as before
    assert [s["title"] for s in steps] == ["x", "q", "k", "v", "qk", "scaled (towards scores)", "scores", "weights",
                                           "output"]
    assert [s["names"] for s in steps] == [["x"], ["q"], ["k"], ["v"], ["qk"], [], ["scores"], ["weights"],
                                           ["output"]]
    assert steps[5]["towards"] == "scores" and steps[4]["formula"] == "Q·Kᵀ"
    assert steps[5]["formula"] == "S ← qk / √d_k = qk / √4"
    q, k = X @ WQ, X @ WK
    np.testing.assert_allclose(steps[4]["matrices"][0]["values"], q @ k.T, atol=1e-12)  # qk is Q·Kᵀ
    table = run(["explain", prob]).stdout.decode()
    assert re.findall(r"Step \d+\. ([^:]+):", table) == [s["title"] for s in steps]
    md = run(["explain", prob, "--format", "markdown"]).stdout.decode()
    assert "### Step 5. qk\n" in md and "### Step 6. scaled (towards scores)\n" in md and "### Step 7. scores\n" in md
    tex = run(["explain", prob, "--format", "latex"]).stdout.decode()
    assert r"\paragraph{Step 5. qk} $Q K^\top$" in tex and r"\paragraph{Step 7. scores}" in tex
    assert r"S \leftarrow \mathrm{qk} / \sqrt{d_k}" in tex


def test_explain_without_scaling_calls_qk_the_scores():
    steps = json.loads(run(["explain", "--x", "1 0; 0 1", "--score", "dot", "--format", "json"]).stdout)["steps"]
    assert steps[4]["title"] == "qk = scores" and steps[4]["names"] == ["qk", "scores"]


def test_standalone_answer_for_qk(tmp_path):
    tex = run(["explain", problem(tmp_path, "qk"), "--standalone"]).stdout.decode()
    answer = tex.split(r"\paragraph{Answer.}", 1)[1]
    assert answer.startswith(" The products qk = Q$\\cdot$K$^{\\top}$ (step 5):"), answer[:80]
    q, k = X @ WQ, X @ WK
    got = np.array([[float(c) for c in row.split("&")] for row in
                    answer.split(r"\begin{bmatrix}")[1].split(r"\end{bmatrix}")[0].strip().split("\\\\")])
    np.testing.assert_allclose(got, q @ k.T, atol=5e-5)  # to the 4 decimals shown
    err = run_error(["explain", "--q", "1 0; 0 1", "--k", "1 0; 0 1", "--v", "1 0; 0 1", "--standalone", "--what", "x"])
    assert "no such step" in err


# ---- one list, everywhere ----------------------------------------------------------------------------------------

def _names_in(help_text: str) -> list[str]:
    """The names a help text lists as `name: formula`, in its order."""
    from attncli.vocabulary import FORMULA

    return re.findall(r"\b(\w+): (?:" + "|".join(map(re.escape, FORMULA.values())) + ")", help_text)


def test_help_texts_list_the_same_names_with_formulas():
    import typer

    from attncli.cli import load_commands
    from attncli.vocabulary import FORMULA

    commands = typer.main.get_command(load_commands()).commands  # type: ignore[attr-defined]
    helps = {f"{cmd} {opt}": next(p.help for p in commands[cmd].params if p.opts[0] == opt)
             for cmd, opt in (("compute", "--show"), ("check", "--what"), ("explain", "--what"))}
    for where, text in helps.items():
        assert _names_in(text) == list(NAMES), where
        assert all(f"{n}: {FORMULA[n]}" in text for n in NAMES), where
    shown = run(["check", "--help"], env=dict(os.environ, COLUMNS="400")).stdout.decode()
    assert all(f"{n}: {FORMULA[n]}" in shown for n in NAMES)  # what --help prints


def test_the_readme_table_and_the_template_list_the_same_names():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("### The steps' names", 1)[1].split("```", 1)[0]
    rows = re.findall(r"^\| (`[^|]+`) \|", table, re.M)
    assert [n for row in rows for n in re.findall(r"`(\w+)`", row)] == list(NAMES)
    template = run(["init", "-"]).stdout.decode()
    assert re.search(r'^what = "weights" +# ' + re.escape(" | ".join(NAMES)) + " ", template, re.M)
