"""Mixtures of experts: Mixtral, Qwen3-MoE and gpt-oss, Llama's layer with a router and experts in place of the
MLP (models/moe.py computes them; models/layer_parts.py's Moe says how each family routes and stores its experts);
gpt-oss's attention has sinks too (the core's Spec.sinks)."""

from __future__ import annotations

from attncli.models import rules
from attncli.models.families.decoders import _LLAMA, QKV_BIAS, _llama_keys
from attncli.models.family import (
    EPS,
    HEAD,
    MLP,
    ROPE,
    ROPE_SCALED,
    SHAPES,
    Family,
    Honoured,
    replacing,
    shape_keys,
)
from attncli.models.layer_parts import Moe

MOE = "models/moe.py (settings, route, expert)"

# the golden cases (tests/golden/models) of each family
MIXTRAL = ("mixtral", "mixtral_tie")
QWEN3_MOE = ("qwen3_moe", "qwen3_moe_norm")
GPT_OSS = ("gpt_oss", "gpt_oss_bf16")

# GptOssConfig.__post_init__'s RoPE when config.json has none (rope_theta: its default_theta)
GPT_OSS_ROPE = {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                "original_max_position_embeddings": 4096, "rope_theta": 150000.0}

FAMILIES: dict[str, Family] = {
    "mixtral": Family(  # Mistral's layer, each MLP a mixture of experts (w1 gate, w3 up, w2 down)
        "mixtral", "transformers/models/mixtral/modeling_mixtral.py", attn_bias=False, o_bias=False,
        window=rules.mixtral_window, **{**_LLAMA, "eps": 1e-5},
        moe=Moe(router="block_sparse_moe.gate", experts="block_sparse_moe.experts.{e}.", names=("w1", "w3", "w2"),
                select="softmax_topk", renormalize=True),
        config=(*replacing(_llama_keys(MIXTRAL, MIXTRAL, kv_heads=8),
                           Honoured("rms_norm_eps", 1e-5, EPS, MIXTRAL),
                           Honoured("intermediate_size", 14336, MOE, MIXTRAL)),  # each expert's width
                Honoured("sliding_window", None, "rules.mixtral_window", ("mixtral",)),
                Honoured("num_local_experts", 8, MOE, MIXTRAL),
                Honoured("num_experts_per_tok", 2, MOE, MIXTRAL),
                Honoured("tie_word_embeddings", False, HEAD, ("mixtral_lm",)))),
    "qwen3_moe": Family(  # Qwen3's attention (q/k norms), experts in the layers decoder_sparse_step and
        # mlp_only_layers leave them, the others a dense MLP of intermediate_size
        "qwen3_moe", "transformers/models/qwen3_moe/modeling_qwen3_moe.py", attn_bias="attention_bias",
        o_bias="attention_bias", qk_norm=("self_attn.q_norm.weight", "self_attn.k_norm.weight"),
        window=rules.qwen3_moe_window, **_LLAMA,
        moe=Moe(router="mlp.gate", experts="mlp.experts.{e}.", select="softmax_topk", renormalize="norm_topk_prob",
                inter="moe_intermediate_size", layers=rules.qwen3_moe_layers),
        config=(*replacing(_llama_keys(QWEN3_MOE, QWEN3_MOE, kv_heads=4, theta_goldens=("qwen3_moe_norm",)),
                           Honoured("rope_theta", 10000.0, ROPE, ("qwen3_moe",)),
                           Honoured("intermediate_size", 6144, MLP, ("qwen3_moe",)),  # the dense layers' width
                           Honoured("head_dim", None, SHAPES, QWEN3_MOE)),
                Honoured("attention_bias", False, QKV_BIAS, ("qwen3_moe_norm",)),
                Honoured("use_sliding_window", False, "rules.qwen3_moe_window", QWEN3_MOE),
                Honoured("sliding_window", 4096, "rules.qwen3_moe_window", ("qwen3_moe_norm",)),
                Honoured("num_experts", 128, MOE + ", rules.qwen3_moe_layers", ("qwen3_moe",)),  # the Hub's key
                Honoured("num_local_experts", 128, MOE + ", rules.qwen3_moe_layers", ("qwen3_moe_norm",)),
                Honoured("num_experts_per_tok", 8, MOE, QWEN3_MOE),
                Honoured("moe_intermediate_size", 768, MOE, QWEN3_MOE),
                Honoured("norm_topk_prob", False, MOE, QWEN3_MOE),
                Honoured("decoder_sparse_step", 1, "rules.qwen3_moe_layers", ("qwen3_moe",)),
                Honoured("mlp_only_layers", None, "rules.qwen3_moe_layers", ("qwen3_moe_norm",)),
                Honoured("tie_word_embeddings", False, HEAD, ("qwen3_moe", "qwen3_moe_lm")))),
    "gpt_oss": Family(  # Llama's layer with attention sinks, biases, windows on alternate layers, and experts
        # stored fused (gate and up interleaved) with a clamped SwiGLU, routed top-k then softmax
        "gpt_oss", "transformers/models/gpt_oss/modeling_gpt_oss.py", attn_bias="attention_bias",
        o_bias="attention_bias", window=rules.gpt_oss_window, sinks="self_attn.sinks", rope_default=GPT_OSS_ROPE,
        **{**_LLAMA, "eps": 1e-5, "act_key": None},
        moe=Moe(router="mlp.router", router_bias=True, experts="mlp.experts.", stored="fused_interleaved",
                select="topk_softmax", act="clamped_swiglu"),
        config=(*replacing(_llama_keys(GPT_OSS, GPT_OSS, kv_heads=8),
                           *shape_keys(GPT_OSS, hidden=("hidden_size", 2880), layers=("num_hidden_layers", 36),
                                       heads=("num_attention_heads", 64)),
                           Honoured("head_dim", 64, SHAPES, GPT_OSS),
                           Honoured("rms_norm_eps", 1e-5, EPS, GPT_OSS),
                           Honoured("intermediate_size", 2880, MOE, GPT_OSS),  # each expert's width
                           # without rope_parameters and rope_scaling: GPT_OSS_ROPE (forward.rope_config)
                           Honoured("rope_parameters.rope_theta", 150000.0, ROPE, ("gpt_oss",)),
                           Honoured("rope_theta", 150000.0, ROPE, ("gpt_oss_bf16",)),
                           Honoured("rope_parameters.factor", 32.0, ROPE_SCALED, ("gpt_oss",)),
                           Honoured("rope_parameters.beta_fast", 32.0, ROPE_SCALED, ("gpt_oss",)),
                           Honoured("rope_parameters.beta_slow", 1.0, ROPE_SCALED, ("gpt_oss",)),
                           Honoured("rope_parameters.truncate", False, ROPE_SCALED, ("gpt_oss",)),
                           Honoured("rope_parameters.original_max_position_embeddings", 4096, ROPE_SCALED,
                                    ("gpt_oss",)),
                           Honoured("max_position_embeddings", 131072, ROPE_SCALED, GPT_OSS)),
                Honoured("attention_bias", True, QKV_BIAS, ("gpt_oss_bf16",)),
                Honoured("sliding_window", 128, "rules.gpt_oss_window", GPT_OSS),
                Honoured("layer_types", None, "rules.gpt_oss_window", GPT_OSS),
                Honoured("num_local_experts", 128, MOE, GPT_OSS),
                Honoured("num_experts_per_tok", 4, MOE, GPT_OSS),
                Honoured("swiglu_limit", 7.0, MOE, GPT_OSS),
                Honoured("swiglu_alpha", 1.702, MOE, ("gpt_oss",)),
                Honoured("tie_word_embeddings", False, HEAD, ("gpt_oss_lm",)))),
}

ARCHITECTURES = {"Mixtral": "mixtral", "Qwen3Moe": "qwen3_moe", "GptOss": "gpt_oss"}
