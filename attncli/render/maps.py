"""What the picture formats draw: named 2-D panels with labels, built once from exported arrays.

A `MapSet` is everything a heatmap, PNG/SVG/PDF or HTML page needs and nothing else: a title (the
variant), and one `MapGroup` per drawn array (weights, scores, ...), each a grid of `Panel`s (one per
head, batch item or layer) sharing one colour scale. Renderers take a MapSet; they never see results,
options or files.

Colour scale (`MapGroup.scale`): values ≥ 0 run from 0 to the group's largest value (so heads compare);
when any value is negative the scale is symmetric, −m to m with m the largest |value|. Masked cells
(`allowed` False) and NaN are drawn as masked, not coloured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attncli.render.tables import AXES, _labels, _leading_names

AXIS_NAMES = {"q": "query", "k": "key", "t": "token", "d": "dim", "p": "position", "θ": "angle", "r": "row",
              "c": "column"}
PANELS_PER_ROW = 4


@dataclass
class Panel:
    """One 2-D map: values[i, j] for row label rows[i] and column label cols[j]."""

    title: str  # "head 1", "batch 0 · head 1", or "" for the only panel
    values: np.ndarray  # (n_rows, n_cols), float
    rows: list[str]
    cols: list[str]
    allowed: np.ndarray | None = None  # bool (n_rows, n_cols); False = masked
    note: str | None = None  # e.g. a downsampling notice

    def drawn(self) -> np.ndarray:
        """Which cells carry a colour: allowed and finite."""
        ok = np.isfinite(self.values)
        return ok if self.allowed is None else ok & self.allowed


@dataclass
class MapGroup:
    """The panels of one array, laid out in a grid (rows × cols of panels), with one colour scale."""

    name: str  # "weights"
    panels: list[Panel]
    grid: tuple[int, int]
    row_axis: str = "query"
    col_axis: str = "key"

    @property
    def scale(self) -> tuple[float, float]:
        """(lo, hi) of the colour scale; see the module docstring."""
        lows, highs = [], []
        for p in self.panels:  # panel by panel: no copy of all the values
            ok = p.drawn()
            lows.append(p.values.min(where=ok, initial=np.inf))
            highs.append(p.values.max(where=ok, initial=-np.inf))
        lo, hi = float(min(lows, default=np.inf)), float(max(highs, default=-np.inf))
        if lo > hi:  # nothing drawn
            return 0.0, 1.0
        if lo < 0:
            m = max(-lo, hi)
            return -m, m
        return 0.0, hi if hi > 0 else 1.0

    @property
    def signed(self) -> bool:
        return self.scale[0] < 0


@dataclass
class MapSet:
    title: str
    groups: list[MapGroup] = field(default_factory=list)

    @property
    def panel_count(self) -> int:
        return sum(len(g.panels) for g in self.groups)


def grid_for(lead: tuple[int, ...]) -> tuple[int, int]:
    """Panel grid for the leading axes: one panel; heads in rows of 4; (batch or layer) × heads."""
    if not lead:
        return 1, 1
    if len(lead) == 1:
        cols = min(lead[0], PANELS_PER_ROW)
        return math.ceil(lead[0] / cols), cols
    return int(np.prod(lead[:-1])), lead[-1]


def map_group(
    name: str,
    a: np.ndarray,
    *,
    allowed: np.ndarray | None = None,
    batched: bool = False,
    multihead: bool = False,
    layout: str = "rows",
    row_labels: Sequence | None = None,
    col_labels: Sequence | None = None,
    prefixes: tuple[str, str] | None = None,
    lead_names: Sequence[str] | None = None,
) -> MapGroup:
    """The panels of an exported array, labelled as its tables are (see render/tables.py's array_tables).

    `lead_names` names the leading axes ("layer", "head"); by default they follow the array's name."""
    rp, cp = prefixes or AXES.get(name, ("r", "c"))
    if layout == "cols":
        rp, cp = cp, rp
        row_labels, col_labels = col_labels, row_labels
    a = np.atleast_2d(np.asarray(a))
    lead = a.shape[:-2]
    names = list(lead_names) if lead_names is not None else _leading_names(name, a.ndim, batched, multihead)
    ok = None if allowed is None else np.broadcast_to(allowed, a.shape)
    panels = []
    for idx in np.ndindex(*lead):
        m = a[idx]
        title = " · ".join(f"{ax} {i}" for ax, i in zip(names, idx, strict=False))
        labels_batched = batched and bool(names) and names[0] == "batch"
        panels.append(Panel(title, np.asarray(m, dtype=np.float64),  # no copy when already float64
                            _labels(rp, m.shape[0], row_labels, idx, labels_batched),
                            _labels(cp, m.shape[1], col_labels, idx, labels_batched),
                            None if ok is None else np.asarray(ok[idx], dtype=bool)))
    return MapGroup(name, panels, grid_for(lead), AXIS_NAMES.get(rp, rp), AXIS_NAMES.get(cp, cp))


def title_of(meta: dict[str, Any]) -> str:
    """A figure title naming the variant: 'scaled dot-product attention · softmax · 2 heads · causal'."""
    variant = str(meta.get("variant", "attention")).replace("_dot_product", " dot-product").replace("_", " ")
    parts = [variant if "attention" in variant else f"{variant} attention", str(meta.get("normalize", "softmax"))]
    if meta.get("temperature") not in (None, 1, 1.0):
        parts.append(f"T = {meta['temperature']:g}")
    heads, kv = meta.get("heads") or 1, meta.get("kv_heads")
    if heads > 1:
        parts.append(f"{heads} heads" + (f", {kv} kv heads" if kv and kv != heads else ""))
    parts += masks_text(meta.get("masks") or {})
    positions = meta.get("positions") or {}
    if positions.get("pe"):
        parts.append(f"{positions['pe']} PE" if positions["pe"] != "table" else "learned PE")
    if positions.get("rope"):
        parts.append("RoPE")
    if positions.get("alibi"):
        parts.append("ALiBi")
    if meta.get("layout") == "cols":
        parts.append("cols layout")
    return " · ".join(parts)


def masks_text(described: dict[str, Any]) -> list[str]:
    """Mask settings in words: {"causal": True, "window": [2, 2]} -> ["causal", "window 2:2"]."""
    parts = []
    for key, value in described.items():
        name = key.replace("_", " ")
        if value is True:
            parts.append(name)
        elif isinstance(value, list):
            parts.append(f"{name} {(':' if key == 'window' else ',').join(map(str, value))}")
        elif isinstance(value, dict):
            parts.append(name)
        elif value not in (None, False):
            parts.append(f"{name} {value}")
    return parts


def pool(panel: Panel, max_rows: int, max_cols: int) -> Panel:
    """The panel shrunk to at most max_rows × max_cols by averaging blocks (masked cells left out);
    labels become index ranges and `note` says what happened. Small panels come back unchanged. Memory
    beyond the result is one band of rows, so any map that was read can be pooled."""
    n_r, n_c = panel.values.shape
    fr, fc = math.ceil(n_r / max(max_rows, 1)), math.ceil(n_c / max(max_cols, 1))
    if fr == 1 and fc == 1:
        return panel
    r_out, c_out = math.ceil(n_r / fr), math.ceil(n_c / fc)
    starts = np.arange(0, n_c, fc)  # first column of each block
    sums, counts = np.zeros((r_out, c_out)), np.zeros((r_out, c_out), dtype=np.int64)
    for b in range(r_out):  # a band of fr rows at a time: temporaries of fr × n_c cells, not of the panel
        band = slice(b * fr, min((b + 1) * fr, n_r))
        v = panel.values[band]
        ok = np.isfinite(v) if panel.allowed is None else np.isfinite(v) & panel.allowed[band]
        sums[b] = np.add.reduceat(np.where(ok, v, 0.0).sum(axis=0), starts)  # (c_out,)
        counts[b] = np.add.reduceat(ok.sum(axis=0), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def ranges(n: int, f: int, labels: list[str]) -> list[str]:
        if f == 1:
            return labels
        return [f"{i}–{min(i + f, n) - 1}" for i in range(0, n, f)]

    note = f"downsampled from {n_r} × {n_c} to {r_out} × {c_out}: each cell is the mean of a {fr} × {fc} block"
    return Panel(panel.title, means, ranges(n_r, fr, panel.rows), ranges(n_c, fc, panel.cols), counts > 0, note)


def result_maps(res: Any, names: Sequence[str] = ("weights",), *, queries: Sequence | None = None,
                keys: Sequence | None = None) -> MapSet:
    """The scores/weights maps of a core AttentionResult, labelled, titled with the variant: what a
    command that recomputes attention (explain, check) hands to cli.common.emit_picture."""
    multihead = res.q.shape[1] > 1  # query heads
    return MapSet(title_of(res.meta), [
        map_group(n, res.export(n), allowed=res.export_mask(n), batched=res.batched, multihead=multihead,
                  layout=res.layout, row_labels=queries, col_labels=keys) for n in names])
