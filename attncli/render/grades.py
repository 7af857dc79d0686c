"""Grades out of `attncli check`: the feedback a student reads, the summary table, and the reports courses load.

One Verdict per row: an answer graded, or (check --problems) a roster student who gave no answer, or an answer
that names no student. Every output is made from the same verdicts:
    --format json            one strict JSON object on stdout (`grades_object`)
    --report-format csv      one row per verdict
    --report-format json     the same object as --format json
    --report-format gradescope     Gradescope's results.json: top-level score/output, one test per answer
    --report-format prairielearn   PrairieLearn's external-grader results: score in [0, 1], gradable, tests
A number that does not exist (the max error of an answer that could not be read, the cells wrong of one in
another shape) is empty in the table and CSV and null in JSON, never 0.
The feedback text is plain words (what is wrong, which cells, the likely mistake), never a table, and never the
expected values: it is what a student sees in the course's autograder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attncli.errors import AttnError

REPORT_FORMATS = ("csv", "json", "gradescope", "prairielearn")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's values
PRAIRIELEARN_LIMIT = 1_000_000  # bytes: PrairieLearn's documented limit on results.json
GRADED, UNREADABLE, MISSING, UNMATCHED = "graded", "unreadable", "missing", "unmatched"


@dataclass
class Verdict:
    answer: str | None  # the ANSWER as given (a path, '-', or an inline matrix); None: no answer
    what: str  # weights, output, ...; "" for --expected
    passed: bool
    max_error: float | None  # the largest |answer − expected| over cells holding numbers; None if none
    count: int | None  # cells wrong; None when cells were not compared (unreadable, another shape, no answer)
    total: int | None  # cells of the expected array; None when not known
    names: list[str] = field(default_factory=list)  # mistake ids (diagnosis)
    diagnosis: str = ""  # the diagnosis in plain words ("matches the unscaled scores: ...")
    detail: str = ""  # shape or read problems; what was not graded and why
    state: str = GRADED  # graded, unreadable (PrairieLearn: not gradable), missing (no answer), unmatched
    score: float = 0.0
    max_score: float = 1.0
    student: str | None = None  # check --problems: the student the answer belongs to
    problem: str | None = None  # and that student's problem file
    tolerance: str = ""  # "±0.005" or "atol 1e-06, rtol 1e-06"
    tol: dict[str, Any] | None = None  # {"atol", "rtol", "decimals"}: the tolerance for JSON
    cells: list[tuple[int, ...]] = field(default_factory=list)  # the first cells that differ by a number
    notes: list[str] = field(default_factory=list)  # cells that hold no number: "cell (0, 1) is empty"
    noted: int = 0  # how many cells the notes are about
    defaults: str = ""  # what was compared by default, and how to change it (check without a problem file)

    @property
    def readable(self) -> bool:
        return self.state == GRADED

    @property
    def result(self) -> str:
        return "pass" if self.passed else "fail" if self.state == GRADED else self.state


def credit(v: Verdict, points: float, mode: str) -> float:
    """The score of one answer: all-or-nothing, or the share of cells within tolerance (cells)."""
    if v.passed:
        return points
    if mode == "cells" and v.readable and v.total and v.count is not None:
        return round(points * (v.total - v.count) / v.total, 6)
    return 0.0


def cell_list(cells: list[tuple[int, ...]], count: int, *, sentence: bool = False) -> str:
    """(0, 1), (2, 0) and 3 more; `sentence`: the last two joined by "and" ("(0, 1) and (2, 0)")."""
    shown = [("(" + ", ".join(map(str, c)) + ")") for c in cells[:8]]
    more = count - len(shown)
    if more > 0:
        return ", ".join(shown) + f" and {more} more"
    if sentence and len(shown) > 1:
        return ", ".join(shown[:-1]) + " and " + shown[-1]
    return ", ".join(shown)


def the(what: str) -> str:
    return f"the {what}" if what else "the expected array"


def wrong_cells(v: Verdict) -> str:
    """What differs, in the words both the terminal and the feedback use: "8 of 9 cells of the weights differ
    (largest difference 0.0746; tolerance ±0.005)", naming cells that hold no number first."""
    assert v.count is not None and v.total is not None
    if not v.noted:
        return (f"{v.count} of {v.total} cells of {the(v.what)} differ (largest difference "
                f"{_g(v.max_error)}; tolerance {v.tolerance})")
    text = f"{v.count} of {v.total} cells of {the(v.what)} are wrong: {'; '.join(v.notes)}"
    others = v.count - v.noted
    if others:
        return text + (f"; {others} other{'s' if others > 1 else ''} differ{'' if others > 1 else 's'} (largest "
                       f"difference {_g(v.max_error)}; tolerance {v.tolerance})")
    right = v.total - v.count
    return text + (f"; the other {right} {'are' if right > 1 else 'is'} within {v.tolerance}" if right else "")


