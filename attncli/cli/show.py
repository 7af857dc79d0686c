"""`attncli show SOURCE`: draw attention maps that came from elsewhere, and say what each head does.

Nothing is recomputed. SOURCE is n_q × n_k, heads × n_q × n_k, or layers (or batch) × heads × n_q × n_k
(a model's saved attentions); `--layer` and `--head` pick slices. The map goes to any format (a terminal
heatmap by default) and per-head statistics (render/stats.py) print beside it; `--format json`, csv and
tsv write the statistics instead.

Only the selected maps are read (io/mapped.py reads a .npy, .safetensors or uncompressed .npz map in
place, by byte ranges), after checking that they fit in memory, so `--layer 0 --head 0` of a map bigger
than memory draws one n_q × n_k map.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from attncli.cli import options as opt
from attncli.cli.common import SOURCE_HELP, Sources, check_look, emit, print_renderables, resolve_format, warn
from attncli.cli.group import app
from attncli.errors import AttnError

if TYPE_CHECKING:
    from attncli.io.mapped import Piecewise

EPILOG = (
    "Examples:\n\n"
    "  attncli show samples/attention_maps/maps.npy --layer 0 --head 1 --labels samples/attention_maps/tokens.txt\n\n"
    "  attncli show samples/attention_maps/maps.npy --layer 1 --top-k 2\n\n"
    "  attncli show samples/attention_maps/maps.npy --layer -1 -o last_layer.png\n\n"
    "  attncli show samples/attention_maps/maps.npy --layer 0 -o map.html\n\n"
    "  attncli show samples/attention_maps/maps.npy --format json | jq '.stats.heads[] | .entropy'\n\n"
    "  attncli compute --x samples/two_heads/x.csv --show weights -o maps.npz && attncli show maps.npz:weights"
)
SHAPES = ("2-D (n_q × n_k), 3-D (heads × n_q × n_k), 4-D (layers or batch × heads × n_q × n_k) or 5-D "
          "(layers × 1 × heads × n_q × n_k, as torch.stack(outputs.attentions))")
STATS_COPIES = 6  # n_q × n_k float64 arrays the statistics of one map hold at once (render/stats.head_stats)


def _pick(option: str, index: int | None, size: int, axis: str) -> list[int]:
    """The indices of an axis to keep: all, or the one chosen (negative counts from the end)."""
    if index is None:
        return list(range(size))
    if not -size <= index < size:
        raise AttnError(f"{option} {index} is out of range: SOURCE has {size} {axis}s (0 to {size - 1}, or -1 "
                        "for the last)")
    return [index % size]


@app.command(epilog=EPILOG)
def show(
    source: Annotated[str, typer.Argument(help=f"The attention map, {SHAPES}. {SOURCE_HELP}. e.g. attentions.npy "
                                          "or dump.npz:attn", metavar="SOURCE", show_default=False)],
    labels: Annotated[str | None, opt._opt("Token labels: a file with one per line, or comma-separated; a square "
                                           "map uses them for queries and keys. e.g. --labels tokens.txt",
                                           "Selection", "--labels")] = None,
    layer: Annotated[int | None, opt._opt("Draw only this layer (or batch item) of a 4-D map; -1 is the last. "
                                          "e.g. --layer 11", "Selection", "--layer")] = None,
    head: Annotated[int | None, opt._opt("Draw only this head of a 3-D or 4-D map; -1 is the last. e.g. --head 5",
                                         "Selection", "--head")] = None,
    top_k: Annotated[int, opt._opt("Statistics list the k most attended keys of each query. e.g. --top-k 5",
                                   "Selection", "--top-k", show_default=True)] = 3,
    fmt: Annotated[opt.Format | None, opt._opt(
        "heatmap (default), table, png, svg, pdf, html: the map, then the statistics; json, csv, tsv: the "
        "statistics; npy, npz, safetensors: the selected map. e.g. --format json", opt.OUT, "--format", "-f")] = None,
    output: opt.OUTPUT = None, precision: opt.PRECISION = 4,
    dpi: opt.DPI = 100, cmap: opt.CMAP = None, debug: opt.DEBUG = False,
) -> None:
    """Draw an attention map from a file (a model's saved attentions, any n × n array) and print per-head
    statistics: entropy, top-k keys per query, attention on the first token and on the diagonal."""
    fmt_name = "heatmap" if fmt is None and output is None else resolve_format(None if fmt is None else str(fmt),
                                                                                output)
    look = check_look(precision, dpi, cmap)
    if top_k < 1:
        raise AttnError(f"--top-k must be ≥ 1; got {top_k}")

    import numpy as np

    from attncli.cli.text_input import read_labels
    from attncli.io.mapped import open_arrays
    from attncli.render.maps import MapGroup, MapSet, Panel, grid_for
    from attncli.render.stats import head_stats, stats_tables
    from attncli.version import __version__

    src = Sources()
    with open_arrays(source, "SOURCE", single=True) as found:
        if found.path is not None:
            src.paths.append(found.path)
        raw = found.get(found.names[0])
        lead, (n_layers, n_heads, n_q, n_k), has_layer, has_head = _map_axes(raw)
        if layer is not None and not has_layer:
            raise AttnError(f"--layer needs a 4-D map (layers × heads × n_q × n_k); SOURCE is {len(raw.shape)}-D "
                            f"{tuple(raw.shape)}" + ("; use --head" if has_head else ""))
        if head is not None and not has_head:
            raise AttnError(f"--head needs a 3-D or 4-D map; SOURCE is 2-D {tuple(raw.shape)} (one head)")
        layers = _pick("--layer", layer, n_layers, "layer")
        heads = _pick("--head", head, n_heads, "head")
        rows, cols = _labels(read_labels(labels), n_q, n_k)
        arr = _selected(raw, lead, layers, heads, has_layer, has_head, (layer, head))  # (L', H', n_q, n_k)

    nan = int(np.isnan(arr).sum())
    if nan:
        warn(f"SOURCE has {nan} NaN value(s); they are drawn as masked and left out of the statistics")
    panels, stats = [], []
    for i, li in enumerate(layers):
        for j, hi in enumerate(heads):
            title = " · ".join(t for t in (f"layer {li}" if has_layer else "", f"head {hi}" if has_head else "") if t)
            panels.append(Panel(title, arr[i, j], rows, cols))
            stats.append({"layer": li if has_layer else None, "head": hi if has_head else None})
    values = arr.reshape(-1, *arr.shape[2:])  # (panels, n_q, n_k), a view
    negative = bool((values < 0).any())  # NaN is not negative, and there is no infinity
    if negative:
        warn("SOURCE has negative values (scores, not weights?); it is drawn, but entropy and shares need "
             "weights ≥ 0, so there are no statistics")
        stats = None
    else:
        stats = [dict(s, **head_stats(p, top_k)) for s, p in zip(stats, panels, strict=True)]
        _warn_row_sums(values)

    selected = {"layer": layers[0] if layer is not None else None, "head": heads[0] if head is not None else None}
    export = arr  # (L', H', n_q, n_k): drop the axes SOURCE lacks or that were picked
    if not has_layer or layer is not None:
        export = export[0]
    if not has_head or head is not None:
        export = np.take(export, 0, axis=-3)
    meta: dict[str, Any] = {"source": source, "shape": list(raw.shape), "selected": selected,
                            "labels": None if labels is None else rows, "entropy_unit": "bits",
                            "nan_cells": nan, "attncli_version": __version__}
    if fmt_name in ("json", "csv", "tsv"):
        _write_stats(stats, meta, top_k, fmt_name, output, src.paths)
        return

    lead = (len(layers),) if has_layer and len(layers) > 1 else ()
    grid = grid_for(lead + (len(heads),)) if has_head else grid_for(lead)
    group = MapGroup("weights", panels, grid)
    title = "attention map · " + _name(source) + ("" if len(panels) > 1 or not panels[0].title
                                                   else " · " + panels[0].title)

    def renderables():
        from attncli.render.tables import array_tables

        return [t for p in panels for t in array_tables("weights" + (f" · {p.title}" if p.title else ""),
                                                         p.values, precision=precision, row_labels=rows,
                                                         col_labels=cols)]

    emit({"weights": export}, meta, fmt_name, output, src.paths, renderables, lambda: MapSet(title, [group]), look)
    if stats is not None and (output is not None or fmt_name in ("heatmap", "table")):
        if fmt_name in ("heatmap", "table") and output is None:
            print()
        print_renderables(stats_tables(stats, precision=precision, per_query=len(stats) <= 4))


def _name(source: str) -> str:
    """A short name for titles: the file's name (with :array), 'stdin', or 'inline'."""
    import os

    if source == "-" or source.startswith("-:"):
        return "stdin"
    path = source if os.path.exists(source) else source.rsplit(":", 1)[0]
    return os.path.basename(source) if os.path.exists(path) else "inline"


def _map_axes(raw: Piecewise) -> tuple[tuple, tuple[int, int, int, int], bool, bool]:
    """(where the layer and head indices go, (L, H, n_q, n_k), has a layer axis, has a head axis), from the
    shape alone, or a one-line error. The first is a template of the leading indices: 0 for an axis of size
    1 that says nothing, "L" and "H" for the layer and head axes."""
    shape = tuple(raw.shape)
    if raw.dtype.kind not in "biuf":
        raise AttnError(f"SOURCE: an attention map holds numbers; got dtype {raw.dtype}")
    skip = 0
    if len(shape) > 4 and all(s == 1 for s in shape[: len(shape) - 4]):
        skip = len(shape) - 4  # (1, ..., L, H, n_q, n_k): leading axes of size 1 say nothing
    elif len(shape) == 5 and shape[1] == 1:  # torch.stack(outputs.attentions): (layers, batch 1, heads, n_q, n_k)
        return ("L", 0, "H"), (shape[0], shape[2], shape[3], shape[4]), True, True
    elif len(shape) == 5:
        raise AttnError(f"SOURCE: an attention map is {SHAPES}; got 5-D shape {shape}, several texts: save one "
                        "text's maps, attentions[:, b] (layers × batch × ...) or attentions[b] (batch first)")
    core = shape[skip:]
    if len(core) not in (2, 3, 4) or 0 in core:
        raise AttnError(f"SOURCE: an attention map is {SHAPES}; got {len(shape)}-D shape {shape}")
    full = (1,) * (4 - len(core)) + core
    template = (0,) * skip + (("L",) if len(core) == 4 else ()) + (("H",) if len(core) >= 3 else ())
    return template, full, len(core) == 4, len(core) >= 3  # type: ignore[return-value]


def _selected(raw: Piecewise, lead: tuple, layers: list[int], heads: list[int], has_layer: bool,
              has_head: bool, picked: tuple[int | None, int | None]):
    """The chosen maps as float64 (len(layers), len(heads), n_q, n_k), read one map at a time, after checking
    that what show holds fits in memory; an infinite value is a one-line error."""
    import numpy as np

    from attncli.io.limits import check_read

    n_q, n_k = raw.shape[-2:]
    count = len(layers) * len(heads)
    tries = [t for t, given in (("--layer to pick one layer", picked[0] is not None or len(layers) == 1),
                                ("--head to pick one head", picked[1] is not None or len(heads) == 1)) if not given]
    check_read((count + STATS_COPIES) * n_q * n_k * 8, f"showing {count} map(s) of {n_q} × {n_k}", "SOURCE",
               tries + ["a map of fewer tokens"])
    arr = np.empty((len(layers), len(heads), n_q, n_k))  # (L', H', n_q, n_k)
    for i, li in enumerate(layers):
        for j, hi in enumerate(heads):
            arr[i, j] = raw.take(tuple(li if t == "L" else hi if t == "H" else t for t in lead))
    if np.isinf(arr).any():
        i, j, q, k = (int(x) for x in np.argwhere(np.isinf(arr))[0])
        where = ((layers[i],) if has_layer else ()) + ((heads[j],) if has_head else ()) + (q, k)
        raise AttnError(f"SOURCE holds an infinite value at {where}; attention weights must be finite")
    return arr


def _labels(given: list[str] | None, n_q: int, n_k: int) -> tuple[list[str], list[str]]:
    """--labels for queries and keys (a square map uses them for both), else q0…, k0…."""
    rows, cols = [f"q{i}" for i in range(n_q)], [f"k{j}" for j in range(n_k)]
    if given is None:
        return rows, cols
    from attncli.text.tokenize import disambiguate

    if len(given) not in (n_q, n_k):
        raise AttnError(f"--labels has {len(given)} labels but the map is {n_q} × {n_k} (queries × keys)")
    named = disambiguate(given)
    return (named if len(given) == n_q else rows), (named if len(given) == n_k else cols)


def _warn_row_sums(values) -> None:
    import numpy as np

    sums = np.nansum(values, axis=-1)  # (panels, n_q)
    off = (np.abs(sums - 1) > 1e-3) & (sums > 0)
    if off.any():
        p, i = (int(x) for x in np.argwhere(off)[0])
        warn(f"{int(off.sum())} of {sums.size} query rows do not sum to 1 (e.g. query {i} sums to {sums[p, i]:.4g}); "
             "the statistics use each row divided by its sum")


def _write_stats(stats, meta: dict, top_k: int, fmt: str, output: str | None, protect) -> None:
    """--format json: {"stats": {...}, "meta": {...}}; csv/tsv: one row per query of each head."""
    import json

    from attncli.io.writers import _plain

    if fmt == "json":
        doc = {"stats": None if stats is None else {"entropy_unit": "bits", "top_k": top_k, "heads": stats},
               "meta": meta}
        from attncli.render.safe import json_safe  # DEL, C1 and bidi characters as \uXXXX: same strings

        data = json_safe(json.dumps(_plain(doc), allow_nan=False, ensure_ascii=False, indent=1)) + "\n"
    else:
        if stats is None:
            raise AttnError(f"--format {fmt} writes the statistics, and SOURCE has negative values so there are "
                            "none; use --format npy or a picture format")
        sep = "," if fmt == "csv" else "\t"
        head = ["layer", "head", "query_index", "query", "entropy_bits", "first_token", "diagonal"]
        head += [f"{c}{r}" for r in range(1, top_k + 1) for c in ("top", "weight")]
        lines = [sep.join(head)]
        for h in stats:
            for q in h["per_query"]:
                cells = [h["layer"], h["head"], q["index"], q["query"], q["entropy"], q["first_token"], q["diagonal"]]
                for r in range(top_k):
                    t = q["top"][r] if r < len(q["top"]) else None
                    cells += [None, None] if t is None else [t["key"], t["weight"]]
                lines.append(sep.join(_cell(c, sep) for c in cells))
        data = "\n".join(lines) + "\n"
    if output is None:
        sys.stdout.write(data)
        sys.stdout.flush()
    else:
        from attncli.io import atomic_write

        atomic_write(output, data.encode("utf-8"), protect=protect)


def _cell(value: Any, sep: str) -> str:
    from attncli.render.safe import printable

    if value is None:
        return ""
    # labels: control, bidi and invisible characters and undecodable argv bytes (lone surrogates, which UTF-8 cannot
    # write) as \xNN / \uXXXX escapes, as in tables and JSON
    text = repr(value) if isinstance(value, float) else printable(value)
    if sep in text or '"' in text or "\n" in text:
        text = '"' + text.replace('"', '""') + '"'
    return text
