"""`attncli explain` of many problems: one booklet (LaTeX, Markdown, a table, JSON) or a folder of solutions.

What the booklet must hold is computed here two other ways: from single-problem runs (each section is what
`explain ONE.toml` gives) and, for the answers, from the problem files themselves with a few lines of numpy
written for the test. The LaTeX compiles with pdflatex when it is installed (texlive-latex-base), as in
tests/test_explain_latex.py; without it those checks are skipped and say so (under ATTNCLI_CI=1 they fail).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import interrupt, run, run_capped, run_error
from external_tools import require

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = ROOT / "samples" / "homework" / "problems"
PROBLEMS = sorted(HOMEWORK.glob("*.toml"))


def pdflatex(folder: Path, name: str) -> str:
    """Compile NAME.tex in `folder` twice (the second run fills the table of contents); the last log. Without
    pdflatex the test skips here, saying so (external_tools.require)."""
    program = require("pdflatex")
    log = ""
    for _ in range(2):
        proc = subprocess.run([program, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                              capture_output=True, timeout=120)
        log = proc.stdout.decode(errors="replace")
        assert proc.returncode == 0, log[-3000:]
    assert (folder / f"{name}.pdf").stat().st_size > 1000, log[-3000:]
    return log


def bmatrices(tex: str) -> list[np.ndarray]:
    found = re.findall(r"\\begin\{bmatrix\}\n(.*?)\n\\end\{bmatrix\}", tex, re.S)
    return [np.array([[float(c) for c in row.split("&")] for row in m.split("\\\\")]) for m in found]


def answer_of(tex: str) -> list[np.ndarray]:
    """The matrices of a worked solution's \\paragraph{Answer.} (the last paragraph)."""
    assert tex.count(r"\paragraph{Answer.}") == 1, tex[-2000:]
    return bmatrices(tex.split(r"\paragraph{Answer.}", 1)[1])


def weights_by_hand(problem: Path) -> tuple[np.ndarray, int]:
    """A = softmax(Q·Kᵀ/√d_k) of a one-head problem file, and the decimals its [check] asks for."""
    doc = tomllib.loads(problem.read_text())
    assert doc["options"]["heads"] == 1 and doc["check"]["what"] == "weights" and not doc["options"]["causal"]
    x = np.array(doc["inputs"]["x"], float)
    wq, wk = (np.array(doc["projections"][k], float) for k in ("wq", "wk"))
    s = (x @ wq) @ (x @ wk).T / np.sqrt(wq.shape[1])
    a = np.exp(s - s.max(1, keepdims=True))
    return a / a.sum(1, keepdims=True), doc["check"]["decimals"]


def single(problem: Path, *args: str) -> bytes:
    return run(["explain", problem, *args]).stdout


def sections(tex: str) -> list[str]:
    """The text of each \\section of a booklet, in order (up to the next one or the end of the document)."""
    return tex.split("\\section{")[1:]


# ---- one LaTeX booklet -----------------------------------------------------------------------------------------

def test_a_booklet_of_the_ten_sample_problems(tmp_path):
    assert len(PROBLEMS) == 10
    run(["explain", *PROBLEMS, "--standalone", "-o", tmp_path / "booklet.tex"])
    tex = (tmp_path / "booklet.tex").read_text(encoding="ascii")
    assert tex.startswith("\\documentclass{article}\n\\usepackage{amsmath}\n") and tex.endswith("\\end{document}\n")
    assert tex.count("\\documentclass") == 1 and tex.count("\\begin{document}") == 1
    assert "\\tableofcontents" in tex and tex.count("\\clearpage") >= 10
    parts = sections(tex)
    assert [p.split("}", 1)[0] for p in parts] == [p.name for p in PROBLEMS]
    for problem, part in zip(PROBLEMS, parts, strict=True):
        alone = single(problem, "--standalone").decode()
        # the same worked steps as the problem's own document: every step paragraph, word for word
        steps = re.findall(r"\\paragraph\{Step .*?(?=\\paragraph|\\end\{document\})", alone, re.S)
        assert len(steps) == 8 and all(step in part for step in steps), problem.name
        want, decimals = weights_by_hand(problem)
        assert f"rounded to {decimals} decimals" in part
        got = answer_of(part)
        assert len(got) == 1
        np.testing.assert_array_equal(got[0], np.round(want, decimals))
        np.testing.assert_array_equal(got[0], answer_of(alone)[0])
    log = pdflatex(tmp_path, "booklet")
    pages = int(re.search(r"Output written on booklet\.pdf \((\d+) pages?", log).group(1))
    assert pages >= 11  # the title and contents, then each problem on its own page(s)
    toc = (tmp_path / "booklet.toc").read_text()
    assert toc.count("\\contentsline {section}") == 10


