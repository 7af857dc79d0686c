"""Phi-3, OPT and Granite (issue 22): three decoders that are Llama's or GPT-2's layer with a few settings of their
own, each a table entry over the one forward pass (family.py says what each field means).

- phi3: Llama's layer with fused `qkv_proj` ([q | k | v] blocks, grouped kv heads) and `gate_up_proj` ([gate |
  up]), RMSNorm ε 1e-5, LongRoPE, partial rotary (Phi-4-mini: 0.75 of each head turns) and a sliding window in
  every layer when config.json sets one.
- opt: learned positions offset by 2, ReLU MLP (fc1, fc2), LayerNorm (ε 1e-5, fixed) before the sublayers or
  after them (`do_layer_norm_before`: OPT-350m is post-norm), word embeddings narrower than the layers through
  `project_in` (OPT-350m), biases and norm weights by config.json.
- granite: Llama's layer with four multipliers: the embeddings × `embedding_multiplier`, the scores' scale
  `attention_multiplier` (instead of 1/√d_head), each sublayer's output × `residual_multiplier` before the
  residual add; `logits_scaling` divides the logits (models/predict.py).
"""

from __future__ import annotations

from attncli.models import rope_config, rules
from attncli.models.families.decoders import _LLAMA, _llama_keys
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    ROPE,
    ROPE_SCALED,
    SHAPES,
    Family,
    Honoured,
    Key,
    Refused,
    replacing,
    shape_keys,
)

# the golden cases (tests/golden/models) of each family
PHI3 = ("phi3", "phi3_window")
OPT = ("opt", "opt_post", "opt_bare")
GRANITE = ("granite",)

_PHI3_ROPE_TYPES = ("default", "longrope")
_PHI3_ROPE_WHAT = ("a RoPE type transformers' Phi3Config refuses; it reads 'su' and 'yarn' as longrope, and so "
                   "does attncli")


def _phi3_keys() -> tuple[Key, ...]:
    """Phi3Config's keys (configuration_phi3.py): Llama's shapes, ε 1e-5, RoPE default or longrope with
    partial_rotary_factor; original_max_position_embeddings is a field of the class (4096 when config.json has
    none), and it replaces the one inside rope_parameters; su and yarn are longrope (rules.phi3_config)."""
    long_goldens = ("phi3",)
    return (*shape_keys(PHI3, hidden=("hidden_size", 3072), layers=("num_hidden_layers", 32),
                         heads=("num_attention_heads", 32), kv_heads=("num_key_value_heads", None),
                         inter=("intermediate_size", 8192)),
            Honoured("hidden_act", "silu", ACT, PHI3),
            Honoured("rms_norm_eps", 1e-5, EPS, PHI3),
            Honoured("rope_parameters.rope_theta", 10000.0, ROPE, ("phi3",)),
            Honoured("rope_theta", 10000.0, ROPE, ("phi3_window",)),
            Honoured("original_max_position_embeddings", 4096, ROPE_SCALED, PHI3),
            Honoured("max_position_embeddings", 4096, ROPE_SCALED, PHI3),
            Honoured("rope_parameters.short_factor", None, ROPE_SCALED, long_goldens),
            Honoured("rope_parameters.long_factor", None, ROPE_SCALED, long_goldens),
            Honoured("rope_scaling.short_factor", None, ROPE_SCALED, ("phi3_window",)),
            Honoured("rope_scaling.long_factor", None, ROPE_SCALED, ("phi3_window",)),
            Honoured("rope_scaling.factor", None, ROPE_SCALED, ("phi3_window",)),
            Honoured("rope_scaling.attention_factor", None, ROPE_SCALED, ("llama_rope_longrope_short",)),
            Honoured("partial_rotary_factor", 1.0, ROPE_SCALED, ("phi3",)),
            Honoured("rope_parameters.partial_rotary_factor", 1.0, ROPE_SCALED, ("phi3",)),
            Honoured("sliding_window", None, "rules.window_when_set", ("phi3_window",)),
            Honoured("tie_word_embeddings", False, HEAD, ("phi3",)),
            Refused("rope_parameters.rope_type", _PHI3_ROPE_TYPES, _PHI3_ROPE_WHAT),
            Refused("rope_scaling.rope_type", _PHI3_ROPE_TYPES, _PHI3_ROPE_WHAT),
            Refused("rope_scaling.type", _PHI3_ROPE_TYPES, _PHI3_ROPE_WHAT))


