"""Every config.json key that changes a family's numbers is honoured or refused, never ignored (issue 21).

FIELDS below is every field of transformers 5.24's config class for each family (configuration_*.py, read there
by hand), so that a key added to neither list shows up here. Each field is in the family's table
(attncli/models/families/: Honoured, Refused or Rounding) or in INERT with the reason it changes nothing attncli
computes. Honoured keys are covered by the golden cases they name (tests/golden/models, from transformers;
compared in test_models_golden.py); refused keys, set to a value attncli does not compute, stop `attncli model`
and `compute --config` with one line naming the key and the value.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.errors import AttnError
from attncli.models import rules
from attncli.models.checkpoint import open_checkpoint
from attncli.models.families import FAMILIES, Honoured, Refused, Rounding

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "models"

# tie_word_embeddings: Honoured by the families attncli reads a head of (models/predict.py); inert for the others
_COMMON_INERT = ("initializer_range", "use_cache", "bos_token_id", "eos_token_id", "tie_word_embeddings")
FIELDS = {
    "bert": ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
             "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "use_cache",
             "classifier_dropout", "is_decoder", "add_cross_attention", "bos_token_id", "eos_token_id",
             "tie_word_embeddings",
             "position_embedding_type"),  # not a field in transformers 5, but in most BERT config.json files
    "distilbert": ("vocab_size", "max_position_embeddings", "sinusoidal_pos_embds", "n_layers", "n_heads", "dim",
                   "hidden_dim", "dropout", "attention_dropout", "activation", "initializer_range", "qa_dropout",
                   "seq_classif_dropout", "pad_token_id", "eos_token_id", "bos_token_id", "tie_word_embeddings"),
    "gpt2": ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "activation_function",
             "resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon", "initializer_range", "summary_type",
             "summary_use_proj", "summary_activation", "summary_proj_to_labels", "summary_first_dropout",
             "scale_attn_weights", "use_cache", "bos_token_id", "eos_token_id", "pad_token_id",
             "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention",
             "tie_word_embeddings"),
    "llama": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "rms_norm_eps",
              "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "pretraining_tp", "tie_word_embeddings",
              "rope_parameters", "attention_bias", "attention_dropout", "mlp_bias", "head_dim",
              "rope_theta", "rope_scaling", "partial_rotary_factor"),  # the transformers 4 layout of RoPE
    "mistral": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
                "rms_norm_eps", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings",
                "rope_parameters", "sliding_window", "attention_dropout",
                "rope_theta", "rope_scaling", "partial_rotary_factor", "layer_types"),
    "qwen2": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "rms_norm_eps",
              "use_cache", "tie_word_embeddings", "rope_parameters", "use_sliding_window", "sliding_window",
              "max_window_layers", "layer_types", "attention_dropout", "pad_token_id", "bos_token_id",
              "eos_token_id", "rope_theta", "rope_scaling", "partial_rotary_factor"),
    "qwen3": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
              "rms_norm_eps", "use_cache", "tie_word_embeddings", "rope_parameters", "attention_bias",
              "use_sliding_window", "sliding_window", "max_window_layers", "layer_types", "attention_dropout",
              "pad_token_id", "bos_token_id", "eos_token_id", "rope_theta", "rope_scaling", "partial_rotary_factor"),
    "bloom": ("vocab_size", "hidden_size", "n_layer", "n_head", "layer_norm_epsilon", "initializer_range",
              "use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "apply_residual_connection_post_layernorm",
              "hidden_dropout", "attention_dropout", "pretraining_tp", "slow_but_exact", "tie_word_embeddings"),
    "gpt_neox": ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                 "hidden_act", "attention_dropout", "hidden_dropout", "classifier_dropout", "max_position_embeddings",
                 "initializer_range", "layer_norm_eps", "use_cache", "bos_token_id", "eos_token_id", "pad_token_id",
                 "tie_word_embeddings", "use_parallel_residual", "rope_parameters", "attention_bias", "is_decoder",
                 "rotary_pct", "rotary_emb_base", "rope_scaling"),  # the transformers 4 layout (Pythia's)
    "phi": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "resid_pdrop", "embd_pdrop", "attention_dropout", "hidden_act",
            "max_position_embeddings", "initializer_range", "layer_norm_eps", "use_cache", "tie_word_embeddings",
            "rope_parameters", "qk_layernorm", "bos_token_id", "eos_token_id", "pad_token_id",
            "rope_theta", "rope_scaling", "partial_rotary_factor"),  # the transformers 4 layout (microsoft/phi-2's)
    "electra": ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
                "max_position_embeddings", "type_vocab_size", "initializer_range", "layer_norm_eps", "summary_type",
                "summary_use_proj", "summary_activation", "summary_last_dropout", "pad_token_id", "use_cache",
                "classifier_dropout", "is_decoder", "add_cross_attention", "bos_token_id", "eos_token_id",
                "tie_word_embeddings", "position_embedding_type"),
    "albert": ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
               "num_attention_heads", "intermediate_size", "inner_group_num", "hidden_act", "hidden_dropout_prob",
               "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size", "initializer_range",
               "layer_norm_eps", "classifier_dropout_prob", "pad_token_id", "bos_token_id", "eos_token_id",
               "tie_word_embeddings"),
    "modernbert": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                   "hidden_activation", "max_position_embeddings", "initializer_range", "initializer_cutoff_factor",
                   "norm_eps", "norm_bias", "pad_token_id", "eos_token_id", "bos_token_id", "cls_token_id",
                   "sep_token_id", "attention_bias", "attention_dropout", "layer_types", "rope_parameters",
                   "local_attention", "embedding_dropout", "mlp_bias", "mlp_dropout", "decoder_bias",
                   "classifier_pooling", "classifier_dropout", "classifier_bias", "classifier_activation",
                   "deterministic_flash_attn", "sparse_prediction", "sparse_pred_ignore_index",
                   "tie_word_embeddings",
                   # read by ModernBertConfig from the Hub's (transformers 4) config.json, and its sliding_window
                   # property (half of local_attention); reference_compile: torch.compile in transformers 4
                   "global_attn_every_n_layers", "global_rope_theta", "local_rope_theta", "rope_scaling",
                   "sliding_window", "reference_compile"),
    # issue 22, moe
    "mixtral": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
                "rms_norm_eps", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings",
                "sliding_window", "attention_dropout", "num_experts_per_tok", "num_local_experts",
                "output_router_logits", "router_aux_loss_coef", "router_jitter_noise", "rope_parameters",
                "rope_theta", "rope_scaling", "partial_rotary_factor"),
    "qwen3_moe": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range",
                  "rms_norm_eps", "use_cache", "tie_word_embeddings", "rope_parameters", "attention_bias",
                  "use_sliding_window", "sliding_window", "attention_dropout", "decoder_sparse_step",
                  "moe_intermediate_size", "num_experts_per_tok", "num_experts", "norm_topk_prob",
                  "output_router_logits", "router_aux_loss_coef", "mlp_only_layers", "pad_token_id", "bos_token_id",
                  "eos_token_id",
                  "head_dim", "num_local_experts",  # not fields, but in the Hub's configs / what transformers 5 writes
                  "rope_theta", "rope_scaling", "partial_rotary_factor"),
    "gpt_oss": ("num_hidden_layers", "num_local_experts", "vocab_size", "hidden_size", "intermediate_size",
                "head_dim", "num_attention_heads", "num_key_value_heads", "sliding_window", "tie_word_embeddings",
                "hidden_act", "initializer_range", "max_position_embeddings", "rms_norm_eps", "rope_parameters",
                "attention_dropout", "num_experts_per_tok", "swiglu_alpha", "swiglu_limit", "router_aux_loss_coef",
                "output_router_logits", "use_cache", "layer_types", "pad_token_id", "bos_token_id", "eos_token_id",
                "attention_bias",
                "rope_theta", "rope_scaling", "partial_rotary_factor"),  # the Hub's (transformers 4) layout
    # ---- issue 22, phi3 group
    "phi3": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
             "num_key_value_heads", "resid_pdrop", "embd_pdrop", "attention_dropout", "hidden_act",
             "max_position_embeddings", "original_max_position_embeddings", "initializer_range", "rms_norm_eps",
             "use_cache", "tie_word_embeddings", "rope_parameters", "bos_token_id", "eos_token_id", "pad_token_id",
             "sliding_window", "rope_theta", "rope_scaling", "partial_rotary_factor"),
    "opt": ("vocab_size", "hidden_size", "num_hidden_layers", "ffn_dim", "max_position_embeddings",
            "do_layer_norm_before", "_remove_final_layer_norm", "word_embed_proj_dim", "dropout", "attention_dropout",
            "num_attention_heads", "activation_function", "layerdrop", "init_std", "use_cache", "pad_token_id",
            "bos_token_id", "eos_token_id", "enable_bias", "layer_norm_elementwise_affine", "tie_word_embeddings"),
    "granite": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "rms_norm_eps",
                "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings",
                "rope_parameters", "attention_bias", "attention_dropout", "mlp_bias", "embedding_multiplier",
                "logits_scaling", "residual_multiplier", "attention_multiplier",
                "rope_theta", "rope_scaling", "partial_rotary_factor", "head_dim"),
}
_GEMMA = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "head_dim", "max_position_embeddings", "initializer_range", "rms_norm_eps",
          "use_cache", "pad_token_id", "eos_token_id", "bos_token_id", "tie_word_embeddings", "rope_parameters",
          "attention_bias", "attention_dropout", "use_bidirectional_attention",
          "rope_theta", "rope_scaling", "partial_rotary_factor")  # (the last three: transformers 4's layout)
_GEMMA2 = (*_GEMMA, "hidden_activation", "query_pre_attn_scalar", "sliding_window", "layer_types",
           "final_logit_softcapping", "attn_logit_softcapping")
FIELDS.update({
    "gemma": (*_GEMMA, "hidden_act"),
    "gemma2": _GEMMA2,
    # Gemma3TextConfig; rope_local_base_freq and sliding_window_pattern are read from transformers 4's configs
    "gemma3_text": (*_GEMMA2, "rope_local_base_freq", "sliding_window_pattern"),
    "olmo2": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "use_cache",
              "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings", "rope_parameters",
              "attention_bias", "attention_dropout", "rms_norm_eps", "rope_theta", "rope_scaling",
              "partial_rotary_factor"),
})
# gemma3: Gemma3Config's own fields, and its text_config's (Gemma3TextConfig's), which the family's table lists
FIELDS["gemma3"] = (*FIELDS["gemma3_text"], "text_config", "vision_config", "mm_tokens_per_image",
                    "boi_token_index", "eoi_token_index", "image_token_index")
FIELDS["roberta"] = FIELDS["bert"]
FIELDS["xlm-roberta"] = FIELDS["bert"]  # XLMRobertaConfig has BertConfig's fields
FIELDS["deberta-v2"] = (  # DebertaV2Config's fields, then the keys its modeling file reads with getattr
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps", "relative_attention", "max_relative_positions", "pad_token_id",
    "bos_token_id", "eos_token_id", "position_biased_input", "pos_att_type", "pooler_dropout", "pooler_hidden_act",
    "legacy", "tie_word_embeddings", "pooler_hidden_size",
    "position_buckets", "share_att_key", "norm_rel_ebd", "attention_head_size", "embedding_size", "conv_kernel_size",
    "conv_act", "conv_groups")

# why each remaining field changes nothing attncli computes (maps and hidden states, in eval mode)
INERT = {
    **{key: "training or generation only, or the LM head attncli does not compute" for key in _COMMON_INERT},
    **{key: "dropout: off in eval mode" for key in (
        "hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout", "attention_dropout",
        "qa_dropout", "seq_classif_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout",
        "hidden_dropout", "summary_last_dropout", "classifier_dropout_prob", "embedding_dropout", "mlp_dropout")},
    **{key: "ModernBERT's classifier head, or the masked-LM head's loss (sparse_prediction gathers the labelled "
            "positions only when labels are given): not the logits of --show predictions" for key in (
        "classifier_pooling", "sparse_prediction", "sparse_pred_ignore_index")},
    "initializer_cutoff_factor": "training only (the initializer's truncation)",
    "cls_token_id": "the tokenizer's ids (tokenizer.json adds [CLS] and [SEP]); the forward pass reads none",
    "sep_token_id": "the tokenizer's ids (tokenizer.json adds [CLS] and [SEP]); the forward pass reads none",
    "deterministic_flash_attn": "flash attention only; attncli's maps are eager attention's",
    "reference_compile": "torch.compile in transformers 4; not read by transformers 5",
    **{key: "the sequence-summary head of GPT2DoubleHeadsModel, not the model" for key in (
        "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels")},
    "vocab_size": "the embedding table's rows are read from the checkpoint (and checked against it)",
    "max_position_embeddings": "learned tables are read from the checkpoint; default RoPE does not depend on it "
                               "(scaled RoPE: honoured, see the rope families' tables)",
    "n_positions": "the position table is read from the checkpoint",
    "type_vocab_size": "the token type table is read from the checkpoint (the row of each token's type: 0, or 1 "
                       "in a sentence pair's second text; a type past its rows is refused)",
    "pad_token_id": "padding_idx only zeroes a gradient; batches are masked by their lengths (RoBERTa: honoured)",
    "add_cross_attention": "cross-attention runs only with encoder_hidden_states, which attncli never gives",
    "pretraining_tp": "not read by transformers' Llama, Mistral and Qwen2 forward (BLOOM: see its table)",
    "rope_parameters": "read through its keys (rope_parameters.rope_theta, .rope_type, .factor, ...)",
    "rope_scaling": "read through its keys (rope_scaling.rope_type, rope_scaling.type, .factor, ...)",
    "output_router_logits": "returns the router's logits for the auxiliary loss (training); routing is the same",
    "router_aux_loss_coef": "the weight of the load-balancing loss (training)",
    "router_jitter_noise": "Mixtral multiplies the MLP's input by noise only in training mode",
    "layerdrop": "skips layers in training only",
    "init_std": "the initialisation of weights the checkpoint replaces",
    "attn_logit_softcapping": "gemma3_text / gemma3: transformers 5.24's Gemma3Attention never passes it to its "
                              "attention, so the maps are not soft-capped (golden gemma3_text sets it to 1.0); "
                              "gemma2 honours it (its table)",
    "text_config": "gemma3: read as the text model's config, whose keys the family's table lists",
    **{key: "gemma3: the vision tower and image tokens; attncli runs the text tower on text only" for key in (
        "vision_config", "mm_tokens_per_image", "boi_token_index", "eoi_token_index", "image_token_index")},
    **{key: "the pooler, which attncli does not compute" for key in (
        "pooler_dropout", "pooler_hidden_act", "pooler_hidden_size")},
    **{key: "read only by DeBERTa's ConvLayer, which conv_kernel_size (refused) switches on" for key in (
        "conv_act", "conv_groups")},
}

# fields inert in one family only (the same key changes the numbers of others)
INERT_IN = {
    "gpt_neox": {"is_decoder": "GPTNeoXAttention is causal whatever it says (is_causal = True, create_causal_mask)"},
    "gpt_oss": {"hidden_act": "GptOssExperts computes its clamped SwiGLU itself; no module reads hidden_act"},
    "gemma3": {"final_logit_softcapping": "Gemma3ForConditionalGeneration applies none to its logits (its "
                                          "text_config's is read only by Gemma3ForCausalLM): set, --show "
                                          "predictions is refused (Family.lm_unread), the maps run"},
}

# values attncli does not compute, one per refused key
BAD = {
    "is_decoder": True,
    "position_embedding_type": "relative_key",
    "sinusoidal_pos_embds": True,
    "rope_parameters.rope_type": "proportional",
    "rope_scaling.rope_type": "mrope",
    "rope_scaling.type": "mrope",
    "rope_parameters.partial_rotary_factor": 0.5,
    "partial_rotary_factor": 0.25,
    "layer_types": ["sliding_attention", "full_attention"],
    "apply_residual_connection_post_layernorm": True,
    "num_hidden_groups": 2,
    "inner_group_num": 2,
    "rope_scaling": {"factor": 2.0, "rope_type": "linear"},
    "sliding_window": 64,
    "use_bidirectional_attention": True,
    "rope_parameters.full_attention.rope_type": "proportional",
    "rope_parameters.sliding_attention.rope_type": "proportional",
    "rope_parameters.full_attention.partial_rotary_factor": 0.5,
    "rope_parameters.sliding_attention.partial_rotary_factor": 0.5,
    "attention_head_size": 16,
    "embedding_size": 128,
    "conv_kernel_size": 3,
}
# values that change nothing beyond float32 rounding, one per Rounding key
ROUNDING = {"reorder_and_upcast_attn": True, "pretraining_tp": 2, "slow_but_exact": True}


def cases_of(family: str) -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file()
                  and json.loads((p / "case.json").read_text())["family"] == family)


def set_key(cfg: dict, key: str, value) -> None:
    """config[key] = value, "a.b" inside the object a (made when absent)."""
    *path, last = key.split(".")
    for part in path:
        if not isinstance(cfg.get(part), dict):
            cfg[part] = {}
        cfg = cfg[part]
    cfg[last] = value


def text_config(cfg: dict) -> dict:
    """The config a family's keys are in: config.json, or its text_config (gemma3)."""
    return cfg["text_config"] if isinstance(cfg.get("text_config"), dict) else cfg


