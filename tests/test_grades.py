"""Grades from `attncli check`: --format json, --points/--credit, --problems, and the reports courses load.

The Gradescope and PrairieLearn files are validated against the fields those formats document:
- Gradescope, "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/): top-level
  `score` (overrides the tests' total), `output`, `visibility`, `stdout_visibility`, `extra_data`, `tests[]`
  with `score`, `max_score`, `status` (passed|failed), `name`, `number`, `output`, `tags`, `visibility`
  (hidden|after_due_date|after_published|visible), `extra_data`.
- PrairieLearn, "External Grading: Grading results" (prairielearn.readthedocs.io/en/latest/externalGrading/):
  `score` in [0.0, 1.0] (mandatory when gradable), `gradable` (false: invalid input, no attempt lost, with
  `format_errors` a string or a list of strings), `message`, `output`, `images`, `tests[]` with `name`,
  `description`, `points`, `max_points`, `message`, `output`, `images`; the file is at most 1 MB.
Expected values (which cells are wrong, the credit) come from a numpy reference written here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from results_schema import validate_gradescope, validate_prairielearn

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "self_attention"


# ---- a small problem and a reference written for the test ---------------------------------------------------

X = np.array([[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]], dtype=float)
WQ = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]], dtype=float)
WK = np.array([[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]], dtype=float)
WV = np.array([[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]], dtype=float)


def weights(x=X, scale=None) -> np.ndarray:
    q, k = x @ WQ, x @ WK
    s = q @ k.T * (1 / math.sqrt(k.shape[1]) if scale is None else scale)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def toml_matrix(a: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in a) + "]"


def write_problem(path: Path, x=X, extra: str = "") -> Path:
    path.write_text(f"[inputs]\nx = {toml_matrix(x)}\nwq = {toml_matrix(WQ)}\nwk = {toml_matrix(WK)}\n"
                    f"wv = {toml_matrix(WV)}\n[check]\nwhat = \"weights\"\n{extra}")
    return path


def write_csv(path: Path, a: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in a) + "\n")
    return path


@pytest.fixture
def problem(tmp_path) -> Path:
    return write_problem(tmp_path / "problem.toml")


def test_format_json_is_one_strict_object(problem, tmp_path):
    good = write_csv(tmp_path / "good.csv", weights())
    bad = write_csv(tmp_path / "bad.csv", weights(scale=1.0))
    proc = run(["check", good, bad, "1 2; 3 4", problem, "--format", "json"], check=False)
    assert proc.returncode == 1
    obj = json.loads(proc.stdout.decode(), parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert obj["passed"] == 1 and obj["total"] == 3
    a, b, c = obj["answers"]
    for entry in obj["answers"]:
        assert {"file", "pass", "score", "max_error", "cells_wrong", "diagnosis", "feedback"} <= set(entry)
    assert a["pass"] is True and a["score"] == 1 and a["cells_wrong"] == 0 and a["feedback"].startswith("Correct")
    assert b["pass"] is False and b["diagnosis"] == ["no-scaling"] and "1/√d_k was left out" in b["feedback"]
    assert c["pass"] is False and "2×2" in c["feedback"] and "3×3" in c["feedback"]
    single = run(["check", bad, problem, "--format", "json"], check=False)
    assert single.returncode == 1 and json.loads(single.stdout)["answers"][0]["cells_wrong"] > 0


def test_points_and_credit_by_cells(problem, tmp_path):
    answer = weights().copy()
    answer[0, :2] += 0.1  # two wrong cells of nine
    path = write_csv(tmp_path / "a.csv", answer)
    ok = np.abs(answer - weights()) <= 1e-6 + 1e-6 * np.abs(weights())
    expected_score = 10 * ok.mean()
    obj = json.loads(run(["check", path, problem, "--format", "json", "--points", "10", "--credit", "cells"],
                         check=False).stdout)
    assert obj["answers"][0]["score"] == pytest.approx(expected_score, abs=1e-6) and obj["max_score"] == 10
    obj = json.loads(run(["check", path, problem, "--format", "json", "--points", "10"], check=False).stdout)
    assert obj["answers"][0]["score"] == 0  # --credit all (default): all or nothing
    # the problem file may say it; the command line wins
    write_problem(problem, extra="points = 4\ncredit = \"cells\"\n")
    obj = json.loads(run(["check", path, problem, "--format", "json"], check=False).stdout)
    assert obj["answers"][0]["max_score"] == 4 and obj["answers"][0]["score"] == pytest.approx(4 * ok.mean())
    obj = json.loads(run(["check", path, problem, "--format", "json", "--credit", "all"], check=False).stdout)
    assert obj["answers"][0]["score"] == 0


@pytest.mark.parametrize("args,needle", [
    (["--credit", "some"], "--credit"), (["--points", "-1"], "--points"), (["--format", "xml"], "--format"),
    (["--report", "r.txt"], "--report"), (["--report-format", "gradescope"], "--report PATH"),
    (["--report", "r.json", "--report-format", "moodle"], "--report-format"), (["--visibility", "now"], "--visibility"),
])
def test_bad_grading_options(problem, tmp_path, args, needle):
    msg = run_error(["check", SAMPLE / "answer.csv", problem, *args], cwd=tmp_path)
    assert needle in msg


def test_gradescope_results(problem, tmp_path):
    good = write_csv(tmp_path / "good.csv", weights())
    bad = write_csv(tmp_path / "bad.csv", weights(scale=1.0))
    out = tmp_path / "results" / "results.json"
    out.parent.mkdir()
    proc = run(["check", good, bad, problem, "--points", "5", "--report", out, "--report-format", "gradescope",
                "--visibility", "after_due_date"], check=False)
    assert proc.returncode == 1
    obj = json.loads(out.read_text())
    validate_gradescope(obj)
    assert obj["score"] == 5 and [t["score"] for t in obj["tests"]] == [5, 0]
    assert [t["max_score"] for t in obj["tests"]] == [5, 5] and obj["tests"][1]["status"] == "failed"
    assert all(t["visibility"] == "after_due_date" for t in obj["tests"])
    fb = obj["tests"][1]["output"]
    assert "1/√d_k was left out" in fb and "┃" not in fb and "│" not in fb  # plain words, no table
    assert f"{weights()[0, 0]:.4f}" not in fb  # the expected values are not given away


def test_prairielearn_results(problem, tmp_path):
    answer = weights().copy()
    answer[1, 1] += 0.5
    path = write_csv(tmp_path / "a.csv", answer)
    out = tmp_path / "results.json"
    run(["check", path, problem, "--points", "3", "--credit", "cells", "--report", out,
         "--report-format", "prairielearn"], check=False)
    raw = out.read_bytes()
    obj = json.loads(raw)
    validate_prairielearn(raw)
    assert obj["gradable"] is True and obj["score"] == pytest.approx(8 / 9, abs=1e-6)
    assert obj["tests"][0]["points"] == pytest.approx(3 * 8 / 9, abs=1e-6) and obj["tests"][0]["max_points"] == 3
    assert "(1, 1)" in obj["tests"][0]["message"]
    # an answer that cannot be read: not gradable (no attempt lost), the report is still written, exit 1
    proc = run(["check", tmp_path / "missing.csv", problem, "--report", out, "--report-format", "prairielearn"],
               check=False)
    assert proc.returncode == 1
    raw = out.read_bytes()
    obj = json.loads(raw)
    validate_prairielearn(raw)
    assert obj["gradable"] is False and "missing.csv" in obj["format_errors"][0]


def test_gradescope_unreadable_answer_scores_zero(problem, tmp_path):
    (tmp_path / "broken.csv").write_text("1,2\n3\n")
    out = tmp_path / "results.json"
    assert run(["check", tmp_path / "broken.csv", problem, "--report", out, "--report-format", "gradescope"],
               check=False).returncode == 1
    obj = json.loads(out.read_text())
    validate_gradescope(obj)
    assert obj["score"] == 0 and "could not be read" in obj["tests"][0]["output"]


# ---- a problem for each student --------------------------------------------------------------------------------

STUDENTS = {"ada": X, "bob": X + np.eye(3, 4), "carol@uni.edu": X[::-1].copy()}


@pytest.fixture
def class_dir(tmp_path) -> Path:
    pdir = tmp_path / "problems"
    pdir.mkdir()
    for sid, x in STUDENTS.items():
        write_problem(pdir / f"{sid}.toml", x=x, extra="decimals = 3\n")
    return pdir


def test_each_answer_against_its_students_problem(class_dir, tmp_path):
    answers = tmp_path / "answers"
    a = write_csv(answers / "ada.csv", np.round(weights(STUDENTS["ada"]), 3))
    b = write_csv(answers / "bob_weights.csv", np.round(weights(STUDENTS["bob"]), 3))
    c = write_csv(answers / "carol@uni.edu" / "answer.csv", np.round(weights(STUDENTS["carol@uni.edu"]), 3))
    swapped = write_csv(answers / "bob-second.csv", np.round(weights(STUDENTS["ada"]), 3))  # ada's numbers
    stranger = write_csv(answers / "zed.csv", np.round(weights(), 3))
    proc = run(["check", a, b, c, stranger, "--problems", class_dir, "--format", "json"], check=False)
    assert proc.returncode == 1
    got = {e["file"] and Path(e["file"]).name: e for e in json.loads(proc.stdout)["answers"]}
    assert got["ada.csv"]["pass"] and got["ada.csv"]["student"] == "ada"
    assert got["bob_weights.csv"]["pass"] and got["bob_weights.csv"]["student"] == "bob"
    assert got["answer.csv"]["pass"] and got["answer.csv"]["student"] == "carol@uni.edu"
    assert not got["zed.csv"]["pass"] and got["zed.csv"]["result"] == "unmatched"
    assert "names no student" in got["zed.csv"]["detail"]
    proc = run(["check", a, swapped, "--problems", class_dir, "--format", "json"], check=False)
    rows = json.loads(proc.stdout)["answers"]
    assert [(r["student"], r["result"]) for r in rows] == [("ada", "pass"), ("bob", "fail"),
                                                           ("carol@uni.edu", "missing")]
    table = run(["check", a, b, swapped, "--problems", class_dir, "--student", "bob"], check=False).stdout.decode()
    assert "1 of 3 answers pass" in table and "student" in table  # --student: every answer is bob's
    alone = run(["check", stranger, "--problems", class_dir], check=False)
    assert alone.returncode == 1 and "0 of 3 students pass; 3 gave no answer; 1 answer names no student" in \
        alone.stdout.decode()
    message = run_error(["check", a, b, swapped, "--problems", class_dir])
    assert "bob_weights.csv" in message and "bob-second.csv" in message and "several answers" in message
    assert "drop the PROBLEM" in run_error(["check", a, class_dir / "ada.toml", "--problems", class_dir])
    assert "not a folder" in run_error(["check", a, "--problems", tmp_path / "nowhere"])


def test_problems_options_on_the_command_line_win(class_dir, tmp_path):
    answer = write_csv(tmp_path / "ada.csv", np.round(weights(STUDENTS["ada"]), 2))
    assert run(["check", answer, "--problems", class_dir, "--student", "ada"],
               check=False).returncode == 1  # decimals = 3 in the file
    assert run(["check", answer, "--problems", class_dir, "--student", "ada", "--decimals", "2"]).returncode == 0


HOMEWORK = ROOT / "samples" / "homework"


def test_student_option(class_dir, tmp_path):
    answer = write_csv(tmp_path / "weights.csv", np.round(weights(STUDENTS["bob"]), 3))
    assert run(["check", answer, "--problems", class_dir, "--student", "bob"]).returncode == 0
    assert run(["check", answer, "--problems", class_dir, "--student", "ada"], check=False).returncode == 1
    assert "no problem for 'zed'" in run_error(["check", answer, "--problems", class_dir, "--student", "zed"])
    assert "--problems" in run_error(["check", answer, "--student", "bob", "--expected", "1"])


def test_stacked_csv_of_heads_and_coarse_answers(tmp_path):
    # two heads (d_k = 1) of the identity tokens: head h scores x_ih·x_jh, so S_0 = [[1, 0], [0, 0]] and
    # S_1 = [[0, 0], [0, 1]]; each row's softmax by hand
    e = math.e
    h0 = np.array([[e / (e + 1), 1 / (e + 1)], [0.5, 0.5]])
    h1 = np.array([[0.5, 0.5], [1 / (e + 1), e / (e + 1)]])
    stacked = write_csv(tmp_path / "w.csv", np.vstack([h0, h1]))  # the layout compute --format csv writes
    assert run(["check", stacked, "--x", "1 0; 0 1", "--heads", "2", "--what", "weights"]).returncode == 0
    proc = run(["check", stacked, "--x", "1 0; 0 1", "--heads", "2", "--what", "weights", "--causal"], check=False)
    assert proc.returncode == 1 and "causal mask" in proc.stdout.decode()
    head = np.array([[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])  # one head, S = X·Xᵀ = I
    coarse = write_csv(tmp_path / "c.csv", np.round(head, 1))
    out = run(["check", coarse, "--x", "1 0; 0 1", "--score", "dot", "--what", "weights", "--decimals", "2"],
              check=False).stdout.decode()
    assert "right to 1 decimal, but 2 are asked" in out


def test_sample_class_grades(tmp_path):
    proc = run(["check", *sorted((HOMEWORK / "answers").glob("*.csv")), "--problems", HOMEWORK / "problems",
                "--format", "json"], check=False)
    got = {e["student"]: e for e in json.loads(proc.stdout)["answers"]}
    assert [s for s, e in got.items() if e["pass"]] == ["s001", "s006", "s009"]
    assert got["s002"]["diagnosis"] == ["no-scaling"] and got["s003"]["diagnosis"] == ["softmax-axis"]
    assert "one line of 9 numbers" in got["s004"]["feedback"] and "layout" in got["s005"]["diagnosis"]
    assert set(got["s007"]["diagnosis"]) == {"no-scaling", "softmax-axis"} and got["s008"]["diagnosis"] == []
    assert "right to 1 decimal" in got["s010"]["feedback"]


def test_problems_keep_their_layout_and_labels_are_counted(class_dir, tmp_path):
    answer = write_csv(tmp_path / "ada.csv", np.round(weights(STUDENTS["ada"]), 3))
    assert "conflicts with PROBLEM" in run_error(["check", answer, "--problems", class_dir, "--layout", "cols"])
    assert "--labels has 3 labels" in run_error(["check", "1 0", "--x", "1 0; 0 1", "--labels", "a,b,c"])
