"""Grades out of `attncli check`: the feedback a student reads, the summary table, and the reports courses load.

One Verdict per answer. Every output is made from the same verdicts:
    --format json            one strict JSON object on stdout (`grades_object`)
    --report-format csv      one row per answer
    --report-format json     the same object as --format json
    --report-format gradescope     Gradescope's results.json: top-level score/output, one test per answer
    --report-format prairielearn   PrairieLearn's external-grader results: score in [0, 1], gradable, tests
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


@dataclass
class Verdict:
    answer: str  # the ANSWER as given (a path, '-', or an inline matrix)
    what: str  # weights, output, ...
    passed: bool
    max_error: float | None
    count: int  # differing cells
    total: int  # cells of the expected array
    names: list[str] = field(default_factory=list)  # mistake ids (diagnosis)
    diagnosis: str = ""  # the diagnosis in plain words ("matches the unscaled scores: ...")
    detail: str = ""  # shape or read problems
    readable: bool = True  # False: the answer could not be read (PrairieLearn: not gradable)
    score: float = 0.0
    max_score: float = 1.0
    student: str | None = None  # check --problems: the student the answer belongs to
    problem: str | None = None  # and that student's problem file
    tolerance: str = ""  # "±0.005" or "atol 1e-06, rtol 1e-06"
    cells: list[tuple[int, ...]] = field(default_factory=list)  # the first differing cells (for feedback)


def credit(v: Verdict, points: float, mode: str) -> float:
    """The score of one answer: all-or-nothing, or the share of cells within tolerance (cells)."""
    if v.passed:
        return points
    if mode == "cells" and v.readable and v.total and not v.detail:
        return round(points * (v.total - v.count) / v.total, 6)
    return 0.0


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _cells(cells: list[tuple[int, ...]], count: int) -> str:
    shown = ", ".join("(" + ", ".join(map(str, c)) + ")" for c in cells[:8])
    more = count - min(len(cells), 8)
    return shown + (f" and {more} more" if more > 0 else "")


def feedback(v: Verdict) -> str:
    """What the student reads: plain words, the likely mistake, the cells (not the expected values)."""
    what = f"the {v.what}" if v.what else "the expected array"
    if not v.readable:
        return f"Your answer could not be read: {v.detail.removeprefix('cannot read: ')}"
    if v.passed:
        err = "" if v.max_error is None else f" (largest difference {v.max_error:.3g}, within {v.tolerance})"
        return f"Correct: your answer matches {what}{err}."
    if v.detail:
        text = f"Not correct: {v.detail}."
    else:
        text = (f"Not correct: {v.count} of {v.total} cells of {what} differ (largest difference "
                f"{v.max_error:.3g}; tolerance {v.tolerance}). Cells (row, column) that differ: "
                f"{_cells(v.cells, v.count)}.")
    if v.diagnosis:
        text += f" Your answer {v.diagnosis}."
    elif not v.detail:
        text += " It matches none of the common mistakes; redo the steps one at a time."
    return text


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return {"file": v.answer, "student": v.student, "problem": v.problem, "what": v.what, "pass": v.passed,
            "score": v.score, "max_score": v.max_score, "max_error": _finite(v.max_error), "cells_wrong": v.count,
            "cells": v.total, "diagnosis": list(v.names), "diagnosis_text": v.diagnosis, "detail": v.detail,
            "feedback": feedback(v)}


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def grades_object(verdicts: list[Verdict]) -> dict[str, Any]:
    """The one JSON object of `check --format json` (and `--report x.json`)."""
    return {"passed": sum(v.passed for v in verdicts), "total": len(verdicts),
            "score": _sum(v.score for v in verdicts), "max_score": _sum(v.max_score for v in verdicts),
            "answers": [verdict_dict(v) for v in verdicts]}


def _sum(values) -> float:
    return round(sum(values), 6)


def _test_name(v: Verdict) -> str:
    name = Path(v.answer).name or v.answer
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
                   "extra_data": {"diagnosis": list(v.names), "max_error": _finite(v.max_error),
                                  "cells_wrong": v.count}}
                  for v in verdicts],
    }


def prairielearn(verdicts: list[Verdict]) -> dict[str, Any]:
    """PrairieLearn's external-grader results: `score` in [0, 1], `gradable`, `message`, `tests` with points.
    An answer that cannot be read makes the submission not gradable (no attempt lost), with `format_errors`."""
    unreadable = [v for v in verdicts if not v.readable]
    total = sum(v.max_score for v in verdicts)
    tests = [{"name": _test_name(v), "description": f"the {v.what}" if v.what else "the answer",
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
    cols = ["answer", "student", "result", "score", "max_score", "max_error", "cells_wrong", "cells", "diagnosis",
            "diagnosis_text", "detail"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for v in verdicts:
        w.writerow([v.answer, v.student or "", "pass" if v.passed else "fail", v.score, v.max_score,
                    "" if v.max_error is None else f"{v.max_error:.6g}", v.count, v.total, " ".join(v.names),
                    v.diagnosis, v.detail])
    return buf.getvalue()


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


def report_bytes(verdicts: list[Verdict], fmt: str, visibility: str) -> bytes:
    import json

    if fmt == "csv":
        return csv_text(verdicts).encode("utf-8")
    obj = (gradescope(verdicts, visibility) if fmt == "gradescope" else prairielearn(verdicts)
           if fmt == "prairielearn" else grades_object(verdicts))
    data = (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "prairielearn" and len(data) > PRAIRIELEARN_LIMIT:
        raise AttnError(f"--report-format prairielearn: the results would take {len(data):,} bytes, over "
                        f"PrairieLearn's 1 MB limit on results.json; grade one submission per run")
    return data


def summary_table(verdicts: list[Verdict], points: bool):
    from rich.table import Table

    from attncli.render.safe import text

    passed = sum(v.passed for v in verdicts)
    title = f"{passed} of {len(verdicts)} answers pass"
    if points:
        title += f"; {_sum(v.score for v in verdicts):g} of {_sum(v.max_score for v in verdicts):g} points"
    t = Table(title=title, title_justify="left")
    cols = ["answer", *(["student"] if any(v.student for v in verdicts) else []), "result",
            *(["score"] if points else []), "max error", "cells wrong", "diagnosis"]
    for col in cols:
        t.add_column(col, justify="right" if col in ("max error", "cells wrong", "score") else "left")
    for v in verdicts:
        row = [text(v.answer), *([text(v.student or "")] if "student" in cols else []),
               "PASS" if v.passed else "FAIL", *([f"{v.score:g}/{v.max_score:g}"] if points else []),
               "" if v.max_error is None else f"{v.max_error:.3g}",
               "" if v.passed or v.detail else f"{v.count}/{v.total}", text(v.diagnosis or v.detail)]
        t.add_row(*row)
    return t
