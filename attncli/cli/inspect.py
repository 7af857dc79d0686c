"""`attncli inspect SOURCE`: what arrays a file holds, with shape, dtype and value statistics."""

from __future__ import annotations

from typing import Annotated

import typer

from attncli.cli import app
from attncli.cli.common import SOURCE_HELP, emit, resolve_format


@app.command(epilog="Examples:\n\n  attncli inspect model.safetensors\n\n  attncli inspect maps.npz:weights "
             "--format json | jq '.arrays[0].shape'")
def inspect(
    source: Annotated[str, typer.Argument(help=f"The file to look into. {SOURCE_HELP}. e.g. weights.npz",
                                          show_default=False)],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table (default) or json. e.g. --format json",
                                            show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on errors. e.g. --debug")] = False,
) -> None:
    """List the arrays in SOURCE: name, shape, dtype, min, max, mean, and how many values are not finite."""
    import numpy as np

    from attncli.cli.common import Sources
    from attncli.errors import AttnError

    fmt_name = resolve_format(fmt, None)
    if fmt_name not in ("table", "json"):
        raise AttnError(f"inspect --format takes table or json; got {fmt_name}")
    found = Sources().container(source, "SOURCE")
    rows = []
    for name, a in found.items():
        a = np.asarray(a)
        numeric = a.dtype.kind in "fiub"
        af = a.astype(np.float64) if numeric and a.size else None
        finite = np.isfinite(af) if af is not None else None
        vals = af[finite] if af is not None else None
        rows.append({
            "name": name, "shape": list(a.shape), "dtype": str(a.dtype),
            "min": float(vals.min()) if vals is not None and vals.size else None,
            "max": float(vals.max()) if vals is not None and vals.size else None,
            "mean": float(vals.mean()) if vals is not None and vals.size else None,
            "nonfinite": int((~finite).sum()) if finite is not None else 0,
        })
    if fmt_name == "json":
        import json
        import sys

        sys.stdout.write(json.dumps({"source": source, "arrays": rows}, allow_nan=False) + "\n")
        return

    def renderables():
        from rich.table import Table

        t = Table(title=source, title_justify="left")
        for col in ("name", "shape", "dtype", "min", "max", "mean", "non-finite"):
            t.add_column(col, justify="left" if col in ("name", "dtype") else "right")
        for r in rows:
            t.add_row(r["name"], "×".join(map(str, r["shape"])) or "scalar", r["dtype"],
                      *("" if r[c] is None else f"{r[c]:.6g}" for c in ("min", "max", "mean")),
                      str(r["nonfinite"]))
        return [t]

    emit({}, {}, "table", None, [], renderables)
