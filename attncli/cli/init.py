"""`attncli init [PATH]`: write a commented problem-file template; with --random a generated homework problem with
small, hand-computable numbers; with --roster one such problem per student of a class."""

from __future__ import annotations

from typing import Annotated

import typer

from attncli.cli import options as opt
from attncli.cli.group import app
from attncli.errors import AttnError
from attncli.vocabulary import NAMES

TEMPLATE = '''\
# attncli problem file. Use it with any computing command:
#   attncli explain {name}      every step with its formula
#   attncli compute {name}      the weights and the output
#   attncli check answer.csv {name}
# Keys are option names (key_lens or key-lens); options given on the command line win.
# Matrices are inline TOML arrays, MATLAB-style strings ("1 0; 0 1"), or paths relative to this file
# (x.csv, weights.npz:wq, model.safetensors:layer0.wq, ...).

[inputs]
x = [[1, 0, 1, 0],
     [0, 2, 0, 2],
     [1, 1, 1, 1]]            # token vectors, rows = tokens (n × d_model)
# x_kv = "encoder.csv"        # cross-attention: keys and values come from here
# text = "the cat sat"        # or a sentence, with embeddings = "glove.txt" (tokenizer = "chars" for 猫爱吃鱼)
# q = "q.csv"                 # or Q, K, V directly
# k = "k.csv"
# v = "v.csv"

[projections]
wq = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]]   # d_model × d_k (Q = X·W_Q + b_Q)
wk = [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]]
wv = [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]]
# bq = [0, 0, 0]
# wo = "wo.csv"               # (heads·d_v) × d_out
# heads = 1
# kv_heads = 1

[options]
score = "scaled"              # scaled | dot | general | additive | cosine | location
# scale = 0.5                 # default 1/√d_k for scaled
normalize = "softmax"         # softmax | softmax1 | sparsemax | relu | sigmoid | none
# temperature = 1.0
causal = false
# key_lens = [3]              # one per batch item
# window = [1, 0]             # local attention: i − 1 ≤ j ≤ i
# mask = [[1, 1, 0], [1, 1, 1], [1, 1, 1]]
# pe = "sinusoidal"
# rope = false
# alibi = false
layout = "rows"               # rows (papers) | cols (tokens as columns, the lecture's notation)

[check]
what = "weights"              # {names} (attncli check --help: each formula)
# decimals = 2                # answers rounded to 2 decimals pass within ±0.005
# atol = 1e-6
'''


GEN = "Generated problems"
EPILOG = (
    "Examples:\n\n"
    "  attncli init\n\n"
    "  attncli init - > template.toml\n\n"
    "  attncli init hw3.toml --force\n\n"
    "  attncli init --random --seed 7 hw1.toml\n\n"
    "  attncli init --random --seed 7 --tokens 4 --d-model 6 --heads 2 --causal --what output --decimals 1 hw2.toml\n\n"
    "  attncli init --random --seed 3 --d-k 3 --d-v 1 -\n\n"
    "  attncli init --roster samples/homework/roster.csv --out problems/ --seed 2026\n\n"
    "  attncli init --roster samples/homework/roster.csv --id-column Email --out problems_by_email/ --tokens 4"
)


def _gen(help: str, *names: str, **kw):
    return typer.Option(*names, help=help, rich_help_panel=GEN, show_default=False, **kw)


