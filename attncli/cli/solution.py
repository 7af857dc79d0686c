"""One problem's worked solution for `attncli explain`: the options checked, attention computed with every step
kept, and the result rendered as a file holds it. cli/explain.py (one problem) and cli/explain_many.py (a
booklet, a folder) both use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from attncli.cli.common import PICTURES, Sources, print_renderables
from attncli.errors import AttnError

if TYPE_CHECKING:
    from attncli.cli.common import Look

FORMATS = ("table", "markdown", "latex", "json", "heatmap", "png", "svg", "pdf", "html")


def is_folder(output: str | None) -> bool:
    """-o names a folder: it ends with / or is one."""
    return output is not None and (output.endswith(("/", os.sep)) or os.path.isdir(output))


def format_of(fmt: str | None, output: str | None, standalone: bool, *, folder: bool = False) -> str:
    """--format, checked; else latex for --standalone, else what -o's extension says (a folder: table)."""
    if fmt is not None:
        name = fmt
    elif standalone and (output is None or folder):
        name = "latex"
    else:
        name = "table" if folder else _format_from(output)
    if name not in FORMATS:
        raise AttnError(f"explain --format takes {', '.join(FORMATS)}; got {name!r}")
    if standalone and name != "latex":
        raise AttnError(f"explain --standalone makes a LaTeX document; add --format latex (or -o solution.tex), "
                        f"or drop --standalone for --format {name}")
    return name


def solve(src: Sources, options: dict[str, Any]):
    """attention() of these options with every step kept (within the memory available); (result, labels)."""
    from attncli.cli.common import saying_what_was_read
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.cli.spec import attention_kwargs
    from attncli.core.steps import trace_budget
    from attncli.io.memory import available_memory

    kwargs, labels = attention_kwargs(src, options)
    limit = available_memory()
    with trace_budget(limit), saying_what_was_read(src):  # the steps' copies count against the memory too
        res = attention(**kwargs, trace=True, memory_limit=limit)
    return res, labels


def secs_of(res, labels) -> list:
    from attncli.render import explain as ex

    return ex.sections(res.steps, layout=res.layout, batched=res.batched, query_labels=labels.queries,
                       key_labels=labels.keys)


def maps_of(res, labels):
    from attncli.render.maps import result_maps

    return result_maps(res, ("scores", "weights"), queries=labels.queries, keys=labels.keys)


def solution_pieces(res, labels, fmt: str, *, problem: str | None, standalone: bool,
                    answer: tuple[str, int | None] | None, look: Look) -> Iterator[bytes]:
    """One problem's explanation in `fmt` as `-o FILE` holds it (a table as plain text), in pieces: JSON row by
    row, anything else whole."""
    if fmt in PICTURES:
        from attncli.cli.common import picture_bytes

        yield picture_bytes(maps_of(res, labels), fmt, look)
        return
    from attncli.render import explain as ex

    secs = secs_of(res, labels)
    if fmt == "table":
        import io

        buf = io.StringIO()
        print_renderables(ex.rich_renderables(secs, look.precision), file=buf)
        yield buf.getvalue().encode("utf-8")
    elif fmt == "markdown":
        yield ex.markdown(secs, look.precision).encode("utf-8")
    elif fmt == "latex":
        from attncli.render.explain_latex import latex

        if standalone:
            check_answer(secs, answer)
        title = f"Worked solution: {os.path.basename(problem)}" if problem else None
        yield latex(secs, look.precision, standalone=standalone, title=title, answer=answer).encode("utf-8")
    else:
        from attncli.io.writers import _plain  # numpy -> strict-JSON Python, non-finite -> null

        for piece in ex.json_pieces(secs, _plain(res.meta)):
            yield piece.encode("utf-8")


def answer_of(what: str | None, decimals: int | None) -> tuple[str, int | None] | None:
    """(what, decimals) of the standalone document's answer, checked like check's --what and --decimals."""
    from attncli.render.explain_latex import ANSWERS

    if what is None:
        return None
    if what not in ANSWERS:
        raise AttnError(f"explain --what takes {', '.join(ANSWERS)}; got {what!r}")
    if decimals is not None and not 0 <= decimals <= 15:
        raise AttnError(f"explain --decimals must be 0 to 15; got {decimals}")
    return what, decimals


def check_answer(secs: list, answer: tuple[str, int | None] | None) -> None:
    """Refuse a --what (or [check] what) naming a step this problem does not have, rather than a document without
    its answer."""
    from attncli.render.explain_latex import answer_section

    if answer is not None and answer_section(secs, answer[0]) is None:
        raise AttnError(f"explain --what {answer[0]}: this problem has no such step (Q, K and V given directly "
                        "have no x); choose another array")


def _format_from(output: str | None) -> str:
    if output is None:
        return "table"
    ext = output.rsplit(".", 1)[-1].lower() if "." in output else ""
    known = {"md": "markdown", "markdown": "markdown", "tex": "latex", "json": "json", "txt": "table", "png": "png",
             "svg": "svg", "pdf": "pdf", "html": "html", "htm": "html"}
    if ext not in known:
        raise AttnError(f"-o {output}: explain writes .md, .tex, .json, .txt, .png, .svg, .pdf or .html; "
                        "or give --format")
    return known[ext]
