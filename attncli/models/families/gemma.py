"""Gemma 1/2/3 and OLMo 2: Llama's decoder layer (RoPE, gated MLP, RMSNorm) with what each adds, as fields.

    gemma:        h₀ = E[ids]·√d; RMSNorm x/rms(x)·(1 + w) in float32 (norm_kind "rms_offset"); GeGLU (tanh GELU)
    gemma2:       gemma + sandwich norms h + Nₐ(Attn(N₁(h))), h + Nₘ(MLP(N₂(h))); scores c·tanh(S/c), c =
                  attn_logit_softcapping; scale 1/√query_pre_attn_scalar; a sliding window on every other layer
    gemma3_text:  gemma2's layer (no score soft-capping: transformers' Gemma 3 never applies it) + per-head q/k
                  norms (1 + w) before RoPE; layer_types (5 local : 1 global by default) with a RoPE θ for each
    gemma3:       gemma3_text, read from config.json's text_config, tensors under model.language_model. (a
                  Gemma3ForConditionalGeneration checkpoint; the vision tower's tensors are not read)
    olmo2:        no input norms, h + Nₐ(Attn(h)), h + Nₘ(MLP(h)); q and k RMSNormed over the whole projection
                  (H·head_dim, G·head_dim) before the split into heads and RoPE

Sources: transformers 5.24's models/gemma, gemma2, gemma3 and olmo2 (configuration_*.py, modeling_*.py).
"""

from __future__ import annotations

from attncli.models import rope_config, rules
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    ROPE_SCALED,
    SHAPES,
    Family,
    Honoured,
    Key,
    Refused,
    replacing,
    rope_keys,
    shape_keys,
)

# the golden cases (tests/golden/models) of each family
GEMMA = ("gemma",)
GEMMA2 = ("gemma2",)
GEMMA3_TEXT = ("gemma3_text",)
GEMMA3 = ("gemma3",)
OLMO2 = ("olmo2",)

_DECODER = dict(
    prefixes=("model.", ""), layer="layers.{i}.", word="embed_tokens.weight",
    q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj",
    attn_bias="attention_bias", o_bias="attention_bias", final_norm=("norm.weight", None),
    eps_keys=("rms_norm_eps",), mlp="gated", gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj",
    mlp_bias=False, causal=True, norm_at="pre", positions="rope", lm_head="lm_head.weight",
)
_GEMMA = dict(
    _DECODER, norm_kind="rms_offset", eps=1e-6, act="gelu_pytorch_tanh", embed_scale=True, class_defaults=True,
    norm1=("input_layernorm.weight", None),
)
_SANDWICH = dict(
    _GEMMA, act_key="hidden_activation", scale=rules.query_pre_attn_scale,
    attn_out_norm=("post_attention_layernorm.weight", None), norm2=("pre_feedforward_layernorm.weight", None),
    mlp_out_norm=("post_feedforward_layernorm.weight", None),
)

BIDIRECTIONAL = Refused("use_bidirectional_attention", (False,),
                        "attention to every token, no causal mask (EmbeddingGemma); transformers' eager and sdpa "
                        "attentions do not agree on it")
SCALAR = "rules.query_pre_attn_scale"
SOFTCAP = "models/predict.py (the logits c·tanh(z/c))"


def _keys(goldens: tuple[str, ...], *, hidden: int, inter: int, layers: int, heads: int, kv: int | None,
          positions: int, act_key: str, act: str, eps: float, head_dim: int | None = 256) -> tuple[Key, ...]:
    """The keys every family here shares, with its config class's defaults: shapes, activation, ε, attention
    biases, max_position_embeddings."""
    return (*shape_keys(goldens, hidden=("hidden_size", hidden), layers=("num_hidden_layers", layers),
                         heads=("num_attention_heads", heads), kv_heads=("num_key_value_heads", kv),
                         inter=("intermediate_size", inter)),
            *((Honoured("head_dim", head_dim, SHAPES, goldens),) if head_dim else ()),
            Honoured(act_key, act, ACT, goldens),
            Honoured("rms_norm_eps", eps, EPS, goldens),
            Honoured("attention_bias", False, "forward.qkv_weights, layer_attention.layer_weights", goldens),
            Honoured("max_position_embeddings", positions, ROPE_SCALED, goldens))