def copy_with(tmp_path: Path, case: str, key: str, value) -> Path:
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    cfg = json.loads((folder / "config.json").read_text())
    set_key(text_config(cfg), key, value)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def refused_keys() -> list[tuple[str, str]]:
    return [(f, k.key) for f, fam in FAMILIES.items() for k in fam.config if isinstance(k, Refused)]


def test_every_field_of_the_config_class_is_listed_or_said_inert():
    for name, fam in FAMILIES.items():
        listed = {k.key.split(".")[0] for k in fam.config} | set(INERT) | set(INERT_IN.get(name, {}))
        missing = sorted(set(FIELDS[name]) - listed)
        assert not missing, f"{name}: config keys neither honoured, refused nor inert: {missing}"


def test_every_honoured_key_is_exercised_by_a_golden_case():
    """Each golden an Honoured entry names has the key in its config.json (or leaves it out on purpose, as its
    notes say: the default is what is tested)."""
    wrong = []
    for name, fam in FAMILIES.items():
        for key in (k for k in fam.config if isinstance(k, Honoured)):
            if not key.goldens:
                wrong.append(f"{name}: {key.key} names no golden case")
            for case in key.goldens:
                if not (GOLDEN / case / "case.json").is_file():
                    wrong.append(f"{name}: {key.key}: no golden case {case}")
                    continue
                cfg = text_config(json.loads((GOLDEN / case / "config.json").read_text()))
                notes = json.loads((GOLDEN / case / "case.json").read_text())["notes"]
                if rules.lookup(cfg, key.key) is rules.MISSING and key.key not in notes:
                    wrong.append(f"{name}: golden {case} neither sets {key.key} nor says it leaves it out")
    assert not wrong, "; ".join(wrong)