def _g(x: float | None) -> str:
    return "none" if x is None else f"{x:.3g}"


def feedback(v: Verdict) -> str:
    """What the student reads: plain words, the likely mistake, the cells (not the expected values)."""
    if v.state == MISSING:
        return "No answer was handed in."
    if v.state == UNMATCHED:
        return f"Not graded: {v.detail}."
    if v.state == UNREADABLE:
        return f"Your answer could not be read: {v.detail.removeprefix('cannot read: ')}"
    if v.passed:
        err = "" if v.max_error is None else f" (largest difference {v.max_error:.3g}, within {v.tolerance})"
        text = f"Correct: your answer matches {the(v.what)}{err}."
    elif v.count is None:
        text = f"Not correct: {v.detail}."
    else:
        text = f"Not correct: {wrong_cells(v)}."
        if v.cells:
            many = v.count - v.noted > 1
            text += f" {'Cells' if many else 'The cell'} (row, column) that differ{'' if many else 's'}: " \
                    f"{cell_list(v.cells, v.count - v.noted)}."
    if not v.passed:
        if v.diagnosis:
            text += f" Your answer {v.diagnosis}."
        elif v.count is not None and v.count > v.noted:
            text += " It matches none of the common mistakes; redo the steps one at a time."
    if v.defaults:
        text += f" {v.defaults[0].upper()}{v.defaults[1:]}."
    return text


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return {"file": v.answer, "student": v.student, "problem": v.problem, "what": v.what or None,
            "result": v.result, "pass": v.passed, "score": v.score, "max_score": v.max_score,
            "max_error": _finite(v.max_error), "cells_wrong": v.count, "cells": v.total, "tolerance": v.tol,
            "diagnosis": list(v.names), "diagnosis_text": v.diagnosis, "detail": details(v), "feedback": feedback(v)}


def details(v: Verdict) -> str:
    """The detail of a row: what kept it from being graded, or its cells that hold no number."""
    return "; ".join(n for n in (v.detail, *v.notes) if n)


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def grades_object(verdicts: list[Verdict], students: int | None = None) -> dict[str, Any]:
    """The one JSON object of `check --format json` (and `--report x.json`). `students`: the roster's size
    (check --problems DIR), whose every student has a row."""
    return {"passed": sum(v.passed for v in verdicts), "total": len(verdicts), "students": students,
            "missing": sum(v.state == MISSING for v in verdicts),
            "unreadable": sum(v.state == UNREADABLE for v in verdicts),
            "unmatched": sum(v.state == UNMATCHED for v in verdicts),
            "score": _sum(v.score for v in verdicts), "max_score": _sum(v.max_score for v in verdicts),
            "answers": [verdict_dict(v) for v in verdicts]}


def _sum(values) -> float:
    return round(sum(values), 6)


def _test_name(v: Verdict) -> str:
    name = (Path(v.answer).name or v.answer) if v.answer is not None else "no answer"
    return f"{v.what} ({name})" if v.what else name


def gradescope(verdicts: list[Verdict], visibility: str = "visible") -> dict[str, Any]:
    """Gradescope's results.json: `score` (the sum), `output`, one entry of `tests` per answer."""
    passed = sum(v.passed for v in verdicts)
    return {
        "score": _sum(v.score for v in verdicts),
        "output": f"{passed} of {len(verdicts)} answers correct.",
        "visibility": visibility,
        "tests": [{"name": _test_name(v), "score": v.score, "max_score": v.max_score,
                   "status": "passed" if v.passed else "failed", "output": feedback(v), "visibility": visibility,
                   "extra_data": {"result": v.result, "diagnosis": list(v.names), "max_error": _finite(v.max_error),
                                  "cells_wrong": v.count}}
                  for v in verdicts],
    }


def prairielearn(verdicts: list[Verdict]) -> dict[str, Any]:
    """PrairieLearn's external-grader results: `score` in [0, 1], `gradable`, `message`, `tests` with points.
    An answer that cannot be read makes the submission not gradable (no attempt lost), with `format_errors`."""
    unreadable = [v for v in verdicts if not v.readable]
    total = sum(v.max_score for v in verdicts)
    tests = [{"name": _test_name(v), "description": the(v.what) if v.what else "the answer",
              "points": v.score, "max_points": v.max_score, "message": feedback(v), "output": ""}
             for v in verdicts]
    if unreadable:
        return {"gradable": False, "format_errors": [feedback(v) for v in unreadable],
                "message": "Your submission could not be read; it was not graded.", "tests": tests}
    passed = sum(v.passed for v in verdicts)
    score = min(1.0, max(0.0, sum(v.score for v in verdicts) / total)) if total > 0 else 0.0
    return {"gradable": True, "score": round(score, 6), "message": f"{passed} of {len(verdicts)} answers correct.",
            "output": "\n".join(feedback(v) for v in verdicts), "tests": tests}


