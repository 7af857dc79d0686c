"""RoPE as the Hub's configs write it: θ, the scaling type and its settings, and partial rotary, read from config.json
as transformers 5 standardizes them (modeling_rope_utils.py), and the one message for settings attncli does not
compute. The families' tables name these (rope_keys), the forward pass calls rope_frequencies per layer, and
families/__init__.py checks rope_problem before anything is computed; core/positions.py has each type's formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.models.rules import MISSING, first, lookup


def rope_base(cfg: dict[str, Any], keys: tuple[str, ...]) -> float:
    """RoPE's θ from the first of `keys` config.json has (the family's table says where; 10000 when none)."""
    return float(first(cfg, keys, 10000.0))


# ---------------------------------------------------------------- RoPE as the Hub's configs write it

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "longrope", "llama3")


@dataclass(frozen=True)
class RopeKeys:
    """Where a family's config class reads RoPE's θ and its partial rotary fraction at the top level of
    config.json, when the rope_scaling / rope_parameters object does not hold them (transformers'
    convert_rope_params_to_dict): `theta`, first found wins (10000 when none); `partial`, first found wins, else
    `fraction`. GPT-NeoX reads rotary_emb_base and rotary_pct (0.25), and ignores a top-level rope_theta; Phi
    reads rope_theta and partial_rotary_factor (0.5). The rotary features are int(d_head · fraction)."""

    theta: tuple[str, ...] = ("rope_theta",)
    partial: tuple[str, ...] = ("partial_rotary_factor",)
    fraction: float = 1.0


def rope_parameters(cfg: dict[str, Any], keys: RopeKeys | None = None) -> dict[str, Any]:
    """RoPE's settings as transformers 5 standardizes config.json (modeling_rope_utils.py,
    convert_rope_params_to_dict / standardize_rope_params): the `rope_scaling` object (transformers 4's layout)
    when config.json has one, else `rope_parameters`; `type` is the older name of `rope_type` ("default" when
    neither); `rope_theta` and `partial_rotary_factor` from that object, else from the top level (the keys
    `keys` names, with its fraction when none; None: rope_theta and partial_rotary_factor, and no fraction);
    `original_max_position_embeddings` for llama3, yarn and longrope from the top level when config.json has it
    there (Phi-3), else from the object, else `max_position_embeddings`."""
    given = lookup(cfg, "rope_scaling")
    given = lookup(cfg, "rope_parameters") if not isinstance(given, dict) or not given else given
    params = dict(given) if isinstance(given, dict) else {}
    params.setdefault("rope_type", params.get("type", "default"))
    params.setdefault("rope_theta", first(cfg, ("rope_theta",) if keys is None else keys.theta, 10000.0))
    fraction = first(cfg, ("partial_rotary_factor",) if keys is None else keys.partial,
                     None if keys is None else keys.fraction)
    if fraction is not None:
        params.setdefault("partial_rotary_factor", fraction)
    if params["rope_type"] in ("llama3", "yarn", "longrope"):
        if "original_max_position_embeddings" in cfg:
            params["original_max_position_embeddings"] = cfg["original_max_position_embeddings"]
        params.setdefault("original_max_position_embeddings", first(cfg, ("max_position_embeddings",), 2048))
    return params


def rotary_dim(cfg: dict[str, Any], head_dim: int, keys: RopeKeys) -> int:
    """The features of each head that turn, as transformers computes them: int(d_head · partial_rotary_factor)
    (rope_parameters with the family's `keys`); may be odd or 0, which rope_problem refuses."""
    fraction = rope_parameters(cfg, keys).get("partial_rotary_factor")
    ok = isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and math.isfinite(fraction)
    return int(head_dim * fraction) if ok else head_dim


# the keys each rope_type needs (transformers' _validate_<type>_rope_parameters), beyond rope_type and θ
ROPE_NEEDS = {"linear": ("factor",), "dynamic": ("factor",), "yarn": ("factor",),
              "longrope": ("short_factor", "long_factor"),
              "llama3": ("factor", "low_freq_factor", "high_freq_factor")}


def rope_problem(cfg: dict[str, Any], keys: RopeKeys | None = None) -> str | None:
    """What config.json's RoPE scaling lacks or holds wrong, where transformers refuses to load it (a key its
    rope_type needs, absent) or its numbers are not numbers; with a family's partial rotary `keys`, a fraction
    that turns an odd number of features, or none; None when attncli can compute it."""
    p = rope_parameters(cfg, keys)
    where = "rope_scaling" if isinstance(lookup(cfg, "rope_scaling"), dict) and cfg["rope_scaling"] \
        else "rope_parameters"
    for key in ROPE_NEEDS.get(p["rope_type"], ()):
        if p.get(key) is None:
            return f"{where} of rope_type {p['rope_type']!r} has no {key!r}, which transformers requires"
    heads = first(cfg, ("num_attention_heads",), 0)
    head_dim = first(cfg, ("head_dim",), None) or (first(cfg, ("hidden_size",), 0) // heads if heads else 0)
    if keys is not None and isinstance(head_dim, int) and head_dim > 0:
        fraction, at = p.get("partial_rotary_factor"), _partial_at(cfg, keys, where)
        if _number_problem({"partial_rotary_factor": fraction}, where):
            return f"{at} is {fraction!r}; attncli computes it only as a positive number"
        dim = rotary_dim(cfg, head_dim, keys)
        if dim < 2 or dim % 2 or dim > head_dim:
            return (f"{at} {fraction!r} turns int({head_dim} · {fraction!r}) = {dim} of each head's {head_dim} "
                    "features; attncli computes partial rotary over an even number of them, at least 2 and at "
                    "most all (features turn in pairs)")
        head_dim = dim  # longrope's factors: one per pair of the features that turn
    for key in ("short_factor", "long_factor"):
        if p["rope_type"] == "longrope" and isinstance(p[key], list) and head_dim and len(p[key]) != head_dim // 2:
            return (f"{where}.{key} has {len(p[key])} factors; the heads' {head_dim} features turn in "
                    f"{head_dim // 2} pairs, one factor each")
    problem = _number_problem(p, where)
    return f"{problem}; attncli computes it only as positive numbers" if problem else None


def _partial_at(cfg: dict[str, Any], keys: RopeKeys, where: str) -> str:
    """Where config.json gives the partial rotary fraction: inside the RoPE object, at one of `keys.partial`, or
    nowhere (the family's default)."""
    if isinstance(lookup(cfg, where), dict) and lookup(cfg, f"{where}.partial_rotary_factor") is not MISSING:
        return f"{where}.partial_rotary_factor"
    given = next((key for key in keys.partial if lookup(cfg, key) is not MISSING), None)
    return given or f"partial rotary fraction (no {' or '.join(keys.partial)}: the default)"


def _number_problem(p: dict[str, Any], where: str) -> str:
    """"where.key is value" for the first of RoPE's numbers that is not a positive number ("" when none)."""
    for key, value in p.items():
        numbers = value if key in ("short_factor", "long_factor") and isinstance(value, list) else [value]
        if key in ROPE_NUMBERS and value is not None and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                for v in numbers):
            return f"{where}.{key} is {value!r}"
    return ""


ROPE_NUMBERS = ("rope_theta", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings",
                "attention_factor", "beta_fast", "beta_slow", "short_factor", "long_factor", "partial_rotary_factor")


def rope_frequencies(cfg: dict[str, Any], head_dim: int, n: int, partial: bool = False,
                     keys: RopeKeys | None = None) -> tuple[float, np.ndarray | None, float, int | None]:
    """(θ, ω, m, dim) of a layer's RoPE for a text of n tokens, as transformers' modeling_rope_utils.py computes
    them from config.json (rope_parameters above): θ the base; ω the scaled frequencies (dim/2,), None for the
    default type; m the attention factor on cos and sin; dim the features that turn, int(d_head ·
    partial_rotary_factor) when the family reads it (`partial`, e.g. Phi-3; or where its `keys` say, with their
    default: GPT-NeoX, Phi), None = all of them (Llama's default RoPE turns the whole head whatever the config
    says); the scaled types' frequencies are over those dim features, as transformers'. dynamic and longrope
    depend on n:
    longer than max_position_embeddings / original_max_position_embeddings, the frequencies change."""
    from attncli.core import positions as pos

    p = rope_parameters(cfg, keys)
    kind, base = p["rope_type"], float(p["rope_theta"])
    dim = int(head_dim * float(p.get("partial_rotary_factor") or 1.0)) if partial or keys else head_dim
    dim = dim - dim % 2
    max_positions = int(first(cfg, ("max_position_embeddings",), 2048))
    original = int(p.get("original_max_position_embeddings") or max_positions)
    factor = p.get("factor")
    if factor is None and kind in ("yarn", "longrope"):
        factor = max_positions / original
    omega, m = None, 1.0
    if kind == "linear":
        omega = pos.linear_frequencies(dim, base, float(factor))
    elif kind == "dynamic":
        omega = pos.dynamic_frequencies(dim, base, float(factor), n, max_positions)
    elif kind == "yarn":
        omega = pos.yarn_frequencies(dim, base, float(factor), original, float(p.get("beta_fast") or 32),
                                     float(p.get("beta_slow") or 1), bool(p.get("truncate", True)))
        m = p.get("attention_factor")
        m = pos.yarn_attention_factor(float(factor), p.get("mscale"), p.get("mscale_all_dim")) if m is None else m
    elif kind == "longrope":
        omega = pos.longrope_frequencies(dim, base, p["long_factor"] if n > original else p["short_factor"])
        m = p.get("attention_factor")
        m = pos.longrope_attention_factor(float(factor), original) if m is None else m
    elif kind == "llama3":
        omega = pos.llama3_frequencies(dim, base, float(factor), float(p["low_freq_factor"]),
                                       float(p["high_freq_factor"]), original)
    return base, omega, float(m), (None if dim == head_dim else dim)