@pytest.mark.parametrize("key,case,value", [
    ("scale_attn_weights", "gpt2_unscaled", False),
    ("scale_attn_by_inverse_layer_idx", "gpt2_layer_scaled", True),
    ("use_sliding_window", "qwen2_window_layers", True),
    ("max_window_layers", "qwen2_window_layers", 1),
    ("layer_types", "qwen2_layer_types", ["sliding_attention", "full_attention", "sliding_attention"]),
    ("attention_bias", "llama_attn_bias", True),
    ("mlp_bias", "llama_attn_bias", True),
    ("rms_norm_eps", "llama_gqa", 1e-5),
    ("pad_token_id", "roberta_pad_inside", 1),
    ("embedding_size", "electra", 16),
    ("embedding_size", "albert", 16),
    ("local_attention", "modernbert", 6),
    ("global_rope_theta", "modernbert", 1000.0),
    ("norm_bias", "modernbert_batch", True),
    ("mlp_bias", "modernbert_batch", True),
    ("partial_rotary_factor", "phi3", 0.75),
    ("sliding_window", "phi3_window", 4),
    ("do_layer_norm_before", "opt_post", False),
    ("word_embed_proj_dim", "opt_post", 16),
    ("enable_bias", "opt_bare", False),
    ("layer_norm_elementwise_affine", "opt_bare", False),
    ("_remove_final_layer_norm", "opt_bare", True),
    ("activation_function", "opt_bare", "gelu"),
    ("embedding_multiplier", "granite", 3.0),
    ("attention_multiplier", "granite", 0.2),
    ("residual_multiplier", "granite", 0.5),
    ("query_pre_attn_scalar", "gemma2", 20),
    ("attn_logit_softcapping", "gemma2", 2.0),
    ("query_pre_attn_scalar", "gemma3_text", 24),
    ("rms_norm_eps", "olmo2", 1e-6),
])
def test_the_settings_goldens_hold_the_values_their_notes_say(key, case, value):
    """The goldens that cover a setting away from its default really hold it (and the default differs)."""
    cfg = json.loads((GOLDEN / case / "config.json").read_text())
    assert cfg[key] == value
    family = json.loads((GOLDEN / case / "case.json").read_text())["family"]
    assert FAMILIES[family].default(key) != value or key == "pad_token_id"  # RoBERTa's pad is its default, 1