def _rope(goldens: tuple[str, ...], positions: int, legacy: tuple[str, ...] | None = None) -> tuple[Key, ...]:
    """RoPE as Llama reads it (one θ and scaling for every layer), with the family's max_position_embeddings;
    `legacy`: the goldens with a top-level rope_theta (default: Qwen2's, read by the same rules)."""
    keys = rope_keys(goldens) if legacy is None else rope_keys(goldens, legacy)
    return replacing(keys, Honoured("max_position_embeddings", positions, ROPE_SCALED, goldens))


def _gemma3_rope() -> tuple[Key, ...]:
    """Gemma 3's RoPE: one entry per layer type in rope_parameters (transformers 5), or the older rope_theta,
    rope_local_base_freq and rope_scaling (the global layers') — rules.gemma3_rope."""
    other = "a RoPE type transformers' modeling_rope_utils.py does not implement; the ones it does are computed"
    rule = "layer_attention.layer_spec (rules.gemma3_rope, rope_config.rope_frequencies)"
    full, local = "rope_parameters.full_attention.", "rope_parameters.sliding_attention."
    return (
        Honoured(full + "rope_theta", 1_000_000.0, rule, GEMMA3_TEXT),
        Honoured(local + "rope_theta", 10_000.0, rule, GEMMA3_TEXT),
        Honoured(full + "factor", None, rule, GEMMA3_TEXT),
        Honoured("rope_theta", 1_000_000.0, rule, GEMMA3),
        Honoured("rope_local_base_freq", 10_000.0, rule, GEMMA3),
        Honoured("rope_scaling.factor", None, rule, GEMMA3),
        Honoured("max_position_embeddings", 131_072, ROPE_SCALED, GEMMA3_TEXT),
        Refused(full + "rope_type", rope_config.ROPE_TYPES, other),
        Refused(local + "rope_type", rope_config.ROPE_TYPES, other),
        Refused("rope_scaling.rope_type", rope_config.ROPE_TYPES, other),
        Refused("rope_scaling.type", rope_config.ROPE_TYPES, other),
        Refused(full + "partial_rotary_factor", (1.0,), "partial rotary"),
        Refused(local + "partial_rotary_factor", (1.0,), "partial rotary"),
        Refused("partial_rotary_factor", (1.0,), "partial rotary"),
    )


def _gemma3_keys(goldens: tuple[str, ...]) -> tuple[Key, ...]:
    """Gemma3TextConfig's keys (the text model of gemma3_text and of gemma3's text_config)."""
    return (*_keys(goldens, hidden=2304, inter=9216, layers=26, heads=8, kv=4, positions=131_072,
                   act_key="hidden_activation", act="gelu_pytorch_tanh", eps=1e-6),
            *_gemma3_rope(),
            Honoured("query_pre_attn_scalar", 256, SCALAR, goldens),
            Honoured("sliding_window", 4096, "rules.gemma3_window", goldens),
            Honoured("layer_types", None, "rules.gemma3_window, rules.gemma3_rope", GEMMA3_TEXT),
            Honoured("sliding_window_pattern", 6, "rules.gemma3_window, rules.gemma3_rope", GEMMA3),
            Refused("use_bidirectional_attention", (False,), BIDIRECTIONAL.what))


_GEMMA3 = dict(
    _SANDWICH, qk_norm=("self_attn.q_norm.weight", "self_attn.k_norm.weight"), window=rules.gemma3_window,
    layer_rope=rules.gemma3_rope, rope_theta=("rope_parameters.rope_theta",),
)

