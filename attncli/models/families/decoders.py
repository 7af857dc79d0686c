"""The decoders: GPT-2, BLOOM, and Llama and the families built on its layer (pre-norm RMSNorm, RoPE, gated MLP)."""

from __future__ import annotations

from attncli.models import rules
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    ROPE,
    SHAPES,
    Family,
    Honoured,
    Key,
    Refused,
    Rounding,
    replacing,
    rope_keys,
    shape_keys,
)

_LLAMA = dict(
    prefixes=("model.", ""), layer="layers.{i}.", word="embed_tokens.weight",
    q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj",
    norm1=("input_layernorm.weight", None), norm2=("post_attention_layernorm.weight", None),
    final_norm=("norm.weight", None), norm_kind="rms", eps_keys=("rms_norm_eps",), eps=1e-6,
    mlp="gated", gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj", mlp_bias=False,
    act_key="hidden_act", act="silu", causal=True, norm_at="pre", positions="rope", lm_head="lm_head.weight",
)

QKV_BIAS = "weights.qkv_weights, layer_attention.layer_weights"  # where attention_bias is read


def _llama_keys(goldens: tuple[str, ...], eps_goldens: tuple[str, ...], kv_heads: int | None = None,
                theta_goldens: tuple[str, ...] | None = None) -> tuple[Key, ...]:
    """Llama's keys; `kv_heads` is num_key_value_heads when config.json does not have it (None: the heads).
    head_dim is read by the code every family shares (forward.shapes): llama_gqa gives it away from hidden/heads."""
    return (*shape_keys(goldens, hidden=("hidden_size", 4096), layers=("num_hidden_layers", 32),
                         heads=("num_attention_heads", 32), kv_heads=("num_key_value_heads", kv_heads),
                         inter=("intermediate_size", 11008)),
            Honoured("head_dim", None, SHAPES, ("llama_gqa",)),
            Honoured("hidden_act", "silu", ACT, goldens),
            Honoured("rms_norm_eps", 1e-6, EPS, eps_goldens),
            *rope_keys(goldens if theta_goldens is None else theta_goldens))


# the golden cases (tests/golden/models) of each family
GPT2 = ("gpt2", "gpt2_6heads", "gpt2_unscaled", "gpt2_layer_scaled")
LLAMA = ("llama_gqa", "llama_batch", "llama_bf16", "llama_attn_bias", "llama_no_eps")
QWEN2 = ("qwen2", "qwen2_window_layers", "qwen2_layer_types")
QWEN3 = ("qwen3", "qwen3_window")