def test_options_on_the_command_line_apply_to_every_problem(tmp_path):
    three = PROBLEMS[:3]
    tex = run(["explain", *three, "--standalone", "--causal", "--decimals", "3"]).stdout.decode()
    parts = sections(tex)
    assert len(parts) == 3
    for problem, part in zip(three, parts, strict=True):
        assert r"-\infty" in part and "rounded to 3 decimals" in part
        doc = tomllib.loads(problem.read_text())
        x = np.array(doc["inputs"]["x"], float)
        wq, wk = (np.array(doc["projections"][k], float) for k in ("wq", "wk"))
        s = (x @ wq) @ (x @ wk).T / np.sqrt(wq.shape[1])
        s = np.where(np.tril(np.ones_like(s)) > 0, s, -np.inf)
        a = np.exp(s - s.max(1, keepdims=True))
        np.testing.assert_array_equal(answer_of(part)[0], np.round(a / a.sum(1, keepdims=True), 3))


def test_a_fragment_of_several_problems_has_a_section_each():
    tex = run(["explain", *PROBLEMS[:2], "--format", "latex"]).stdout.decode()
    assert "\\documentclass" not in tex and r"\paragraph{Answer.}" not in tex
    parts = sections(tex)
    assert [p.split("}", 1)[0] for p in parts] == ["s001.toml", "s002.toml"]
    for problem, part in zip(PROBLEMS[:2], parts, strict=True):
        assert single(problem, "--format", "latex").decode() in part


def test_sections_of_problems_with_the_same_name_say_their_folder(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(PROBLEMS[0], tmp_path / d / "hw.toml")
    tex = run(["explain", "a/hw.toml", "b/hw.toml", "--standalone"], cwd=tmp_path).stdout.decode()
    assert [p.split("}", 1)[0] for p in sections(tex)] == ["a/hw.toml", "b/hw.toml"]


def test_a_booklet_of_problems_with_any_name_compiles(tmp_path):
    names = ["Müller_50%_#1 猫.toml", "a~b^c{d}.toml", "x<y>|z.toml"]
    for name in names:
        shutil.copy(PROBLEMS[0], tmp_path / name)
    run(["explain", *names, "--standalone", "-o", "booklet.tex"], cwd=tmp_path)
    tex = (tmp_path / "booklet.tex").read_text(encoding="ascii")
    assert r"\section{Muller\_50\%\_\#1 ?.toml}" in tex and r"\markright{a\~{}b\^{}c\{d\}.toml}" in tex
    pdflatex(tmp_path, "booklet")
    assert (tmp_path / "booklet.toc").read_text().count("\\contentsline {section}") == 3


# ---- other formats of several problems: one document ------------------------------------------------------------

def test_markdown_of_several_problems_is_one_document(tmp_path):
    run(["explain", *PROBLEMS[:3], "-o", tmp_path / "solutions.md"])
    md = (tmp_path / "solutions.md").read_text()
    assert re.findall(r"^## (.*)$", md, re.M) == ["s001.toml", "s002.toml", "s003.toml"]
    for problem, part in zip(PROBLEMS[:3], re.split(r"^## ", md, flags=re.M)[1:], strict=True):
        assert single(problem, "--format", "markdown").decode().strip() in part


def test_a_table_of_several_problems_has_a_rule_before_each(tmp_path):
    out = run(["explain", *PROBLEMS[:2]]).stdout.decode()
    rules = [line for line in out.splitlines() if "s00" in line]
    assert len(rules) == 2 and all("─" in r for r in rules) and "s001.toml" in rules[0] and "s002.toml" in rules[1]
    first, second = out.split(rules[1])
    assert single(PROBLEMS[0]).decode().strip() in first and single(PROBLEMS[1]).decode().strip() in second
    run(["explain", *PROBLEMS[:2], "-o", tmp_path / "steps.txt"])
    assert (tmp_path / "steps.txt").read_text() == out


def test_json_of_several_problems_is_one_strict_object(tmp_path):
    def strict(text: str):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))

    paths = [str(p) for p in PROBLEMS[:3]]
    doc = strict(run(["explain", *paths, "--format", "json"]).stdout.decode())
    assert list(doc) == ["problems"] and [p["problem"] for p in doc["problems"]] == paths
    for path, got in zip(paths, doc["problems"], strict=True):
        alone = strict(single(Path(path), "--format", "json").decode())
        assert got == {"problem": path, **alone}
        want, _ = weights_by_hand(Path(path))
        weights = next(s for s in got["steps"] if s["key"] == "a_softmax")
        np.testing.assert_allclose(weights["matrices"][0]["values"], want, atol=1e-12)
    run(["explain", *paths, "-o", tmp_path / "steps.json"])
    assert strict((tmp_path / "steps.json").read_text()) == doc


