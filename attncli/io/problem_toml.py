"""A problem file as TOML text: comments, then [tables] of inline matrices and plain values.

Matrices are written one row per line with their columns aligned, numbers as integers or with one decimal
(what `attncli init --random` draws), so a student reads them as printed on paper. The text depends only on
its arguments: the same problem is the same bytes on every machine.
"""

from __future__ import annotations

import numpy as np

Value = bool | int | float | str | np.ndarray


def number(v: float) -> str:
    """An integer as `2`, anything else with one decimal (`-0.5`); never `-0`."""
    v = float(v)
    if v == int(v):
        return str(int(v))
    return f"{v:.1f}"


def matrix(name: str, m: np.ndarray) -> str:
    """`name = [[...], ...]`, a row per line, columns right-aligned."""
    cells = [[number(v) for v in row] for row in np.atleast_2d(m)]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    rows = ["[" + ", ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + "]" for row in cells]
    indent = " " * (len(name) + 4)
    return f"{name} = [" + (",\n" + indent).join(rows) + "]"


def value(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return number(v) if isinstance(v, float) else str(v)


def problem_text(header: list[str], tables: dict[str, dict[str, Value]], comments: dict[str, str]) -> str:
    """The file: `header` as comment lines, then each table in order; comments[key] is a comment line written
    above that key (matrices) or after it (values)."""
    lines = [f"# {h}".rstrip() for h in header]
    for table, items in tables.items():
        lines += ["", f"[{table}]"]
        for key, v in items.items():
            note = comments.get(key)
            if isinstance(v, np.ndarray):
                if note:
                    lines.append(f"# {note}")
                lines.append(matrix(key, v))
            else:
                text = f"{key} = {value(v)}"
                lines.append(f"{text.ljust(21)} # {note}" if note else text)
    return "\n".join(lines) + "\n"