def test_without_rms_norm_eps_the_config_class_default_is_used():
    assert "rms_norm_eps" not in json.loads((GOLDEN / "llama_no_eps" / "config.json").read_text())
    for name in ("llama", "mistral", "qwen2"):
        assert FAMILIES[name].eps == FAMILIES[name].default("rms_norm_eps") == 1e-6


def test_each_familys_norm_eps_default_is_its_honoured_default():
    for fam in FAMILIES.values():
        for key in fam.eps_keys:
            assert fam.default(key) == fam.eps, fam.name


@pytest.mark.parametrize("family,key", refused_keys())
def test_a_refused_key_set_away_from_what_attncli_computes_stops_the_run(family, key, tmp_path):
    case = cases_of(family)[0]
    folder = copy_with(tmp_path, case, key, BAD[key])
    with pytest.raises(AttnError) as err:
        open_checkpoint(str(folder))
    text = str(err.value)
    assert key.rsplit(".", 1)[0] in text and json.dumps(BAD[key]) in text, text


@pytest.mark.parametrize("family,key", [(f, k) for f, k in refused_keys()  # (absent only: the goldens run)
                                        if next(r for r in FAMILIES[f].config if r.key == k).accepts])
def test_a_refused_key_at_what_attncli_computes_runs(family, key, tmp_path):
    refused = next(k for k in FAMILIES[family].config if k.key == key)
    folder = copy_with(tmp_path, cases_of(family)[0], key, refused.accepts[0])
    open_checkpoint(str(folder))  # no error


