"""`--config MODEL/config.json --layer L`: one layer of a checkpoint in compute, explain and check, with every
setting from the model (no hand-copied head counts, RoPE θ or window)."""

from __future__ import annotations

import os
from typing import Any

from attncli.cli.common import Sources
from attncli.errors import AttnError

# options the model decides: giving one as well is a contradiction, not an override
FROM_MODEL = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo", "heads", "kv_heads", "rope", "alibi", "causal",
              "window", "scale", "pe", "q_norm", "k_norm", "rope_dim", "sinks", "rel_embeddings",
              "position_buckets", "max_relative_positions")


def layer_kwargs(src: Sources, o: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    """attention() keywords for layer --layer of --config: weights, heads and settings, and --x through the
    layer's input norm for pre-norm families."""
    import numpy as np

    from attncli.models.checkpoint import open_checkpoint
    from attncli.models.hub import looks_like_hub_id, resolve
    from attncli.models.layer_attention import layer_weights
    from attncli.models.weights import Layer, shapes

    if o.get("config") is None or o.get("layer") is None:
        raise AttnError("--config and --layer go together: --config MODEL/config.json --layer L")
    given = [name for name in FROM_MODEL if o.get(name) not in (None, False, 0.0) and name != "scale"
             or (name == "scale" and o.get(name) is not None)]
    if given:
        flags = ", ".join("--" + g.replace("_", "-") for g in given)
        raise AttnError(f"{flags}: --config decides these from the model; drop them (or drop --config)")
    if kw.get("x") is None or any(kw.get(k) is not None for k in ("q", "k", "v", "image", "x_kv")):
        raise AttnError("--config --layer computes self-attention from --x, the hidden state entering the layer "
                        "(e.g. transformers' hidden_states[L], n × d or batch × n × d)")
    config = o["config"]
    if os.path.basename(config) != "config.json":
        raise AttnError(f"--config takes a model's config.json (a folder's, or a Hub id's: owner/name/config.json); "
                        f"got {config!r}")
    folder = os.path.dirname(config)
    if not os.path.exists(config) and looks_like_hub_id(folder):  # a Hub id's: the cache's folder
        folder = resolve(folder)
    ckpt = open_checkpoint(os.path.abspath(folder), weights=o.get("weights"))
    src.paths.append(ckpt.folder / "config.json")
    s = shapes(ckpt)
    layer = o["layer"] + s.layers if o["layer"] < 0 else o["layer"]
    if not 0 <= layer < s.layers:
        raise AttnError(f"--layer {o['layer']}: the model has {s.layers} layers (0..{s.layers - 1}, or −1 the last)")
    x = kw["x"]
    if x.shape[-1] != s.hidden:
        raise AttnError(f"--x has {x.shape[-1]} columns but the model's hidden size is {s.hidden} "
                        f"(shape {x.shape}); give the hidden state entering layer {layer}")
    dtype = np.float64 if str(o.get("dtype", "auto")) == "float64" else np.float32
    weights = Layer(ckpt, layer, s, np.dtype(dtype))
    out = layer_weights(weights, x.shape[-2])
    if out.get("softcap") is not None and o.get("softcap") is not None:  # (a model without one: --softcap applies)
        raise AttnError(f"--softcap: layer {layer} of this {ckpt.family.name} model soft-caps its scores at "
                        f"{out['softcap']:g} (config.json); drop --softcap (or drop --config)")
    fam = ckpt.family
    pre = fam.is_pre_norm(ckpt.config)
    if pre:  # pre-norm: attention sees N₁(h)
        out["x"] = weights.norm(fam.norm1, np.asarray(x, dtype=dtype))
    src.info["--config"] = {"source": config, "model_type": fam.name, "layer": layer, "pre_norm": pre}
    return out
