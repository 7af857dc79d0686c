"""The named rules a family table selects: how a layer's attention scale, window and RoPE base, and the
position ids, follow from config.json. Each reads only the config keys it names, as transformers' modeling file
of the families that use it does (the file is named with each rule). A new family picks rules here by name, or
adds one beside them; the forward pass (forward.py) never asks which family it runs.

RoPE's scaling types and partial rotary, as the Hub's configs write them, are in rope_config.py.

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


def is_number(value: Any) -> bool:
    """A finite int or float, as config.json writes numbers (true/false are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


def granite_scale(cfg: dict[str, Any], i: int, head_dim: int) -> float:
    """Granite (modeling_granite.py, GraniteAttention: `self.scaling = config.attention_multiplier`): the
    scores' factor is `attention_multiplier` (default 1.0) in every layer, instead of 1/√d_head."""
    return float(first(cfg, ("attention_multiplier",), 1.0))


def query_pre_attn_scale(cfg: dict[str, Any], i: int, head_dim: int) -> float:
    """Gemma 2 and 3 (modeling_gemma2.py, modeling_gemma3.py: `self.scaling = config.query_pre_attn_scalar**-0.5`):
    1/√`query_pre_attn_scalar` (default 256) in every layer, whatever head_dim is."""
    return float(first(cfg, ("query_pre_attn_scalar",), 256)) ** -0.5


# ---------------------------------------------------------------- soft-capping of the scores: c·tanh(S/c)


def no_softcap(cfg: dict[str, Any], i: int) -> float | None:
    return None


def attn_logit_softcap(cfg: dict[str, Any], i: int) -> float | None:
    """Gemma 2 (modeling_gemma2.py, eager_attention_forward): scores S·scale → c·tanh(S·scale / c) before the
    mask, c = `attn_logit_softcapping` in every layer (null: none). Gemma 3's modeling file never passes it to
    its attention, so gemma3_text does not use this rule."""
    value = lookup(cfg, "attn_logit_softcapping")
    return None if value is MISSING else float(value)


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


def window_when_set(cfg: dict[str, Any], i: int) -> int | None:
    """Phi-3 (modeling_phi3.py: the sliding-window causal mask when `config.sliding_window` is not None):
    `sliding_window` in every layer; none when config.json has none or null (Phi3Config's default)."""
    window = lookup(cfg, "sliding_window")
    return None if window is MISSING else int(window)


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


# ---------------------------------------------------------------- ModernBERT: alternating global and local layers


def modernbert_layer_type(cfg: dict[str, Any], i: int) -> str:
    """ModernBERT (configuration_modernbert.py): layer i is "full_attention" (global) or "sliding_attention"
    (local) as `layer_types` says (transformers 5's config.json); without it (the Hub's transformers 4 layout),
    every `global_attn_every_n_layers`-th layer (default 3) from layer 0 is global: i % n == 0."""
    types = lookup(cfg, "layer_types")
    if isinstance(types, list) and i < len(types):
        return str(types[i])
    every = int(first(cfg, ("global_attn_every_n_layers",), 3))
    return "sliding_attention" if every and i % every else "full_attention"


def modernbert_window(cfg: dict[str, Any], i: int) -> tuple[int, int] | None:
    """ModernBERT (modeling_modernbert.py, masking_utils.sliding_window_bidirectional_overlay): in a local layer
    query i sees key j when |i − j| ≤ local_attention // 2 (`local_attention` default 128: ±64), the Spec window
    (L, R) = (local_attention // 2, local_attention // 2); global layers see every key."""
    if modernbert_layer_type(cfg, i) != "sliding_attention":
        return None
    half = int(first(cfg, ("local_attention",), 128)) // 2
    return (half, half)


def modernbert_rope_base(cfg: dict[str, Any], i: int) -> float:
    """ModernBERT (configuration_modernbert.py, convert_rope_params_to_dict): RoPE's θ of a global layer from
    rope_parameters.full_attention.rope_theta, else the Hub's `global_rope_theta`, else 160000; of a local layer
    from rope_parameters.sliding_attention.rope_theta, else `local_rope_theta`, else 10000."""
    if modernbert_layer_type(cfg, i) == "sliding_attention":
        return float(first(cfg, ("rope_parameters.sliding_attention.rope_theta", "local_rope_theta"), 10000.0))
    return float(first(cfg, ("rope_parameters.full_attention.rope_theta", "global_rope_theta"), 160000.0))


# ---------------------------------------------------------------- Gemma: windows and RoPE per layer type


def gemma2_window(cfg: dict[str, Any], i: int) -> int | None:
    """Gemma 2 (configuration_gemma2.py, modeling_gemma2.py): `sliding_window` (null: none) in the layers
    `layer_types` calls "sliding_attention"; without layer_types, every other layer from the first (0, 2, 4, ...)."""
    return _typed_window(cfg, i, 2)


def gemma3_window(cfg: dict[str, Any], i: int) -> int | None:
    """Gemma 3 (configuration_gemma3.py): as Gemma 2, but without layer_types the pattern is
    `sliding_window_pattern` (default 6): layer i is global when (i + 1) is a multiple of it, local otherwise."""
    pattern = first(cfg, ("sliding_window_pattern",), 6)
    return _typed_window(cfg, i, int(pattern))


def layer_type(cfg: dict[str, Any], i: int, pattern: int) -> str:
    """Layer i's type: `layer_types`[i], else "full_attention" when (i + 1) is a multiple of `pattern`, else
    "sliding_attention" (the default both Gemma config classes fill layer_types with)."""
    types = lookup(cfg, "layer_types")
    if isinstance(types, list):
        return str(types[i]) if i < len(types) else "full_attention"
    return "sliding_attention" if (i + 1) % pattern else "full_attention"


def _typed_window(cfg: dict[str, Any], i: int, pattern: int) -> int | None:
    window = lookup(cfg, "sliding_window")
    if window is MISSING or layer_type(cfg, i, pattern) != "sliding_attention":
        return None
    return int(window)


# ---------------------------------------------------------------- a layer's RoPE settings


def same_rope(cfg: dict[str, Any], i: int) -> dict[str, Any]:
    """Every layer's RoPE from config.json itself (one RoPE for the model)."""
    return cfg


GEMMA3_THETA = {"full_attention": ("rope_theta", 1_000_000.0), "sliding_attention": ("rope_local_base_freq", 10_000.0)}


def gemma3_rope(cfg: dict[str, Any], i: int) -> dict[str, Any]:
    """Gemma 3 (configuration_gemma3.py, convert_rope_params_to_dict; modeling_gemma3.py, Gemma3RotaryEmbedding):
    one RoPE per layer type. rope_parameters holds {"full_attention": {...}, "sliding_attention": {...}}; the
    older layout's rope_scaling updates the full (global) layers' entry; θ defaults to the top-level rope_theta
    (default 10⁶) for full layers and `rope_local_base_freq` (default 10⁴) for sliding ones. Returned: config.json
    with layer i's entry as its rope_parameters (and no rope_scaling), for rope_frequencies and rope_problem."""
    kind = layer_type(cfg, i, int(first(cfg, ("sliding_window_pattern",), 6)))
    given = lookup(cfg, "rope_parameters")
    entry = given.get(kind) if isinstance(given, dict) else None
    params = dict(entry) if isinstance(entry, dict) else {"rope_type": "default"}
    scaling = lookup(cfg, "rope_scaling")
    if kind == "full_attention" and isinstance(scaling, dict):
        params.update(scaling)
    key, default = GEMMA3_THETA.get(kind, GEMMA3_THETA["full_attention"])
    params.setdefault("rope_theta", first(cfg, (key,), default))
    return {**{k: v for k, v in cfg.items() if k not in ("rope_scaling", "rope_theta")}, "rope_parameters": params}


def mixtral_window(cfg: dict[str, Any], i: int) -> int | None:
    """Mixtral (modeling_mixtral.py): `sliding_window` in every layer, none when config.json does not have it
    (MixtralConfig's default is null, unlike Mistral's 4096)."""
    window = cfg.get("sliding_window")
    return None if window is None else int(window)


def qwen3_moe_window(cfg: dict[str, Any], i: int) -> int | None:
    """Qwen3-MoE (configuration_qwen3_moe.py, modeling_qwen3_moe.py): `sliding_window` (default 4096) in every
    layer when `use_sliding_window` (default false); its config has no layer_types or max_window_layers."""
    return _sliding_window(cfg) if flag(cfg, "use_sliding_window", False) else None


def gpt_oss_window(cfg: dict[str, Any], i: int) -> int | None:
    """gpt-oss (configuration_gpt_oss.py, modeling_gpt_oss.py): `sliding_window` (default 128) in the layers
    `layer_types` calls "sliding_attention"; without layer_types, the even layers (0, 2, ...)."""
    window = cfg.get("sliding_window", 128)
    types = lookup(cfg, "layer_types")
    sliding = types[i] == "sliding_attention" if isinstance(types, list) and i < len(types) else i % 2 == 0
    return None if window is None or not sliding else int(window)


# ---------------------------------------------------------------- which layers have a mixture of experts

def every_layer_moe(cfg: dict[str, Any], i: int) -> bool:
    """Mixtral, gpt-oss: every layer's MLP is a mixture of experts."""
    return True


def qwen3_moe_layers(cfg: dict[str, Any], i: int) -> bool:
    """Qwen3-MoE (modeling_qwen3_moe.py, Qwen3MoeDecoderLayer): experts in layer i unless i is in
    `mlp_only_layers` (default none), when `num_experts` (or num_local_experts, its alias) > 0 (default
    128) and (i + 1) is a multiple of `decoder_sparse_step` (default 1); the other layers have a dense MLP of
    `intermediate_size`."""
    only = lookup(cfg, "mlp_only_layers")
    only = only if isinstance(only, list) else []
    step = int(first(cfg, ("decoder_sparse_step",), 1))
    return i not in only and int(first(cfg, ("num_local_experts", "num_experts"), 128)) > 0 and (i + 1) % step == 0


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


def phi3_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Phi-3 (configuration_phi3.py, Phi3Config): config.json as the class reads it. Its field
    `original_max_position_embeddings` is 4096 when config.json has none, and (top level) it replaces the one
    inside rope_parameters / rope_scaling (rope_parameters() above); a RoPE type "su" or "yarn" is read as
    "longrope" (convert_rope_params_to_dict). A new dict; config.json's own is left as it is."""
    out = dict(cfg)
    if "original_max_position_embeddings" not in out:
        out["original_max_position_embeddings"] = 4096
    for key in ("rope_scaling", "rope_parameters"):
        given = out.get(key)
        if isinstance(given, dict):
            out[key] = {k: "longrope" if k in ("rope_type", "type") and v in ("su", "yarn") else v
                        for k, v in given.items()}
    return out


def opt_positions(cfg: dict[str, Any], ids: np.ndarray) -> np.ndarray:
    """OPT (modeling_opt.py, OPTLearnedPositionalEmbedding): position ids from the attention mask,
    cumsum(mask)·mask − 1, taking rows 2 + those of the table (its `offset`). A text's own tokens are 0..n−1
    (rows 2..n+1) whatever their ids, as attncli's batches are right-padded: only the padding after a shorter
    text, never shown, would take row 1 in transformers."""
    return np.broadcast_to(np.arange(ids.shape[1]) + 2, ids.shape)


def opt_pre_norm(cfg: dict[str, Any]) -> bool:
    """OPT (modeling_opt.py, OPTDecoderLayer): each layer's norms before its sublayers when
    `do_layer_norm_before` (default true: 125m, 1.3b, ...), after them when false (350m)."""
    return flag(cfg, "do_layer_norm_before", True)


def opt_final_norm(cfg: dict[str, Any]) -> bool:
    """OPT (modeling_opt.py, OPTDecoder): the decoder's final_layer_norm exists only when
    `do_layer_norm_before` and not `_remove_final_layer_norm` (default false)."""
    return opt_pre_norm(cfg) and not flag(cfg, "_remove_final_layer_norm", False)


# what a family's table names: the signatures of the rules above
Scale = Callable[[dict[str, Any], int, int], "float | None"]
# a layer's window: W (a causal window, key j seen when i − W < j ≤ i), a Spec window (L, R) (i − L ≤ j ≤ i + R, a
# bidirectional one), or None
Window = Callable[[dict[str, Any], int], "int | tuple[int, int] | None"]
LayerRopeBase = Callable[[dict[str, Any], int], float]
Positions = Callable[[dict[str, Any], np.ndarray], np.ndarray]
Flag = Callable[[dict[str, Any]], bool]
Standardize = Callable[[dict[str, Any]], dict[str, Any]]
Softcap = Callable[[dict[str, Any], int], "float | None"]
LayerRope = Callable[[dict[str, Any], int], dict[str, Any]]
MoeLayers = Callable[[dict[str, Any], int], bool]
