"""Encoders of issue 22: XLM-RoBERTa (RoBERTa's layer), ELECTRA (BERT's layer with a projection after
narrower embeddings), ALBERT (factorized embeddings, one layer's weights shared by every layer) and ModernBERT
(pre-norm, no biases, fused Wqkv, GeGLU, RoPE with a global and a local base, local layers with a bidirectional
window)."""

from __future__ import annotations

from attncli.models import rules
from attncli.models.families.encoders import _BERT_EMBED, _BERT_LAYER, _bert_keys
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    Family,
    Honoured,
    Key,
    Refused,
    replacing,
    shape_keys,
)

# the golden cases (tests/golden/models) of each family
XLMR = ("xlm_roberta",)
ELECTRA = ("electra",)
ALBERT = ("albert",)
MODERNBERT = ("modernbert", "modernbert_batch")

EMBED = "factorized.embedding_width (the embedding tables' and their norm's width; the projection after them)"
MB_LAYERS = "rules.modernbert_layer_type (rules.modernbert_window, rules.modernbert_rope_base)"
MB_ROPE = "layer_attention.layer_spec (rules.modernbert_rope_base)"
MLM_HEAD = "predict.head_of (the masked-LM head: Family.lm_act_key, lm_dense_bias, lm_out_bias)"


def _electra_keys() -> tuple[Key, ...]:
    """BERT's keys with ElectraConfig's defaults, and embedding_size."""
    return (*replacing(_bert_keys(ELECTRA), *shape_keys(
                ELECTRA, hidden=("hidden_size", 256), layers=("num_hidden_layers", 12),
                heads=("num_attention_heads", 4), inter=("intermediate_size", 1024))),
            Honoured("embedding_size", 128, EMBED, ELECTRA),
            Honoured("tie_word_embeddings", True, HEAD, ("electra_mlm",)))


def _albert_keys() -> tuple[Key, ...]:
    return (*shape_keys(ALBERT, hidden=("hidden_size", 4096), layers=("num_hidden_layers", 12),
                        heads=("num_attention_heads", 64), inter=("intermediate_size", 16384)),
            Honoured("embedding_size", 128, EMBED, ALBERT),
            Honoured("tie_word_embeddings", True, HEAD, ("albert_mlm",)),
            Honoured("hidden_act", "gelu_new", ACT, ALBERT),
            Honoured("layer_norm_eps", 1e-12, EPS, ALBERT),
            Refused("num_hidden_groups", (1,), "layers in groups with weights of their own "
                    "(encoder.albert_layer_groups.G); the released ALBERTs have one group shared by every layer"),
            Refused("inner_group_num", (1,), "several layers, each with its own weights and maps, inside each of "
                    "num_hidden_layers; the released ALBERTs have one"))


def _modernbert_keys() -> tuple[Key, ...]:
    batch = ("modernbert_batch",)
    other = "a scaled RoPE on ModernBERT's layers; attncli computes its default RoPE, with a base per layer type"
    return (*shape_keys(MODERNBERT, hidden=("hidden_size", 768), layers=("num_hidden_layers", 22),
                        heads=("num_attention_heads", 12), inter=("intermediate_size", 1152)),
            Honoured("hidden_activation", "gelu", ACT, MODERNBERT),
            Honoured("norm_eps", 1e-5, EPS, MODERNBERT),
            Honoured("norm_bias", False, "weights.Layer.norm_, forward.embeddings (the LayerNorms' biases)", batch),
            Honoured("attention_bias", False, "weights.qkv_weights, layer_attention.layer_weights (Wqkv, Wo biases)",
                     batch),
            Honoured("mlp_bias", False, "weights.mlp_weights (Wi's and Wo's biases)", batch),
            Honoured("tie_word_embeddings", True, HEAD, ("modernbert_mlm",)),
            Honoured("classifier_activation", "gelu", MLM_HEAD, ("modernbert_mlm",)),
            Honoured("classifier_bias", False, MLM_HEAD, ("modernbert_mlm",)),
            Honoured("decoder_bias", True, MLM_HEAD, ("modernbert_mlm",)),
            Honoured("layer_types", None, MB_LAYERS, batch),
            Honoured("global_attn_every_n_layers", 3, MB_LAYERS, MODERNBERT),
            Honoured("local_attention", 128, "rules.modernbert_window", MODERNBERT),
            Honoured("rope_parameters.full_attention.rope_theta", 160000.0, MB_ROPE, batch),
            Honoured("rope_parameters.sliding_attention.rope_theta", 10000.0, MB_ROPE, batch),
            Honoured("global_rope_theta", 160000.0, MB_ROPE, ("modernbert",)),
            Honoured("local_rope_theta", 10000.0, MB_ROPE, ("modernbert",)),
            Refused("rope_parameters.full_attention.rope_type", ("default",), other),
            Refused("rope_parameters.sliding_attention.rope_type", ("default",), other),
            Refused("rope_scaling", (), other),
            Refused("sliding_window", (), "ModernBertConfig takes it as half the local window (local_attention = "
                    "2 × sliding_window); a config.json that gives the window as local_attention is computed"))


