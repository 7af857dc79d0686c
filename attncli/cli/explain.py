"""`attncli explain`: every step of the computation, with its formula, dimensions and matrix."""

from __future__ import annotations

from typing import Annotated, Any

from attncli.cli import app
from attncli.cli import options as opt
from attncli.cli.common import PICTURES, Sources, check_look, emit_picture, print_renderables
from attncli.cli.problem import attention_command
from attncli.errors import AttnError
from attncli.vocabulary import HELP as STEP_NAMES

FORMATS = ("table", "markdown", "latex", "json", "heatmap", "png", "svg", "pdf", "html")
EPILOG = (
    "Examples:\n\n"
    "  attncli explain samples/self_attention/problem.toml\n\n"
    "  attncli explain --x \"1 0 1 0; 0 2 0 2; 1 1 1 1\" --score dot --layout cols\n\n"
    "  attncli explain samples/self_attention/problem.toml --format markdown -o steps.md\n\n"
    "  attncli explain --text 猫爱吃鱼 --tokenizer chars --embeddings samples/text/embeddings.txt --format latex\n\n"
    "  attncli explain samples/self_attention/problem.toml --standalone -o solution.tex\n\n"
    "  attncli explain samples/self_attention/problem.toml --format latex --standalone --what output --decimals 3"
)


@app.command(epilog=EPILOG)
@attention_command
def explain(
    fmt: Annotated[str | None, opt._opt("table (default), markdown (tables for a write-up), latex (bmatrix), "
                                        "json (every step's formula and matrix); or a picture of the scores and "
                                        "weights: heatmap, png, svg, pdf, html. e.g. --format markdown", opt.OUT,
                                        "--format", "-f")] = None,
    output: Annotated[str | None, opt._opt("Write to PATH instead of stdout (atomically, never over an input). "
                                           "e.g. -o steps.md", opt.OUT, "--output", "-o")] = None,
    standalone: Annotated[bool, opt._opt("LaTeX as a whole document (article, amsmath) that compiles with pdflatex, "
                                         "titled with the problem file: the worked solution to hand back (implies "
                                         "--format latex). e.g. --standalone -o solution.tex", opt.OUT,
                                         "--standalone")] = False,
    what: Annotated[str | None, opt._opt("With --standalone: end with the answer a student gives, this array "
                                         "rounded to --decimals (a problem file's \\[check] what and decimals count "
                                         f"too), one of {STEP_NAMES}. e.g. --standalone --what weights", opt.OUT,
                                         "--what")] = None,
    decimals: Annotated[int | None, opt._opt("With --standalone: the answer's decimals (--what). e.g. --decimals 2",
                                             opt.OUT, "--decimals")] = None,
    precision: opt.PRECISION = 4, debug: opt.DEBUG = False, dpi: opt.DPI = 100, cmap: opt.CMAP = None, *,
    options: dict[str, Any],
) -> None:
    """Print each step in order, with its formula, its dimensions and its matrix: x (+ positions), q, k, v; per
    head qk = Q·Kᵀ, the steps towards the scores (scaled, masked, ...), the weights A and the heads; concat, output.
    Each step is titled with the name compute --show and check --what give its array."""
    import io
    import os

    from attncli.cli.spec import attention_kwargs
    from attncli.core import attention
    from attncli.io.memory import available_memory
    from attncli.render import explain as ex

    fmt_name = fmt or ("latex" if standalone and output is None else _format_from(output))
    if fmt_name not in FORMATS:
        raise AttnError(f"explain --format takes {', '.join(FORMATS)}; got {fmt_name!r}")
    check_look(precision, dpi, cmap)
    if standalone and fmt_name != "latex":
        raise AttnError(f"explain --standalone makes a LaTeX document; add --format latex (or -o solution.tex), "
                        f"or drop --standalone for --format {fmt_name}")
    from attncli.cli.common import saying_what_was_read
    from attncli.core.steps import trace_budget

    src = Sources()
    kwargs, labels = attention_kwargs(src, options)
    limit = available_memory()
    with trace_budget(limit), saying_what_was_read(src):  # the steps' copies count against the memory too
        res = attention(**kwargs, trace=True, memory_limit=limit)
    if fmt_name in PICTURES:  # the maps of the steps: scores and weights
        from attncli.render.maps import result_maps

        emit_picture(result_maps(res, ("scores", "weights"), queries=labels.queries, keys=labels.keys), fmt_name,
                     output, src.paths, check_look(precision, dpi, cmap))
        return
    secs = ex.sections(res.steps, layout=res.layout, batched=res.batched, query_labels=labels.queries,
                       key_labels=labels.keys)
    if fmt_name == "table":
        if output is None:
            print_renderables(ex.rich_renderables(secs, precision))
            return
        buf = io.StringIO()
        print_renderables(ex.rich_renderables(secs, precision), file=buf)
        text = buf.getvalue()
    elif fmt_name == "markdown":
        text = ex.markdown(secs, precision)
    elif fmt_name == "latex":
        from attncli.render.explain_latex import answer_section, latex

        problem = options.get("problem")
        title = f"Worked solution: {os.path.basename(problem)}" if problem else None
        answer = _answer(what, decimals)
        if standalone and answer is not None and answer_section(secs, answer[0]) is None:
            raise AttnError(f"explain --what {answer[0]}: this problem has no such step (Q, K and V given directly "
                            "have no x); choose another array")
        text = latex(secs, precision, standalone=standalone, title=title, answer=answer)
    else:  # every value, written row by row as it is made: memory of one row, not of the document
        from attncli.io.writers import _plain  # numpy -> strict-JSON Python, non-finite -> null

        pieces = (piece.encode("utf-8") for piece in ex.json_pieces(secs, _plain(res.meta)))
        if output is None:
            import sys

            for piece in pieces:
                sys.stdout.buffer.write(piece)
            sys.stdout.flush()
        else:
            from attncli.io import atomic_write

            atomic_write(output, pieces, protect=src.paths)
        return
    if output is None:
        import sys

        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        from attncli.io import atomic_write

        atomic_write(output, text.encode("utf-8"), protect=src.paths)


def _answer(what: str | None, decimals: int | None) -> tuple[str, int | None] | None:
    """(what, decimals) of the standalone document's answer, checked like check's --what and --decimals."""
    from attncli.vocabulary import NAMES

    if what is None:
        return None
    if what not in NAMES:
        raise AttnError(f"explain --what takes {', '.join(NAMES)}; got {what!r}")
    if decimals is not None and not 0 <= decimals <= 15:
        raise AttnError(f"explain --decimals must be 0 to 15; got {decimals}")
    return what, decimals


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