@app.command(epilog=EPILOG)
def init(
    path: Annotated[str | None, typer.Argument(help="Where to write the template or the --random problem ('-' for "
                                               "stdout; default problem.toml). e.g. problem.toml",
                                               show_default=False, metavar="[PATH]")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH (or the problems in --out) if it exists. "
                                        "e.g. --force")] = False,
    random: Annotated[bool, _gen("Write a generated problem instead of the template: small integers and one-decimal "
                                 "numbers, softmax inputs where the weights are neither 0 nor 1. e.g. --random",
                                 "--random")] = False,
    seed: Annotated[int | None, _gen("Seed of --random (default 0), or the course seed mixed with each student id "
                                     "for --roster: the same seed and options write the same bytes. e.g. --seed 7",
                                     "--seed", min=0, metavar="SEED")] = None,
    tokens: Annotated[int | None, _gen("Tokens n, 2 to 16 (default 3). e.g. --tokens 4", "--tokens",
                                       metavar="N")] = None,
    d_model: Annotated[int | None, _gen("Width of each token d_model, 1 to 16 (default 4). e.g. --d-model 6",
                                        "--d-model", metavar="D")] = None,
    d_k: Annotated[int | None, _gen("Width of each head's queries and keys d_k (default 2 with one head, d_model / "
                                    "heads with several); heads × d_k ≤ 16. e.g. --d-k 3", "--d-k",
                                    metavar="K")] = None,
    d_v: Annotated[int | None, _gen("Width of each head's values d_v (default d_k). e.g. --d-v 1", "--d-v",
                                    metavar="V")] = None,
    heads: Annotated[int | None, _gen("Heads (default 1); with several, the problem has W_O too. e.g. --heads 2",
                                      "--heads", metavar="H")] = None,
    causal: Annotated[bool, _gen("A causal problem: token i attends to tokens j ≤ i. e.g. --causal",
                                 "--causal")] = False,
    what: Annotated[str | None, _gen("What the student gives, for attncli check: weights (default) or output. "
                                     "e.g. --what output", "--what", metavar="weights|output")] = None,
    decimals: Annotated[int | None, _gen("Decimals the answer is rounded to, 0 to 6 (default 2). e.g. --decimals 1",
                                         "--decimals", metavar="N")] = None,
    roster: Annotated[str | None, _gen("A class roster (CSV with a header): write one generated problem per student "
                                       "to --out, seeded from the student's id. e.g. --roster "
                                       "samples/homework/roster.csv", "--roster", metavar="CSV")] = None,
    out: Annotated[str | None, _gen("Folder for --roster's problems, <id>.toml each, and roster.csv (id, file, "
                                    "seed); made if missing (default problems). e.g. --out problems/",
                                    "--out", metavar="DIR")] = None,
    id_column: Annotated[str | None, _gen("The roster's id column (default: found by name: SID, UID, ID, "
                                          "student_id, login, email, ...). e.g. --id-column Email",
                                          "--id-column", metavar="NAME")] = None,
    debug: opt.DEBUG = False,
) -> None:
    """Write a commented problem-file template: inputs, projections, options and what to check. With --random, a
    generated problem to compute by hand; with --roster, one for each student of a class."""
    sizes = {"--seed": seed, "--tokens": tokens, "--d-model": d_model, "--d-k": d_k, "--d-v": d_v,
             "--heads": heads, "--what": what, "--decimals": decimals, "--causal": causal or None}
    if roster is None:
        for name, given in (("--out", out), ("--id-column", id_column)):
            if given is not None:
                raise AttnError(f"init: {name} goes with --roster (e.g. --roster students.csv {name} ...)")
        if not random:
            given = [name for name, v in sizes.items() if v is not None]
            if given:
                raise AttnError(f"init: {given[0]} describes a generated problem; add --random (or --roster "
                                "students.csv), or drop it to write the template")
            _template(path or "problem.toml", force)
            return
    size = _size(tokens, d_model, d_k, d_v, heads, causal, what, decimals)
    if roster is not None:
        if path is not None:
            raise AttnError(f"init --roster writes one file per student to --out; drop '{path}' (or give "
                            f"--out {path})")
        from attncli.cli.roster import write_class

        write_class(roster, out or "problems", id_column, seed or 0, size, force)
        return
    _write_random(path or "problem.toml", seed or 0, size, force)


def _template(path: str, force: bool) -> None:
    text = TEMPLATE.format(name="problem.toml" if path == "-" else path, names=" | ".join(NAMES))
    _write(path, text, force, f"wrote {path}: edit it, then run attncli explain {path}")


def _size(tokens, d_model, d_k, d_v, heads, causal, what, decimals):
    """The ProblemSize of the options, defaults filled in, validated (an AttnError names the option)."""
    from attncli.core.generate import MAX_DIM, ProblemSize, default_head_dim, validate

    base = ProblemSize()
    d_model = base.d_model if d_model is None else d_model
    heads = base.heads if heads is None else heads
    if d_k is None:  # from d_model and heads, once those are sensible (validate names them otherwise)
        d_k = default_head_dim(d_model, heads) if 1 <= d_model <= MAX_DIM and 1 <= heads <= MAX_DIM else 1
    return validate(ProblemSize(tokens=base.tokens if tokens is None else tokens, d_model=d_model, d_k=d_k,
                                d_v=d_k if d_v is None else d_v, heads=heads, causal=causal,
                                what=base.what if what is None else what,
                                decimals=base.decimals if decimals is None else decimals))


def _write_random(path: str, seed: int, size, force: bool) -> None:
    from attncli.cli.generated import command, problem_text

    shown = "problem.toml" if path == "-" else path
    text = problem_text(seed, size, shown, [f"Made by:  {command(size, seed, path)}"])
    _write(path, text, force, f"wrote {path} (seed {seed}); worked solution: attncli explain {path}")


def _write(path: str, text: str, force: bool, notice: str) -> None:
    """A problem file to PATH ('-': stdout), never over an existing file without --force; `notice` to stderr."""
    import os
    import sys

    from attncli.io import atomic_write

    if path == "-":
        sys.stdout.write(text)
        return
    if os.path.exists(path) and not force:
        raise AttnError(f"init: '{path}' exists; pass --force to overwrite it, or name another file")
    atomic_write(path, text.encode("utf-8"), option="PATH")
    print(notice, file=sys.stderr)