FAMILIES: dict[str, Family] = {
    "xlm-roberta": Family(  # RoBERTa's embeddings (positions counted after the pad id) and layer
        "xlm-roberta", "transformers/models/xlm_roberta/modeling_xlm_roberta.py", prefixes=("roberta.", ""),
        layer="encoder.layer.{i}.", position_ids=rules.positions_after_pad, **_BERT_EMBED, **_BERT_LAYER,
        config=(*_bert_keys(XLMR),
                Honoured("pad_token_id", 1, "rules.positions_after_pad", XLMR),
                Honoured("tie_word_embeddings", True, HEAD, ("xlm_roberta_mlm",))),
        lm_head="lm_head.decoder.weight", lm_bias=("lm_head.bias", "lm_head.decoder.bias"),
        lm_transform=("lm_head.dense", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias"),
        lm_act="gelu"),  # XLMRobertaLMHead's gelu (erf), whatever hidden_act says
    "electra": Family(  # BERT's layer; embeddings embedding_size wide, projected when it differs from the hidden
        "electra", "transformers/models/electra/modeling_electra.py", prefixes=("electra.", ""),
        layer="encoder.layer.{i}.", **_BERT_EMBED, **_BERT_LAYER, embed_project="embeddings_project",
        keys={"embed": ("embedding_size",)}, config=_electra_keys(),
        # ElectraForMaskedLM (the generator): dense (hidden → embedding_size), gelu (erf, fixed in
        # ElectraGeneratorPredictions), LayerNorm, then generator_lm_head (tied to the embeddings) and its bias
        lm_head="generator_lm_head.weight", lm_bias=("generator_lm_head.bias",),
        lm_transform=("generator_predictions.dense", "generator_predictions.LayerNorm.weight",
                      "generator_predictions.LayerNorm.bias"), lm_act="gelu",
        lm_instead=(("discriminator_predictions.dense.weight",
                     "an ELECTRA discriminator (ElectraForPreTraining, as google/electra-*-discriminator): its head "
                     "tells for each token whether it was replaced, and predicts no token; the generator "
                     "(ElectraForMaskedLM, as google/electra-*-generator) has the masked-LM head"),)),
    "albert": Family(  # BERT's post-norm layer under its own names, one layer's weights for every layer
        "albert", "transformers/models/albert/modeling_albert.py", prefixes=("albert.", ""),
        layer="encoder.albert_layer_groups.0.albert_layers.0.", **_BERT_EMBED,
        q="attention.query", k="attention.key", v="attention.value", o="attention.dense",
        norm1=("attention.LayerNorm.weight", "attention.LayerNorm.bias"), up="ffn", down="ffn_output",
        norm2=("full_layer_layer_norm.weight", "full_layer_layer_norm.bias"), act_key="hidden_act", act="gelu_new",
        embed_project="encoder.embedding_hidden_mapping_in", embed_project_always=True,
        keys={"embed": ("embedding_size",)}, config=_albert_keys(),
        # AlbertForMaskedLM: dense (hidden → embedding_size), hidden_act, LayerNorm, decoder (tied) + bias
        lm_head="predictions.decoder.weight", lm_bias=("predictions.bias", "predictions.decoder.bias"),
        lm_transform=("predictions.dense", "predictions.LayerNorm.weight", "predictions.LayerNorm.bias")),
    "modernbert": Family(
        "modernbert", "transformers/models/modernbert/modeling_modernbert.py", prefixes=("model.", ""),
        layer="layers.{i}.", word="embeddings.tok_embeddings.weight",
        embed_norm=("embeddings.norm.weight", "embeddings.norm.bias"),
        fused_qkv="attn.Wqkv", fused_layout="blocks", o="attn.Wo", attn_bias="attention_bias",
        o_bias="attention_bias", norm1=("attn_norm.weight", "attn_norm.bias"),
        norm2=("mlp_norm.weight", "mlp_norm.bias"), final_norm=("final_norm.weight", "final_norm.bias"),
        eps_keys=("norm_eps",), eps=1e-5, mlp="gated_fused", up="mlp.Wi", down="mlp.Wo", mlp_bias="mlp_bias",
        act_key="hidden_activation", act="gelu", norm_at="pre", positions="rope", window=rules.modernbert_window,
        norm_bias="norm_bias", first_norm1=False, layer_rope_base=rules.modernbert_rope_base,
        config=_modernbert_keys(),
        # ModernBertForMaskedLM: head.dense (its bias when classifier_bias), classifier_activation, head.norm (its
        # bias when norm_bias), then decoder (tied) and decoder.bias (when decoder_bias)
        lm_head="decoder.weight", lm_bias=("decoder.bias",),
        lm_transform=("head.dense", "head.norm.weight", "head.norm.bias"), lm_act_key="classifier_activation",
        lm_out_bias="decoder_bias", lm_dense_bias="classifier_bias"),
}

ARCHITECTURES = {"XLMRoberta": "xlm-roberta", "Electra": "electra", "Albert": "albert", "ModernBert": "modernbert"}