def test_pictures_of_several_problems_go_to_a_folder(tmp_path):
    err = run_error(["explain", *PROBLEMS[:2], "--format", "html", "-o", tmp_path / "maps.html"])
    assert "one picture per problem" in err and "-o" in err and "/" in err
    assert not (tmp_path / "maps.html").exists()
    assert "one picture per problem" in run_error(["explain", *PROBLEMS[:2], "--format", "heatmap"])
    run(["explain", *PROBLEMS[:2], "--format", "html", "-o", f"{tmp_path}/maps/"])
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["s001.html", "s002.html"]
    for problem in PROBLEMS[:2]:
        run(["explain", problem, "--format", "html", "-o", tmp_path / "one.html"])
        assert (tmp_path / "maps" / f"{problem.stem}.html").read_bytes() == (tmp_path / "one.html").read_bytes()


# ---- a folder of solutions ------------------------------------------------------------------------------------------

def test_a_folder_of_ten_solutions_equal_to_ten_single_runs(tmp_path):
    run(["explain", *PROBLEMS, "--standalone", "-o", f"{tmp_path}/solutions/"])
    written = sorted(p.name for p in (tmp_path / "solutions").iterdir())
    assert written == [f"{p.stem}.tex" for p in PROBLEMS]  # and no temporary file left behind
    for problem in PROBLEMS:
        run(["explain", problem, "--standalone", "-o", tmp_path / "single.tex"])
        assert (tmp_path / "solutions" / f"{problem.stem}.tex").read_bytes() == (tmp_path / "single.tex").read_bytes()
    pdflatex(tmp_path / "solutions", "s007")


@pytest.mark.parametrize(("args", "ext"), [([], "txt"), (["--format", "markdown"], "md"),
                                           (["--format", "json"], "json"), (["--format", "latex"], "tex")])
def test_an_existing_folder_gets_a_file_per_problem_in_the_format(tmp_path, args, ext):
    (tmp_path / "out").mkdir()
    run(["explain", *PROBLEMS[:2], *args, "-o", tmp_path / "out"])  # no trailing slash: it is a folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"s001.{ext}", f"s002.{ext}"]
    for problem in PROBLEMS[:2]:
        run(["explain", problem, *args, "-o", tmp_path / f"one.{ext}"])
        assert (tmp_path / "out" / f"{problem.stem}.{ext}").read_bytes() == (tmp_path / f"one.{ext}").read_bytes()


def test_one_problem_into_a_folder(tmp_path):
    run(["explain", PROBLEMS[1], "--standalone", "-o", f"{tmp_path}/sol/"])
    assert [p.name for p in (tmp_path / "sol").iterdir()] == ["s002.tex"]
    err = run_error(["explain", "--x", "1 0; 0 1", "-o", f"{tmp_path}/sol/"])
    assert "folder" in err and "PROBLEM" in err


def test_two_problems_that_would_write_one_file_are_refused(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(PROBLEMS[0], tmp_path / d / "hw.toml")
    err = run_error(["explain", "a/hw.toml", "b/hw.toml", "--standalone", "-o", "out/"], cwd=tmp_path)
    assert "a/hw.toml" in err and "b/hw.toml" in err and "hw.tex" in err
    assert not (tmp_path / "out").exists()
    err = run_error(["explain", PROBLEMS[0], PROBLEMS[0], "--standalone", "-o", tmp_path / "b.tex"])
    assert "twice" in err and not (tmp_path / "b.tex").exists()


# ---- errors: named, and nothing written ---------------------------------------------------------------------------

def broken_class(tmp_path: Path) -> list[Path]:
    """Four problems, the third of which cannot be computed (X has 4 columns, W_Q 5 rows)."""
    folder = tmp_path / "problems"
    folder.mkdir()
    for p in PROBLEMS[:4]:
        shutil.copy(p, folder / p.name)
    bad = folder / PROBLEMS[2].name
    bad.write_text(bad.read_text().replace("wq = [[", "wq = [[0, 0], [", 1))
    return sorted(folder.glob("*.toml"))


def test_an_error_in_one_problem_names_it_and_writes_nothing(tmp_path):
    problems = broken_class(tmp_path)
    (tmp_path / "booklet.tex").write_text("the old booklet")
    err = run_error(["explain", *problems, "--standalone", "-o", tmp_path / "booklet.tex"])
    assert "problem 3 of 4" in err and "s003.toml" in err
    assert (tmp_path / "booklet.tex").read_text() == "the old booklet"  # not clobbered
    assert sorted(p.name for p in tmp_path.iterdir()) == ["booklet.tex", "problems"]  # no temporary file
    proc = run(["explain", *problems, "--format", "json"], check=False)
    assert proc.returncode == 2 and proc.stdout == b""  # standard output too: all or nothing
    assert "problem 3 of 4" in proc.stderr.decode()


def test_an_error_in_folder_mode_leaves_the_folder_as_it_was(tmp_path):
    problems = broken_class(tmp_path)
    run_error(["explain", *problems, "--standalone", "-o", f"{tmp_path}/new/"])
    assert not (tmp_path / "new").exists()  # made for the run, removed with it
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "s001.tex").write_text("last week's")
    err = run_error(["explain", *problems, "--standalone", "-o", tmp_path / "old"])
    assert "problem 3 of 4" in err
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["s001.tex"]
    assert (tmp_path / "old" / "s001.tex").read_text() == "last week's"


