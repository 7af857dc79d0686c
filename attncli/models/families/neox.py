"""GPT-NeoX (Pythia) and Phi (Phi-1, 1.5, 2): pre-norm LayerNorm decoders whose attention and MLP read the same
input (a parallel residual) and whose RoPE turns only the first features of each head (partial rotary).

    gpt_neox, use_parallel_residual true (Pythia):  h + Attn(N₁(h)) + MLP(N₂(h))
    gpt_neox, use_parallel_residual false:          h₁ = h + Attn(N₁(h));  h₁ + MLP(N₂(h₁))
    phi (one norm for both):                         h + Attn(N(h)) + MLP(N(h))
    partial rotary: the first r = int(d_head · fraction) features of each q and k turn (rotate_half within them,
    ω_i = θ^(−2i/r), or a scaled RoPE's frequencies over r), the other d_head − r pass through unchanged;
    fraction: GPT-NeoX's rotary_pct (0.25), Phi's partial_rotary_factor (0.5), or inside rope_parameters

GPT-NeoX fuses q, k, v per head (query_key_value's output viewed as (heads, 3, d_head), BLOOM's layout); Phi has
separate q_proj, k_proj, v_proj, an output projection called `dense`, and, with qk_layernorm, a LayerNorm (weight
and bias, over d_head) on each head's q and k before RoPE.
"""

from __future__ import annotations

from attncli.models import rope_config
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    ROPE,
    ROPE_SCALED,
    Family,
    Honoured,
    Key,
    Refused,
    replacing,
    rope_keys,
    shape_keys,
)

# the golden cases (tests/golden/models) of each family
GPT_NEOX = ("gpt_neox", "gpt_neox_sequential", "gpt_neox_rope_dynamic")
PHI = ("phi", "phi_rope_linear")
LEGACY_NEOX, LEGACY_PHI = ("gpt_neox", "gpt_neox_rope_dynamic"), ("phi",)  # transformers 4's layout
RESIDUAL = "forward._block (where the MLP's input is taken)"
PARTIAL = ("layer_attention.layer_spec (rope_config.rope_frequencies: the rotary features; "
           "rope_config.rope_problem: odd ones refused)")


def _rope(goldens: tuple[str, ...], top: tuple[Key, ...], *scaled: Key) -> tuple[Key, ...]:
    """RoPE's keys (family.rope_keys) with partial rotary honoured: θ and the fraction inside rope_parameters
    (transformers 5) or rope_scaling (4), else the family's own top-level keys `top`; the scaling types as for
    Llama (rope_keys), with the family's `scaled` goldens named. rope_keys' top-level rope_theta and
    partial_rotary_factor are dropped: `top` says what the family reads there (GPT-NeoX ignores both)."""
    keys = tuple(k for k in rope_keys(goldens) if k.key not in ("rope_theta", "partial_rotary_factor"))
    other = ("a RoPE type attncli does not compute for this family (transformers' 'proportional', Gemma's, is not "
             "computed here); the others are, over the rotary features")
    types = (Refused(key, rope_config.ROPE_TYPES, other)
             for key in ("rope_parameters.rope_type", "rope_scaling.rope_type", "rope_scaling.type"))
    return replacing(keys, *top, Honoured("rope_parameters.partial_rotary_factor", None, PARTIAL, goldens), *types,
                     *scaled)


