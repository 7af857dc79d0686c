"""`attncli check`: compare answers with the expected array, say which cells differ and which mistake the
answer matches; grade a whole class in one run (each student against their own problem with --problems), with
partial credit and the reports courses load (Gradescope, PrairieLearn, CSV, JSON)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from attncli.cli import options as opt
from attncli.cli.common import Sources
from attncli.cli.group import app
from attncli.cli.params import message
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
    "  attncli check samples/homework/answers/s002.csv --problems samples/homework/problems --student S002"
    "  # exit 1\n\n"
    "  attncli check samples/self_attention/answer.csv --expected samples/self_attention/answer.csv --atol 1e-5"
)


@app.command(epilog=EPILOG)
@attention_command(positional_problem=False)
def check(
    answers: Annotated[list[str], typer.Argument(help="Answer arrays (any SOURCE: CSV, inline, npy, ...; a folder: "
                                                "the answer file in it); a .toml among them is the PROBLEM. An empty "
                                                "cell in a text answer is a wrong cell, the rest graded. "
                                                "e.g. answer.csv",
                                                metavar="ANSWER... [PROBLEM.toml]", show_default=False)],
    expected: Annotated[str | None, opt._opt("The expected array (instead of computing it from the problem). "
                                             "e.g. --expected reference.npy", CHECK, "--expected")] = None,
    problems: Annotated[str | None, opt._opt(
        "A folder of per-student problems (DIR/<student id>.toml and DIR/roster.csv, as `attncli init --roster` "
        "writes): each ANSWER is graded against the problem of the student its file name (ada.csv, "
        "ada_weights.csv) or folder (ada/, ada/answer.csv) names, ignoring case. Every student of the roster gets "
        "one row (no answer: 'missing', 0 points); two answers for one student are refused, naming both. "
        "e.g. --problems problems/", CHECK, "--problems")] = None,
    student: Annotated[str | None, opt._opt(
        "With --problems: grade every ANSWER against this student's problem (DIR/<ID>.toml; case and surrounding "
        "blanks ignored), whatever the answer files are called (an autograder's weights.csv); only this student "
        "is graded and named. e.g. --student ada@uni.edu", CHECK, "--student")] = None,
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
    error and the mistake the answer matches; exit 1. Many answers: a summary table (and --report); with
    --problems DIR, one row per student of the roster."""
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
    how = _How(single=len(answers) == 1, fmt=fmt, report=report is not None, precision=precision,
               max_cells=max_cells)
    students = None
    if problems is not None:
        if options.get("problem") is not None or expected is not None:
            raise AttnError("--problems grades each answer against its student's own problem: drop the PROBLEM "
                            f"file{' and --expected' if expected is not None else ''}")
        verdicts, students = _grade_class(problems, student, answers, src, options, own, diagnose, how)
    else:
        if student is not None:
            raise AttnError("--student picks a student's problem from --problems DIR; give --problems too")
        given = _given_on_command_line()
        defaults = _defaults(what, given, expected) if options.get("problem") is None else ""
        grader = _grader(src, options, own, expected, diagnose, defaults)
        verdicts = [_grade(grader, path, src, how) for path in _progress(answers, how.single)]
    scored = points is not None or any(v.max_score != 1 for v in verdicts) or (credit or "all") != "all"
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(gr.grades_object(verdicts, students), ensure_ascii=False, allow_nan=False)
                         + "\n")
    elif not how.single or students is not None:
        from attncli.cli.common import print_renderables

        print_renderables([gr.summary_table(verdicts, scored, students)])
    if report is not None:
        from attncli.io import atomic_write

        atomic_write(report, gr.report_bytes(verdicts, rep_fmt, visibility, students), protect=src.paths,
                     option="--report")
    if not all(v.passed for v in verdicts):
        raise typer.Exit(1)


