"""Mixtures of experts: Mixtral and Qwen3-MoE, Llama's layer with a router and experts in place of the MLP
(models/moe.py computes them; models/family.py's Moe says how each family routes and stores its experts)."""

from __future__ import annotations

from attncli.models import rules
from attncli.models.families.decoders import _LLAMA, _llama_keys
from attncli.models.family import EPS, MLP, ROPE, SHAPES, Family, Honoured, Moe, replacing

MOE = "models/moe.py (settings, route, expert)"

# the golden cases (tests/golden/models) of each family
MIXTRAL = ("mixtral", "mixtral_tie")
QWEN3_MOE = ("qwen3_moe", "qwen3_moe_norm")

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
                Honoured("num_experts_per_tok", 2, MOE, MIXTRAL))),
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
                Honoured("attention_bias", False, "forward.qkv_weights, forward.layer_weights", ("qwen3_moe_norm",)),
                Honoured("use_sliding_window", False, "rules.qwen3_moe_window", QWEN3_MOE),
                Honoured("sliding_window", 4096, "rules.qwen3_moe_window", ("qwen3_moe_norm",)),
                Honoured("num_experts", 128, MOE + ", rules.qwen3_moe_layers", ("qwen3_moe",)),  # the Hub's key
                Honoured("num_local_experts", 128, MOE + ", rules.qwen3_moe_layers", ("qwen3_moe_norm",)),
                Honoured("num_experts_per_tok", 8, MOE, QWEN3_MOE),
                Honoured("moe_intermediate_size", 768, MOE, QWEN3_MOE),
                Honoured("norm_topk_prob", False, MOE, QWEN3_MOE),
                Honoured("decoder_sparse_step", 1, "rules.qwen3_moe_layers", ("qwen3_moe",)),
                Honoured("mlp_only_layers", None, "rules.qwen3_moe_layers", ("qwen3_moe_norm",)))),
}

ARCHITECTURES = {"Mixtral": "mixtral", "Qwen3Moe": "qwen3_moe"}
