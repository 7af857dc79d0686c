"""The named rules a family table selects: how a layer's attention scale, window and RoPE base, and the
position ids, follow from config.json. Each reads only the config keys it names, as transformers' modeling file
of the families that use it does (the file is named with each rule). A new family picks rules here by name, or
adds one beside them; the forward pass (forward.py) never asks which family it runs.

Every rule takes the config (dict) and what it needs of the layer; none of them raises: keys whose values
attncli does not compute are refused before the pass runs (families.Refused, checked by config_errors()).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

MISSING = object()


def lookup(cfg: dict[str, Any], key: str) -> Any:
    """config.json's value at `key` ("a.b" is key b of the object a), MISSING when absent or null. A non-object
    on the way (`"rope_scaling": "linear"`) is returned as it is: the caller sees a value it does not accept."""
    value: Any = cfg
    for part in key.split("."):
        if not isinstance(value, dict):
            return value
        value = value.get(part)
        if value is None:
            return MISSING
    return value


def found_at(cfg: dict[str, Any], key: str) -> str:
    """The part of `key` config.json has as written: "rope_scaling" when rope_scaling is not an object."""
    value: Any = cfg
    parts = key.split(".")
    for n, part in enumerate(parts):
        if not isinstance(value, dict):
            return ".".join(parts[:n])
        value = value.get(part)
    return key


def flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    """A true/false setting of config.json (`default` when absent), as Python's truth."""
    value = lookup(cfg, key)
    return default if value is MISSING else bool(value)


def first(cfg: dict[str, Any], keys: tuple[str, ...], default: Any) -> Any:
    """The value of the first of `keys` config.json has, else `default`."""
    for key in keys:
        value = lookup(cfg, key)
        if value is not MISSING:
            return value
    return default


# ---------------------------------------------------------------- the scale of the scores: S = Q·Kᵀ · scale


def inverse_sqrt_scale(cfg: dict[str, Any], i: int, head_dim: int) -> float | None:
    """1/√d_head in every layer (BERT, Llama, ...: `self.scaling = self.head_dim**-0.5`): None, the core's
    default scale."""
    return None


def gpt2_scale(cfg: dict[str, Any], i: int, head_dim: int) -> float:
    """GPT-2 (modeling_gpt2.py, GPT2Attention): 1/√d_head when `scale_attn_weights` (default true), else 1;
    divided by the layer number i + 1 when `scale_attn_by_inverse_layer_idx` (default false)."""
    scale = 1 / math.sqrt(head_dim) if flag(cfg, "scale_attn_weights", True) else 1.0
    if flag(cfg, "scale_attn_by_inverse_layer_idx", False):
        scale /= i + 1
    return scale


# ---------------------------------------------------------------- sliding windows: key j is seen when i − j < W


def no_window(cfg: dict[str, Any], i: int) -> int | None:
    return None


def _sliding_window(cfg: dict[str, Any]) -> int | None:
    """`sliding_window`: 4096 when config.json does not have the key (MistralConfig's and Qwen2Config's
    default), none when it is null."""
    if "sliding_window" not in cfg:
        return 4096
    window = cfg["sliding_window"]
    return None if window is None else int(window)


def window_in_every_layer(cfg: dict[str, Any], i: int) -> int | None:
    """Mistral (modeling_mistral.py): `sliding_window` in every layer."""
    return _sliding_window(cfg)


def qwen2_window(cfg: dict[str, Any], i: int) -> int | None:
    """Qwen2 and Qwen3 (configuration_qwen2.py, modeling_qwen2.py; Qwen3's files say the same): `sliding_window`
    only when `use_sliding_window` (default false), in the layers `layer_types` calls "sliding_attention";
    without layer_types, the layers i ≥ `max_window_layers` (default 28)."""
    window = _sliding_window(cfg)
    if not flag(cfg, "use_sliding_window", False) or window is None:
        return None
    types = lookup(cfg, "layer_types")
    if isinstance(types, list):
        return window if i < len(types) and types[i] == "sliding_attention" else None
    return window if i >= int(first(cfg, ("max_window_layers",), 28)) else None


# ---------------------------------------------------------------- position ids (learned position tables)


def count_positions(cfg: dict[str, Any], ids: np.ndarray) -> np.ndarray:
    """Positions 0..n−1 in every row (BERT, GPT-2, DistilBERT)."""
    return np.broadcast_to(np.arange(ids.shape[1]), ids.shape)


def positions_after_pad(cfg: dict[str, Any], ids: np.ndarray) -> np.ndarray:
    """RoBERTa (modeling_roberta.py, create_position_ids_from_input_ids): the tokens that are not the pad id
    p = `pad_token_id` (default 1) count from p + 1; a pad id takes position p, wherever it stands."""
    pad = int(first(cfg, ("pad_token_id",), 1))
    real = (ids != pad).astype(np.int64)  # (B, n)
    return np.cumsum(real, axis=1) * real + pad


def rope_base(cfg: dict[str, Any], keys: tuple[str, ...]) -> float:
    """RoPE's θ from the first of `keys` config.json has (the family's table says where; 10000 when none)."""
    return float(first(cfg, keys, 10000.0))


Scale = Callable[[dict[str, Any], int, int], "float | None"]
Window = Callable[[dict[str, Any], int], "int | None"]
Positions = Callable[[dict[str, Any], np.ndarray], np.ndarray]
