"""What a head does, in numbers: entropy, top-k keys, attention on the first token and on the diagonal.

For each query row i of a map A (masked and NaN cells count as 0), p_i = a_i / Σ_j a_ij is the share
of its attention on each key (a row that sums to 1 is its own share; an all-zero row is "empty" and
left out). Then, in bits:

    entropy_i  = −Σ_j p_ij · log2 p_ij        (0 for one key, log2 n for uniform over n keys)
    first_i    = p_i0                          (attention on the first token: a "sink")
    diagonal_i = p_ii                          (attention on itself; queries i < n_k)
    top-k      = the k keys with the largest a_ij > 0 (ties: the earlier key)

and a head's entropy, first-token and diagonal shares are the means over its non-empty rows.
`stats_tables` renders them (labels through render/safe.py); nothing here reads files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from attncli.render.maps import Panel
from attncli.render.tables import _cut, format_number

if TYPE_CHECKING:
    from rich.table import Table

MAX_QUERY_ROWS = 40


def _mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return float(np.mean(got)) if got else None


def head_stats(panel: Panel, top_k: int = 3) -> dict[str, Any]:
    """Per-query and per-head statistics of one map (see the module docstring)."""
    ok = panel.drawn()
    a = np.where(ok, panel.values, 0.0)  # (n_q, n_k)
    n_q, n_k = a.shape
    sums = a.sum(axis=1)  # (n_q,)
    empty = sums <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(empty[:, None], 0.0, a / np.where(empty, 1.0, sums)[:, None])  # (n_q, n_k)
        logs = np.where(p > 0, np.log2(np.where(p > 0, p, 1.0)), 0.0)
    entropy = np.maximum(-(p * logs).sum(axis=1), 0.0)  # (n_q,); no -0.0
    k = max(1, min(top_k, n_k))
    order = np.argsort(-a, axis=1, kind="stable")[:, :k]  # (n_q, k): largest first, earlier key on ties
    queries = []
    for i in range(n_q):
        if empty[i]:
            queries.append({"query": panel.rows[i], "index": i, "entropy": None, "first_token": None,
                            "diagonal": None, "top": []})
            continue
        queries.append({
            "query": panel.rows[i], "index": i, "entropy": float(entropy[i]), "first_token": float(p[i, 0]),
            "diagonal": float(p[i, i]) if i < n_k else None,
            "top": [{"key": panel.cols[j], "index": int(j), "weight": float(a[i, j])} for j in order[i] if a[i, j] > 0],
        })
    live = ~empty
    share = p[live].mean(axis=0) if live.any() else np.zeros(n_k)  # (n_k,): mean share each key receives
    top = int(np.argmax(share))
    allowed_keys = ok.sum(axis=1)
    return {
        "queries": n_q, "empty_rows": int(empty.sum()),
        "entropy": _mean([q["entropy"] for q in queries]),
        "max_entropy": _mean([float(np.log2(c)) if c else None for c, e in zip(allowed_keys, empty, strict=True)
                              if not e]),
        "first_token": _mean([q["first_token"] for q in queries]),
        "diagonal": _mean([q["diagonal"] for q in queries]),
        "most_attended": {"key": panel.cols[top], "index": top, "share": float(share[top])} if live.any() else None,
        "per_query": queries,
    }


def _num(x: float | None, precision: int) -> str:
    return "—" if x is None else format_number(x, precision)


def stats_tables(heads: list[dict[str, Any]], *, precision: int = 4, per_query: bool = True) -> list[Table]:
    """A summary table (one row per head), then per-query tables when `per_query`.

    Each item of `heads` is head_stats(...) plus "layer" and "head" (None when the axis is absent)."""
    from rich.table import Table  # rich only when tables are drawn (JSON output uses head_stats alone)

    from attncli.render.safe import text

    has_layer = any(h.get("layer") is not None for h in heads)
    has_head = any(h.get("head") is not None for h in heads)
    t = Table(title="statistics (entropy in bits, uniform = log2 n; first token, diagonal: mean share of attention)",
              title_justify="left")
    if has_layer:
        t.add_column("layer", justify="right")
    if has_head:
        t.add_column("head", justify="right")
    for name in ("entropy", "uniform", "first token", "diagonal"):
        t.add_column(name, justify="right")
    t.add_column("most attended key (mean share)")
    for h in heads:
        lead = ([str(h["layer"])] if has_layer else []) + ([str(h["head"])] if has_head else [])
        most = h["most_attended"]
        t.add_row(*lead, _num(h["entropy"], precision), _num(h["max_entropy"], precision),
                  _num(h["first_token"], precision), _num(h["diagonal"], precision),
                  "—" if most is None else text(f"{most['key']} ({format_number(most['share'], precision)})"))
    tables = [t]
    if not per_query:
        return tables
    for h in heads:
        name = " · ".join(f"{ax} {h[ax]}" for ax in ("layer", "head") if h.get(ax) is not None)
        q = Table(title=f"per query{' · ' + name if name else ''}", title_justify="left")
        for col, just in (("query", "left"), ("entropy", "right"), ("first token", "right"), ("diagonal", "right"),
                          ("top keys (weight)", "left")):
            q.add_column(col, justify=just, style="bold" if col == "query" else None)
        rows = h["per_query"]
        for i in _cut(len(rows), MAX_QUERY_ROWS):
            if i is None:
                q.add_row("⋮", "⋮", "⋮", "⋮", "⋮")
                continue
            r = rows[i]
            top = "  ".join(f"{k['key']} {format_number(k['weight'], precision)}" for k in r["top"])
            q.add_row(text(r["query"]), _num(r["entropy"], precision), _num(r["first_token"], precision),
                      _num(r["diagonal"], precision), text(top or "(empty row)"))
        tables.append(q)
    return tables
