"""DeBERTa-v2 and v3 (model_type "deberta-v2"): BERT's post-norm layer with disentangled attention — relative
position scores c2p and p2c over log-bucketed distances (attncli/core/disentangled.py; models/relative.py reads
the checkpoint) — and no absolute positions unless position_biased_input."""

from __future__ import annotations

from attncli.models import relative
from attncli.models.family import ACT, EPS, HEAD, Family, Honoured, Refused, shape_keys
from attncli.models.layer_parts import Relative

REL = "models/relative.py (layer_terms; the core's disentangled.py)"
# the golden cases (tests/golden/models) of the family
DEBERTA = ("deberta_v3", "deberta_v3_pos_proj", "deberta_v2_absolute")
MLM = ("deberta_v3_mlm", "deberta_v2_mlm")

# DebertaV2ForMaskedLM's two heads, chosen by config.json's legacy (DebertaV2Config's default true): legacy,
# cls.predictions (BERT's: transform.dense → hidden_act → LayerNorm → decoder, tied, + bias); not legacy,
# lm_predictions.lm_head (dense → hidden_act → LayerNorm, then · the word embeddings ᵀ + bias, always), the head
# microsoft/deberta-v3-* ship — with legacy true (their configs leave it out) transformers draws a random head
# in its place, so attncli refuses rather than show either
_LEGACY = dict(
    lm_head="cls.predictions.decoder.weight", lm_bias=("cls.predictions.bias", "cls.predictions.decoder.bias"),
    lm_transform=("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm.weight",
                  "cls.predictions.transform.LayerNorm.bias"),
    lm_instead=(("lm_predictions.lm_head.dense.weight",
                 "one with DeBERTa's own masked-LM head (lm_predictions.lm_head.*, as microsoft/deberta-v3-* "
                 "ship it), which DebertaV2ForMaskedLM reads only when config.json sets legacy false (with legacy "
                 "true, the default, transformers draws a random head in its place); set \"legacy\": false in "
                 "config.json to read it"),))
_OWN = dict(
    lm_bias=("lm_predictions.lm_head.bias",), lm_tied_always=True,
    lm_transform=("lm_predictions.lm_head.dense", "lm_predictions.lm_head.LayerNorm.weight",
                  "lm_predictions.lm_head.LayerNorm.bias"),
    lm_instead=(("cls.predictions.transform.dense.weight",
                 "one with DeBERTa's legacy masked-LM head (cls.predictions.*), which DebertaV2ForMaskedLM "
                 "reads only when legacy is true (the default), and config.json sets legacy false"),))

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
                Refused("conv_kernel_size", (0,), "DeBERTa-v2's convolution beside the first layer (ConvLayer)"),
                Honoured("tie_word_embeddings", True, HEAD, MLM),
                Honoured("legacy", True, "predict.head_of (Family.lm_switch: which masked-LM head)", MLM)),
        **_LEGACY, lm_switch=("legacy", False, _OWN)),
}

ARCHITECTURES = {"DebertaV2": "deberta-v2"}
