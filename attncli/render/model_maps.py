"""What `attncli model` draws and prints: one panel per (text, layer, head), labelled with the tokens.

The panel grid is the model view: layers as rows, heads as columns (bertviz's layout); padded positions of a
batch are cut off each text's panels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attncli.render.maps import MapGroup, MapSet, Panel


def _per_text(arrays: dict[str, Any], lens: list[int], name: str = "attentions") -> np.ndarray:
    """(B, L, H, n, ·) whatever the batch size."""
    got = arrays[name]
    return got if len(lens) > 1 else got[None]


def _labels(tokens: list[str]) -> list[str]:
    from attncli.text.tokenize import disambiguate

    return disambiguate(tokens)


def maps_of(arrays: dict[str, Any], tokens: list[list[str]], layers: list[int], heads: list[int],
            lens: list[int], model: str, allowed: np.ndarray | None = None) -> MapSet:
    """The model view: for each text, a grid of layers × heads; `allowed` (B, L, H, n, n) marks where a query
    may attend (the rest is drawn as masked)."""
    from attncli.errors import AttnError

    if "attentions" not in arrays:
        raise AttnError("pictures draw the attentions; add --show attentions")
    att = _per_text(arrays, lens)
    groups = []
    for b, n in enumerate(lens):
        labels = _labels(tokens[b])
        panels = [Panel(f"layer {li} · head {hi}", att[b, i, j, :n, :n], labels, labels,
                        None if allowed is None else allowed[b, i, j, :n, :n])
                  for i, li in enumerate(layers) for j, hi in enumerate(heads)]
        name = "attentions" if len(lens) == 1 else f"attentions · text {b}"
        groups.append(MapGroup(name, panels, (len(layers), len(heads))))
    return MapSet(f"attention · {model}", groups)


def tables_of(arrays: dict[str, Any], tokens: list[list[str]], layers: list[int], heads: list[int],
              lens: list[int], precision: int, allowed: np.ndarray | None = None) -> list[Any]:
    """One table per (text, layer, head) map, then the statistics and the hidden states; `allowed`
    (B, L, H, n, n) marks where a query may attend: the rest (a decoder's future keys, keys outside a
    window, padding) prints as masked (·), whatever its weight, as `compute` prints it."""
    from attncli.render.tables import array_tables

    out: list[Any] = []
    for name in ("attentions", "scores", "q", "k", "v"):  # per text, layer and head: n × n maps, n × head_dim
        if name not in arrays:
            continue
        got, square = _per_text(arrays, lens, name), name in ("attentions", "scores")
        for b, n in enumerate(lens):
            labels = _labels(tokens[b])
            for i, li in enumerate(layers):
                for j, hi in enumerate(heads):
                    title = (("" if len(lens) == 1 else f"text {b} · ") + ("" if name == "attentions" else
                             f"{name} · ") + f"layer {li} · head {hi}")
                    if square:  # masked cells (·) as compute prints them, whatever the value
                        ok = None if allowed is None else allowed[b, i, j, :n, :n]
                        out += array_tables(title, got[b, i, j, :n, :n], allowed=ok, precision=precision,
                                            row_labels=labels, col_labels=labels)
                    else:
                        out += array_tables(title, got[b, i, j, :n], precision=precision, row_labels=labels,
                                            prefixes=("t", "d"))
    if "stats" in arrays:
        out += stats_renderables(arrays["stats"], arrays.get("standouts", []), precision)
    if "hidden" in arrays:  # one table per text and state: the embeddings (state 0), then each layer's output
        hid = arrays["hidden"] if len(lens) > 1 else arrays["hidden"][None]  # (B, L+1, n, d)
        for b, n in enumerate(lens):
            labels = _labels(tokens[b])
            for state in range(hid.shape[1]):
                name = "embeddings" if state == 0 else f"after layer {state - 1}"
                title = ("" if len(lens) == 1 else f"text {b} · ") + f"hidden state {state} ({name})"
                out += array_tables(title, hid[b, state, :n], precision=precision, row_labels=labels,
                                    prefixes=("t", "d"))
    return out


def stats_renderables(rows: list[dict], found: list[dict], precision: int) -> list[Any]:
    """The per-head statistics as one table, then the heads that stand out, one line each."""
    from rich.table import Table
    from rich.text import Text

    from attncli.models.stats import describe

    table = Table(title="heads (entropy in bits; shares of attention; distance in tokens)", title_justify="left")
    columns = ("layer", "head", "entropy", "first", "special", "previous", "self", "induction", "distance")
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*(str(r[c]) if c in ("layer", "head") else "" if r[c] is None else f"{r[c]:.{precision}f}"
                        for c in columns))
    lines = [describe(f) for f in found] or ["none (no share ≥ 0.5, no induction ≥ 0.4)"]
    return [table, Text("\n".join(["heads that stand out:", *("  " + line for line in lines)]))]
