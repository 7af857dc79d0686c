"""Validation of attention()'s arguments, before anything is computed: each choice is one of its values and
each number in range (check_options); the inputs given go together (check_sources). Messages name the
command-line option, as the CLI passes every option through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from attncli.cli.layout import LAYOUTS
from attncli.core import positions as pos
from attncli.core.normalize import NORMALIZERS
from attncli.core.scores import SCORES
from attncli.core.validate import finite_number, positive_int
from attncli.errors import AttnError, param

EMPTY_ROWS = ("zero", "nan", "error")


def check_options(*, score: str, normalize: str, layout: str, empty_rows: str, pe_layout: str, rope_layout: str,
                  heads: int | None, kv_heads: int | None, threads: int | None, scale: float | None,
                  softcap: float | None, pe_base: float, rope_base: float, start_pos: int, block_rows: int | None,
                  temperature: float) -> None:
    """Every choice one of its values, every count positive, every number finite (and positive where it must)."""
    for value, choices, option in ((score, SCORES, "--score"), (normalize, NORMALIZERS, "--normalize"),
                                   (layout, LAYOUTS, "--layout"), (empty_rows, EMPTY_ROWS, "--empty-rows"),
                                   (pe_layout, pos.PE_LAYOUTS, "--pe-layout"),
                                   (rope_layout, pos.ROPE_LAYOUTS, "--rope-layout")):
        if value not in choices:
            raise AttnError(f"{option} must be one of {', '.join(choices)}; got {value!r}")
    positive_int(heads, "--heads")
    positive_int(kv_heads, "--kv-heads")
    positive_int(threads, "--threads")
    finite_number(scale, "--scale")
    finite_number(softcap, "--softcap", positive=True)
    finite_number(pe_base, "--pe-base", positive=True)
    finite_number(rope_base, "--rope-base", positive=True)
    if not isinstance(start_pos, (int, np.integer)) or abs(start_pos) >= 2**53:
        raise AttnError(f"--start-pos must be an integer below 2^53 in size; got {start_pos!r}")
    positive_int(block_rows, "block_rows")
    if not temperature > 0:
        raise AttnError(f"--temperature must be positive; got {temperature}")


def check_sources(*, q: Any, k: Any, v: Any, x: Any, x_kv: Any, image: Any, wq: Any, wk: Any, wv: Any, bq: Any,
                  bk: Any, bv: Any, pe: Any, window2d: int | None) -> None:
    """Token vectors (x, or an image's pixels already in x) or all of q, k, v; all three projections or none;
    biases only with projections; positions and 2-D windows only where they mean something."""
    if image is not None and x_kv is not None:
        raise AttnError("--x-kv does not combine with --image (image attention is self-attention)")
    direct = [n for n, a in (("--q", q), ("--k", k), ("--v", v)) if a is not None]
    if x is not None and direct:
        raise AttnError(f"give either --x (token vectors) or --q/--k/--v, not both (got --x and {direct[0]})")
    if x is None and len(direct) != 3:
        missing = [n for n in ("--q", "--k", "--v") if n not in direct]
        if not direct:
            raise AttnError("nothing to attend over: give --x (token vectors) or all of --q, --k, --v")
        raise AttnError(f"{', '.join(direct)} given without {', '.join(missing)}; give all of --q, --k, --v")
    projections = {"--wq": wq, "--wk": wk, "--wv": wv}
    given_w = [n for n, w in projections.items() if w is not None]
    if x is None:
        extra = given_w + [n for n, a in (("--x-kv", x_kv), ("--bq", bq), ("--bk", bk), ("--bv", bv))
                           if a is not None]
        if extra:
            raise AttnError(f"{extra[0]} applies to --x; with --q/--k/--v give the projected matrices directly")
        if pe is not None:
            raise AttnError("--pe adds positions to token vectors: it needs --x (with --q/--k/--v use --rope)")
    elif given_w and len(given_w) != 3:
        missing = [n for n in projections if n not in given_w]
        raise AttnError(f"{', '.join(given_w)} given without {', '.join(missing)}; give all three projections")
    if not given_w:
        for name, b in (("--bq", bq), ("--bk", bk), ("--bv", bv)):
            if b is not None:
                raise AttnError(f"{name} needs the projections --wq/--wk/--wv")
    if window2d is not None and image is None:
        raise AttnError("--window2d needs an image (--image H × W × C) to know the pixel grid")


def parse_window(window: int | str | Sequence[int] | None) -> int | Sequence[int] | None:
    """--window's text: `L` or `L:R` -> L or (L, R); numbers and pairs pass, and the Spec checks them all
    (core/spec.py)."""
    if not isinstance(window, str):
        return window
    parts = str(window).split(":")
    try:
        if len(parts) > 2:
            raise ValueError
        return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise AttnError(f"{param('spec.window')} takes L (|i − j| ≤ L) or L:R (i − L ≤ j ≤ i + R), e.g. 2 or 3:0; "
                        f"got {window!r}") from None
