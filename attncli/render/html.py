"""One self-contained HTML page of heatmaps: inline CSS and JavaScript, the maps embedded as JSON.

The page fetches nothing (its Content-Security-Policy forbids any request) and opens offline in any
browser: a large heatmap of the chosen panel with labels on both axes, a selector and a thumbnail per
head, and a tooltip showing query, key and value under the mouse. Opening it as `map.html#selftest`
hovers the largest cell by script and writes the tooltip and the count of loaded resources into
`<output id="selftest">`, which a headless browser's --dump-dom shows (tests/test_visual.py).
"""

from __future__ import annotations

import html
import json

import numpy as np

from attncli.render.colors import default_cmap, hex_of, palette
from attncli.render.html_assets import CSS, JS
from attncli.render.maps import MapSet, Panel, pool
from attncli.render.safe import json_safe, printable

MAX_CELLS = 512  # per axis; larger panels are downsampled (block means) with a notice on the page
BYTES_PER_SHOWN = 64  # the page's text and its copies, per drawn cell (measured, rounded up)

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _matrix(values: np.ndarray, ok: np.ndarray) -> str:
    """Rows of numbers to 6 significant digits as JSON; cells not drawn are null."""
    text = np.char.mod("%.6g", np.where(ok, values, 0.0))
    text[~ok] = "null"
    return "[" + ",".join("[" + ",".join(row) + "]" for row in text.tolist()) + "]"


def _panel_json(p: Panel) -> str:
    p = pool(p, MAX_CELLS, MAX_CELLS)
    ok = p.drawn()
    meta = {"title": p.title, "rows": p.rows, "cols": p.cols, "note": p.note}
    return json.dumps(meta, ensure_ascii=False)[:-1] + ', "values": ' + _matrix(p.values, ok) + "}"


def page_data(maps: MapSet, *, cmap: str | None, precision: int) -> str:
    """The JSON the page's script reads (panels, labels, scales, palettes)."""
    groups = []
    for g in maps.groups:
        lo, hi = g.scale
        head = {"name": g.name, "row_axis": g.row_axis, "col_axis": g.col_axis, "lo": lo, "hi": hi,
                "palette": [hex_of(c) for c in palette(cmap or default_cmap(g.signed))]}
        panels = ",".join(_panel_json(p) for p in g.panels)
        groups.append(json.dumps(head, ensure_ascii=False)[:-1] + ', "panels": [' + panels + "]}")
    top = json.dumps({"title": maps.title, "precision": precision}, ensure_ascii=False)[:-1]
    data = top + ', "groups": [' + ",".join(groups) + "]}"
    return script_json(data)


def script_json(doc: str) -> str:
    """A JSON document as it may stand inside <script>: no "<" raw (a label "</script>" would end the element),
    and the control and bidi characters of labels as \\uXXXX escapes (the page may be printed to a terminal)."""
    return json_safe(doc.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def page(title: str, css: str, body: str, data: str, js: str, csp: str) -> str:
    """A self-contained page: the strict Content-Security-Policy, the title (data: escaped here), the style, the
    body, the data (already script_json) and the script."""
    shown = html.escape(printable(title))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="attncli">
<title>{shown}</title>
<style>
{css}</style>
</head>
<body>
<header><h1>{shown}</h1></header>
{body}
<script id="data" type="application/json">{data}</script>
<script>
{js}</script>
</body>
</html>
"""


def check_page_memory(maps: MapSet) -> None:
    """Refuse, before building it, a page whose text (64 bytes a drawn cell, at most 512 × 512 a panel)
    would not fit in memory (block means take a band of rows at a time: render/maps.py's pool)."""
    from attncli.io.memory import check_allocation

    panels = [p for g in maps.groups for p in g.panels]
    shown = sum(min(p.values.shape[0], MAX_CELLS) * min(p.values.shape[1], MAX_CELLS) for p in panels)
    check_allocation(shown * BYTES_PER_SHOWN, f"an HTML page of {len(panels)} map(s) ({shown} cells drawn)",
                     ["fewer maps (one head or batch item)"],
                     option="--format html")


def html_page(maps: MapSet, *, cmap: str | None = None, precision: int = 4) -> str:
    """The whole page as a string."""
    check_page_memory(maps)
    return page(maps.title or "attention", CSS, BODY, page_data(maps, cmap=cmap, precision=precision), JS, CSP)


BODY = """<nav><label>map <select id="panel" aria-label="choose a head"></select></label>
<span class="hint">hover a cell for its value · ← → switch heads</span></nav>
<div id="thumbs" role="list"></div>
<main>
<div id="stage"><canvas id="map" aria-label="attention heatmap"></canvas><div id="tip" role="status"></div></div>
<div id="legend"><span id="lo"></span><canvas id="bar" width="240" height="14"></canvas><span id="hi"></span>
<span id="masked"><i class="swatch"></i> masked</span><span id="axes"></span></div>
<p id="note"></p>
<output id="selftest"></output>
</main>"""
