"""A class of 30 graded by `attncli check --problems`: every student gets one row, answers are read the way students
write them, numbers that do not exist are empty, and nothing an autograder prints names another student.

The roster is written here; `attncli init --roster` makes the problems. The right answer of each student is
computed here with plain numpy from the problem's own matrices (softmax(Q·Kᵀ/√d_k), each row), and each
student's expected result and score are derived from it by hand rules written in the test (the share of cells
within ±0.005, as `--decimals 2` in the problems asks)."""

from __future__ import annotations

import csv
import glob
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

N = 30
POINTS = 10
TOL = 0.005 * (1 + 1e-9)  # decimals = 2: half a unit of the last place


def email(i: int) -> str:
    return f"st{i:02d}@uni.edu"


def softmax_rows(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def right_weights(problem: Path, *, scaled: bool = True) -> np.ndarray:
    p = tomllib.loads(problem.read_text())
    x = np.array(p["inputs"]["x"], dtype=float)
    wq, wk = (np.array(p["projections"][k], dtype=float) for k in ("wq", "wk"))
    q, k = x @ wq, x @ wk  # (n, d_k)
    s = q @ k.T / (np.sqrt(k.shape[1]) if scaled else 1.0)  # (n, n)
    return softmax_rows(s)


def csv_text(a: np.ndarray, sep: str = ",", decimal: str = ".", end: str = "") -> str:
    return "".join(sep.join(f"{v:.2f}".replace(".", decimal) for v in row) + end + "\n" for row in a)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> dict:
    """30 students (ids: their emails), their problems, and answers made as students make them."""
    root = tmp_path_factory.mktemp("class")
    (root / "roster.csv").write_text("Name,SID,Email\n" + "".join(f"Student {i},{1000 + i},{email(i)}\n"
                                                                  for i in range(1, N + 1)))
    run(["init", "--roster", root / "roster.csv", "--id-column", "Email", "--out", root / "problems",
         "--seed", "2026"])
    want = {email(i): right_weights(root / "problems" / f"{email(i)}.toml") for i in range(1, N + 1)}
    ans = root / "answers"
    ans.mkdir()
    plan: dict[str, tuple[str, str]] = {}  # student -> (kind, answer path relative to root)

    def hand_in(i: int, kind: str, name: str, text: str) -> None:
        path = ans / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        plan[email(i)] = (kind, str(path.relative_to(root)))

    r = {sid: np.round(w, 2) for sid, w in want.items()}
    for i in range(1, 14):
        hand_in(i, "right", f"{email(i)}.csv", csv_text(r[email(i)]))
    # 14, 15: no answer
    hand_in(16, "trailing comma", f"{email(16)}.csv", csv_text(r[email(16)], end=","))
    hand_in(17, "european", f"{email(17)}.csv", csv_text(r[email(17)], sep=";", decimal=","))
    nan = r[email(18)].copy()
    nan[1, 2] = np.nan
    hand_in(18, "nan", f"{email(18)}.csv", csv_text(nan))
    gap = csv_text(r[email(19)]).splitlines()
    gap[0] = ",".join(v if j != 1 else "" for j, v in enumerate(gap[0].split(",")))  # cell (0, 1) left empty
    hand_in(19, "empty cell", f"{email(19)}.csv", "\n".join(gap) + "\n")
    hand_in(20, "unreadable", f"{email(20)}.csv", "see the attached photo of my notebook\n")
    hand_in(21, "folder", f"{email(21)}/answer.csv", csv_text(r[email(21)]))
    hand_in(22, "uppercase", f"{email(22).upper()}.csv", csv_text(r[email(22)]))
    hand_in(23, "no scaling", f"{email(23)}_weights.csv",
            csv_text(np.round(right_weights(root / "problems" / f"{email(23)}.toml", scaled=False), 2)))
    hand_in(24, "header", f"{email(24)}-hw3.csv", "k0,k1,k2\n" + csv_text(r[email(24)]))
    hand_in(25, "one line", f"{email(25)}.csv", csv_text(r[email(25)].reshape(1, -1)))
    hand_in(26, "folder of two", f"{email(26)}/weights.csv", csv_text(r[email(26)]))
    (ans / email(26) / "scratch.csv").write_text("1,2\n")  # the folder's other file: weights.csv is asked
    hand_in(27, "semicolons, dot decimals", f"{email(27)}.csv", csv_text(r[email(27)], sep=";"))
    for i in (28, 29, 30):
        hand_in(i, "right", f"{email(i)}.csv", csv_text(r[email(i)]))
    (ans / "stranger.csv").write_text(csv_text(r[email(1)]))
    return {"root": root, "want": want, "plan": plan}


def expected_row(kind: str, want: np.ndarray, answer: np.ndarray | None) -> dict:
    """result, score, cells wrong and max error as the rules say, from the right weights computed above."""
    if kind in ("unreadable",):
        return {"result": "unreadable", "score": 0.0, "cells_wrong": "", "max_error": None}
    if kind == "one line":  # another shape: cells are not compared
        return {"result": "fail", "score": 0.0, "cells_wrong": "", "max_error": None}
    assert answer is not None
    diff = np.abs(answer - want)
    ok = diff <= TOL  # NaN and empty cells (NaN here) are never within
    finite = np.isfinite(diff)
    wrong = int((~ok).sum())
    return {"result": "pass" if wrong == 0 else "fail", "score": POINTS * (1 - wrong / want.size),
            "cells_wrong": str(wrong), "max_error": float(diff[finite].max())}


def test_a_class_of_30_one_row_per_student(klass):
    root, want, plan = klass["root"], klass["want"], klass["plan"]
    report = root / "grades.csv"
    given = sorted(glob.glob(str(root / "answers" / "*")) + glob.glob(str(root / "answers" / "*" / "*")))
    proc = run(["check", *given, "--problems", root / "problems", "--points", POINTS, "--credit", "cells",
                "--report", report], check=False)
    assert proc.returncode == 1, proc.stderr
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [r["student"] for r in rows] == [email(i) for i in range(1, N + 1)] + [""]  # roster order, stranger

    by_kind_answer = {
        "right": lambda sid: np.round(want[sid], 2), "trailing comma": lambda sid: np.round(want[sid], 2),
        "european": lambda sid: np.round(want[sid], 2), "folder": lambda sid: np.round(want[sid], 2),
        "uppercase": lambda sid: np.round(want[sid], 2), "header": lambda sid: np.round(want[sid], 2),
        "folder of two": lambda sid: np.round(want[sid], 2),
        "semicolons, dot decimals": lambda sid: np.round(want[sid], 2),
    }
    for row in rows[:N]:
        sid = row["student"]
        if sid not in plan:
            assert row["result"] == "missing" and row["answer"] == "" and float(row["score"]) == 0
            assert row["max_error"] == row["cells_wrong"] == row["cells"] == ""
            assert float(row["max_score"]) == POINTS
            continue
        kind, path = plan[sid]
        if kind in by_kind_answer:
            answer = by_kind_answer[kind](sid)
        elif kind == "nan":
            answer = np.round(want[sid], 2)
            answer[1, 2] = np.nan
        elif kind == "empty cell":
            answer = np.round(want[sid], 2)
            answer[0, 1] = np.nan
        elif kind == "no scaling":
            answer = np.round(right_weights(root / "problems" / f"{sid}.toml", scaled=False), 2)
        else:
            answer = None
        exp = expected_row(kind, want[sid], answer)
        got = (row["result"], float(row["score"]), row["cells_wrong"])
        assert got == (exp["result"], pytest.approx(exp["score"], abs=1e-5), exp["cells_wrong"]), (sid, kind, row)
        if exp["max_error"] is None:
            assert row["max_error"] == "", (sid, kind, row)
        else:
            assert float(row["max_error"]) == pytest.approx(exp["max_error"], rel=1e-5), (sid, kind, row)
        assert Path(row["answer"]).name == Path(path).name, (sid, kind, row)
    details = {plan[r["student"]][0]: r["detail"] + " " + r["diagnosis_text"]
               for r in rows[:N] if r["student"] in plan}
    assert "cell (1, 2) is not a number" in details["nan"] and "cell (0, 1) is empty" in details["empty cell"]
    assert "holds no numbers" in details["unreadable"] and "1/√d_k" in details["no scaling"]
    assert rows[N]["result"] == "unmatched" and rows[N]["answer"].endswith("stranger.csv")
    assert rows[N]["max_error"] == rows[N]["cells_wrong"] == ""
    summary = proc.stdout.decode().splitlines()[0]
    passing = sum(1 for r in rows if r["result"] == "pass")
    assert summary.startswith(f"{passing} of 30 students pass; 2 gave no answer; 1 answer could not be read; "
                              "1 answer names no student of the roster")


def test_the_json_report_and_the_feedback_agree(klass):
    root, plan = klass["root"], klass["plan"]
    paths = [root / p for _, p in plan.values()]
    obj = json.loads(run(["check", *paths, "--problems", root / "problems", "--format", "json"],
                         check=False).stdout)
    assert obj["students"] == N and obj["total"] == N and obj["missing"] == 2 and obj["unreadable"] == 1
    rows = {r["student"]: r for r in obj["answers"]}
    for sid in (email(14), email(15)):
        r = rows[sid]
        assert (r["file"], r["result"], r["max_error"], r["cells_wrong"], r["cells"]) == (None, "missing", None,
                                                                                          None, None)
        assert r["feedback"] == "No answer was handed in." and r["tolerance"]["decimals"] == 2
    bad = rows[email(20)]
    assert bad["result"] == "unreadable" and bad["cells_wrong"] is None and bad["max_error"] is None
    nan = rows[email(18)]
    assert nan["cells_wrong"] == 1 and "cell (1, 2) is not a number" in nan["feedback"]
    assert "largest difference" not in nan["feedback"]  # the NaN is not hidden behind a difference in tolerance
    empty = rows[email(19)]
    assert empty["cells_wrong"] == 1 and "cell (0, 1) is empty" in empty["feedback"]
    shape = rows[email(25)]
    assert shape["cells_wrong"] is None and "one line of 9 numbers" in shape["feedback"]


def test_two_answers_for_one_student_are_refused_naming_both(klass, tmp_path):
    root = klass["root"]
    first = root / "answers" / f"{email(1)}.csv"
    second = tmp_path / f"{email(1).upper()}_v2.csv"
    second.write_text(first.read_text())
    report = tmp_path / "grades.csv"
    message = run_error(["check", first, second, root / "answers" / f"{email(2)}.csv", "--problems",
                         root / "problems", "--report", report])
    assert str(first) in message and str(second) in message and email(2) not in message
    assert not report.exists()
    # the same file twice, or a folder and its contents, count once
    folder = root / "answers" / email(21)
    obj = json.loads(run(["check", first, first, folder, folder / "answer.csv", "--problems", root / "problems",
                          "--format", "json"], check=False).stdout)
    graded = [r for r in obj["answers"] if r["file"]]
    assert [(r["student"], r["result"]) for r in graded] == [(email(1), "pass"), (email(21), "pass")]
    # the files of a student's own folder are that folder: weights.csv is graded, scratch.csv is not an answer
    inside = sorted((root / "answers" / email(26)).iterdir())
    obj = json.loads(run(["check", *inside, "--problems", root / "problems", "--format", "json"],
                         check=False).stdout)
    graded = [r for r in obj["answers"] if r["file"]]
    assert [(r["student"], Path(r["file"]).name, r["result"]) for r in graded] == [(email(26), "weights.csv",
                                                                                    "pass")]


def test_a_folder_with_several_candidates_names_them(klass, tmp_path):
    folder = tmp_path / email(3)
    folder.mkdir()
    (folder / "attempt1.csv").write_text("1,2\n")
    (folder / "attempt2.csv").write_text("1,2\n")
    msg = run_error(["check", folder, "--problems", klass["root"] / "problems", "--student", email(3)])
    assert "attempt1.csv" in msg and "attempt2.csv" in msg and "weights.csv" in msg


def test_student_mode_names_no_one_else(klass, tmp_path):
    root = klass["root"]
    others = [email(i) for i in range(1, N + 1)] + [f"{1000 + i}" for i in range(1, N + 1)]
    answer = root / "answers" / f"{email(18)}.csv"
    for who in ("nobody@uni.edu", "st1@uni.edu", ""):
        results = tmp_path / "results.json"
        proc = run(["check", answer, "--problems", root / "problems", "--student", who, "--report", results,
                    "--report-format", "gradescope"], check=False)
        assert proc.returncode == 2
        text = proc.stdout.decode() + proc.stderr.decode()
        assert "30 problems" in text and not results.exists()
        assert not any(o in text for o in others if o != who), text
    # the right student, spelled as Gradescope's metadata may spell it
    results = tmp_path / "results.json"
    proc = run(["check", answer, "--problems", root / "problems", "--student", f" {email(18).upper()} ", "--report",
                results, "--report-format", "gradescope", "--points", "10", "--credit", "cells"], check=False)
    assert proc.returncode == 1
    obj = json.loads(results.read_text())
    assert obj["score"] == pytest.approx(10 * 8 / 9, abs=1e-4) and len(obj["tests"]) == 1
    text = proc.stdout.decode() + proc.stderr.decode() + results.read_text()
    assert not any(o in text for o in others if o != email(18)), text
    assert "cell (1, 2) is not a number" in obj["tests"][0]["output"]
    assert obj["tests"][0]["extra_data"]["cells_wrong"] == 1
    # an upload that cannot be read: its numbers do not exist
    bad = root / "answers" / f"{email(20)}.csv"
    run(["check", bad, "--problems", root / "problems", "--student", email(20), "--report", results,
         "--report-format", "gradescope"], check=False)
    extra = json.loads(results.read_text())["tests"][0]["extra_data"]
    assert extra["cells_wrong"] is None and extra["max_error"] is None and extra["result"] == "unreadable"


def test_a_missing_answer_in_a_class_names_no_other_students_file(klass):
    """A name typed for a class's answer that is not there is reported as missing, without the folder's listing or
    a near name: in an answers folder those are other students' files."""
    root = klass["root"]
    typo = f"answers/{email(14)}.cvs"  # student 14 handed nothing in; the folder holds 29 others' answers
    proc = run(["check", f"answers/{email(1)}.csv", typo, "--problems", "problems", "--format", "json"], cwd=root,
               check=False)
    rows = {r["file"]: r for r in json.loads(proc.stdout)["answers"] if r["file"]}
    detail = rows[typo]["detail"]
    assert rows[typo]["student"] == email(14) and rows[typo]["result"] == "unreadable"
    assert detail == f"cannot read: ANSWER: no such file '{typo}'", detail
    others = [email(i) for i in range(1, N + 1) if i != 14]
    assert not any(o in detail for o in others), detail


def test_check_without_a_problem_file_says_what_and_tolerance(tmp_path):
    # X = I (2 tokens), dot scores: S = I, so each row's weights are e/(e+1) and 1/(e+1); V = X, so output = A
    e = np.e
    a = np.array([[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])
    answer = tmp_path / "a.csv"
    answer.write_text(csv_text(a))  # 2 decimals: fails the default 1e-6
    out = run(["check", answer, "--x", "1 0; 0 1", "--score", "dot"], check=False).stdout.decode()
    first = out.splitlines()[0]
    assert first.startswith("FAIL") and "the output" in first and "--what output" in first
    assert "atol 1e-06, rtol 1e-06" in first and "--decimals N" in first and "--atol" in first
    obj = json.loads(run(["check", answer, "--x", "1 0; 0 1", "--score", "dot", "--format", "json"],
                         check=False).stdout)
    row = obj["answers"][0]
    assert row["what"] == "output" and row["tolerance"] == {"atol": 1e-6, "rtol": 1e-6, "decimals": None}
    assert "--what output" in row["feedback"] and "default" in row["feedback"]
    ok = run(["check", answer, "--x", "1 0; 0 1", "--score", "dot", "--what", "weights", "--decimals", "2"])
    line = ok.stdout.decode().strip()
    assert line.startswith("PASS") and "the weights" in line and "±0.005" in line and "default" not in line
    obj = json.loads(run(["check", answer, "--x", "1 0; 0 1", "--score", "dot", "--decimals", "2", "--format",
                          "json"]).stdout)
    assert obj["answers"][0]["tolerance"] == {"atol": 0.005, "rtol": 0.0, "decimals": 2}
    assert "--what output is the default" in obj["answers"][0]["feedback"]


def test_the_grader_hands_failing_answers_to_the_diagnoser():
    from attncli.cli.grader import Grader, Tolerance

    seen = []

    class Doctor:
        def diagnose(self, answer):
            seen.append(answer.copy())
            return None

    want = np.array([[0.25, 0.75], [0.5, 0.5]])
    g = Grader(want, "weights", Tolerance.of(None, None, 2), Doctor(), 1.0, "all")
    assert g.grade(want * 100, "percent.csv").passed is False  # 25 for 0.25: the diagnoser sees it
    np.testing.assert_array_equal(seen[-1], want * 100)
    g.grade(np.array([[0.25, np.nan], [0.5, 0.5]]), "nan.csv")
    assert len(seen) == 2
    g.grade(want, "right.csv")
    assert len(seen) == 2  # a right answer is not diagnosed
