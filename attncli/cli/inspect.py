"""`attncli inspect SOURCE`: what arrays a file holds, with shape, dtype and value statistics.

Arrays are read one at a time and in blocks (io/mapped.py), so a file bigger than memory, a compressed .npz
member that inflates to gigabytes (a zip bomb), or a file with a million tensors, is summarised in one pass with
bounded memory; the table lists the first MAX_ROWS arrays
and says how many more there are (JSON lists them all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from attncli.cli.common import SOURCE_HELP, emit, resolve_format
from attncli.cli.group import app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from attncli.io.mapped import Piecewise

MAX_ROWS = 1000  # arrays listed in a table; --format json lists every one
# safetensors' type names that numpy reads as they are (the others, BF16, F16, F8, are upcast: listed as stored)
SAME_TYPE = {"F64": "float64", "F32": "float32", "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
             "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool"}


@app.command(epilog="Examples:\n\n  attncli inspect samples/two_heads/weights.safetensors\n\n"
             "  attncli inspect samples/tiny_gpt/model.safetensors --filter 'transformer.h.0.attn.*'\n\n"
             "  attncli inspect samples/attention_maps/maps.npy --format json | jq '.arrays[0].shape'")
def inspect(
    source: Annotated[str, typer.Argument(help=f"The file to look into. {SOURCE_HELP}. e.g. weights.npz",
                                          show_default=False)],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table (default) or json. e.g. --format json",
                                            show_default=False)] = None,
    filter_: Annotated[str | None, typer.Option("--filter", help="Only the arrays whose names match a shell-style "
                                                "pattern (* ? [..]). e.g. --filter 'model.layers.0.*'",
                                                show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on errors. e.g. --debug")] = False,
) -> None:
    """List the arrays in SOURCE: name, shape, dtype, min, max, mean, and how many values are not finite."""
    from attncli.errors import AttnError
    from attncli.io.mapped import open_arrays

    fmt_name = resolve_format(fmt, None)
    if fmt_name not in ("table", "json"):
        raise AttnError(f"inspect --format takes table or json; got {fmt_name}")
    with open_arrays(source, "SOURCE", inflate_by_blocks=True) as found:  # a zip bomb: its headers, then blocks
        metadata = found.metadata
        names = sorted(found.names, key=natural)  # layers in their order: 2 before 10
        if filter_ is not None:
            import fnmatch

            names = [n for n in names if fnmatch.fnmatchcase(n, filter_)]
            if not names:
                raise AttnError(f"--filter {filter_!r} matches none of the {len(found.names):,} arrays in {source}; "
                                f"e.g. {', '.join(repr(n) for n in sorted(found.names, key=natural)[:3])}")
        if fmt_name == "json":
            _write_json(source, (summary(name, found.get(name)) for name in names), metadata)
            return
        rows = [summary(name, found.get(name)) for name in names[:MAX_ROWS]]
    more = len(names) - len(rows)

    def renderables():
        from rich.table import Table

        from attncli.render.safe import text  # names from the file: no control characters, no rich markup

        t = Table(title=text(source), title_justify="left")
        for col in ("name", "shape", "dtype", "min", "max", "mean", "non-finite"):
            t.add_column(col, justify="left" if col in ("name", "dtype") else "right")
        for r in rows:
            same = SAME_TYPE.get(r["stored"], r["stored"]) == r["dtype"]
            stored = r["dtype"] if same else f"{r['stored']} (read as {r['dtype']})"
            t.add_row(text(r["name"]), "×".join(map(str, r["shape"])) or "scalar", text(stored),
                      *("" if r[c] is None else f"{r[c]:.6g}" for c in ("min", "max", "mean")),
                      str(r["nonfinite"]))
        notes = []
        if more:
            notes.append(f"... and {more:,} more arrays ({len(rows) + more:,} in all); --format json lists them all")
        if metadata:
            notes.append("metadata: " + ", ".join(f"{k} = {_short(v)}" for k, v in metadata.items()))
        if notes:
            t.caption = text("\n".join(notes))
            t.caption_justify = "left"
        return [t]

    emit({}, {}, "table", None, [], renderables)


def natural(name: str) -> list:
    """A sort key that orders the numbers in names by value: layers.2 before layers.10."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _write_json(source: str, rows: Iterator[dict[str, Any]], metadata: dict[str, str] | None = None) -> None:
    """{"source": ..., "arrays": [...]}: rows are encoded a thousand at a time (a row is not kept once
    encoded, so a million arrays hold ~100 bytes each) and written once all were read (an error on the way
    writes nothing)."""
    import itertools
    import json
    import sys

    parts = [json.dumps({"source": source, "metadata": metadata or {}})[:-1] + ', "arrays": [']
    while batch := list(itertools.islice(rows, 1000)):
        parts.append(("" if len(parts) == 1 else ", ") + ", ".join(json.dumps(r, allow_nan=False) for r in batch))
    parts.append("]}\n")
    for part in parts:
        sys.stdout.write(part.replace("\x7f", "\\u007f"))  # json escapes the rest of what drives a terminal


def summary(name: str, a: Piecewise) -> dict[str, Any]:
    """Shape, dtype, and min, max, mean of the finite values and the count of the others, accumulated over
    the array's blocks (the same numbers as over the whole array, up to the rounding of the mean's sum)."""
    import math


    lo = hi = mean = None
    total, finite_count, nonfinite = 0.0, 0, 0
    if a.dtype.kind in "fiub" and math.prod(a.shape):
        for values, bad in _finite_blocks(a):
            nonfinite += bad
            if values.size:
                low, high = float(values.min()), float(values.max())
                lo, hi = (low, high) if lo is None else (min(lo, low), max(hi, high))
                total += float(values.sum())
                finite_count += values.size
    if finite_count:
        mean = total / finite_count
        if not math.isfinite(mean):  # the finite values' sum overflowed: sum them scaled down, in a second pass
            small = sum(float((values * 2.0**-1000).sum()) for values, _ in _finite_blocks(a))
            mean = min(max(small / finite_count * 2.0**1000, lo), hi)
    return {"name": name, "shape": list(a.shape), "dtype": _dtype_name(a.dtype),
            "stored": getattr(a, "stored_name", None) or _dtype_name(a.dtype), "min": lo, "max": hi,
            "mean": mean, "nonfinite": nonfinite}


def _finite_blocks(a: Piecewise) -> Iterator[tuple[Any, int]]:
    """(the finite values of a block as float64, how many of its values were not finite), block by block."""
    import numpy as np

    for block in a.blocks():
        values = block.astype(np.float64)
        bad = 0
        if block.dtype.kind == "f":
            finite = np.isfinite(values)
            bad = values.size - int(np.count_nonzero(finite))
            if bad:
                values = values[finite]
        yield values, bad


_names: dict[Any, str] = {}


def _dtype_name(dtype: Any) -> str:
    """str(dtype), remembered (numpy takes microseconds to spell it, which a million tensors notice)."""
    if dtype not in _names:
        _names[dtype] = str(dtype)
    return _names[dtype]