def test_every_refused_and_rounding_key_has_an_example_here():
    for fam in FAMILIES.values():
        for key in fam.config:
            if isinstance(key, Refused):
                assert key.key in BAD, key.key
            if isinstance(key, Rounding):
                assert key.key in ROUNDING, key.key


@pytest.mark.parametrize("family,key", [(f, k.key) for f, fam in FAMILIES.items() for k in fam.config
                                        if isinstance(k, Rounding)])
def test_a_rounding_key_leaves_the_maps_as_transformers_gives_them(family, key, tmp_path):
    case = cases_of(family)[0]
    folder = copy_with(tmp_path, case, key, ROUNDING[key])
    ids = json.loads((GOLDEN / case / "case.json").read_text())["ids"]
    run(["model", folder, "--ids", " ".join(map(str, ids[0])), "--format", "npz", "-o", tmp_path / "out.npz"])
    expected = np.load(GOLDEN / case / "expected.npz")["attentions"][:, 0]  # (L, H, n, n)
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["attentions"], expected, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- the command line

LLAMA32_ROPE = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192, "rope_theta": 500000.0}


def test_model_refuses_a_rope_type_transformers_does_not_implement_in_one_line(tmp_path):
    folder = copy_with(tmp_path, "llama_gqa", "rope_parameters", {"rope_type": "proportional", "rope_theta": 1e4})
    err = run_error(["model", folder, "--ids", "1 5 9", "-o", tmp_path / "out.npz"])
    assert 'rope_parameters.rope_type to "proportional"' in err and '"llama3"' in err, err
    assert not (tmp_path / "out.npz").exists()


