"""`attncli explain A.toml B.toml ...`: the worked solutions of a whole class, as one document or one file each.

- One document (stdout, or -o FILE): a LaTeX booklet with --standalone (title, contents, a \\section per problem,
  each on a new page), LaTeX fragments or Markdown with a heading per problem, tables under a rule per problem,
  or one JSON object {"problems": [{"problem": path, "steps": ..., "meta": ...}, ...]}.
- -o FOLDER/ (or an existing folder): one file per problem, named after it (s002.toml -> s002.tex), each exactly
  what `explain s002.toml -o FILE` writes. Pictures of several problems go only there.

Options on the command line apply to every problem, over each file's own (as `check --problems` does); each
problem keeps its own layout, answer and precision. Every problem file is read and checked before any is
computed. Then one problem at a time is computed, rendered and written, its steps let go before the next: a
booklet of 200 problems holds one problem's steps. Nothing appears until every problem is done: -o FILE is
renamed into place at the end, a folder's files are renamed into place together at the end, and standard output
is spooled (in memory, then a temporary file) and copied out at the end. An error names its problem ("problem 7
of 30 (s007.toml): ...") and leaves every file as it was, and a folder made for the run is removed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from attncli.cli.common import PICTURES, Look, Sources, check_look
from attncli.cli.params import message
from attncli.cli.solution import answer_of, check_answer, format_of, is_folder, secs_of, solution_pieces, solve
from attncli.errors import AttnError

EXTENSIONS = {"table": "txt", "markdown": "md", "latex": "tex", "json": "json", "heatmap": "txt", "png": "png",
              "svg": "svg", "pdf": "pdf", "html": "html"}
# how the whole run is written, one for every problem: (the key in a problem file, the option)
DOCUMENT_KEYS = {"fmt": ("format", "--format"), "output": ("output", "-o"),
                 "standalone": ("standalone", "--standalone")}
SPOOL_IN_MEMORY = 32 << 20  # standard output is kept in memory up to this, then in a temporary file


@dataclass
class Problem:
    path: str
    heading: str  # the section title: the file name, or the path as given when two share a name
    options: dict[str, Any]  # the attention options, the file's under the command line's
    answer: tuple[str, int | None] | None
    look: Look
    number: int
    count: int


def explain_many(paths: list[str], each_problem: Callable | None, own: dict[str, Any],
                 options: dict[str, Any]) -> None:
    """Explain every problem of `paths` (or the one problem already merged into `own` and `options`, for -o a
    folder) into one document or, when -o is a folder, one file each."""
    output = own["output"]
    folder = is_folder(output)
    if len(paths) > 1:
        _check_paths(paths)
        merged = [_merged(path, i, len(paths), each_problem, own) for i, path in enumerate(paths, start=1)]
    elif options.get("problem") is not None:  # one problem, -o a folder: the wrapper merged it
        merged = [(options["problem"], own, options)]
    else:
        raise AttnError(f"-o {output} is a folder: explain writes one file per PROBLEM there, named after it, and "
                        "this run has no problem file; give -o a file name such as steps.txt")
    try:
        fmt = format_of(own["fmt"], output, own["standalone"], folder=folder)
    except AttnError:
        if own["fmt"] is None and output is not None and not os.path.splitext(output)[1]:
            raise AttnError(f"-o {output}: several problems go to one file (booklet.tex, steps.md, steps.json, "
                            f"steps.txt) or, one file each, into a folder: end it with / (-o {output}/)") from None
        raise
    if fmt in PICTURES and not folder:
        raise AttnError(f"explain --format {fmt} of several problems draws one picture per problem: give -o a folder, "
                        f"e.g. -o maps/ (maps/s001.{EXTENSIONS[fmt]}, ...)")
    headings = _headings([path for path, _, _ in merged])
    problems = []
    for i, ((path, mine, opts), heading) in enumerate(zip(merged, headings, strict=True), start=1):
        with _naming(path, i, len(merged)):
            look = check_look(mine["precision"], mine["dpi"], mine["cmap"])
            problems.append(Problem(path, heading, opts, answer_of(mine["what"], mine["decimals"]), look, i,
                                    len(merged)))
    if folder:
        _write_folder(problems, fmt, own["standalone"], output)
        return
    pieces = _document(problems, fmt, own["standalone"], tty=output is None and sys.stdout.isatty())
    if output is None:
        _spooled_to_stdout(pieces)
        return
    from attncli.io import atomic_write

    atomic_write(output, _then_not_an_input(pieces, output))


# ---- reading and checking every problem first ------------------------------------------------------------

def _check_paths(paths: list[str]) -> None:
    """Several problems are problem files (.toml), each given once."""
    seen: dict[str, str] = {}
    for i, path in enumerate(paths, start=1):
        where = f"problem {i} of {len(paths)}"
        if os.path.isdir(path):
            raise AttnError(f"{where}, '{path}', is a folder; give its problem files, e.g. "
                            f"{os.path.join(path, '*.toml')}")
        if not path.lower().endswith(".toml"):
            raise AttnError(f"{where}, '{path}', is not a problem file (.toml); give the problems alone, e.g. "
                            f"{os.path.join(os.path.dirname(path) or '.', '*.toml')}")
        real = os.path.realpath(path)
        if real in seen:
            raise AttnError(f"'{path}' is given twice (as '{seen[real]}' too); give each problem once")
        seen[real] = path


def _merged(path: str, i: int, n: int, each_problem: Callable | None, own: dict[str, Any]):
    """(path, own values, attention options) of problem i: its file under the command line; a file that sets how
    the whole run is written (format, output, standalone) other than the command line does is an error."""
    if each_problem is None:  # pragma: no cover - explain always has several=True
        raise AttnError("explain: several problems need the PROBLEM arguments")
    with _naming(path, i, n):
        mine, opts = each_problem(path)
        for name, (key, flag) in DOCUMENT_KEYS.items():
            if mine[name] != own[name]:
                raise AttnError(f"'{path}' sets {key} = {mine[name]!r}, but several problems are written as one: "
                                f"say it on the command line ({flag}, for every problem) and drop it from the file")
    return path, mine, opts


def _headings(paths: list[str]) -> list[str]:
    """Each problem's title: its file name, or the path as given when another problem has the same name."""
    names = [os.path.basename(p) for p in paths]
    return [name if names.count(name) == 1 else path for name, path in zip(names, paths, strict=True)]


