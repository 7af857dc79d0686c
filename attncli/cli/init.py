"""`attncli init [PATH]`: write a commented problem-file template."""

from __future__ import annotations

from typing import Annotated

import typer

from attncli.cli import app
from attncli.cli import options as opt

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
what = "weights"              # weights | output | scores | q | k | v | heads
# decimals = 2                # answers rounded to 2 decimals pass within ±0.005
# atol = 1e-6
'''


@app.command(epilog="Examples:\n\n  attncli init\n\n  attncli init hw3/problem1.toml\n\n"
             "  attncli init - > problem.toml")
def init(
    path: Annotated[str, typer.Argument(help="Where to write the template ('-' for stdout). e.g. problem.toml",
                                        show_default=True)] = "problem.toml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists. e.g. --force")] = False,
    debug: opt.DEBUG = False,
) -> None:
    """Write a commented problem-file template: inputs, projections, options and what to check."""
    import os
    import sys

    from attncli.errors import AttnError
    from attncli.io import atomic_write

    text = TEMPLATE.format(name="problem.toml" if path == "-" else path)
    if path == "-":
        sys.stdout.write(text)
        return
    if os.path.exists(path) and not force:
        raise AttnError(f"init: '{path}' exists; pass --force to overwrite it, or name another file")
    atomic_write(path, text.encode("utf-8"), option="PATH")
    print(f"wrote {path}: edit it, then run attncli explain {path}", file=sys.stderr)