def csv_text(verdicts: list[Verdict]) -> str:
    import csv
    import io

    buf = io.StringIO()
    cols = ["student", "answer", "result", "score", "max_score", "max_error", "cells_wrong", "cells", "diagnosis",
            "diagnosis_text", "detail"]  # the student first, as the summary table and a gradebook have it
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for v in verdicts:
        w.writerow([v.student or "", v.answer or "", v.result, v.score, v.max_score,
                    "" if v.max_error is None else f"{v.max_error:.6g}", _blank(v.count), _blank(v.total),
                    " ".join(v.names), v.diagnosis, details(v)])
    return buf.getvalue()


def _blank(n: int | None) -> str:
    return "" if n is None else str(n)


def report_format(path: str, fmt: str | None) -> str:
    """--report-format, or from the report's extension (.csv, .json)."""
    if fmt is not None:
        if fmt not in REPORT_FORMATS:
            raise AttnError(f"--report-format must be one of {', '.join(REPORT_FORMATS)}; got {fmt!r}")
        return fmt
    low = path.lower()
    if low.endswith(".csv"):
        return "csv"
    if low.endswith(".json"):
        return "json"
    raise AttnError(f"--report writes .csv or .json (or give --report-format gradescope|prairielearn); got "
                    f"{path!r}")


def report_bytes(verdicts: list[Verdict], fmt: str, visibility: str, students: int | None = None) -> bytes:
    import json

    if fmt == "csv":
        return csv_text(verdicts).encode("utf-8")
    obj = (gradescope(verdicts, visibility) if fmt == "gradescope" else prairielearn(verdicts)
           if fmt == "prairielearn" else grades_object(verdicts, students))
    data = (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "prairielearn" and len(data) > PRAIRIELEARN_LIMIT:
        raise AttnError(f"--report-format prairielearn: the results would take {len(data):,} bytes, over "
                        f"PrairieLearn's 1 MB limit on results.json; grade one submission per run")
    return data


def summary_line(verdicts: list[Verdict], students: int | None, points: bool) -> str:
    """"27 of 30 students pass; 2 gave no answer; 1 answer could not be read" (a roster), or "3 of 4 answers
    pass"; with the points when they are asked for."""
    passed = sum(v.passed for v in verdicts)
    if students is not None:
        line = f"{passed} of {students} student{'s' if students != 1 else ''} pass"
    else:
        line = f"{passed} of {len(verdicts)} answers pass"
    counts = {s: sum(v.state == s for v in verdicts) for s in (MISSING, UNREADABLE, UNMATCHED)}
    if counts[MISSING]:
        line += f"; {counts[MISSING]} gave no answer"
    if counts[UNREADABLE]:
        n = counts[UNREADABLE]
        line += f"; {n} answer{'s' if n > 1 else ''} could not be read"
    if counts[UNMATCHED]:
        n = counts[UNMATCHED]
        line += f"; {n} answer{'s' if n > 1 else ''} name{'' if n > 1 else 's'} no student of the roster"
    if points:
        line += f"; {_sum(v.score for v in verdicts):g} of {_sum(v.max_score for v in verdicts):g} points"
    return line


def summary_table(verdicts: list[Verdict], points: bool, students: int | None = None):
    from rich.table import Table

    from attncli.render.safe import text

    t = Table(title=summary_line(verdicts, students, points), title_justify="left")
    roster = any(v.student for v in verdicts) or students is not None
    cols = [*(["student"] if roster else []), "answer", "result", *(["score"] if points else []), "max error",
            "cells wrong", "diagnosis"]
    for col in cols:
        t.add_column(col, justify="right" if col in ("max error", "cells wrong", "score") else "left")
    for v in verdicts:
        wrong = "" if v.passed or v.count is None or v.total is None else f"{v.count}/{v.total}"
        note = "; ".join(n for n in (*v.notes, v.diagnosis or v.detail) if n)
        row = [*([text(v.student or "")] if roster else []), text(v.answer or ""), v.result.upper(),
               *([f"{v.score:g}/{v.max_score:g}" if v.state != UNMATCHED else ""] if points else []),
               "" if v.max_error is None else f"{v.max_error:.3g}", wrong, text(note)]
        t.add_row(*row)
    return t