@contextmanager
def _naming(path: str, i: int, n: int) -> Iterator[None]:
    """An AttnError inside names the problem: "problem 7 of 30 (s007.toml): ..."."""
    try:
        yield
    except AttnError as err:
        where = f"problem {i} of {n}" + ("" if path in message(err) else f" ({path})")
        raise AttnError(f"{where}: {err.args[0] if err.args else ''}") from None  # ‹parameters› kept for message()


def _solved(problems: list[Problem]) -> Iterator[tuple[Problem, Any, Any]]:
    """(problem, result, labels), one problem at a time, with a progress bar on a terminal (stderr). The caller
    lets each result go before asking for the next, so one problem's steps are held at a time."""
    progress = None
    if len(problems) > 1 and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)
        progress.start()
        task = progress.add_task("explaining", total=len(problems))
    try:
        for p in problems:
            with _naming(p.path, p.number, p.count):
                res, labels = solve(Sources(), p.options)
            yield p, res, labels
            del res, labels
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()


# ---- one document ------------------------------------------------------------------------------------------

def _document(problems: list[Problem], fmt: str, standalone: bool, *, tty: bool) -> Iterator[bytes]:
    """Every problem's explanation in `fmt` as one document, in pieces, computed as it is written."""
    from attncli.render import explain as ex
    from attncli.render import explain_latex as tex

    if fmt == "latex" and standalone:
        yield tex.booklet_head(len(problems)).encode()
    elif fmt == "json":
        yield b'{"problems": ['
    for p, res, labels in _solved(problems):
        secs = secs_of(res, labels)
        first = p.number == 1
        if fmt == "latex":
            if standalone:
                check_answer(secs, p.answer)
            yield (tex.booklet_section(secs, p.look.precision, heading=p.heading, answer=p.answer) if standalone
                   else ("" if first else "\n") + tex.fragment_section(secs, p.look.precision, heading=p.heading)
                   ).encode("utf-8")  # ASCII: tex_text and tex_math spell everything else
        elif fmt == "markdown":
            yield (("" if first else "\n") + f"## {_md_heading(p.heading)}\n\n" + ex.markdown(secs, p.look.precision)
                   ).encode("utf-8")
        elif fmt == "table":
            yield (("" if first else "\n") + _tables(p.heading, ex.rich_renderables(secs, p.look.precision), tty)
                   ).encode("utf-8")
        else:
            from attncli.io.writers import _plain  # numpy -> strict-JSON Python, non-finite -> null

            if not first:
                yield b", "
            for piece in ex.json_pieces(secs, _plain(res.meta), problem=p.path, end=""):
                yield piece.encode("utf-8")
        del res, labels, secs  # before the next problem is computed
    if fmt == "latex" and standalone:
        yield tex.BOOKLET_END.encode()
    elif fmt == "json":
        yield b"]}\n"


