"""Rich tables for attention arrays: one table per matrix, labelled rows and columns, masked cells marked.

Takes arrays in the user's shape (see core/result.py) and returns renderables; the CLI decides where
they print. A 3-D or 4-D array becomes one table per leading index ("weights · batch 1 · head 0").
Labels and titles pass through render/safe.py: shown literally, never as markup or control characters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

# What the rows and columns of each array are, in rows layout: (row prefix, column prefix).
AXES = {
    "x": ("t", "d"), "q": ("q", "d"), "k": ("k", "d"), "v": ("k", "d"),
    "qk": ("q", "k"), "scores": ("q", "k"), "weights": ("q", "k"),
    "heads": ("q", "d"), "concat": ("q", "d"), "output": ("q", "d"),
}
MASKED = "·"
MAX_ROWS, MAX_COLS = 40, 16  # larger matrices show their corners; files hold every value


def _cut(n: int, limit: int) -> list[int | None]:
    """Indices to show of n: all of them, or the first and last halves with None for the gap."""
    if n <= limit:
        return list(range(n))
    head = limit // 2
    return list(range(head)) + [None] + list(range(n - (limit - head - 1), n))


def _leading_names(name: str, ndim: int, batched: bool, multihead: bool) -> list[str]:
    """Names of the leading (non-matrix) axes of an exported array."""
    lead: list[str] = []
    if batched:
        lead.append("batch")
    if name == "heads" or (name not in ("x", "concat", "output", "mask") and multihead):
        lead.append("head" if name not in ("k", "v") else "kv head")
    return lead[: max(ndim - 2, 0)]


def _labels(prefix: str, n: int, labels: Sequence | None, idx: tuple, batched: bool) -> list[str]:
    """The given labels (per batch item when they are a list of lists), else q0, q1, ..."""
    if labels is not None and len(labels) and not isinstance(labels[0], str):
        labels = labels[idx[0]] if batched and idx else None
    if labels is not None and len(labels) == n:
        return [str(t) for t in labels]
    return [f"{prefix}{i}" for i in range(n)]


def matrices(name: str, a: np.ndarray, *, batched: bool, multihead: bool) -> Iterator[tuple[str, np.ndarray, tuple]]:
    """Yield (title, matrix, leading index) for each 2-D slice of an exported array."""
    if a.ndim <= 2:
        yield name, np.atleast_2d(a), ()
        return
    lead = _leading_names(name, a.ndim, batched, multihead)
    for idx in np.ndindex(*a.shape[:-2]):
        parts = " · ".join(f"{ax} {i}" for ax, i in zip(lead, idx, strict=False))
        yield f"{name} · {parts}", a[idx], idx


MAX_TABLES = 64  # matrices drawn as tables; the rest are counted in a notice


def array_tables(
    name: str,
    a: np.ndarray,
    *,
    allowed: np.ndarray | None = None,
    precision: int = 4,
    batched: bool = False,
    multihead: bool = False,
    layout: str = "rows",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    formula: str | None = None,
    prefixes: tuple[str, str] | None = None,
) -> list[Table | Text]:
    """One rich Table per matrix of `a` (the first MAX_TABLES, then a notice of how many more). `allowed` (same
    shape, bool) marks masked cells with `·`.

    Rows and columns are labelled from `row_labels`/`col_labels`, else numbered with the prefixes the
    array's name implies (q0, k0, d0; `prefixes` overrides)."""
    from rich.table import Table  # rich only when tables are drawn: the helpers above serve JSON output too
    from rich.text import Text

    from attncli.render.safe import text

    rp, cp = prefixes or AXES.get(name, ("r", "c"))
    if layout == "cols":
        rp, cp = cp, rp
        row_labels, col_labels = col_labels, row_labels
    tables: list = []
    total = int(np.prod(a.shape[:-2])) if a.ndim > 2 else 1
    for title, m, idx in matrices(name, a, batched=batched, multihead=multihead):
        if len(tables) == MAX_TABLES:  # 100,000 heads are not read as tables: say where every value is
            tables.append(Text(f"... and {total - MAX_TABLES:,} more {text(name).plain} matrices ({total:,} in all); "
                               "--format json, csv or npy writes every one"))
            break
        ok = None if allowed is None else (allowed[idx] if idx else np.atleast_2d(allowed))
        rows, cols = _cut(m.shape[0], MAX_ROWS), _cut(m.shape[1], MAX_COLS)
        notes = []
        if ok is not None and not ok.all():
            notes.append(f"{MASKED} = masked")
        if None in rows or None in cols:
            notes.append(f"showing {len(rows) - (None in rows)} of {m.shape[0]} rows and "
                         f"{len(cols) - (None in cols)} of {m.shape[1]} columns; "
                         "--format csv, json or npy writes every value")
        heading = text(title)
        if formula:
            heading.append("  ").append_text(text(formula, "dim"))
        t = Table(title=heading, title_justify="left", caption="; ".join(notes) or None, caption_justify="left")
        # every cell a Text, as rich would make of the plain string: rich then neither parses it as markup nor
        # loads its emoji table (~2 ms of a small run)
        t.add_column(Text(""), style="bold", no_wrap=True)
        row_names = _labels(rp, m.shape[0], row_labels, idx, batched)
        col_names = _labels(cp, m.shape[1], col_labels, idx, batched)
        for j in cols:
            t.add_column(Text("…") if j is None else text(col_names[j]), justify="right", no_wrap=True)
        for i in rows:
            if i is None:
                t.add_row(Text("⋮"), *(Text("⋮") for _ in cols))
                continue
            cells: list[Text] = []
            for j in cols:
                if j is None:
                    cells.append(Text("…"))
                elif ok is not None and not ok[i, j]:
                    cells.append(Text(MASKED, style="dim"))
                else:
                    cells.append(Text(format_number(m[i, j], precision)))
            t.add_row(text(row_names[i]), *cells)
        tables.append(t)
    return tables


def format_number(x: float, precision: int) -> str:
    """Fixed-point with `precision` decimals; nan/inf spelled out; negative zero shown as 0."""
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "-inf" if x < 0 else "inf"
    s = f"{float(x):.{precision}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s
