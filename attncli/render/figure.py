"""PNG, SVG and PDF heatmaps with matplotlib (the optional `plot` extra), returned as bytes.

One panel per head in a grid, token labels on both axes (keys along the top, as in the tables),
values printed in the cells when they are large enough to read, masked cells grey and hatched, one
colour bar per array, and a title naming the variant. matplotlib is imported here, inside the
function, never when attncli starts; its Agg canvas is used directly (no pyplot, no GUI backend).

Size: each panel is a square of side min(12, max(4, 0.3·n)) inches for an n-token map, plus 1.2
inches for the colour bar and 0.6 for the title (0.4 more per array when several are drawn); a PNG
is that many inches × --dpi pixels.
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
    matplotlib, Figure = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rc = {"font.family": _fonts(matplotlib), "svg.hashsalt": "attncli", "font.size": 9,
          "axes.titlesize": 10, "figure.titlesize": 12}
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
    for k, ax in enumerate(axes.ravel()):
        if k >= len(group.panels):
            ax.set_axis_off()
            continue
        p = group.panels[k]
        ok = p.drawn()
        n_r, n_c = p.values.shape
        image = ax.imshow(np.ma.masked_array(p.values, ~ok), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        if (~ok).any():
            boxes = [Rectangle((j - 0.5, i - 0.5), 1, 1) for i, j in zip(*np.nonzero(~ok), strict=True)]
            ax.add_collection(PatchCollection(boxes, facecolor="none", edgecolor="#9a9a9a", hatch="///",
                                              linewidth=0))
        cell_pt = side / max(n_r, n_c) * 72
        label_pt = float(np.clip(cell_pt * 0.55, 5, 10))
        _ticks(ax, p.rows, p.cols, label_pt)
        ax.set_xlabel(group.col_axis, fontsize=8, color="#555555")
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
