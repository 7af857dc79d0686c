"""Terminal heatmaps: each cell shaded by its value, labels on both axes, the value printed where it fits.

`heatmaps(maps, color=..., width=...)` returns rich renderables. In colour each cell has its own
background (the colormap) and a black or white number chosen for contrast, so the map reads the same
on dark and light terminals. Without colour (a pipe or a file) cells are shaded with the glyphs
" ░▒▓█" instead. Maps wider than the terminal first drop decimals, then the numbers, then are
downsampled (block means) with a notice saying so. Labels and titles pass through render/safe.py, so
nothing in them can drive the terminal. Work is bounded by what is drawn: at most MAX_ROWS rows of at
most MAX_WIDTH columns a panel, whatever the size of the map (downsampling works a band of rows at a time).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from attncli.render.colors import default_cmap, hex_of, palette, text_on
from attncli.render.maps import MapGroup, MapSet, Panel, pool
from attncli.render.safe import printable, printable_all
from attncli.render.tables import MASKED, format_number

SHADES = " ░▒▓█"
MAX_ROWS = 64  # rows of cells per panel before downsampling
MAX_WIDTH = 4096  # terminal columns used at most, whatever COLUMNS says
MAX_LABEL = 16  # row label width
MAX_HEADER_LINES = 8  # vertical column labels are cut after this many characters


def heatmaps(maps: MapSet, *, color: bool, width: int, precision: int = 4, cmap: str | None = None
             ) -> list[RenderableType]:
    """One titled heatmap per panel (side by side when they fit), a colour key per array."""
    width = min(width, MAX_WIDTH)
    out: list[RenderableType] = []
    if maps.title:
        out.append(Text(printable(maps.title), style="dim"))
    for group in maps.groups:
        group = _printable(group)
        laid = [_layout(p, width - _label_width(p) - 1, precision, 0 if color else 1) for p in group.panels]
        drawn = MapGroup(group.name, [p for p, _, _ in laid], group.grid, group.row_axis, group.col_axis)
        colors = palette(cmap or default_cmap(drawn.signed))
        lo, hi = drawn.scale  # of what is drawn: block means when downsampled
        blocks = [_panel(drawn, p, w, d, lo, hi, colors, color=color) for p, w, d in laid]
        out.append(_side_by_side(blocks, width))
        out.append(_key(group.name, lo, hi, colors, color=color, masked=any(
            (~p.drawn()).any() for p in group.panels)))
    return out


def _printable(group: MapGroup) -> MapGroup:
    """The group with its name, panel titles and labels made safe to print (render/safe.py)."""
    panels = [replace(p, title=printable(p.title), rows=printable_all(p.rows), cols=printable_all(p.cols))
              for p in group.panels]
    return MapGroup(printable(group.name), panels, group.grid, group.row_axis, group.col_axis)


def _side_by_side(blocks: list[Text], width: int) -> RenderableType:
    """As many panels per row as fit in `width` (3 spaces apart), else one per row."""
    widest = max(max((cell_len(line) for line in b.plain.split("\n")), default=0) for b in blocks)
    per_row = max(1, min(len(blocks), (width + 3) // (widest + 3)))
    if per_row == 1:
        return Group(*[item for i, b in enumerate(blocks) for item in ([Text("")] if i else []) + [b]])
    grid = Table.grid(padding=(0, 3))
    for _ in range(per_row):
        grid.add_column(no_wrap=True)
    for i in range(0, len(blocks), per_row):
        row = blocks[i:i + per_row]
        grid.add_row(*row, *[Text("")] * (per_row - len(row)))
        if i + per_row < len(blocks):
            grid.add_row(*[Text("")] * per_row)
    return grid


def _layout(panel: Panel, avail: int, precision: int, glyph: int) -> tuple[Panel, int, int | None]:
    """(panel, cell width, decimals or None for no numbers): the most detail that fits in `avail`.
    `glyph` is 1 when plain cells put a shade glyph before the number."""
    n_rows, n_cols = panel.values.shape
    if n_rows <= MAX_ROWS and n_cols * 2 <= avail:  # small enough to draw cell by cell
        drawn = panel.drawn()
        extremes = (panel.values.min(where=drawn, initial=np.inf), panel.values.max(where=drawn, initial=-np.inf))
        extremes = [v for v in extremes if np.isfinite(v)]  # the longest numbers are the extremes
        label = min(max(cell_len(c) for c in panel.cols), MAX_LABEL)
        for d in sorted({precision, min(precision, 2), min(precision, 1)}, reverse=True):
            w = max((len(format_number(v, d)) for v in extremes), default=1) + glyph
            if n_cols * (w + 1) <= avail:
                wide = max(w, label)  # room for the column labels too, when there is
                return panel, (wide if n_cols * (wide + 1) <= avail else w), d
        for w in (2, 1):
            if n_cols * (w + 1) <= avail:
                return panel, w, None
    pooled = pool(panel, MAX_ROWS, max(avail // 3, 1))
    return pooled, (2 if pooled.values.shape[1] * 3 <= avail else 1), None


def _fit(s: str, w: int) -> str:
    """`s` right-aligned in `w` cells, cut with … when longer."""
    if cell_len(s) > w:
        return set_cell_size(s, max(w - 1, 0)) + "…" if w > 1 else set_cell_size(s, w)
    return " " * (w - cell_len(s)) + s


def _label_width(panel: Panel) -> int:
    return min(max(cell_len(r) for r in panel.rows), MAX_LABEL)


def _header(cols: list[str], w: int, label_w: int, pooled: bool) -> Text:
    """Column labels: one line when they fit the cell width; for block means a ruler of first indices
    every few columns; else written downwards."""
    if all(cell_len(c) <= w for c in cols):
        return Text(" " * label_w + "".join(" " + _fit(c, w) for c in cols), style="bold")
    if pooled:
        line = ""
        for j, c in enumerate(cols):
            start = " " * (label_w + 1 + j * (w + 1))
            if len(line) <= len(start) - 1 or not line:
                line = line + " " * (len(start) - len(line)) + c.split("–")[0]
        return Text(line, style="bold")
    depth = min(max(len(c) for c in cols), MAX_HEADER_LINES)
    lines = []
    for k in range(depth):
        chars = []
        for c in cols:
            ch = c[k] if k < len(c) else ""
            if k == depth - 1 and len(c) > depth:
                ch = "…"
            chars.append(" " + _fit(ch, w) if cell_len(ch) <= w else " " + "…" * w)
        lines.append(" " * label_w + "".join(chars))
    return Text("\n".join(lines), style="bold")


def _panel(group: MapGroup, panel: Panel, w: int, decimals: int | None, lo: float, hi: float, colors: list, *,
           color: bool) -> Text:
    """One panel (already laid out: cell width `w`, `decimals` or None) as lines of text."""
    label_w = _label_width(panel)
    title = group.name + (f" · {panel.title}" if panel.title else "")
    text = Text(title + f"  ({group.row_axis} ↓, {group.col_axis} →)\n", style="bold")
    text.append_text(_header(panel.cols, w, label_w, panel.note is not None))
    ok = panel.drawn()
    span = hi - lo
    for i, row_label in enumerate(panel.rows):
        text.append("\n")
        text.append(_fit(row_label, label_w), style="bold")
        text.append(" ")
        for j in range(panel.values.shape[1]):
            v = panel.values[i, j]
            if not ok[i, j]:
                text.append(_fit(MASKED, w) + " ", style="dim")
                continue
            t = min(max((v - lo) / span, 0.0), 1.0)
            number = format_number(v, decimals) if decimals is not None else ""
            if color:  # cells touch: the space after each number is shaded too
                bg = colors[round(t * (len(colors) - 1))]
                text.append(_fit(number, w) + " " if number else " " * (w + 1),
                            style=f"{hex_of(text_on(bg))} on {hex_of(bg)}")
            else:
                glyph = SHADES[min(int(t * len(SHADES)), len(SHADES) - 1)]
                text.append((glyph + _fit(number, w - 1) if number else glyph * w) + " ")
    if panel.note:
        text.append(f"\nnote: {panel.note},\nlabelled by index ranges; -o map.png draws every cell", style="dim")
    return text


def _key(name: str, lo: float, hi: float, colors: list, *, color: bool, masked: bool) -> Text:
    """The colour (or shade) key of one array: what the lowest and highest colours mean."""
    lo_s, hi_s = f"{lo:.3g}", f"{hi:.3g}"
    key = Text(f"{name}: ", style="dim")
    if color:
        key.append(lo_s + " ", style="dim")
        for k in range(24):
            key.append(" ", style=f"on {hex_of(colors[round(k / 23 * (len(colors) - 1))])}")
        key.append(" " + hi_s, style="dim")
    else:
        step = (hi - lo) / len(SHADES)
        key.append("  ".join(f"'{g}' < {lo + (k + 1) * step:.3g}" if k < len(SHADES) - 1 else f"'{g}' ≤ {hi_s}"
                             for k, g in enumerate(SHADES)), style="dim")
    if masked:
        key.append(f"   {MASKED} masked", style="dim")
    return key