FAMILIES: dict[str, Family] = {
    "gpt_neox": Family(
        "gpt_neox", "transformers/models/gpt_neox/modeling_gpt_neox.py", prefixes=("gpt_neox.", ""),
        layer="layers.{i}.", word="embed_in.weight",
        fused_qkv="attention.query_key_value", fused_layout="per_head", o="attention.dense",
        attn_bias="attention_bias", o_bias="attention_bias",
        norm1=("input_layernorm.weight", "input_layernorm.bias"),
        norm2=("post_attention_layernorm.weight", "post_attention_layernorm.bias"),
        final_norm=("final_layer_norm.weight", "final_layer_norm.bias"), eps_keys=("layer_norm_eps",), eps=1e-5,
        up="mlp.dense_h_to_4h", down="mlp.dense_4h_to_h", act_key="hidden_act", act="gelu",
        causal=True, norm_at="pre", parallel_residual="use_parallel_residual", positions="rope",
        rope_theta=("rope_scaling.rope_theta", "rope_parameters.rope_theta", "rotary_emb_base"),
        rope_keys=rope_config.RopeKeys(theta=("rotary_emb_base",), partial=("rotary_pct",), fraction=0.25),
        config=(*shape_keys(GPT_NEOX, hidden=("hidden_size", 6144), layers=("num_hidden_layers", 44),
                             heads=("num_attention_heads", 64), inter=("intermediate_size", 24576)),
                Honoured("hidden_act", "gelu", ACT, GPT_NEOX),
                Honoured("layer_norm_eps", 1e-5, EPS, GPT_NEOX),
                Honoured("use_parallel_residual", True, RESIDUAL, ("gpt_neox", "gpt_neox_sequential")),
                Honoured("attention_bias", True, "weights.qkv_weights, layer_attention.layer_weights",
                         ("gpt_neox_sequential",)),
                *_rope(("gpt_neox_sequential",), (
                    Honoured("rotary_pct", 0.25, PARTIAL, LEGACY_NEOX),
                    Honoured("rotary_emb_base", 10000.0, ROPE, LEGACY_NEOX)),
                    Honoured("rope_scaling.factor", None, ROPE_SCALED, ("gpt_neox_rope_dynamic",)),
                    Honoured("max_position_embeddings", 2048, ROPE_SCALED, ("gpt_neox_rope_dynamic",))),
                Honoured("tie_word_embeddings", False, HEAD, ("gpt_neox_lm",))),
        lm_head="embed_out.weight", lm_head_alt=("lm_head.weight",)),  # Pythia's name; transformers 5 loads it
        # as lm_head.weight, and save_pretrained writes embed_out.weight back
    "phi": Family(
        "phi", "transformers/models/phi/modeling_phi.py", prefixes=("model.", ""), layer="layers.{i}.",
        word="embed_tokens.weight",
        q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.dense",
        qk_norm=("self_attn.q_layernorm.weight", "self_attn.k_layernorm.weight"),
        qk_norm_bias=("self_attn.q_layernorm.bias", "self_attn.k_layernorm.bias"), qk_norm_if="qk_layernorm",
        norm1=("input_layernorm.weight", "input_layernorm.bias"),
        norm2=("input_layernorm.weight", "input_layernorm.bias"),  # one norm for attention and MLP
        final_norm=("final_layernorm.weight", "final_layernorm.bias"), eps_keys=("layer_norm_eps",), eps=1e-5,
        up="mlp.fc1", down="mlp.fc2", act_key="hidden_act", act="gelu_new",
        causal=True, norm_at="pre", parallel_residual=True, positions="rope",
        rope_theta=("rope_scaling.rope_theta", "rope_parameters.rope_theta", "rope_theta"),
        rope_keys=rope_config.RopeKeys(theta=("rope_theta",), partial=("partial_rotary_factor",), fraction=0.5),
        config=(*shape_keys(PHI, hidden=("hidden_size", 2048), layers=("num_hidden_layers", 24),
                             heads=("num_attention_heads", 32), kv_heads=("num_key_value_heads", None),
                             inter=("intermediate_size", 8192)),
                Honoured("hidden_act", "gelu_new", ACT, PHI),
                Honoured("layer_norm_eps", 1e-5, EPS, PHI),
                Honoured("qk_layernorm", False, "weights.Layer.qk_norm_ (forward._block)", PHI),
                *_rope(("phi_rope_linear",), (
                    Honoured("partial_rotary_factor", 0.5, PARTIAL, LEGACY_PHI),
                    Honoured("rope_theta", 10000.0, ROPE, LEGACY_PHI)),
                    Honoured("rope_parameters.factor", None, ROPE_SCALED, ("phi_rope_linear",))),
                Honoured("tie_word_embeddings", False, HEAD, ("phi_lm",))),
        lm_head="lm_head.weight", lm_bias=("lm_head.bias",)),
}

ARCHITECTURES = {"GPTNeoX": "gpt_neox", "Phi": "phi"}