FAMILIES: dict[str, Family] = {
    "gpt2": Family(
        "gpt2", "transformers/models/gpt2/modeling_gpt2.py", prefixes=("transformer.", ""),
        layer="h.{i}.", word="wte.weight", position="wpe.weight",
        fused_qkv="attn.c_attn", o="attn.c_proj",
        norm1=("ln_1.weight", "ln_1.bias"), norm2=("ln_2.weight", "ln_2.bias"), final_norm=("ln_f.weight", "ln_f.bias"),
        eps_keys=("layer_norm_epsilon",), eps=1e-5,
        up="mlp.c_fc", down="mlp.c_proj", act_key="activation_function", act="gelu_new", weights="in_out",
        causal=True, norm_at="pre", scale=rules.gpt2_scale,
        config=(*shape_keys(GPT2, hidden=("n_embd", 768), layers=("n_layer", 12), heads=("n_head", 12),
                             inter=("n_inner", None)),
                Honoured("activation_function", "gelu_new", ACT, GPT2),
                Honoured("layer_norm_epsilon", 1e-5, EPS, GPT2),
                Honoured("scale_attn_weights", True, "rules.gpt2_scale", ("gpt2_unscaled",)),
                Honoured("scale_attn_by_inverse_layer_idx", False, "rules.gpt2_scale", ("gpt2_layer_scaled",)),
                Rounding("reorder_and_upcast_attn", "the same scores, scaled before the product, in float32"),
                Honoured("tie_word_embeddings", True, HEAD, ("gpt2_lm",))),
        lm_head="lm_head.weight"),
    "llama": Family(
        "llama", "transformers/models/llama/modeling_llama.py", attn_bias="attention_bias", o_bias="attention_bias",
        **{**_LLAMA, "mlp_bias": "mlp_bias"},
        config=(*_llama_keys(LLAMA, ("llama_gqa", "llama_no_eps")),
                Honoured("attention_bias", False, QKV_BIAS, ("llama_attn_bias",)),
                Honoured("mlp_bias", False, "forward.mlp_weights", ("llama_attn_bias",)),
                Honoured("tie_word_embeddings", False, HEAD, ("llama_lm",)))),
    "mistral": Family(
        "mistral", "transformers/models/mistral/modeling_mistral.py", attn_bias=False, o_bias=False,
        window=rules.window_in_every_layer, **_LLAMA,
        config=(*_llama_keys(("mistral_window",), ("mistral_window",), kv_heads=8),
                Honoured("sliding_window", 4096, "rules.window_in_every_layer", ("mistral_window",)),
                Refused("layer_types", (), "which layers have a sliding window: transformers' Mistral ignores "
                        "it with a warning, Ministral reads it"),
                Honoured("tie_word_embeddings", False, HEAD, ("mistral_lm",)))),
    "qwen2": Family(
        "qwen2", "transformers/models/qwen2/modeling_qwen2.py", attn_bias=True, o_bias=False,
        window=rules.qwen2_window, **_LLAMA,
        config=(*_llama_keys(QWEN2, QWEN2, kv_heads=32, theta_goldens=("qwen2_layer_types",)),
                Honoured("use_sliding_window", False, "rules.qwen2_window", QWEN2[1:]),
                Honoured("sliding_window", 4096, "rules.qwen2_window", QWEN2[1:]),
                Honoured("max_window_layers", 28, "rules.qwen2_window", ("qwen2_window_layers",)),
                Honoured("layer_types", None, "rules.qwen2_window", ("qwen2_layer_types",)),
                Honoured("tie_word_embeddings", False, HEAD, ("qwen2_lm",)))),
    "qwen3": Family(  # Qwen2's layer and windows, with q/k norms, head_dim 128 by default and attention_bias
        "qwen3", "transformers/models/qwen3/modeling_qwen3.py", attn_bias="attention_bias", o_bias="attention_bias",
        qk_norm=("self_attn.q_norm.weight", "self_attn.k_norm.weight"), window=rules.qwen2_window, **_LLAMA,
        config=(*replacing(_llama_keys(QWEN3, QWEN3, kv_heads=32, theta_goldens=("qwen3_window",)),
                            Honoured("head_dim", 128, SHAPES, QWEN3),  # Qwen3Config's default, not hidden / heads
                            Honoured("rope_theta", 10000.0, ROPE, ("qwen3",))),
                Honoured("attention_bias", False, QKV_BIAS, ("qwen3_window",)),
                Honoured("use_sliding_window", False, "rules.qwen2_window", QWEN3),
                Honoured("sliding_window", 4096, "rules.qwen2_window", QWEN3),
                Honoured("max_window_layers", 28, "rules.qwen2_window", QWEN3),
                Honoured("layer_types", None, "rules.qwen2_window", ("qwen3_window",)),
                Honoured("tie_word_embeddings", False, HEAD, ("qwen3_lm",)))),
    "bloom": Family(
        "bloom", "transformers/models/bloom/modeling_bloom.py", prefixes=("transformer.", ""),
        layer="h.{i}.", word="word_embeddings.weight",
        embed_norm=("word_embeddings_layernorm.weight", "word_embeddings_layernorm.bias"),
        fused_qkv="self_attention.query_key_value", fused_layout="per_head", o="self_attention.dense",
        norm1=("input_layernorm.weight", "input_layernorm.bias"),
        norm2=("post_attention_layernorm.weight", "post_attention_layernorm.bias"),
        final_norm=("ln_f.weight", "ln_f.bias"), eps_keys=("layer_norm_epsilon",), eps=1e-5,
        up="mlp.dense_h_to_4h", down="mlp.dense_4h_to_h",
        act="bloom_gelu", causal=True, norm_at="pre", positions="alibi", keys={"hidden": ("n_embed",)},
        config=(*shape_keys(("bloom",), hidden=("hidden_size", 64), layers=("n_layer", 2), heads=("n_head", 8)),
                Honoured("layer_norm_epsilon", 1e-5, EPS, ("bloom",)),
                Refused("apply_residual_connection_post_layernorm", (False,),
                        "the normed input is added back instead of the input"),
                Rounding("pretraining_tp", "with slow_but_exact, the output projections summed in slices"),
                Rounding("slow_but_exact", "the output projections summed in slices of pretraining_tp"),
                Honoured("tie_word_embeddings", True, HEAD, ("bloom_lm",))),
        lm_head="lm_head.weight"),
}

ARCHITECTURES = {"GPT2": "gpt2", "Llama": "llama", "Mistral": "mistral", "Qwen2": "qwen2", "Qwen3": "qwen3",
                 "Bloom": "bloom"}