def test_compute_config_refuses_a_rope_scaling_type_transformers_does_not_implement(tmp_path):
    folder = copy_with(tmp_path, "qwen2", "rope_scaling", {"type": "su", "factor": 4.0})
    np.save(tmp_path / "h.npy", np.zeros((3, 32), dtype=np.float32))
    err = run_error(["compute", "--config", folder / "config.json", "--layer", "0", "--x", tmp_path / "h.npy"])
    assert 'rope_scaling.type to "su"' in err, err


@pytest.mark.parametrize("rope,what", [
    ({k: v for k, v in LLAMA32_ROPE.items() if k != "low_freq_factor"}, "has no 'low_freq_factor'"),
    ({"rope_type": "linear"}, "has no 'factor'"),
    ({"rope_type": "yarn", "factor": "4"}, "rope_parameters.factor is '4'"),
    ({"rope_type": "longrope", "short_factor": [1.0] * 6, "long_factor": [1.0, -2.0, 1.0, 1.0, 1.0, 1.0]},
     "rope_parameters.long_factor is [1.0, -2.0, 1.0, 1.0, 1.0, 1.0]"),
    ({"rope_type": "longrope", "short_factor": [1.0] * 6, "long_factor": [1.0] * 6},  # head_dim 12: 6 pairs
     None),
    ({"rope_type": "longrope", "short_factor": [1.0] * 4, "long_factor": [1.0] * 6},
     "rope_parameters.short_factor has 4 factors; the heads' 12 features turn in 6 pairs"),
])
def test_rope_scaling_without_what_its_type_needs_is_refused_in_one_line(tmp_path, rope, what):
    folder = copy_with(tmp_path, "llama_gqa", "rope_parameters", rope)
    if what is None:  # the same settings, right: it runs
        run(["model", folder, "--ids", "1 5 9"])
        return
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert what in err, err


