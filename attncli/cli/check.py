"""`attncli check`: compare answers with the expected array, say which cells differ and which mistake the
answer matches; grade a whole class in one run (each student against their own problem with --problems), with
partial credit and the reports courses load (Gradescope, PrairieLearn, CSV, JSON)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from attncli.cli import app
from attncli.cli import options as opt
from attncli.cli.common import Sources
from attncli.cli.problem import attention_command
from attncli.errors import AttnError
from attncli.vocabulary import HELP as STEP_NAMES
from attncli.vocabulary import NAMES

WHAT = NAMES  # the arrays an answer may be: attncli/vocabulary.py
CREDIT = ("all", "cells")
CHECK = "Checking"
GRADES = "Grades and reports"
EPILOG = (
    "Examples:\n\n"
    "  attncli check samples/self_attention/answer.csv samples/self_attention/problem.toml\n\n"
    "  attncli check \"0.08 0.24 0.24 0.43; 0.02 0.49 0.49 0.01; 0.05 0.27 0.27 0.41; 0.1 0.08 0.08 0.74\" "
    "samples/self_attention/problem.toml  # exit 1\n\n"
    "  attncli check samples/self_attention/answer*.csv samples/self_attention/problem.toml --report grades.csv"
    "  # exit 1\n\n"
    "  attncli check samples/self_attention/answer_wrong.csv samples/self_attention/problem.toml --format json"
    "  # exit 1\n\n"
    "  attncli check samples/self_attention/answer.csv samples/self_attention/problem.toml --points 10 "
    "--credit cells --report results.json --report-format gradescope\n\n"
    "  attncli check samples/homework/answers/*.csv --problems samples/homework/problems --report grades.csv"
    "  # exit 1\n\n"
    "  attncli check samples/self_attention/answer.csv --expected samples/self_attention/answer.csv --atol 1e-5"
)


@app.command(epilog=EPILOG)
@attention_command(positional_problem=False)
def check(
    answers: Annotated[list[str], typer.Argument(help="Answer arrays (any SOURCE: CSV, inline, npy, ...); a .toml "
                                                "among them is the PROBLEM. e.g. answer.csv",
                                                metavar="ANSWER... [PROBLEM.toml]", show_default=False)],
    expected: Annotated[str | None, opt._opt("The expected array (instead of computing it from the problem). "
                                             "e.g. --expected reference.npy", CHECK, "--expected")] = None,
    problems: Annotated[str | None, opt._opt(
        "A folder of per-student problems (DIR/<student id>.toml, as `attncli init --roster` writes): each ANSWER "
        "is graded against the problem of the student its file name (ada.csv, ada_weights.csv) or folder "
        "(ada/answer.csv) names. e.g. --problems problems/", CHECK, "--problems")] = None,
    student: Annotated[str | None, opt._opt(
        "With --problems: grade every ANSWER against this student's problem (DIR/<ID>.toml), whatever the answer "
        "files are called (an autograder's weights.csv). e.g. --student ada@uni.edu", CHECK, "--student")] = None,
    what: Annotated[str, opt._opt(f"Which array the answers are: {STEP_NAMES}. e.g. --what weights", CHECK,
                                  "--what", show_default=True)] = "output",
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
    fmt: Annotated[str, opt._opt("table (default): PASS/FAIL lines and tables; json: one strict JSON object on "
                                 "stdout (per answer: file, pass, score, max error, cells wrong, diagnosis, "
                                 "feedback) and nothing else. e.g. --format json", GRADES, "--format", "-f",
                                 show_default=True)] = "table",
    points: Annotated[float | None, opt._opt("Points for each answer (default 1). e.g. --points 10", GRADES,
                                             "--points")] = None,
    credit: Annotated[str | None, opt._opt("all: full points when every cell is right, else 0 (default); cells: "
                                           "points × the share of cells within tolerance. e.g. --credit cells",
                                           GRADES, "--credit")] = None,
    report: Annotated[str | None, opt._opt("Write the grades to PATH (.csv or .json, or any name with "
                                           "--report-format). e.g. --report grades.csv", GRADES, "--report")] = None,
    report_format: Annotated[str | None, opt._opt(
        "csv, json (the --format json object), gradescope (Gradescope's results.json) or prairielearn "
        "(PrairieLearn's external-grader results.json). e.g. --report-format gradescope", GRADES,
        "--report-format")] = None,
    visibility: Annotated[str, opt._opt("Gradescope: when students see each result: visible, hidden, "
                                        "after_due_date or after_published. e.g. --visibility after_due_date",
                                        GRADES, "--visibility", show_default=True)] = "visible",
    max_cells: Annotated[int, opt._opt("Show at most N differing cells per failed answer. e.g. --max-cells 50",
                                       CHECK, "--max-cells", show_default=True)] = 20,
    precision: opt.PRECISION = 4, debug: opt.DEBUG = False, *, options: dict[str, Any],
) -> None:
    """Compare each ANSWER with the expected array. Pass: one line, exit 0. Fail: the differing cells, the max
    error and the mistake the answer matches; exit 1. Many answers: a summary table (and --report)."""
    from attncli.cli.grader import ProblemIndex
    from attncli.render import grades as gr

    if not answers:
        raise AttnError("check needs at least one ANSWER (a file, or an inline matrix)")
    if fmt not in ("table", "json"):
        raise AttnError(f"check --format is table or json; got {fmt!r}")
    if visibility not in gr.VISIBILITY:
        raise AttnError(f"--visibility must be one of {', '.join(gr.VISIBILITY)}; got {visibility!r}")
    rep_fmt = gr.report_format(report, report_format) if report is not None else None
    if report is None and report_format is not None:
        raise AttnError("--report-format needs --report PATH (e.g. --report results.json --report-format "
                        f"{report_format})")
    own = {"what": what, "atol": atol, "rtol": rtol, "decimals": decimals, "points": points, "credit": credit}
    src = Sources()
    single = len(answers) == 1
    strict = single and fmt == "table" and report is None  # one answer that cannot be read: an error (exit 2)
    if problems is not None:
        if options.get("problem") is not None or expected is not None:
            raise AttnError("--problems grades each answer against its student's own problem: drop the PROBLEM "
                            f"file{' and --expected' if expected is not None else ''}")
        index = ProblemIndex(problems)
        if student is not None and student not in index.by_id:
            raise AttnError(f"--student: no problem for {student!r} in {problems} (it holds "
                            f"{_some(list(index.by_id))}); the roster's ids name the files")
        given = _given_on_command_line()
        graders: dict[str, Any] = {}
        verdicts = []
        for path in _progress(answers, single):
            found = (student, index.by_id[student]) if student is not None else index.find(path)
            if found is None:
                detail = (f"no problem in {problems} for this answer: its file name (or folder) must name a "
                          "student (e.g. ada.csv or ada_weights.csv for ada.toml)")
                if single:
                    raise AttnError(f"ANSWER {path}: {detail}")
                verdicts.append(gr.Verdict(path, "", False, None, 0, 0, detail=detail, readable=False,
                                           max_score=_points(points)))
                continue
            sid, ppath = found
            if ppath not in graders:
                o, mine = _merge_problem(ppath, options, own, given)
                graders[ppath] = _grader(src, o, mine, None, diagnose)
            v = _grade(graders[ppath], path, src, single, precision, max_cells, fmt, strict)
            v.student, v.problem = sid, ppath
            verdicts.append(v)
    else:
        if student is not None:
            raise AttnError("--student picks a student's problem from --problems DIR; give --problems too")
        grader = _grader(src, options, own, expected, diagnose)
        verdicts = [_grade(grader, path, src, single, precision, max_cells, fmt, strict)
                    for path in _progress(answers, single)]
    scored = points is not None or any(v.max_score != 1 for v in verdicts) or (credit or "all") != "all"
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(gr.grades_object(verdicts), ensure_ascii=False, allow_nan=False) + "\n")
    elif not single:
        from attncli.cli.common import print_renderables

        print_renderables([gr.summary_table(verdicts, scored)])
    if report is not None:
        from attncli.io import atomic_write

        atomic_write(report, gr.report_bytes(verdicts, rep_fmt, visibility), protect=src.paths, option="--report")
    if not all(v.passed for v in verdicts):
        raise typer.Exit(1)


def _some(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _points(points: float | None) -> float:
    import math

    if points is None:
        return 1.0
    if not (math.isfinite(points) and points >= 0):
        raise AttnError(f"--points must be a number ≥ 0; got {points}")
    return float(points)


def _grader(src: Sources, options: dict[str, Any], own: dict[str, Any], expected: str | None, diagnose: bool):
    """The Grader of one problem (or of --expected): the expected array, tolerance and diagnoser."""
    import numpy as np

    from attncli.cli.grader import Grader, Tolerance
    from attncli.core import diagnose as dg

    what = own["what"]
    if what not in WHAT:
        raise AttnError(f"--what must be one of {', '.join(WHAT)}; got {what!r}")
    credit = own["credit"] or "all"
    if credit not in CREDIT:
        raise AttnError(f"--credit must be all or cells; got {credit!r}")
    tol = Tolerance.of(own["atol"], own["rtol"], own["decimals"])
    if expected is not None:
        from attncli.core.validate import as_real

        want = np.asarray(as_real(src.array(expected, "--expected"), "--expected"), dtype=np.float64)
        cands: Any = dg.expected_candidates(want)
        what = ""
    else:
        from attncli.cli.common import saying_what_was_read
        from attncli.cli.spec import attention_kwargs
        from attncli.core import attention
        from attncli.io.memory import available_memory

        kwargs, _ = attention_kwargs(src, options)
        with saying_what_was_read(src):
            result = attention(**kwargs, memory_limit=available_memory())
        want = result.export(what).astype(np.float64)
        cands = dg.candidates(kwargs, what, result)
    doctor = dg.Diagnoser(want, cands, tol.close) if diagnose else None
    return Grader(want, what, tol, doctor, _points(own["points"]), credit)


def _grade(grader, path: str, src: Sources, single: bool, precision: int, max_cells: int, fmt: str,
           strict: bool):
    import numpy as np

    from attncli.io.inline import looks_inline
    from attncli.render.grades import Verdict
    from attncli.render.safe import printable

    label = "the inline answer" if path != "-" and looks_inline(path) else printable(path)
    try:
        from attncli.core.validate import as_real

        ans = np.asarray(as_real(src.array(path, "ANSWER"), f"ANSWER {path}"), dtype=np.float64)
    except AttnError as err:
        if strict:
            raise
        if single and fmt == "table":
            print(printable(f"FAIL {label}: cannot read: {err}"))
        return Verdict(path, grader.what, False, None, 0, int(grader.want.size), detail=f"cannot read: {err}",
                       readable=False, max_score=grader.points)
    except (TypeError, ValueError):
        raise AttnError(f"ANSWER {path}: must hold real numbers") from None
    v = grader.grade(ans, path)
    if single and fmt == "table":
        if v.passed:
            print(f"PASS {label}: matches the expected {_what_of(grader.want)} (max |error| {v.max_error:.3g}, "
                  f"within {grader.tol.text()})")
        elif v.detail:
            print(printable(f"FAIL {label}: {v.detail}"))
            if v.diagnosis:
                print(printable(f"diagnosis: {v.diagnosis}"))
        else:
            _print_failure(label, grader.shaped(ans), grader, v, precision, max_cells)
    return v


def _what_of(want) -> str:
    return f"{'×'.join(map(str, want.shape))} array"


def _print_failure(label: str, ans, grader, v, precision: int, max_cells: int) -> None:
    import numpy as np
    from rich.table import Table

    from attncli.cli.common import print_renderables
    from attncli.render.safe import printable, text
    from attncli.render.tables import format_number

    want = grader.want
    t = Table(title=text(f"FAIL {label}: {v.count} of {want.size} cells differ (max |error| {v.max_error:.4g})"),
              title_justify="left")
    for col in ("cell", "answer", "expected", "difference"):
        t.add_column(col, justify="left" if col == "cell" else "right")
    bad = np.argwhere(~grader.tol.within(ans, want))
    for idx in bad[:max_cells]:
        i = tuple(int(x) for x in idx)
        t.add_row(str(list(i)), format_number(ans[i], precision), format_number(want[i], precision),
                  format_number(ans[i] - want[i], precision))
    if len(bad) > max_cells:
        t.caption = f"{len(bad) - max_cells} more differing cells not shown (--max-cells)"
    print_renderables([t])
    if grader.doctor is not None or v.diagnosis:
        print(printable(f"diagnosis: {v.diagnosis}") if v.diagnosis else
              "diagnosis: no common mistake matches this answer")


def _progress(answers: list[str], single: bool):
    """The answers, with a progress bar on a terminal when there are many."""
    if single or not sys.stderr.isatty():
        yield from answers
        return
    from rich.progress import Progress

    with Progress(transient=True) as p:
        task = p.add_task("grading", total=len(answers))
        for a in answers:
            yield a
            p.advance(task)


def _given_on_command_line() -> set[str]:
    from attncli.cli.problem import _COMMANDLINE

    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - typer without its vendored click
        from click import get_current_context
    ctx = get_current_context()
    return {name for name in ctx.params if ctx.get_parameter_source(name) == _COMMANDLINE()}


def _merge_problem(path: str, options: dict[str, Any], own: dict[str, Any], given: set[str]):
    """A student's problem file under the command line's options (options given on the command line win)."""
    from attncli.cli.problem import apply_problem

    kw = {**options, **own}
    apply_problem(path, kw, given, [])
    return {**{n: kw[n] for n in options}, "problem": path}, {n: kw[n] for n in own}