_OPT_NORMS = "forward._block (Family.is_pre_norm: rules.opt_pre_norm)"

FAMILIES: dict[str, Family] = {
    "phi3": Family(
        "phi3", "transformers/models/phi3/modeling_phi3.py",
        **{**_LLAMA, "q": None, "k": None, "v": None, "gate": None, "eps": 1e-5,
           "mlp": "gated_fused", "up": "mlp.gate_up_proj"},  # [gate | up]: act(first half) · second half
        fused_qkv="self_attn.qkv_proj", fused_layout="blocks", attn_bias=False, o_bias=False,
        rope_keys=rope_config.RopeKeys(), window=rules.window_when_set,
        standardize=rules.phi3_config, numbers=("sliding_window",),
        config=_phi3_keys()),
    "opt": Family(
        "opt", "transformers/models/opt/modeling_opt.py", prefixes=("model.decoder.", "decoder."),
        layer="layers.{i}.", word="embed_tokens.weight", position="embed_positions.weight",
        position_ids=rules.opt_positions, project_in=("project_in", "word_embed_proj_dim"),
        q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.out_proj",
        attn_bias="enable_bias", o_bias="enable_bias", mlp_bias="enable_bias",
        norm1=("self_attn_layer_norm.weight", "self_attn_layer_norm.bias"),
        norm2=("final_layer_norm.weight", "final_layer_norm.bias"),
        final_norm=("final_layer_norm.weight", "final_layer_norm.bias"),
        norm_affine="layer_norm_elementwise_affine",
        eps_keys=(), eps=1e-5,  # nn.LayerNorm's default: not a config key
        up="fc1", down="fc2", act_key="activation_function", act="relu",
        causal=True, norm_at="pre", pre_norm_rule=rules.opt_pre_norm, final_norm_rule=rules.opt_final_norm,
        keys={"inter": ("ffn_dim",)}, numbers=("word_embed_proj_dim",),
        lm_head="lm_head.weight", project_out="project_out",  # the head reads project_out(h) (word width)
        config=(*shape_keys(OPT, hidden=("hidden_size", 768), layers=("num_hidden_layers", 12),
                             heads=("num_attention_heads", 12), inter=("ffn_dim", 3072)),
                Honoured("activation_function", "relu", ACT, OPT),
                Honoured("do_layer_norm_before", True, _OPT_NORMS, OPT),
                Honoured("_remove_final_layer_norm", False, "forward.forward (rules.opt_final_norm)", ("opt_bare",)),
                Honoured("word_embed_proj_dim", None, "projections.word_width, .scaled_words, .project_out",
                         ("opt", "opt_post")),
                Honoured("enable_bias", True, "forward.qkv_weights, layer_attention.layer_weights, weights.mlp_weights",
                         ("opt_bare",)),
                Honoured("layer_norm_elementwise_affine", True, "weights.Layer.norm_", ("opt_bare",)),
                Honoured("tie_word_embeddings", True, HEAD, ("opt",)))),
    "granite": Family(
        "granite", "transformers/models/granite/modeling_granite.py",
        attn_bias="attention_bias", o_bias="attention_bias", **{**_LLAMA, "mlp_bias": "mlp_bias"},
        scale=rules.granite_scale, embed_multiplier="embedding_multiplier",
        residual_multiplier="residual_multiplier",
        numbers=("embedding_multiplier", "attention_multiplier", "residual_multiplier"),
        config=(*replacing(_llama_keys(GRANITE, GRANITE), Honoured("head_dim", None, SHAPES, GRANITE)),
                Honoured("attention_bias", False, "forward.qkv_weights, layer_attention.layer_weights", GRANITE),
                Honoured("mlp_bias", False, "weights.mlp_weights", GRANITE),
                Honoured("embedding_multiplier", 1.0, "projections.scaled_words", GRANITE),
                Honoured("attention_multiplier", 1.0, "rules.granite_scale", GRANITE),
                Honoured("residual_multiplier", 1.0, "forward._block (projections.residual_factor)", GRANITE),
                Honoured("logits_scaling", 1.0, "predict.head_of (the logits ÷ logits_scaling)", GRANITE),
                Honoured("tie_word_embeddings", False, HEAD, GRANITE))),
}

ARCHITECTURES = {"Phi3": "phi3", "OPT": "opt", "Granite": "granite"}