FAMILIES: dict[str, Family] = {
    "gemma": Family(
        "gemma", "transformers/models/gemma/modeling_gemma.py", **_GEMMA,
        norm2=("post_attention_layernorm.weight", None), act_key="hidden_act",
        act_aliases=(("gelu", "gelu_pytorch_tanh"),),  # GemmaConfig.__post_init__: legacy "gelu" is the tanh one
        config=(*_keys(GEMMA, hidden=3072, inter=24576, layers=28, heads=16, kv=16, positions=8192,
                       act_key="hidden_act", act="gelu_pytorch_tanh", eps=1e-6),
                *_rope(GEMMA, 8192, legacy=GEMMA), BIDIRECTIONAL,
                Honoured("tie_word_embeddings", True, HEAD, ("gemma_lm",)))),
    "gemma2": Family(
        "gemma2", "transformers/models/gemma2/modeling_gemma2.py", **_SANDWICH,
        softcap=rules.attn_logit_softcap, window=rules.gemma2_window,
        config=(*_keys(GEMMA2, hidden=2304, inter=9216, layers=26, heads=8, kv=4, positions=8192,
                       act_key="hidden_activation", act="gelu_pytorch_tanh", eps=1e-6),
                *_rope(GEMMA2, 8192),
                Honoured("query_pre_attn_scalar", 256, SCALAR, GEMMA2),
                Honoured("attn_logit_softcapping", 50.0, "rules.attn_logit_softcap", GEMMA2),
                Honoured("sliding_window", 4096, "rules.gemma2_window", GEMMA2),
                Honoured("layer_types", None, "rules.gemma2_window", GEMMA2),
                BIDIRECTIONAL,
                Honoured("tie_word_embeddings", True, HEAD, ("gemma2_lm",)),
                Honoured("final_logit_softcapping", 30.0, SOFTCAP, ("gemma2_lm",)))),
    "gemma3_text": Family(
        "gemma3_text", "transformers/models/gemma3/modeling_gemma3.py", **_GEMMA3,
        config=(*_gemma3_keys(GEMMA3_TEXT),
                Honoured("tie_word_embeddings", True, HEAD, ("gemma3_text_lm",)),
                Honoured("final_logit_softcapping", None, SOFTCAP, ("gemma3_text_lm",)))),
    "gemma3": Family(  # Gemma3ForConditionalGeneration (Gemma 3 ≥ 4B): its text tower
        "gemma3", "transformers/models/gemma3/modeling_gemma3.py",
        **{**_GEMMA3, "prefixes": ("model.language_model.", "language_model.model.")}, text_config="text_config",
        lm_head_alt=("language_model.lm_head.weight",), lm_tie_outer=True, lm_unread=("final_logit_softcapping",),
        config=(*_gemma3_keys(GEMMA3),
                # Gemma3Config's own key (config.json's top level), not text_config's: models/predict.py
                Honoured("tie_word_embeddings", True, HEAD, ("gemma3_lm",)))),
    "olmo2": Family(
        "olmo2", "transformers/models/olmo2/modeling_olmo2.py", **_DECODER, norm_kind="rms", eps=1e-5,
        norm1=None, norm2=None, attn_out_norm=("post_attention_layernorm.weight", None),
        mlp_out_norm=("post_feedforward_layernorm.weight", None),
        qk_norm=("self_attn.q_norm.weight", "self_attn.k_norm.weight"), qk_norm_over="full",
        act_key="hidden_act", act="silu",
        config=(*_keys(OLMO2, hidden=4096, inter=11008, layers=32, heads=32, kv=None, positions=2048,
                       act_key="hidden_act", act="silu", eps=1e-5, head_dim=None),
                *_rope(OLMO2, 2048),
                Honoured("tie_word_embeddings", False, HEAD, ("olmo2_lm",)))),
}

ARCHITECTURES = {"Gemma": "gemma", "Gemma2": "gemma2", "Gemma3ForCausalLM": "gemma3_text",
                 "Gemma3ForConditionalGeneration": "gemma3", "Olmo2": "olmo2"}