class _How:
    """How one run shows its verdicts: one answer in a table (PASS/FAIL lines, the cells) or a summary."""

    def __init__(self, single: bool, fmt: str, report: bool, precision: int, max_cells: int) -> None:
        self.single, self.fmt, self.precision, self.max_cells = single, fmt, precision, max_cells
        self.strict = single and fmt == "table" and not report  # one answer that cannot be read: exit 2
        self.shown = single and fmt == "table"  # PASS/FAIL lines printed as each answer is graded
        self.private = False  # a class's answers: a missing one's folder holds other students' files, never listed


def _grade_class(problems: str, student: str | None, answers: list[str], src: Sources, options: dict[str, Any],
                 own: dict[str, Any], diagnose: bool, how: _How):
    """check --problems DIR: one row per roster student (and per answer naming no student), or with --student
    the answers of that student only. Returns the verdicts and the roster's size (None with --student)."""
    from attncli.cli import submissions as sub
    from attncli.render import grades as gr

    index = sub.ProblemIndex(problems, check_files=student is None)
    given = _given_on_command_line()
    if student is not None:
        me = index.lookup(student)
        if me is None:
            raise AttnError(f"--student: no problem for {student.strip()!r} in {problems} (it holds "
                            f"{len(index)} problem{'s' if len(index) != 1 else ''}; ids are matched ignoring case "
                            "and surrounding blanks): check that the id is the one the roster's id column holds "
                            "(attncli init --roster ... --id-column Email for the email Gradescope gives) and that "
                            f"'{problems}' is this assignment's")
        plan = [(me, a) for a in sub.gather(answers)]
    else:
        how.single = how.strict = how.shown = False
        how.private = True
        mine, unmatched = sub.assign(index, sub.gather(answers))
        plan = [(s, mine.get(s.id)) for s in index.students] + [(None, a) for a in unmatched]
    graders: dict[str, Any] = {}
    verdicts = []
    for s, path in _progress(plan, how.single):
        if s is None:
            of = f"the roster {index.roster}" if index.roster else f"the problems in {problems}"
            verdicts.append(gr.Verdict(path, "", False, None, None, None, state=gr.UNMATCHED, max_score=0.0,
                                       detail=f"names no student of {of}: its file name (or folder) must be a "
                                       "student's id, e.g. ada.csv, ada_weights.csv or ada/weights.csv"))
            continue
        o, mine_own = _merge_problem(s.problem, options, own, given)
        if path is None:
            from attncli.cli.grader import Tolerance

            tol = Tolerance.of(mine_own["atol"], mine_own["rtol"], mine_own["decimals"])
            verdicts.append(gr.Verdict(None, mine_own["what"], False, None, None, None, state=gr.MISSING,
                                       max_score=_points(mine_own["points"]), student=s.id, problem=s.problem,
                                       tolerance=tol.text(), tol=tol.as_dict(), detail="no answer"))
            continue
        if s.problem not in graders:
            graders[s.problem] = _grader(src, o, mine_own, None, diagnose)
        v = _grade(graders[s.problem], path, src, how)
        v.student, v.problem = s.id, s.problem
        verdicts.append(v)
    return verdicts, None if student is not None else len(index)


def _defaults(what: str, given: set[str], expected: str | None) -> str:
    """check without a problem file: what was compared by default and how to change it ("" if nothing was)."""
    what_default = expected is None and "what" not in given
    tol_default = not given & {"atol", "rtol", "decimals"}
    others = f"--what {'|'.join(w for w in WHAT if w != what)} for another array"
    change = "--decimals N or --atol/--rtol"
    if what_default and tol_default:
        return f"--what {what} and the tolerance are the defaults ({others}; {change} for another tolerance)"
    if what_default:
        return f"--what {what} is the default ({others})"
    return f"the tolerance is the default ({change} to change it)" if tol_default else ""


def _points(points: float | None) -> float:
    from attncli.cli.grader import points_of

    return points_of(points)


