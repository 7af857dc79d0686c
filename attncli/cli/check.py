"""`attncli check`: compare answers with the expected array, say which cells differ and which mistake
the answer matches; grade many answer files in one run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from attncli.cli import app
from attncli.cli import options as opt
from attncli.cli.common import Sources
from attncli.cli.problem import attention_command
from attncli.errors import AttnError

WHAT = ("weights", "output", "scores", "q", "k", "v", "heads")
CHECK = "Checking"
EPILOG = (
    "Examples:\n\n"
    "  attncli check answer.csv samples/self_attention/problem.toml\n\n"
    "  attncli check \"0.08 0.24 0.24 0.43; ...\" --x x.csv --wq wq.csv --wk wk.csv --wv wv.csv --what weights "
    "--decimals 2\n\n"
    "  attncli check submissions/*.csv samples/self_attention/problem.toml --report grades.csv\n\n"
    "  attncli check mine.npy --expected reference.npy --atol 1e-5"
)


@dataclass
class Verdict:
    answer: str
    passed: bool
    max_error: float | None
    count: int  # differing cells
    total: int
    diagnosis: str
    detail: str  # shape or read problems


@app.command(epilog=EPILOG)
@attention_command(positional_problem=False)
def check(
    answers: Annotated[list[str], typer.Argument(help="Answer arrays (any SOURCE: CSV, inline, npy, ...); a .toml "
                                                "among them is the PROBLEM. e.g. answer.csv",
                                                metavar="ANSWER... [PROBLEM.toml]", show_default=False)],
    expected: Annotated[str | None, opt._opt("The expected array (instead of computing it from the problem). "
                                             "e.g. --expected reference.npy", CHECK, "--expected")] = None,
    what: Annotated[str, opt._opt("Which array the answers are: weights, output, scores, q, k, v or heads. "
                                  "e.g. --what weights", CHECK, "--what", show_default=True)] = "output",
    atol: Annotated[float | None, opt._opt("Absolute tolerance (default 1e-6). e.g. --atol 1e-4", CHECK,
                                           "--atol")] = None,
    rtol: Annotated[float | None, opt._opt("Relative tolerance (default 1e-6). e.g. --rtol 1e-3", CHECK,
                                           "--rtol")] = None,
    decimals: Annotated[int | None, opt._opt("Answers are rounded to N decimals: pass within half a unit of the "
                                             "last place (±0.005 for 2). e.g. --decimals 2", CHECK,
                                             "--decimals")] = None,
    diagnose: Annotated[bool, opt._opt("When an answer fails, find the common mistake it matches. "
                                       "e.g. --no-diagnose", CHECK, "--diagnose/--no-diagnose",
                                       show_default=True)] = True,
    report: Annotated[str | None, opt._opt("Write the summary (file, pass/fail, max error, diagnosis) to "
                                           "PATH.csv or PATH.json. e.g. --report grades.csv", CHECK,
                                           "--report")] = None,
    max_cells: Annotated[int, opt._opt("Show at most N differing cells per failed answer. e.g. --max-cells 50",
                                       CHECK, "--max-cells", show_default=True)] = 20,
    precision: opt.PRECISION = 4, debug: opt.DEBUG = False, *, options: dict[str, Any],
) -> None:
    """Compare each ANSWER with the expected array. Pass: one line, exit 0. Fail: the differing cells, the max
    error and the mistake the answer matches; exit 1. Many answers: a summary table (and --report)."""
    import numpy as np

    from attncli.core import diagnose as dg

    if what not in WHAT:
        raise AttnError(f"--what must be one of {', '.join(WHAT)}; got {what!r}")
    if not answers:
        raise AttnError("check needs at least one ANSWER (a file, or an inline matrix)")
    if decimals is not None and (atol is not None or rtol is not None):
        raise AttnError("--decimals sets the tolerance; give it or --atol/--rtol, not both")
    if decimals is not None and not 0 <= decimals <= 15:
        raise AttnError(f"--decimals must be between 0 and 15; got {decimals}")
    a_tol = 0.5 * 10.0 ** -decimals * (1 + 1e-9) if decimals is not None else (1e-6 if atol is None else atol)
    r_tol = 0.0 if decimals is not None else (1e-6 if rtol is None else rtol)

    src = Sources()
    result, kwargs = None, None
    if expected is not None:
        from attncli.core.validate import as_real

        want = np.asarray(as_real(src.array(expected, "--expected"), "--expected"), dtype=np.float64)
    else:
        from attncli.cli.spec import attention_kwargs
        from attncli.core import attention
        from attncli.io.memory import available_memory

        kwargs, _ = attention_kwargs(src, options)
        result = attention(**kwargs, memory_limit=available_memory())
        want = result.export(what).astype(np.float64)
    cands: list[dg.Candidate] | object = []
    if kwargs is not None and diagnose:
        cands = dg.candidates(kwargs, what, result)
    elif expected is not None and diagnose:
        cands = dg.expected_candidates(want)

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(np.all(_close(a, b, a_tol, r_tol)))

    doctor = dg.Diagnoser(want, cands, close)

    def diagnosis(ans: np.ndarray) -> str:
        found = doctor.diagnose(ans)
        return found.message if found is not None else ""

    verdicts: list[Verdict] = []
    single = len(answers) == 1
    progress = _progress(len(answers)) if not single and sys.stderr.isatty() else None
    for path in answers:
        verdicts.append(_grade(path, want, close, diagnosis if diagnose else None, a_tol, r_tol, src, single,
                               precision, max_cells, decimals))
        if progress is not None:
            progress[0].advance(progress[1])
    if progress is not None:
        progress[0].stop()
    if not single:
        _summary(verdicts, precision)
    if report is not None:
        _write_report(report, verdicts, src.paths)
    if not all(v.passed for v in verdicts):
        raise typer.Exit(1)


def _close(a, b, atol: float, rtol: float):
    import numpy as np

    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(invalid="ignore"):
        return both_nan | same_inf | (np.abs(a - b) <= atol + rtol * np.abs(b))


def _grade(path, want, close, diagnosis, atol, rtol, src, single, precision, max_cells, decimals) -> Verdict:
    import os

    import numpy as np

    from attncli.render.safe import printable

    label = printable(path) if path == "-" or os.path.exists(path.rpartition(":")[0] or path) else "the inline answer"

    try:
        from attncli.core.validate import as_real

        ans = np.asarray(as_real(src.array(path, "ANSWER"), f"ANSWER {path}"), dtype=np.float64)
    except AttnError as err:
        if single:
            raise
        return Verdict(path, False, None, 0, 0, "", f"cannot read: {err}")
    except (TypeError, ValueError):
        raise AttnError(f"ANSWER {path}: must hold real numbers") from None
    if ans.shape != want.shape and ans.size == want.size and np.squeeze(ans).shape == np.squeeze(want).shape:
        ans = ans.reshape(want.shape)  # (1, n, d) vs (n, d): the same numbers
    if ans.shape != want.shape:
        found = diagnosis(ans) if diagnosis is not None else ""
        if found:
            if single:
                print(f"FAIL {label}: shape {ans.shape} but the expected {want.shape}")
                print(printable(f"diagnosis: {found}"))
            return Verdict(path, False, None, 0, int(want.size), found, f"shape {ans.shape} but the expected "
                           f"{want.shape}")
        hint = ""
        if ans.ndim >= 2 and ans.shape == want.shape[:-2] + want.shape[-2:][::-1]:
            transposed = close(np.swapaxes(ans, -1, -2), want)
            hint = ("; its transpose matches: tokens as rows vs columns mixed up, see --layout" if transposed
                    else "; it has the transposed shape: check the layout (--layout rows|cols)")
        detail = f"shape {ans.shape} but the expected {want.shape}{hint}"
        if single:
            print(f"FAIL {label}: {detail}")
        return Verdict(path, False, None, 0, int(want.size), "", detail)
    ok = _close(ans, want, atol, rtol)
    diff = np.abs(ans - want)
    finite = np.isfinite(diff)
    max_err = float(diff[finite].max()) if finite.any() else 0.0
    count = int((~ok).sum())
    if count == 0:
        if single:
            tol = f"±{atol:g}" if rtol == 0 else f"atol {atol:g}, rtol {rtol:g}"
            print(f"PASS {label}: matches the expected {_what_of(want)} (max |error| {max_err:.3g}, within {tol})")
        return Verdict(path, True, max_err, 0, int(want.size), "", "")
    found = diagnosis(ans) if diagnosis is not None else None
    if not found and decimals is None:
        found = _rounding_hint(path, ans, want, src) or found
    if single:
        _print_failure(label, ans, want, ok, max_err, count, found, precision, max_cells)
    return Verdict(path, False, max_err, count, int(want.size), found or "", "")


def _what_of(want) -> str:
    return f"{'×'.join(map(str, want.shape))} array"


def _rounding_hint(path, ans, want, src) -> str:
    """An answer written with few decimals that matches at that precision: say so."""
    import numpy as np

    for d in range(0, 7):
        if np.allclose(np.round(ans, d), ans, rtol=0, atol=1e-12):
            if np.all(np.abs(ans - want) <= 0.5 * 10.0 ** -d * (1 + 1e-9)):
                return f"matches when rounded to {d} decimals: pass --decimals {d} (or decimals = {d} in the problem)"
            return ""
    return ""


def _print_failure(path, ans, want, ok, max_err, count, diagnosis, precision, max_cells) -> None:
    from rich.table import Table

    from attncli.cli.common import print_renderables
    from attncli.render.safe import text
    from attncli.render.tables import format_number

    t = Table(title=text(f"FAIL {path}: {count} of {want.size} cells differ (max |error| {max_err:.4g})"),
              title_justify="left")
    for col in ("cell", "answer", "expected", "difference"):
        t.add_column(col, justify="left" if col == "cell" else "right")
    import numpy as np

    from attncli.render.safe import printable

    bad = np.argwhere(~ok)
    for idx in bad[:max_cells]:
        i = tuple(int(v) for v in idx)
        t.add_row(str(list(i)), format_number(ans[i], precision), format_number(want[i], precision),
                  format_number(ans[i] - want[i], precision))
    if len(bad) > max_cells:
        t.caption = f"{len(bad) - max_cells} more differing cells not shown (--max-cells)"
    print_renderables([t])
    if diagnosis is not None:
        print(printable(f"diagnosis: {diagnosis}") if diagnosis else "diagnosis: no common mistake matches this answer")


def _progress(total: int):
    from rich.progress import Progress

    p = Progress(transient=True)
    p.start()
    return p, p.add_task("grading", total=total)


def _summary(verdicts: list[Verdict], precision: int) -> None:
    from rich.table import Table

    from attncli.cli.common import print_renderables
    from attncli.render.safe import text

    passed = sum(v.passed for v in verdicts)
    t = Table(title=f"{passed} of {len(verdicts)} answers pass", title_justify="left")
    for col in ("answer", "result", "max error", "cells wrong", "diagnosis"):
        t.add_column(col, justify="right" if col in ("max error", "cells wrong") else "left")
    for v in verdicts:
        t.add_row(text(v.answer), "PASS" if v.passed else "FAIL", "" if v.max_error is None else f"{v.max_error:.3g}",
                  "" if v.passed or v.detail else f"{v.count}/{v.total}", text(v.diagnosis or v.detail))
    print_renderables([t])


def _write_report(path: str, verdicts: list[Verdict], protect) -> None:
    import csv
    import io
    import json

    from attncli.io import atomic_write

    rows = [{"answer": v.answer, "result": "pass" if v.passed else "fail", "max_error": v.max_error,
             "cells_wrong": v.count, "cells": v.total, "diagnosis": v.diagnosis, "detail": v.detail}
            for v in verdicts]
    if path.lower().endswith(".json"):
        data = json.dumps({"answers": rows, "passed": sum(v.passed for v in verdicts), "total": len(rows)},
                          indent=2, ensure_ascii=False) + "\n"
    elif path.lower().endswith(".csv"):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        data = buf.getvalue()
    else:
        raise AttnError(f"--report writes .csv or .json; got {path!r}")
    atomic_write(path, data.encode("utf-8"), protect=protect, option="--report")
