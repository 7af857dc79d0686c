"""PNG, SVG and PDF heatmaps with matplotlib (the optional `plot` extra), returned as bytes.

One panel per head in a grid, token labels on both axes (keys along the top, as in the tables),
values printed in the cells when they are large enough to read, masked cells grey and hatched, one
colour bar per array, and a title naming the variant. matplotlib is imported here, inside the
function, never when attncli starts; its Agg canvas is used directly (no pyplot, no GUI backend).

Size: each panel is a square of side min(12, max(4, 0.3·n)) inches for an n-token map, plus 1.2
inches for the colour bar and 0.6 for the title (0.4 more per array when several are drawn); a PNG
is that many inches × --dpi pixels.

Memory: matplotlib's canvas and the images it resamples cost about 10 bytes a pixel (PNG ~5, PDF ~9,
measured) and each drawn cell about 24 bytes; `check_figure_memory` refuses, before matplotlib is
imported, a picture that would not fit, saying which --dpi would. Masked cells are hatched one by one
only up to MAX_HATCHED of them in a panel; beyond that they are grey alone (hatching is per-cell work).
Labels are drawn as plain text: a `$` in a token never starts matplotlib's mathtext.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np

from attncli.errors import AttnError
from attncli.render.colors import default_cmap
from attncli.render.maps import MapGroup, MapSet

MASK_GREY = "#d9d9d9"
BYTES_PER_PIXEL, BYTES_PER_CELL = 10, 24
MAX_SIDE_PX = 2**23 - 1  # Agg's limit on each side of a canvas
MAX_HATCHED = 4096  # masked cells hatched one by one in a panel; beyond that, grey only
COLORBAR_IN, TITLE_IN, GROUP_TITLE_IN = 1.2, 0.6, 0.4
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "WenQuanYi Zen Hei", "Source Han Sans",
             "Droid Sans Fallback", "AR PL UMing CN", "Arial Unicode MS")


def panel_side(group: MapGroup) -> float:
    """Inches per panel for this group: 0.3 inch a token, at least 4, at most 12."""
    n = max(max(p.values.shape) for p in group.panels)
    return min(12.0, max(4.0, 0.3 * n))


def figure_size(maps: MapSet) -> tuple[float, float]:
    """(width, height) in inches: see the module docstring."""
    width = max(g.grid[1] * panel_side(g) for g in maps.groups) + COLORBAR_IN
    height = sum(g.grid[0] * panel_side(g) for g in maps.groups) + TITLE_IN
    if len(maps.groups) > 1:
        height += GROUP_TITLE_IN * len(maps.groups)
    return width, height


def check_figure_memory(maps: MapSet, fmt: str, dpi: int) -> None:
    """Refuse, before matplotlib allocates anything, a picture too big to draw: a side past Agg's limit,
    or pixels × 10 bytes + cells × 24 bytes beyond the memory available (see the module docstring)."""
    import math

    from attncli.io.memory import available_memory, check_allocation

    w_in, h_in = figure_size(maps)
    w_px, h_px = math.ceil(w_in * dpi), math.ceil(h_in * dpi)
    cells = sum(p.values.size for g in maps.groups for p in g.panels)
    what = f"a {w_px} × {h_px}-pixel {fmt.upper()} of {maps.panel_count} map(s)"
    if max(w_px, h_px) > MAX_SIDE_PX:
        fit = max(1, math.floor(MAX_SIDE_PX / max(w_in, h_in)))
        raise AttnError(f"--dpi {dpi}: {what} is more than matplotlib can draw ({MAX_SIDE_PX + 1} pixels a side); "
                        f"try --dpi {fit} or lower" + (", or fewer maps" if maps.panel_count > 1 else ""))
    limit = available_memory()
    need = w_px * h_px * BYTES_PER_PIXEL + cells * BYTES_PER_CELL
    if limit is None or need <= limit:
        return
    spare = limit - cells * BYTES_PER_CELL
    fit = math.floor(math.sqrt(spare / (BYTES_PER_PIXEL * w_in * h_in))) if spare > 0 else 0
    while fit >= 10 and math.ceil(w_in * fit) * math.ceil(h_in * fit) * BYTES_PER_PIXEL > spare:
        fit -= 1  # the pixel counts round up
    tries = [f"--dpi {fit} or lower"] if fit >= 10 else []
    tries += ["--format html (an interactive page, maps beyond 512 × 512 averaged in blocks)"]
    if maps.panel_count > 1:
        tries.append("fewer maps (one head or batch item)")
    check_allocation(need, what, tries, option=f"--dpi {dpi}", limit=limit)


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise AttnError("PNG/SVG/PDF output needs matplotlib: pip install 'attncli[plot]'") from None
    return matplotlib, Figure


def _colormap(matplotlib, name: str):
    try:
        return matplotlib.colormaps[name]
    except KeyError:
        raise AttnError(f"--cmap: unknown colormap {name!r}; try viridis, magma, Blues, RdBu_r, or any "
                        "matplotlib colormap name") from None


def _fonts(matplotlib) -> list[str]:
    """DejaVu Sans, then any installed CJK font so Chinese or Japanese labels are drawn."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *[f for f in CJK_FONTS if f in installed]]