def _grader(src: Sources, options: dict[str, Any], own: dict[str, Any], expected: str | None, diagnose: bool,
            defaults: str = ""):
    """The Grader of one problem (or of --expected), its --what and --credit checked."""
    from attncli.cli.grader import build_grader

    if own["what"] not in WHAT:
        raise AttnError(f"--what must be one of {', '.join(WHAT)}; got {own['what']!r}")
    if (own["credit"] or "all") not in CREDIT:
        raise AttnError(f"--credit must be all or cells; got {own['credit']!r}")
    return build_grader(src, options, own, expected, diagnose, defaults)


def _grade(grader, path: str, src: Sources, how: _How):
    """Read one answer (a folder: the answer file in it) and grade it; print PASS/FAIL when it is the only one."""
    import os

    from attncli.cli.grader import dims, read_answer
    from attncli.io.inline import looks_inline
    from attncli.render import grades as gr
    from attncli.render.safe import printable

    label = "the inline answer" if path != "-" and looks_inline(path) else printable(path)
    try:
        if how.private and not os.path.lexists(path) and path != "-" and not looks_inline(path):
            from attncli.io.paths import missing_file

            raise AttnError(f"ANSWER: {missing_file(path, private=True)}")
        if os.path.isdir(path):
            from attncli.cli.submissions import answer_file

            path = answer_file(path, grader.what)
            label = printable(path)
        ans, empty = read_answer(src, path)
    except AttnError as err:
        if how.strict:
            raise
        if how.shown:
            print(printable(f"FAIL {label}: cannot read: {message(err)}"))
        return grader.verdict(path, state=gr.UNREADABLE, detail=f"cannot read: {message(err)}")
    v = grader.grade(ans, path, empty)
    if how.shown:
        said = f"; {v.defaults}" if v.defaults else ""
        if v.passed:
            err = "" if v.max_error is None else f" (max |error| {v.max_error:.3g})"
            print(printable(f"PASS {label}: matches {gr.the(grader.what)} ({dims(grader.want.shape)}) within "
                            f"{grader.tol.text()}{err}{said}"))
        elif v.count is None:
            print(printable(f"FAIL {label}: {v.detail}{said}"))
            if v.diagnosis:
                print(printable(f"diagnosis: {v.diagnosis}"))
        else:
            _print_failure(label, grader, v, ans, empty, how)
    return v


def _print_failure(label: str, grader, v, ans, empty, how: _How) -> None:
    import numpy as np
    from rich.table import Table

    from attncli.cli.common import print_renderables
    from attncli.render.grades import wrong_cells
    from attncli.render.safe import printable, text
    from attncli.render.tables import format_number

    want = grader.want
    ans, empty = grader.shaped(ans, empty)
    t = Table(title=text(f"FAIL {label}: {wrong_cells(v)}" + (f"; {v.defaults}" if v.defaults else "")),
              title_justify="left")
    for col in ("cell", "answer", "expected", "difference"):
        t.add_column(col, justify="left" if col == "cell" else "right")
    wrong = ~grader.tol.within(ans, want)
    if empty is not None:
        wrong |= empty
    bad = np.argwhere(wrong)
    for idx in bad[:how.max_cells]:
        i = tuple(int(x) for x in idx)
        blank = empty is not None and empty[i]
        diff = ans[i] - want[i]
        t.add_row(str(list(i)), "(empty)" if blank else format_number(ans[i], how.precision),
                  format_number(want[i], how.precision),
                  format_number(diff, how.precision) if np.isfinite(diff) else "")
    if len(bad) > how.max_cells:
        t.caption = f"{len(bad) - how.max_cells} more differing cells not shown (--max-cells)"
    print_renderables([t])
    if v.diagnosis or grader.doctor is not None and v.count > v.noted:
        print(printable(f"diagnosis: {v.diagnosis}") if v.diagnosis else
              "diagnosis: no common mistake matches this answer")


def _progress(answers: list, single: bool):
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
