"""A catalogue case (tests/golden/catalogue/<case>.npz) as the library sees it: one Spec and the arrays.

The case's options are the CLI's keyword names; here they become the fields of attncli.core.spec.Spec. What
the CLI does at its edges is done here in plain numpy, independently of attncli: the cols layout's transposes,
an image's pixels as tokens (H·W × C, row-major), the 2-D window's grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CATALOGUE = Path(__file__).resolve().parent / "golden" / "catalogue"
CASE_FILES = sorted(p for p in CATALOGUE.glob("*.npz") if not p.name.startswith("_"))
MATRICES = ("x", "x_kv", "wq", "wk", "wv", "wo", "q", "k", "v", "mask", "bias", "w_score", "wa_q", "wa_k",
            "adjacency", "pe")


def load(path: Path) -> tuple[dict[str, np.ndarray], dict, dict[str, np.ndarray]]:
    """(inputs in rows layout, options, expected arrays) of one case file."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    options = json.loads(str(arrays.pop("options")[()]))
    expected = {k: arrays.pop(k) for k in ("weights", "output", "q_rotated", "k_rotated", "scores", "output_image")
                if k in arrays}
    if options.get("layout") == "cols":  # the CLI transposes at its edges; the library is rows layout
        arrays = {k: np.swapaxes(a, -1, -2) if k in MATRICES and a.ndim >= 2 else a for k, a in arrays.items()}
    return arrays, options, expected


def spec_fields(inputs: dict[str, np.ndarray], options: dict) -> dict:
    """The Spec fields (keyword arguments of Spec) that a case's options and arrays say."""
    from attncli.core.spec import Graph, Rope, Window2d

    o = options
    fields: dict = {name: o[name] for name in ("score", "scale", "normalize", "temperature", "softcap", "causal",
                                               "key_lens", "query_lens", "alibi") if name in o}
    if "window" in o:
        fields["window"] = tuple(o["window"]) if isinstance(o["window"], list) else o["window"]
    for name in ("w_score", "wa_q", "wa_k", "va", "mask", "bias", "sinks"):
        if name in inputs:
            fields[name] = inputs[name]
    if "adjacency" in inputs or "edges" in inputs:
        fields["graph"] = Graph(adjacency=inputs.get("adjacency"), edges=inputs.get("edges"),
                                undirected=bool(o.get("undirected", False)),
                                self_loops=bool(o.get("self_loops", False)))
    if o.get("rope"):
        fields["rope"] = Rope(base=o.get("rope_base", 10000.0), layout=o.get("rope_layout", "half"),
                              start=o.get("start_pos", 0))
    if "window2d" in o:
        image = inputs["image"]
        fields["window2d"] = Window2d(o["window2d"], image.shape[-3:-1])
    return fields
