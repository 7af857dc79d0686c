"""DeBERTa-v2 and v3 (model_type "deberta-v2"): BERT's post-norm layer with disentangled attention — relative
position scores c2p and p2c over log-bucketed distances (attncli/core/disentangled.py; models/relative.py reads
the checkpoint) — and no absolute positions unless position_biased_input."""

from __future__ import annotations

from attncli.models import relative
from attncli.models.family import ACT, EPS, Family, Honoured, Refused, Relative, shape_keys

REL = "models/relative.py (layer_terms; the core's disentangled.py)"
# the golden cases (tests/golden/models) of the family
DEBERTA = ("deberta_v3", "deberta_v3_pos_proj", "deberta_v2_absolute")

FAMILIES: dict[str, Family] = {
    "deberta-v2": Family(
        "deberta-v2", "transformers/models/deberta_v2/modeling_deberta_v2.py", prefixes=("deberta.", ""),
        layer="encoder.layer.{i}.", word="embeddings.word_embeddings.weight",
        position="embeddings.position_embeddings.weight", token_type="embeddings.token_type_embeddings.weight",
        embed_norm=("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"),
        q="attention.self.query_proj", k="attention.self.key_proj", v="attention.self.value_proj",
        o="attention.output.dense",
        norm1=("attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias"),
        up="intermediate.dense", down="output.dense",
        norm2=("output.LayerNorm.weight", "output.LayerNorm.bias"),
        act_key="hidden_act", eps=1e-7, scale=relative.deberta_scale,
        position_key=("position_biased_input", True),
        relative=Relative(table="encoder.rel_embeddings.weight",
                          norm=("encoder.LayerNorm.weight", "encoder.LayerNorm.bias"),
                          pos_key="attention.self.pos_key_proj", pos_query="attention.self.pos_query_proj"),
        config=(*shape_keys(DEBERTA, hidden=("hidden_size", 1536), layers=("num_hidden_layers", 24),
                             heads=("num_attention_heads", 24), inter=("intermediate_size", 6144)),
                Honoured("hidden_act", "gelu", ACT, DEBERTA),
                Honoured("layer_norm_eps", 1e-7, EPS, DEBERTA),
                Honoured("position_biased_input", True, "forward.embeddings (the family's position_key)",
                         DEBERTA),
                Honoured("relative_attention", False, REL + " (off: no terms, the scale still counts them)", DEBERTA),
                Honoured("pos_att_type", None, REL + " and relative.deberta_scale", DEBERTA),
                Honoured("position_buckets", -1, REL + " (relative.settings)", DEBERTA),
                Honoured("max_relative_positions", -1, REL + " (relative.settings)", DEBERTA),
                Honoured("max_position_embeddings", 512, REL + " (k when max_relative_positions < 1)",
                         ("deberta_v3_pos_proj",)),
                Honoured("share_att_key", False, REL, DEBERTA),
                Honoured("norm_rel_ebd", "none", REL, DEBERTA),
                Refused("attention_head_size", (), "heads narrower or wider than hidden_size / heads (transformers' "
                        "output projection then fails)"),
                Refused("embedding_size", (), "embeddings narrower than the hidden size, widened by embed_proj"),
                Refused("conv_kernel_size", (0,), "DeBERTa-v2's convolution beside the first layer (ConvLayer)"))),
}

ARCHITECTURES = {"DebertaV2": "deberta-v2"}