def test_a_nested_folder_made_for_a_failed_run_is_removed_and_a_file_in_the_way_refused(tmp_path):
    problems = broken_class(tmp_path)
    assert "problem 3 of 4" in run_error(["explain", *problems, "-o", f"{tmp_path}/made/for/it/"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["problems"]
    (tmp_path / "notes").write_text("a file")
    for target in ("notes/", "notes/solutions/"):
        err = run_error(["explain", *problems, "-o", f"{tmp_path}/{target}"])
        assert "a file" in err and "problem" not in err.split(":")[0]  # refused before any problem is computed
    err = run_error(["explain", *problems[:2], "-o", tmp_path / "solutions"])
    assert f"-o {tmp_path}/solutions/" in err  # no extension and no folder: a file name, or a folder with /


def long_class(tmp_path: Path, count: int = 30, tokens: int = 800) -> list[str]:
    """`count` problems of `tokens` random tokens (X only, causal), in tmp_path: p00.toml, p01.toml, ..."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(count):
        np.save(tmp_path / f"x{i:02d}.npy", rng.normal(size=(tokens, 4)))
        (tmp_path / f"p{i:02d}.toml").write_text(f'x = "x{i:02d}.npy"\ncausal = true\n')
        names.append(str(tmp_path / f"p{i:02d}.toml"))
    return names


def test_ctrl_c_while_a_folder_is_written_leaves_nothing(tmp_path):
    names = long_class(tmp_path, count=60)
    out = tmp_path / "solutions"
    err = interrupt(["explain", *names, "--standalone", "-o", f"{out}/"],
                    lambda pid: out.is_dir() and any(out.glob(".*.tmp")))
    if err is None:
        pytest.skip("the run finished before Ctrl-C could be sent")
    assert not out.exists()  # every temporary file removed, and the folder made for the run


def test_a_roster_among_the_problems_is_refused_by_name(tmp_path):
    err = run_error(["explain", *sorted(HOMEWORK.iterdir()), "--standalone", "-o", tmp_path / "b.tex"])
    assert "roster.csv" in err and "*.toml" in err
    assert not (tmp_path / "b.tex").exists()


def test_a_layout_that_contradicts_a_problem_is_the_single_file_error():
    one = run_error(["explain", PROBLEMS[0], "--layout", "cols"])
    many = run_error(["explain", *PROBLEMS[:3], "--layout", "cols"])
    assert "conflicts with PROBLEM" in one
    assert one.removeprefix("error: ") in many and "problem 1 of 3" in many


def test_a_booklet_never_overwrites_an_input_a_later_problem_reads(tmp_path):
    np.savetxt(tmp_path / "x.csv", np.eye(3), delimiter=",")
    (tmp_path / "p1.toml").write_text(HOMEWORK.joinpath("s001.toml").read_text())
    (tmp_path / "p2.toml").write_text('x = "x.csv"\n')
    before = (tmp_path / "x.csv").read_bytes()
    err = run_error(["explain", "p1.toml", "p2.toml", "--format", "table", "-o", "x.csv"], cwd=tmp_path)
    assert "input" in err
    assert (tmp_path / "x.csv").read_bytes() == before


def test_a_document_setting_in_one_problem_file_is_not_ignored(tmp_path):
    for p in PROBLEMS[:2]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "s002.toml").write_text((tmp_path / "s002.toml").read_text() + '\n[output]\nformat = "markdown"\n')
    err = run_error(["explain", "s001.toml", "s002.toml", "--standalone"], cwd=tmp_path)
    assert "s002.toml" in err and "format" in err


# ---- memory: one problem's steps at a time -------------------------------------------------------------------------

def test_a_long_booklet_holds_one_problems_steps_at_a_time(tmp_path):
    """30 problems of 800 tokens: each trace holds ~20 MB of 800 × 800 maps, 600 MB for all 30 at once. One
    problem runs in ~180 MiB of address space; under a 300 MiB cap the booklet of 30 is written, so the steps of
    each problem are let go before the next (holding them fails by the 7th problem)."""
    names = long_class(tmp_path)
    proc = run_capped(["explain", *names, "--standalone", "-o", "booklet.tex"], limit_mb=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert (tmp_path / "booklet.tex").read_text().count("\\section{") == 30
