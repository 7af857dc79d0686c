"""`attncli explain` as the worked solution a TA hands back (issue #14): LaTeX that compiles, and no step twice.

The LaTeX tests compile with `pdflatex -interaction=nonstopmode -halt-on-error` (Debian's texlive-latex-base)
when it is installed; without it they check what they can (the LaTeX is ASCII, which plain pdflatex needs, with
balanced environments) and then say they skipped the compiling (under ATTNCLI_CI=1 they fail: external_tools).
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from external_tools import require

ROOT = Path(__file__).resolve().parents[1]
X = "1 0 1 0; 0 2 0 2; 1 1 1 1"


def compile_tex(tmp_path: Path, tex: str, name: str = "doc") -> None:
    """Compile `tex` into a PDF with pdflatex (or skip, saying so: external_tools.require)."""
    pdflatex = require("pdflatex")
    (tmp_path / f"{name}.tex").write_text(tex, encoding="ascii")
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                          capture_output=True, timeout=120)
    log = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def latex(args: list, *, cwd: Path | None = None) -> str:
    tex = run(["explain", *args, "--format", "latex"], cwd=cwd).stdout.decode()
    assert tex.isascii(), sorted({c for c in tex if not c.isascii()})
    assert tex.count(r"\begin{bmatrix}") == tex.count(r"\end{bmatrix}") > 0
    return tex


def generated(tmp_path: Path, name: str, *options: str) -> Path:
    run(["init", "--random", "--seed", "3", *options, tmp_path / name])
    return tmp_path / name


def wrap(fragments: list[str]) -> str:
    """Fragments (no --standalone) in the smallest document they need: article and amsmath."""
    return "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + "\n".join(fragments) + \
        "\n\\end{document}\n"


# ---- the worked solution of generated problems --------------------------------------------------------

STANDALONE = {
    "one_head": [],
    "two_heads_wo_causal": ["--heads", "2", "--causal", "--what", "output"],
    "sixteen_tokens": ["--tokens", "16", "--d-model", "8", "--heads", "4", "--d-k", "1"],
}


@pytest.mark.parametrize("name", list(STANDALONE))
def test_standalone_worked_solution_is_a_document(tmp_path, name):
    problem = generated(tmp_path, f"{name}.toml", *STANDALONE[name])
    tex = latex([problem, "--standalone"])
    assert tex.startswith("\\documentclass{article}\n\\usepackage{amsmath}\n")
    escaped = name.replace("_", "\\_")
    assert tex.rstrip().endswith("\\end{document}") and f"\\title{{Worked solution: {escaped}.toml}}" in tex
    if "--causal" in STANDALONE[name]:
        assert r"-\infty" in tex  # the masked scores
    if name == "sixteen_tokens":
        assert r"\setcounter{MaxMatrixCols}{16}" in tex  # amsmath stops at 10 columns otherwise
    compile_tex(tmp_path, tex)


def test_standalone_by_file_extension_and_refused_without_latex(tmp_path):
    problem = generated(tmp_path, "p.toml")
    run(["explain", problem, "--standalone", "-o", tmp_path / "solution.tex"])
    assert (tmp_path / "solution.tex").read_text().startswith("\\documentclass{article}")
    err = run_error(["explain", problem, "--standalone", "--format", "markdown"])
    assert "--standalone makes a LaTeX document" in err
    assert run(["explain", problem, "--standalone"]).stdout.startswith(b"\\documentclass{article}")  # implied


# ---- every kind of step, layout and symbol compiles -----------------------------------------------------

VARIANTS = [
    ["--x", X, "--layout", "cols", "--score", "dot"],
    ["--x", X, "--layout", "cols", "--causal"],
    ["--x", X, "--causal"],  # −∞ in the masked scores
    ["--x", X, "--window", "1", "--normalize", "softmax1"],
    ["--x", X, "--heads", "2", "--wo", "1 0 0 1; 0 1 1 0; 1 1 0 0; 0 0 1 1"],
    ["--x", "samples/padded_batch/x.json", "--key-lens", "4,2", "--heads", "3"],  # batch 0 · head 1 captions
    ["--x", X, "--softcap", "2", "--temperature", "0.5", "--alibi"],
    ["--x", X, "--rope", "--pe", "sinusoidal"],
    ["--x", X, "--normalize", "sparsemax", "--score", "cosine"],
    ["--x", X, "--normalize", "sigmoid", "--bias", "[[0, -1, 0], [0, 0, 0], [1, 0, 0]]"],
    ["--x", X, "--normalize", "relu", "--score", "general", "--w-score", "1 0 0 1; 0 1 0 0; 0 0 1 0; 1 0 0 1"],
    ["--x", X, "--score", "additive", "--wa-q", "1 0; 0 1; 1 1; 0 0", "--wa-k", "1 1; 0 1; 1 0; 0 0",
     "--va", "1 -1"],
    ["--x", X, "--score", "location", "--w-score", "1 0 1; 0 1 0; 1 1 0; 0 0 1", "--normalize", "none"],
    ["--x", X, "--x-kv", "1 0 0 1; 0 1 1 0", "--wq", "1 0; 0 1; 1 1; 0 0", "--wk", "1 0; 0 1; 1 1; 0 0",
     "--wv", "1 0; 0 1; 1 1; 0 0", "--bq", "1 0"],
    ["--text", "猫爱吃鱼", "--tokenizer", "chars", "--embeddings", "samples/text/embeddings.txt", "--layout", "cols"],
    ["--x", "samples/self_attention/x.csv", "--mask", "[[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]"],
]


def test_every_variant_is_ascii_and_compiles(tmp_path):
    fragments = []
    for args in VARIANTS:
        tex = latex(args, cwd=ROOT)
        assert tex.startswith("% attncli explain")
        fragments.append(tex)
    assert any(r"-\infty" in t for t in fragments) and any(r"\text{batch 0 $\cdot$ head 1}" in t for t in fragments)
    compile_tex(tmp_path, wrap(fragments))


def test_wide_and_cut_matrices_compile(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x12.npy", rng.normal(size=(12, 3)))
    np.save(tmp_path / "x50.npy", rng.normal(size=(50, 3)))
    wide = latex(["--x", tmp_path / "x12.npy", "--causal"])
    assert r"\setcounter{MaxMatrixCols}{12}" in wide  # a fragment raises amsmath's limit itself
    cut = latex(["--x", tmp_path / "x50.npy"])
    assert r"\cdots" in cut and r"\ddots" in cut and r"\emph{showing" in cut
    compile_tex(tmp_path, wrap([wide, cut]))
    standalone = latex(["--x", tmp_path / "x50.npy", "--standalone"])
    compile_tex(tmp_path, standalone, "standalone")


def test_text_in_latex_is_escaped_and_ascii():
    from attncli.render.explain_latex import tex_math, tex_text

    assert tex_text("batch 0 · head 1") == r"batch 0 $\cdot$ head 1"
    assert tex_text("50% of a_b & {c} #1 ~ ^ \\ $") == \
        r"50\% of a\_b \& \{c\} \#1 \~{} \^{} \textbackslash{} \$"
    assert tex_text("Müller 猫 √d_k ← −∞ Kᵀ A′") == \
        r"Muller ? $\surd$d\_k $\leftarrow$ $-$$\infty$ K$^{\top}$ A$'$"
    assert tex_math("S ← S / √2") == r"S \leftarrow  S / \surd 2"
    assert all(tex_text(chr(c)).isascii() for c in range(0x20, 0x3000))


def test_the_title_of_a_problem_with_any_name_compiles(tmp_path):
    problem = generated(tmp_path, "Müller_50%_#1 猫.toml")
    tex = latex([problem, "--standalone"])
    assert r"\title{Worked solution: Muller\_50\%\_\#1 ?.toml}" in tex
    compile_tex(tmp_path, tex)


# ---- one head: no step twice ------------------------------------------------------------------------------

def steps_of(args: list) -> list[dict]:
    return json.loads(run(["explain", *args, "--format", "json"], cwd=ROOT).stdout)["steps"]


def assert_no_repeats(steps: list[dict]) -> None:
    """No step after the inputs shows the same matrices as another (Q = X, K = X, V = X without projections
    are the inputs restated, each with its own formula)."""
    later = [s for s in steps if s["key"] not in ("x", "q_x", "k_x", "v_x")]
    for i, a in enumerate(later):
        for b in later[i + 1:]:
            same = [np.array(m["values"], float) for m in a["matrices"]]
            other = [np.array(m["values"], float) for m in b["matrices"]]
            if [m.shape for m in same] == [m.shape for m in other]:
                assert not all(np.array_equal(p, q) for p, q in zip(same, other, strict=True)), \
                    (a["key"], b["key"])


def test_one_head_shows_its_output_once(tmp_path):
    problem = generated(tmp_path, "p.toml")
    steps = steps_of([problem])
    keys = [s["key"] for s in steps]
    assert keys == ["x", "q", "k", "v", "s_scaled", "scale_sqrt", "a_softmax", "output_plain"]
    assert [s["step"] for s in steps] == list(range(1, 9))
    assert steps[-1]["formula"] == "O = A·V" and steps[-1]["latex"] == "O = A V"
    assert_no_repeats(steps)
    # the output is A·V, computed here from the file
    doc = tomllib.loads(problem.read_text())
    x = np.array(doc["inputs"]["x"], float)
    wq, wk, wv = (np.array(doc["projections"][k], float) for k in ("wq", "wk", "wv"))
    s = (x @ wq) @ (x @ wk).T / np.sqrt(wq.shape[1])
    a = np.exp(s - s.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    np.testing.assert_allclose(steps[-1]["matrices"][0]["values"], a @ (x @ wv), atol=1e-12)
    table = run(["explain", problem]).stdout.decode()
    assert table.count("Step ") == 8 and "head output" not in table


def test_one_head_in_the_lecture_layout_shows_its_output_once():
    wq, wk, wv = "1 0 0 1; 0 1 1 0", "1 1 0 0; 0 0 1 1", "1 0 1 0; 0 1 1 1"  # d_k × d_model: Q = W_q·I
    steps = steps_of(["--x", "1 0 1; 0 2 1; 1 1 0; 0 1 1", "--layout", "cols", "--wq", wq, "--wk", wk, "--wv", wv])
    assert [s["key"] for s in steps][-2:] == ["a_softmax", "output_plain"] and steps[-1]["formula"] == "O = V·A′"
    assert_no_repeats(steps)
    i = np.array([[1, 0, 1], [0, 2, 1], [1, 1, 0], [0, 1, 1]], float)  # d_model × n: tokens are columns
    q, k, v = (np.array([[int(c) for c in r.split()] for r in w.split(";")], float) @ i for w in (wq, wk, wv))
    a = k.T @ q / np.sqrt(2)  # A_ji = k_j·q_i / √d_k
    a = np.exp(a - a.max(0))
    a /= a.sum(0)  # down each column
    np.testing.assert_allclose(steps[-1]["matrices"][0]["values"], v @ a, atol=1e-12)


def test_several_heads_keep_each_heads_output():
    keys = [s["key"] for s in steps_of(["--x", X, "--heads", "2"])]
    assert keys[-2:] == ["head", "output_concat"]
    steps = steps_of(["--x", X, "--heads", "2", "--wo", "1 0 0 1; 0 1 1 0; 1 1 0 0; 0 0 1 1"])
    assert [s["key"] for s in steps][-3:] == ["head", "concat", "output"]
    assert_no_repeats(steps)
    one_head_wo = steps_of(["--x", X, "--wo", "1 0 0 1; 0 1 1 0; 1 1 0 0; 0 0 1 1"])
    assert [s["key"] for s in one_head_wo][-2:] == ["head", "output"]  # A·V, then ·W_O: two different steps
    assert_no_repeats(one_head_wo)


# ---- the answer at the end of the worked solution ----------------------------------------------------------

def bmatrices(tex: str) -> list[np.ndarray]:
    import re

    found = re.findall(r"\\begin\{bmatrix\}\n(.*?)\n\\end\{bmatrix\}", tex, re.S)
    return [np.array([[float(c) for c in row.split("&")] for row in m.split("\\\\")]) for m in found]


def test_standalone_ends_with_the_answer_the_problem_asks_for(tmp_path):
    problem = generated(tmp_path, "p.toml", "--heads", "2", "--decimals", "1")
    doc = tomllib.loads(problem.read_text())
    x = np.array(doc["inputs"]["x"], float)
    wq, wk = (np.array(doc["projections"][k], float) for k in ("wq", "wk"))
    tex = latex([problem, "--standalone"])
    answer = tex.split(r"\paragraph{Answer.}", 1)[1]
    assert answer.startswith(" The attention weights (step 7), rounded to 1 decimal:")
    for h, got in enumerate(bmatrices(answer)):  # [check] what = "weights", decimals = 1: each head's A, to 0.1
        q, k = x @ wq[:, 2 * h:2 * h + 2], x @ wk[:, 2 * h:2 * h + 2]
        s = q @ k.T / np.sqrt(2)
        a = np.exp(s - s.max(1, keepdims=True))
        np.testing.assert_array_equal(got, np.round(a / a.sum(1, keepdims=True), 1))
    assert len(bmatrices(answer)) == 2
    out = latex([problem, "--standalone", "--what", "output", "--decimals", "3"])
    assert "The output (step 10), rounded to 3 decimals:" in out
    assert r"\paragraph{Answer.}" not in latex([problem])  # a fragment is the steps alone
    refused = run_error(["explain", problem, "--standalone", "--what", "A"])
    assert "explain --what takes x, q, k, v, qk, scores, weights, heads, concat, output" in refused
    compile_tex(tmp_path, tex)
