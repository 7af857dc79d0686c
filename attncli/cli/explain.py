"""`attncli explain`: every step of the computation, with its formula, dimensions and matrix.

One problem (or none: the inputs as options) is explained here; several problems, or -o a folder, in
cli/explain_many.py: one booklet, or one file per problem. Both compute and render a problem with
cli/solution.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from attncli.cli import options as opt
from attncli.cli.common import PICTURES, Sources, check_look, emit_picture, print_renderables
from attncli.cli.group import app
from attncli.cli.problem import attention_command
from attncli.cli.solution import answer_of, format_of, is_folder, maps_of, secs_of, solution_pieces, solve
from attncli.vocabulary import HELP as STEP_NAMES

EPILOG = (
    "Examples:\n\n"
    "  attncli explain samples/self_attention/problem.toml\n\n"
    "  attncli explain --x \"1 0 1 0; 0 2 0 2; 1 1 1 1\" --score dot --layout cols\n\n"
    "  attncli explain samples/self_attention/problem.toml --format markdown -o steps.md\n\n"
    "  attncli explain --text 猫爱吃鱼 --tokenizer chars --embeddings samples/text/embeddings.txt --format latex\n\n"
    "  attncli explain samples/self_attention/problem.toml --standalone -o solution.tex\n\n"
    "  attncli explain samples/self_attention/problem.toml --format latex --standalone --what output --decimals 3\n\n"
    "  attncli explain samples/homework/problems/*.toml --standalone -o booklet.tex\n\n"
    "  attncli explain samples/homework/problems/*.toml --standalone -o solutions/\n\n"
    "  attncli explain samples/homework/problems/*.toml --format markdown -o solutions.md\n\n"
    "  attncli explain samples/homework/problems/*.toml --format png -o maps/"
)


@app.command(epilog=EPILOG)
@attention_command(several=True)
def explain(
    fmt: Annotated[str | None, opt._opt("table (default), markdown (tables for a write-up), latex (bmatrix), "
                                        "json (every step's formula and matrix); or a picture of the scores and "
                                        "weights: heatmap, png, svg, pdf, html. e.g. --format markdown", opt.OUT,
                                        "--format", "-f")] = None,
    output: Annotated[str | None, opt._opt("Write to PATH instead of stdout (atomically, never over an input). With "
                                           "several problems: one document (a section each), or, when PATH ends with "
                                           "/ or is a folder, one file per problem named after it (s002.tex; .md, "
                                           ".txt, .json, .png ... by --format), all written or none. e.g. -o "
                                           "steps.md, -o solutions/", opt.OUT, "--output", "-o")] = None,
    standalone: Annotated[bool, opt._opt("LaTeX as a whole document (article, amsmath) that compiles with pdflatex, "
                                         "titled with the problem file: the worked solution to hand back (implies "
                                         "--format latex). Several problems: a booklet with a contents page and a "
                                         "section per problem, each on a new page. e.g. --standalone -o "
                                         "solution.tex", opt.OUT, "--standalone")] = False,
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
    Each step is titled with the name compute --show and check --what give its array. Several PROBLEMs: one
    document with a section each (a LaTeX booklet with --standalone), or one file per problem with -o FOLDER/."""
    problems, each_problem = options.pop("problems", None) or [], options.pop("each_problem", None)
    own = {"fmt": fmt, "output": output, "standalone": standalone, "what": what, "decimals": decimals,
           "precision": precision, "dpi": dpi, "cmap": cmap}
    if len(problems) > 1 or is_folder(output):
        from attncli.cli.explain_many import explain_many

        explain_many(problems, each_problem, own, options)
        return
    fmt_name = format_of(fmt, output, standalone)
    look = check_look(precision, dpi, cmap)
    answer = answer_of(what, decimals)
    src = Sources()
    res, labels = solve(src, options)
    if fmt_name in PICTURES:  # the maps of the steps: scores and weights
        emit_picture(maps_of(res, labels), fmt_name, output, src.paths, look)
        return
    if fmt_name == "table" and output is None:
        from attncli.render import explain as ex

        print_renderables(ex.rich_renderables(secs_of(res, labels), precision))
        return
    pieces = solution_pieces(res, labels, fmt_name, problem=options.get("problem"), standalone=standalone,
                             answer=answer, look=look)
    if output is not None:
        from attncli.io import atomic_write

        atomic_write(output, pieces, protect=src.paths)
        return
    import sys

    if fmt_name == "json":  # every value, written row by row as it is made: memory of one row, not of the document
        for piece in pieces:
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        return
    text = b"".join(pieces).decode("utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