def _md_heading(text: str) -> str:
    """A file name as the text of a Markdown heading: on one line, Markdown's own characters escaped."""
    from attncli.render.safe import printable

    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in printable(text))


def _tables(heading: str, items: list, tty: bool) -> str:
    """One problem's tables under a rule naming it, as text: plain, or styled for the terminal."""
    import io

    from rich.console import Console
    from rich.rule import Rule

    from attncli.render.safe import text

    buf = io.StringIO()
    width = Console().width if tty else 10_000
    console = Console(file=buf, width=width, no_color=not tty, force_terminal=tty, highlight=False, soft_wrap=not tty)
    console.print(Rule(text(heading, "bold"), style="dim"), width=min(width, 100))
    for item in items:
        console.print()
        console.print(item)
    return buf.getvalue()


def _spooled_to_stdout(pieces: Iterator[bytes]) -> None:
    """Write the document to standard output once it is whole: an error on problem 7 prints nothing."""
    import shutil
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        for piece in pieces:
            spool.write(piece)
        spool.seek(0)
        sys.stdout.flush()
        shutil.copyfileobj(spool, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()


def _then_not_an_input(pieces: Iterator[bytes], output: str) -> Iterator[bytes]:
    """The pieces, then a last check before -o replaces its file: a problem computed after the write began may
    have read it (an input named in problem 7 of a booklet written over it)."""
    yield from pieces
    from attncli.io.files import is_input

    if is_input(output):
        raise AttnError(f"-o/--output: refusing to overwrite the input file {output}; write the output to another "
                        "name")


# ---- a folder of files ---------------------------------------------------------------------------------------

def _write_folder(problems: list[Problem], fmt: str, standalone: bool, folder: str) -> None:
    """One file per problem in `folder`, each as `explain PROBLEM -o FILE` writes it; all or none."""
    from attncli.io.atomic import atomic_folder

    names = _file_names(problems, fmt, folder)
    with atomic_folder(folder) as out:
        for name in names:
            out.check(name)
        for p, res, labels in _solved(problems):
            data = solution_pieces(res, labels, fmt, problem=p.path, standalone=standalone, answer=p.answer,
                                   look=p.look)
            with _naming(p.path, p.number, p.count):
                out.write(names[p.number - 1], data)  # JSON row by row, as for one problem
            del res, labels, data  # before the next problem is computed
    from attncli.render.safe import printable

    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    print(printable(f"wrote {len(names)} file{'s' if len(names) > 1 else ''} to {folder} ({shown})"), file=sys.stderr)


def _file_names(problems: list[Problem], fmt: str, folder: str) -> list[str]:
    """s002.toml -> s002.tex (by the format); two problems that would write one file are refused."""
    names: dict[str, str] = {}
    for p in problems:
        stem = os.path.splitext(os.path.basename(p.path))[0] or os.path.basename(p.path)
        name = f"{stem}.{EXTENSIONS[fmt]}"
        if name in names:
            raise AttnError(f"'{names[name]}' and '{p.path}' would both be written to "
                            f"{os.path.join(folder, name)}; explain them into different folders, or give one "
                            "of them another name")
        names[name] = p.path
    return list(names)