def test_model_refuses_blooms_residual_after_the_norm(tmp_path):
    folder = copy_with(tmp_path, "bloom", "apply_residual_connection_post_layernorm", True)
    err = run_error(["model", folder, "--ids", "1 5 9"])
    assert "apply_residual_connection_post_layernorm to true" in err, err


# ---------------------------------------------------------------- the forward pass asks no family its name


def _name_checks(path: Path) -> list[str]:
    """Comparisons in `path` that test a family's name (x.name == ..., x.name in (...), ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "name" and "fam" in ast.unparse(side.value):
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Subscript) and ast.unparse(node.slice) in {repr(f) for f in FAMILIES}:
            if "FAMILIES" not in ast.unparse(node.value):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_family_name_decides_anything_in_models():
    files = [*sorted((ROOT / "attncli" / "models").glob("*.py")), ROOT / "attncli" / "cli" / "model.py",
             ROOT / "attncli" / "cli" / "model_layer.py"]
    found = [hit for path in files for hit in _name_checks(path)]
    assert not found, "family names deciding behaviour: " + "; ".join(found)


def test_the_name_check_finds_a_name_branch(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(ckpt):\n    return ckpt.family.name == 'gpt2' or fam.name in ('qwen2',)\n")
    assert len(_name_checks(bad)) == 2