def figure_bytes(maps: MapSet, fmt: str, *, dpi: int = 100, cmap: str | None = None, precision: int = 2,
                 warn: Callable[[str], None] | None = None) -> bytes:
    """The heatmaps of `maps` as a `fmt` (png, svg or pdf) file's bytes; `warn` hears about labels no
    installed font can draw."""
    check_figure_memory(maps, fmt, dpi)
    matplotlib, Figure = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rc = {"font.family": _fonts(matplotlib), "svg.hashsalt": "attncli", "font.size": 9,
          "axes.titlesize": 10, "figure.titlesize": 12, "text.parse_math": False}
    with matplotlib.rc_context(rc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=figure_size(maps), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        fig.suptitle(maps.title)
        heights = [g.grid[0] * panel_side(g) + (GROUP_TITLE_IN if len(maps.groups) > 1 else 0) for g in maps.groups]
        subs = fig.subfigures(len(maps.groups), 1, height_ratios=heights) if len(maps.groups) > 1 else [fig]
        for sub, group in zip(np.atleast_1d(subs), maps.groups, strict=True):
            if len(maps.groups) > 1:
                sub.suptitle(group.name, fontsize=11)
            _draw_group(matplotlib, sub, group, cmap or default_cmap(group.signed), min(precision, 2))
        buf = io.BytesIO()
        metadata = {"png": {"Software": "attncli"}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    if warn is not None and any("missing from font" in str(w.message) for w in caught):
        warn("some labels use characters no installed font has and are drawn as boxes; install a font that has "
             "them (e.g. Noto Sans CJK: apt install fonts-noto-cjk)")
    return buf.getvalue()


def _draw_group(matplotlib, sub, group: MapGroup, cmap_name: str, decimals: int) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    cmap = _colormap(matplotlib, cmap_name).with_extremes(bad=MASK_GREY)
    lo, hi = group.scale
    rows, cols = group.grid
    axes = np.atleast_2d(sub.subplots(rows, cols, squeeze=False))
    side = panel_side(group)
    image = None
    first = group.panels[0] if group.panels else None
    # a grid of many panels with the same tokens (a model's layers × heads): labels on the outer panels only
    outer_only = len(group.panels) > 4 and all(p.rows == first.rows and p.cols == first.cols for p in group.panels)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(group.panels):
            ax.set_axis_off()
            continue
        p = group.panels[k]
        ok = p.drawn()
        n_r, n_c = p.values.shape
        image = ax.imshow(np.ma.masked_array(p.values, ~ok), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        if 0 < (~ok).sum() <= MAX_HATCHED:
            boxes = [Rectangle((j - 0.5, i - 0.5), 1, 1) for i, j in zip(*np.nonzero(~ok), strict=True)]
            ax.add_collection(PatchCollection(boxes, facecolor="none", edgecolor="#9a9a9a", hatch="///",
                                              linewidth=0))
        cell_pt = side / max(n_r, n_c) * 72
        label_pt = float(np.clip(cell_pt * 0.55, 5, 10))
        top, left = k < cols, k % cols == 0
        _ticks(ax, p.rows if left or not outer_only else [], p.cols if top or not outer_only else [], label_pt)
        if top or not outer_only:
            ax.set_xlabel(group.col_axis, fontsize=8, color="#555555")
        if left or not outer_only:
            ax.set_ylabel(group.row_axis, fontsize=8, color="#555555")
        if p.title:
            ax.set_title(p.title, pad=6)
        if cell_pt >= 22 and max(n_r, n_c) <= 24:
            _annotate(ax, p.values, ok, cmap, lo, hi, decimals, float(np.clip(cell_pt * 0.3, 5, 9)))
    if image is not None:
        sub.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=group.name)


def _ticks(ax, rows: list[str], cols: list[str], size: float) -> None:
    """Every label when there are at most 40, else about 30 evenly spaced ones."""
    def every(n: int) -> np.ndarray:
        return np.arange(n) if n <= 40 else np.unique(np.linspace(0, n - 1, 30).round().astype(int))

    xs, ys = every(len(cols)), every(len(rows))
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    long = max((len(c) for c in cols), default=0) > 3 or len(cols) > 12
    ax.set_xticks(xs, [cols[i] for i in xs], rotation=90 if long else 0, fontsize=size)
    ax.set_yticks(ys, [rows[i] for i in ys], fontsize=size)
    ax.tick_params(length=0)


def _annotate(ax, values: np.ndarray, ok: np.ndarray, cmap, lo: float, hi: float, decimals: int, size: float
              ) -> None:
    """Each value in its cell, black on light colours and white on dark ones."""
    from attncli.render.colors import text_on

    for i, j in zip(*np.nonzero(ok), strict=True):
        rgba = cmap((values[i, j] - lo) / (hi - lo))
        color = np.array(text_on(tuple(round(c * 255) for c in rgba[:3]))) / 255
        ax.text(j, i, f"{values[i, j]:.{decimals}f}", ha="center", va="center", fontsize=size, color=color)
