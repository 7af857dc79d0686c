"""The encoders: BERT and the families built on its layer (post-norm, learned absolute positions)."""

from __future__ import annotations

from attncli.models import rules
from attncli.models.family import (
    ACT,
    EPS,
    HEAD,
    Family,
    Honoured,
    Key,
    Refused,
    shape_keys,
)

_BERT_LAYER = dict(
    q="attention.self.query", k="attention.self.key", v="attention.self.value", o="attention.output.dense",
    norm1=("attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias"),
    up="intermediate.dense", down="output.dense",
    norm2=("output.LayerNorm.weight", "output.LayerNorm.bias"),
    act_key="hidden_act",
)
_BERT_EMBED = dict(
    word="embeddings.word_embeddings.weight", position="embeddings.position_embeddings.weight",
    token_type="embeddings.token_type_embeddings.weight",
    embed_norm=("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"),
)


def _bert_keys(goldens: tuple[str, ...]) -> tuple[Key, ...]:
    return (*shape_keys(goldens, hidden=("hidden_size", 768), layers=("num_hidden_layers", 12),
                         heads=("num_attention_heads", 12), inter=("intermediate_size", 3072)),
            Honoured("hidden_act", "gelu", ACT, goldens),
            Honoured("layer_norm_eps", 1e-12, EPS, goldens),
            Refused("is_decoder", (False,), "it makes the self-attention causal"),
            Refused("position_embedding_type", ("absolute",), "relative position scores instead of the learned "
                    "absolute positions"))


FAMILIES: dict[str, Family] = {
    "bert": Family(
        "bert", "transformers/models/bert/modeling_bert.py", prefixes=("bert.", ""), layer="encoder.layer.{i}.",
        **_BERT_EMBED, **_BERT_LAYER,
        config=(*_bert_keys(("bert", "bert_batch")),
                Honoured("tie_word_embeddings", True, HEAD, ("bert_mlm", "bert_pair"))),
        lm_head="cls.predictions.decoder.weight", lm_bias=("cls.predictions.bias", "cls.predictions.decoder.bias"),
        lm_transform=("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm.weight",
                      "cls.predictions.transform.LayerNorm.bias")),
    "roberta": Family(
        "roberta", "transformers/models/roberta/modeling_roberta.py", prefixes=("roberta.", ""),
        layer="encoder.layer.{i}.", position_ids=rules.positions_after_pad, **_BERT_EMBED, **_BERT_LAYER,
        config=(*_bert_keys(("roberta", "roberta_pad_inside")),
                Honoured("pad_token_id", 1, "rules.positions_after_pad", ("roberta", "roberta_pad_inside")),
                Honoured("tie_word_embeddings", True, HEAD, ("roberta_mlm",))),
        lm_head="lm_head.decoder.weight", lm_bias=("lm_head.bias", "lm_head.decoder.bias"),
        lm_transform=("lm_head.dense", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias"),
        lm_act="gelu"),  # RobertaLMHead's gelu (erf), whatever hidden_act says
    "distilbert": Family(
        "distilbert", "transformers/models/distilbert/modeling_distilbert.py",
        prefixes=("distilbert.", ""), layer="transformer.layer.{i}.", word="embeddings.word_embeddings.weight",
        position="embeddings.position_embeddings.weight",
        embed_norm=("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"),
        q="attention.q_lin", k="attention.k_lin", v="attention.v_lin", o="attention.out_lin",
        norm1=("sa_layer_norm.weight", "sa_layer_norm.bias"), up="ffn.lin1", down="ffn.lin2",
        norm2=("output_layer_norm.weight", "output_layer_norm.bias"), act_key="activation",
        eps_keys=(), eps=1e-12,  # fixed in modeling_distilbert.py, not a config key
        keys={"layers": ("n_layers",), "hidden": ("dim",), "heads": ("n_heads",), "inter": ("hidden_dim",)},
        config=(*shape_keys(("distilbert",), hidden=("dim", 768), layers=("n_layers", 6), heads=("n_heads", 12),
                             inter=("hidden_dim", 3072)),
                Honoured("activation", "gelu", ACT, ("distilbert",)),
                Refused("sinusoidal_pos_embds", (False,), "a sinusoidal position table instead of a learned one"),
                Honoured("tie_word_embeddings", True, HEAD, ("distilbert_mlm",))),
        lm_head="vocab_projector.weight", lm_bias=("vocab_projector.bias",),
        lm_transform=("vocab_transform", "vocab_layer_norm.weight", "vocab_layer_norm.bias")),
}

ARCHITECTURES = {"Bert": "bert", "Roberta": "roberta", "DistilBert": "distilbert"}
