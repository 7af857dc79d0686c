"""Golden checkpoints for `attncli model` (issue 13): tiny random Hugging Face models and what transformers says.

How to run (from the repository root; PyTorch and transformers are NOT attncli dependencies and CI never
installs them, so they live in a separate virtual environment):

    python -m venv /path/to/torchenv
    /path/to/torchenv/bin/pip install torch==2.13.0 transformers==5.24.0 tokenizers==0.23.3 safetensors numpy
    /path/to/torchenv/bin/python tests/golden/models/generate.py            # every case
    /path/to/torchenv/bin/python tests/golden/models/generate.py gpt2 bert  # only these (others kept as they are)

Made with torch 2.13.0 (CPU), transformers 5.24.0, tokenizers 0.23.3, safetensors 0.8.0, numpy 2.4.6; the
script refuses other torch/transformers versions (mask conventions, where hidden_states[-1] is taken and the
config.json layout are version facts). Output is deterministic: each case has its own seed.

For each case in CASES it writes tests/golden/models/<case>/:

  config.json, model.safetensors  by `model.save_pretrained(folder)` (transformers 5 always writes
                                  safetensors) from the class named in case.json. Every parameter is re-drawn
                                  from a seeded normal first (transformers' init gives zero biases, unit norms
                                  and near-uniform attention, which would hide mistakes): linear weights
                                  N(0, g²/fan_in) (g = 1.5 for query/key projections, else 1), biases
                                  N(0, 0.2²), embeddings N(0, 1), norm weights 1 + N(0, 0.2²), norm biases
                                  N(0, 0.2²).
                                  The exceptions, each said in case.json's notes: `qwen2`'s config.json is
                                  rewritten in the layout checkpoints on the Hub have (written by transformers 4:
                                  top-level rope_theta, torch_dtype, sliding_window set while
                                  use_sliding_window is false); `gpt2` gets the causal-mask buffers
                                  h.N.attn.bias / h.N.attn.masked_bias that older GPT-2 checkpoints hold
                                  (transformers ignores them); `llama_bf16` is saved in bfloat16;
                                  `qwen2_window_layers`, `qwen3` and `modernbert` are in the transformers 4 layout too;
                                  `llama_no_eps` has rms_norm_eps removed from config.json (the reload
                                  uses LlamaConfig's default) and embeddings drawn N(0, 0.003²) so that
                                  ε matters; `gemma` is in the transformers 4 layout too (hidden_act
                                  "gelu", as google/gemma-7b's); `gemma3`'s text_config is cut to the few
                                  keys google/gemma-3-4b-it's sets (gemma3_hub_config), and its vision
                                  tower's conv and projector weights are drawn N(0, 0.02²) (not compared).
                                  Mixtures of experts (issue 22): routers N(0, 2.5²/d) so that
                                  routing is decisive, fused expert weights N(0, 1/fan_in) (fan-in the hidden
                                  size for gate/up, the expert width for down), gpt-oss's sinks N(1, 1.5²);
                                  `mixtral_tie` copies expert 1's router row to experts 3 and 4 (tie_experts;
                                  check_tie makes sure torch.topk's choice among them differs from the lowest
                                  index first somewhere); `qwen3_moe` says num_experts where transformers 5
                                  writes num_local_experts; `gpt_oss_bf16` is saved in bfloat16 with no RoPE
                                  settings in config.json.
  tokenizer.json                  a small tokenizer made with the `tokenizers` library, in the style of the
                                  family (WordPiece + "[CLS] $A [SEP]"; byte-level BPE; Metaspace BPE + "<s>").
                                  The deberta-v2 cases have none: spm.model, a SentencePiece unigram model
                                  trained on CORPUS with sentencepiece's trainer (needs `sentencepiece` and
                                  `protobuf` in the torch environment), and tokenizer_config.json, as
                                  DeBERTa-v3 ships them; their ids come from transformers' AutoTokenizer
                                  (DebertaV2Tokenizer), and case.json's tokenizer_checks holds more texts with
                                  the ids it gives; tokenizer_variants, the ids of the same texts under other
                                  tokenizer_config.json settings. llama_spm is the same with Llama-2's
                                  tokenizer.model (BPE, byte fallback) and LlamaTokenizer.
                                  deberta_v3/buckets.npz holds transformers' make_log_bucket_position
                                  over -1100..1100 at (256, 512) and (8, 64).
  case.json                       what `attncli model` is given and what to expect:
                                    family, class (the transformers class saved), prefix (of the tensor
                                    names), texts (list, or null for an ids case), ids (the unpadded ids of
                                    each sequence), special_tokens (true: ids = tokenizer.encode(text,
                                    add_special_tokens=True), the attncli default; false for ids cases),
                                    added_tokens (the special tokens among the ids of the first sequence:
                                    those the post-processor adds, and a [MASK] typed in the text), lengths,
                                    n_layers, n_heads, n_kv_heads, head_dim,
                                    hidden_size, dtype (of the safetensors), padded (what transformers gives
                                    on padded rows, batches only), notes, tensors (every name -> shape).
  expected.npz                    input_ids (B, n) int64 (right-padded with the tokenizer's pad id for
                                  batches), attention_mask (B, n) int64, attentions (L, B, H, n, n) and
                                  hidden (L+1, B, n, d): np.stack of outputs.attentions / .hidden_states of
                                  the saved folder reloaded with AutoModel.from_pretrained(folder,
                                  dtype=float32, attn_implementation="eager") and run in eval mode in float32
                                  with output_attentions=True, output_hidden_states=True; stored as float64
                                  holding exactly those float32 values. hidden[0] is the embedding output
                                  (after the embedding LayerNorm for bert/roberta/distilbert/bloom),
                                  hidden[l] the output of layer l, and hidden[L] is after the final norm
                                  for the families that have one (gpt2 ln_f, llama/mistral/qwen2/qwen3 norm,
                                  bloom ln_f): transformers replaces the last layer's output by
                                  last_hidden_state (checked below).
  tests/golden/models/SHA256SUMS  sha256sum-style lines for every file written.

Checks made here before anything is kept: the reload equals the in-memory model (1e-6); transformers'
tokenizer (PreTrainedTokenizerFast(tokenizer_file=...)) gives the same ids as tokenizers'
Tokenizer.encode(text, add_special_tokens=True); every attention row sums to 1; masked entries (future keys,
keys outside the sliding window, padded keys) are exactly 0; hidden[L] == last_hidden_state.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors import safe_open
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

TORCH_VERSION, TRANSFORMERS_VERSION = "2.13.0", "5.24.0"
HERE = Path(__file__).resolve().parent

if torch.__version__.split("+")[0] != TORCH_VERSION or transformers.__version__ != TRANSFORMERS_VERSION:
    sys.exit(f"needs torch=={TORCH_VERSION} and transformers=={TRANSFORMERS_VERSION}; "
             f"found {torch.__version__}, {transformers.__version__}")
torch.use_deterministic_algorithms(True)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

# --------------------------------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------------------------------

CORPUS = [
    "the cat sat on the mat.",
    "a dog ran in the park and the cat sat still.",
    "attention is all you need, said the model.",
    "every head looks at every token in the text.",
    "the quick brown fox jumps over the lazy dog!",
    "tokens attend to tokens; heads attend to heads.",
    "small models make small files, and tests stay fast.",
]


def wordpiece() -> Tokenizer:
    """BERT style: lower-casing, [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, "[CLS] $A [SEP]"."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for line in CORPUS for w in line.replace(",", " , ").replace(".", " . ")
                   .replace("!", " ! ").replace(";", " ; ").split()})
    words = [w for w in words if w not in {"still", "stay", "sitting"}]  # left to word pieces
    chars = sorted({c for line in CORPUS for c in line if c.isalpha()})
    vocab = specials + chars + [f"##{c}" for c in chars] + ["##s", "##ing", "##ill", "##ay"]
    vocab += [w for w in words if w not in vocab]
    vocab = list(dict.fromkeys(vocab))
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(specials)
    return tok


def byte_bpe(vocab_size: int, specials: list[str], post: str | None) -> Tokenizer:
    """Byte-level BPE (GPT-2 style) trained on CORPUS over the byte alphabet of CORPUS only (to stay small).

    post: None (gpt2, bloom, qwen2: nothing added) or "roberta" (<s> $A </s>)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    alphabet = sorted({ch for line in CORPUS for piece, _ in level.pre_tokenize_str(line) for ch in piece})
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet,
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    if post == "roberta":
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                          ("<s>", tok.token_to_id("<s>")),
                                                          add_prefix_space=False)
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def metaspace_bpe(vocab_size: int) -> Tokenizer:
    """Llama/Mistral style: <unk>=0 <s>=1 </s>=2, "▁" for spaces, "<s> $A"."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok


def opt_bpe() -> Tokenizer:
    """OPT style: byte-level BPE, <s>=0 <pad>=1 </s>=2 <unk>=3, "</s> $A" (OPT's tokenizer starts with </s>)."""
    tok = byte_bpe(120, ["<s>", "<pad>", "</s>", "<unk>"], None)
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", pair="</s> $A </s> $B",
                                                       special_tokens=[("</s>", 2)])
    return tok


def spm_deberta(folder: Path, tokenizer_config: dict) -> None:
    """DeBERTa-v3 style: a SentencePiece unigram spm.model trained on CORPUS ([PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3,
    [MASK] a user-defined piece) and tokenizer_config.json; no tokenizer.json. The normalization rule is
    "identity" (no 240 KB precompiled NFKC map in the file): transformers' DebertaV2Tokenizer does not read that
    map (its normalizer is its own: whitespace runs, NFC, right strip)."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, vocab_size=100, model_type="unigram",
        hard_vocab_limit=False, character_coverage=1.0, num_threads=1, normalization_rule_name="identity",
        pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]", eos_id=2, eos_piece="[SEP]", unk_id=3,
        unk_piece="[UNK]", user_defined_symbols=["[MASK]"], minloglevel=2)
    (folder / "spm.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2, sort_keys=True) + "\n")


def spm_llama(folder: Path, tokenizer_config: dict) -> None:
    """Llama-2 style: a SentencePiece BPE tokenizer.model trained on CORPUS with byte fallback (<unk>=0 <s>=1
    </s>=2, then the 256 byte pieces <0x00>..<0xFF>) and tokenizer_config.json; no tokenizer.json."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, vocab_size=330, model_type="bpe",
        hard_vocab_limit=False, character_coverage=1.0, num_threads=1, normalization_rule_name="identity",
        byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2, sort_keys=True) + "\n")


# tokenizers read from a SentencePiece model by transformers (no tokenizer.json): name -> writer(folder, config)
SPM_TOKENIZERS = {"spm_deberta": spm_deberta, "spm_llama": spm_llama}
# texts whose ids transformers' tokenizer gives are kept in case.json (tokenizer_checks) for SentencePiece cases
SPM_CHECKS = ["the cat sat on the mat.", "The  Cat\tsat\n on [MASK] mat!", "  leading and trailing  ",
              "unknown 猫 characters, déjà vu", "tokens;attend,to:tokens", "[CLS] typed [SEP]", "don't stop",
              "<s> typed </s> and <unk>", "a [MSK] b", "x[CLS]y<s>z[MASK]w"]

TOKENIZERS = {
    "wordpiece": (wordpiece, {"pad_token": "[PAD]"}),
    "gpt2": (lambda: byte_bpe(120, ["<|endoftext|>"], None), {"pad_token": "<|endoftext|>"}),
    "roberta": (lambda: byte_bpe(120, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "roberta"),
                {"pad_token": "<pad>"}),
    "bloom": (lambda: byte_bpe(110, ["<unk>", "<s>", "</s>", "<pad>"], None), {"pad_token": "<pad>"}),
    "qwen2": (lambda: byte_bpe(130, ["<|endoftext|>"], None), {"pad_token": "<|endoftext|>"}),
    "llama": (lambda: metaspace_bpe(120), {"pad_token": "</s>"}),
    "opt": (opt_bpe, {"pad_token": "<pad>"}),
}

# --------------------------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------------------------

T = transformers
CASES: list[dict] = [
    dict(name="bert", family="bert", cls=T.BertModel, seed=1301, tokenizer="wordpiece",
         texts=["The cat sat on the [MASK], sitting still."],
         config=T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, max_position_embeddings=40),
         notes="BertModel (no name prefix). token_type_ids all 0 (the row token_type_embeddings[0] is "
               "added; it is not zero). '[MASK]' in the text is the special token; 'sitting' and 'still' "
               "are split into word pieces."),
    dict(name="bert_batch", family="bert", cls=T.BertForMaskedLM, seed=1302, tokenizer="wordpiece",
         texts=["the quick brown fox jumps over the lazy dog!", "a cat ran."],
         config=T.BertConfig(vocab_size=110, hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
                             intermediate_size=96, max_position_embeddings=40),
         notes="BertForMaskedLM: tensors prefixed 'bert.', plus cls.predictions.* (the MLM head; its decoder "
               "weight is tied to the word embeddings and is not in the file). Two texts of different "
               "lengths, right-padded with [PAD]=0; attention_mask as the tokenizer gives; token_type_ids 0. "
               "3 heads."),
    dict(name="roberta", family="roberta", cls=T.RobertaForMaskedLM, seed=1303, tokenizer="roberta",
         texts=["attention is all you need, said the model."],
         config=T.RobertaConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=64, max_position_embeddings=40, type_vocab_size=1,
                                pad_token_id=1, bos_token_id=0, eos_token_id=2),
         notes="RobertaForMaskedLM: tensors prefixed 'roberta.', plus lm_head.* (lm_head.decoder.weight tied, "
               "absent). Position ids start after padding_idx=1: token i (0-based) uses "
               "position_embeddings row i + 2 (transformers: cumsum of ids != pad, times the mask, + 1). "
               "type_vocab_size 1 (token_type_embeddings row 0 is added). <s> $A </s>."),
    dict(name="distilbert", family="distilbert", cls=T.DistilBertModel, seed=1304, tokenizer="wordpiece",
         texts=["every head looks at every token!"],
         config=T.DistilBertConfig(vocab_size=110, dim=32, n_layers=3, n_heads=4, hidden_dim=64,
                                   max_position_embeddings=40),
         notes="DistilBertModel (no prefix): q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2, "
               "output_layer_norm; no token type embeddings; LayerNorm eps is 1e-12 (hard-coded in "
               "transformers, not in config.json); activation gelu (erf)."),
    dict(name="gpt2", family="gpt2", cls=T.GPT2Model, seed=1305, tokenizer="gpt2",
         texts=["the cat sat on the mat and the dog ran."],
         config=T.GPT2Config(vocab_size=130, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=64,
                             bos_token_id=None, eos_token_id=None),
         legacy_gpt2_buffers=True,
         notes="GPT2Model (no prefix, as the Hub's gpt2 checkpoint). Conv1D weights are (in, out): "
               "c_attn.weight is (d, 3d) = [W_q | W_k | W_v] columns. The file also holds h.N.attn.bias "
               "(1, 1, n_positions, n_positions) float32 lower-triangular ones and h.N.attn.masked_bias "
               "(scalar -1e4), as the original GPT-2 checkpoints do: buffers, not weights (transformers "
               "ignores them); a loader must skip them. No special tokens are added. gelu_new (tanh) MLP; "
               "hidden[L] is after ln_f."),
    dict(name="gpt2_6heads", family="gpt2", cls=T.GPT2LMHeadModel, seed=1306, tokenizer="gpt2",
         ids=[[17, 3, 88, 41, 5, 60, 23, 99, 42, 7]],
         config=T.GPT2Config(vocab_size=128, n_embd=48, n_layer=3, n_head=6, n_positions=32, n_inner=96,
                             bos_token_id=None, eos_token_id=None),
         notes="GPT2LMHeadModel: tensors prefixed 'transformer.'; lm_head.weight is tied to transformer.wte "
               "and absent from the file. 6 heads of 8 (not a power of two). ids case."),
    dict(name="llama_gqa", family="llama", cls=T.LlamaForCausalLM, seed=1307, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=80, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=12, rope_theta=5000.0,
                              rms_norm_eps=1e-5, max_position_embeddings=64, tie_word_embeddings=False,
                              pad_token_id=2),
         notes="LlamaForCausalLM: tensors prefixed 'model.', plus lm_head.weight (untied). Grouped kv "
               "heads: 4 query heads, 2 kv heads (query head h uses kv head h // 2). head_dim 12 is given "
               "explicitly and differs from hidden_size / heads = 8: q_proj is (48, 32), o_proj (32, 48). "
               "config.json holds rope_parameters {rope_theta: 5000, rope_type: default} (transformers 5 "
               "layout; no top-level rope_theta). RoPE is rotate_half (first half / second half of each "
               "head), inv_freq = theta^(-2i/head_dim), not stored in the file. <s> is prepended."),
    dict(name="llama_batch", family="llama", cls=T.LlamaForCausalLM, seed=1308, tokenizer="llama",
         ids=[[1, 40, 7, 33, 81, 12, 9, 60, 5], [1, 22, 95, 3, 47]],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=1, rope_theta=10000.0,
                              rms_norm_eps=1e-6, max_position_embeddings=64, tie_word_embeddings=True,
                              pad_token_id=2),
         notes="LlamaForCausalLM with tie_word_embeddings=true: prefix 'model.', no lm_head.weight in the "
               "file. One kv head for 4 query heads (multi-query). A batch of two id sequences (9 and 5), "
               "right-padded with id 2; position ids are 0..n-1 in both rows (transformers does not derive "
               "them from the mask), so valid rows equal a run of each sequence alone."),
    dict(name="mistral_window", family="mistral", cls=T.MistralModel, seed=1309, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.MistralConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, sliding_window=4,
                                rope_theta=10000.0, max_position_embeddings=64, tie_word_embeddings=False),
         notes="MistralModel (no prefix: embed_tokens.weight, layers.N.*, norm.weight). sliding_window 4, "
               "shorter than the text: query i attends key j iff i - 4 < j <= i (itself and the 3 before), "
               "in every layer; transformers 5's sliding_window_overlay is kv_idx > q_idx - sliding_window."),
    dict(name="qwen2", family="qwen2", cls=T.Qwen2ForCausalLM, seed=1310, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen2Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                              max_position_embeddings=64, tie_word_embeddings=True),
         legacy_config={"rope_theta": 1000000.0, "sliding_window": 4, "use_sliding_window": False,
                        "max_window_layers": 28},
         notes="Qwen2ForCausalLM, tie_word_embeddings=true: prefix 'model.', no lm_head.weight. q_proj, "
               "k_proj, v_proj have biases (o_proj has none). config.json is in the Hub's (transformers 4) "
               "layout: top-level rope_theta (1e6), torch_dtype, no rope_parameters, no layer_types, and "
               "sliding_window 4 with use_sliding_window false: the window is NOT applied (full causal "
               "attention), as transformers does. No special tokens added (no BOS)."),
    dict(name="bloom", family="bloom", cls=T.BloomForCausalLM, seed=1311, tokenizer="bloom",
         texts=["small models make small files, and tests stay fast."],
         config=T.BloomConfig(vocab_size=120, hidden_size=48, n_layer=2, n_head=6, bos_token_id=1,
                              eos_token_id=2, pad_token_id=3),
         notes="BloomForCausalLM: tensors prefixed 'transformer.' (word_embeddings, "
               "word_embeddings_layernorm, h.N.input_layernorm, h.N.self_attention.query_key_value, "
               "h.N.self_attention.dense, h.N.post_attention_layernorm, h.N.mlp.dense_h_to_4h / "
               "dense_4h_to_h, ln_f); lm_head tied, absent. query_key_value.weight (3d, d) is fused per "
               "head: its output viewed as (n_head, 3, head_dim) -> q, k, v of each head. ALiBi with 6 "
               "heads (not a power of two: 4 slopes 2^(-2(i+1)) plus 2 from the 8-head sequence at odd "
               "steps, transformers' _get_alibi_slopes), bias slope * key position (0-based), added to "
               "q.k / sqrt(head_dim). No position embeddings. MLP is bloom_gelu (tanh approximation), "
               "4 * hidden wide. hidden[L] is after ln_f."),
    dict(name="llama_bf16", family="llama", cls=T.LlamaModel, seed=1312, tokenizer="llama",
         ids=[[1, 5, 61, 18, 77, 30, 2, 99, 14]], dtype=torch.bfloat16,
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False),
         notes="LlamaModel saved in bfloat16 (every tensor BF16; config.json dtype 'bfloat16'); no prefix. "
               "The reference loads that checkpoint back with dtype=float32 (each weight upcast exactly) "
               "and computes in float32: what is compared is a float32 forward pass over the bf16 weight "
               "values, not a bf16 computation."),
    # ---- model settings (issue 21): each case sets one config key away from its default
    dict(name="gpt2_unscaled", family="gpt2", cls=T.GPT2Model, seed=1313, tokenizer="gpt2",
         ids=[[17, 3, 88, 41, 5, 60, 23, 99, 42, 7]],
         config=T.GPT2Config(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=64,
                             bos_token_id=None, eos_token_id=None, scale_attn_weights=False),
         notes="GPT2Model with scale_attn_weights=false: the scores are q.k, not q.k / sqrt(head_dim) "
               "(head_dim 8)."),
    dict(name="gpt2_layer_scaled", family="gpt2", cls=T.GPT2Model, seed=1314, tokenizer="gpt2",
         ids=[[17, 3, 88, 41, 5, 60, 23, 99, 42, 7]],
         config=T.GPT2Config(vocab_size=128, n_embd=32, n_layer=3, n_head=4, n_positions=32, n_inner=64,
                             bos_token_id=None, eos_token_id=None, scale_attn_by_inverse_layer_idx=True),
         notes="GPT2Model with scale_attn_by_inverse_layer_idx=true: layer l's scores are "
               "q.k / sqrt(head_dim) / (l + 1) (l 0-based), 3 layers."),
    dict(name="qwen2_window_layers", family="qwen2", cls=T.Qwen2Model, seed=1315, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen2Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, use_sliding_window=True, sliding_window=3,
                              max_window_layers=1),
         legacy_config={"rope_theta": 10000.0},
         notes="Qwen2Model with use_sliding_window=true, sliding_window 3 and max_window_layers 1, in the "
               "Hub's (transformers 4) layout, without layer_types: layer 0 attends to every earlier key, "
               "layers 1 and 2 (index >= max_window_layers) to the key itself and the 2 before "
               "(i - 3 < j <= i)."),
    dict(name="qwen2_layer_types", family="qwen2", cls=T.Qwen2Model, seed=1316, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen2Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, use_sliding_window=True, sliding_window=3,
                              max_window_layers=0,
                              layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
         notes="Qwen2Model with use_sliding_window=true, sliding_window 3 and layer_types [sliding, full, "
               "sliding] (transformers 5 layout): layer_types decides, not max_window_layers (0 here, which "
               "alone would put a window on every layer): layers 0 and 2 windowed, layer 1 full causal."),
    dict(name="llama_attn_bias", family="llama", cls=T.LlamaModel, seed=1317, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False, attention_bias=True,
                              mlp_bias=True),
         notes="LlamaModel with attention_bias=true (q_proj, k_proj, v_proj and o_proj have biases) and "
               "mlp_bias=true (gate_proj, up_proj, down_proj have biases)."),
    dict(name="llama_no_eps", family="llama", cls=T.LlamaModel, seed=1318, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False),
         drop_config_keys=["rms_norm_eps"], embed_std=0.003,
         notes="LlamaModel whose config.json has no rms_norm_eps: transformers uses LlamaConfig's default, "
               "1e-6. Embeddings are drawn N(0, 0.003^2) instead of N(0, 1), so that mean(x^2) ~ 1e-5 at "
               "the first norm and eps 1e-5 instead of 1e-6 moves the hidden states by ~30%."),
    # ---- RoPE as the Hub's configs write it (issue 22): one case per rope_type of modeling_rope_utils.py
    dict(name="llama_rope_llama3", family="llama", cls=T.LlamaModel, seed=1320, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=131072,
                              rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                               "original_max_position_embeddings": 8192},
                              tie_word_embeddings=False),
         notes="LlamaModel with Llama 3.2's RoPE (transformers 5 layout, rope_parameters): rope_type llama3, "
               "rope_theta 500000, factor 32, low_freq_factor 1, high_freq_factor 4, "
               "original_max_position_embeddings 8192. head_dim 16: of its 8 frequencies, those with wavelength "
               "2pi/w above 8192 are divided by 32, those between 2048 and 8192 blended, the rest kept."),
    dict(name="llama_rope_linear", family="llama", cls=T.LlamaModel, seed=1321, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                              rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
                              tie_word_embeddings=False),
         legacy_config={"rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 4.0}},
         notes="LlamaModel with linear RoPE scaling (position interpolation) in the transformers 4 layout: "
               "rope_scaling {type: linear, factor: 4} (the older key 'type', not rope_type) and a top-level "
               "rope_theta; every frequency is divided by 4."),
    dict(name="llama_rope_dynamic", family="llama", cls=T.LlamaModel, seed=1322, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                              rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 3.0},
                              tie_word_embeddings=False),
         legacy_config={"rope_theta": 10000.0, "rope_scaling": {"rope_type": "dynamic", "factor": 3.0}},
         notes="LlamaModel with dynamic NTK RoPE in the transformers 4 layout (rope_scaling {rope_type: "
               "dynamic, factor: 3}, top-level rope_theta) and max_position_embeddings 16, shorter than the "
               "text: transformers recomputes the base as theta * (3 n / 16 - 2)^(d/(d-2)) for the n tokens. "
               "(A fresh model per run: transformers keeps the largest n it has seen.)"),
    dict(name="llama_rope_yarn", family="llama", cls=T.LlamaModel, seed=1323, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=3, num_key_value_heads=3, max_position_embeddings=64,
                              rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                               "original_max_position_embeddings": 16},
                              tie_word_embeddings=False),
         notes="LlamaModel with YaRN (Qwen2.5's way of long context; transformers 5 layout): factor 4, "
               "original_max_position_embeddings 16 (shorter than the text), beta_fast/beta_slow at their "
               "defaults 32/1; cos and sin are multiplied by the attention factor 0.1 ln 4 + 1. 3 heads of 16."),
    dict(name="llama_rope_longrope", family="llama", cls=T.LlamaModel, seed=1324, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                              rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                               "original_max_position_embeddings": 16,
                                               "short_factor": [1.0, 1.1, 1.3, 1.7],
                                               "long_factor": [1.5, 2.5, 4.0, 9.0]},
                              tie_word_embeddings=False),
         notes="LlamaModel with LongRoPE (Phi-3's; transformers 5 layout): short_factor and long_factor per "
               "frequency, original_max_position_embeddings 16, no factor (so 64 / 16 = 4 gives the attention "
               "factor sqrt(1 + ln 4 / ln 16)). The text is longer than 16 tokens: the long factors apply."),
    dict(name="llama_rope_yarn_mscale", family="llama", cls=T.LlamaModel, seed=1325, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                              rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                               "original_max_position_embeddings": 16, "beta_fast": 8.0,
                                               "beta_slow": 2.0, "mscale": 0.7, "mscale_all_dim": 0.5,
                                               "truncate": False},
                              tie_word_embeddings=False),
         notes="LlamaModel with YaRN's optional settings away from their defaults: beta_fast 8, beta_slow 2, "
               "truncate false (the ramp's ends not rounded), and mscale 0.7 over mscale_all_dim 0.5 (the "
               "attention factor (0.07 ln 4 + 1) / (0.05 ln 4 + 1), as DeepSeek's configs write it)."),
    dict(name="llama_rope_longrope_short", family="llama", cls=T.LlamaModel, seed=1326, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                              rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "factor": 8.0,
                                               "attention_factor": 1.3, "original_max_position_embeddings": 16,
                                               "short_factor": [1.0, 1.2, 1.6, 2.4],
                                               "long_factor": [1.5, 2.5, 4.0, 9.0]},
                              tie_word_embeddings=False),
         legacy_config={"rope_theta": 10000.0, "original_max_position_embeddings": 16,
                        "rope_scaling": {"type": "longrope", "factor": 8.0, "attention_factor": 1.3,
                                         "original_max_position_embeddings": 8,
                                         "short_factor": [1.0, 1.2, 1.6, 2.4],
                                         "long_factor": [1.5, 2.5, 4.0, 9.0]}},
         notes="LlamaModel with LongRoPE in the layout Phi-3's Hub checkpoints have (transformers 4: "
               "rope_scaling with type longrope, top-level rope_theta and a top-level "
               "original_max_position_embeddings 16, which transformers prefers to the 8 inside rope_scaling), "
               "an explicit factor 8 and attention_factor 1.3. The text (14 tokens) is shorter than 16 (longer "
               "than 8): the short factors apply."),
    dict(name="roberta_pad_inside", family="roberta", cls=T.RobertaModel, seed=1319, tokenizer="roberta",
         ids=[[0, 40, 17, 1, 1, 52, 9, 33, 2]],
         config=T.RobertaConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=64, max_position_embeddings=40, type_vocab_size=1,
                                pad_token_id=1, bos_token_id=0, eos_token_id=2),
         notes="RobertaModel given ids with the pad id (1) twice inside the sequence, attention_mask all 1: "
               "transformers derives position ids from the ids (create_position_ids_from_input_ids): "
               "cumsum(ids != pad) * (ids != pad) + pad, so the two pads take position row 1 and the tokens "
               "after them continue the count (rows 2, 3, 4, 1, 1, 5, 6, 7, 8), not rows 2..10."),
    # ---- issue 22: qwen3 (per-head RMSNorm on q and k before RoPE)
    dict(name="qwen3", family="qwen3", cls=T.Qwen3ForCausalLM, seed=1330, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen3Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=12, rope_theta=1000000.0,
                              max_position_embeddings=64, tie_word_embeddings=True),
         legacy_config={"rope_theta": 1000000.0, "rope_scaling": None, "sliding_window": None,
                        "use_sliding_window": False, "max_window_layers": 28},
         notes="Qwen3ForCausalLM, tie_word_embeddings=true: prefix 'model.', no lm_head.weight. Grouped kv "
               "heads: 4 query heads over 2 kv heads; head_dim 12 is given and differs from hidden_size / heads "
               "= 8: q_proj is (48, 32), o_proj (32, 48). Each layer has self_attn.q_norm.weight and "
               "self_attn.k_norm.weight (12,): RMSNorm (eps rms_norm_eps) of each head's q and k over head_dim, "
               "after the projection and before RoPE. attention_bias false: no bias on q/k/v/o_proj. "
               "config.json is in the Hub's (transformers 4) layout, as Qwen/Qwen3-0.6B's: top-level rope_theta "
               "(1e6), rope_scaling null, torch_dtype, no rope_parameters, no layer_types, sliding_window null, "
               "use_sliding_window false. No special tokens added (no BOS)."),
    dict(name="qwen3_window", family="qwen3", cls=T.Qwen3Model, seed=1331, tokenizer="qwen2",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Qwen3Config(vocab_size=140, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                              num_attention_heads=6, num_key_value_heads=3, head_dim=8, rope_theta=10000.0,
                              max_position_embeddings=64, use_sliding_window=True, sliding_window=4,
                              max_window_layers=1, attention_bias=True,
                              layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
         notes="Qwen3Model (no prefix) with 6 heads (not a power of two) over 3 kv heads, head_dim 8, "
               "attention_bias=true (q_proj, k_proj, v_proj AND o_proj have biases, unlike Qwen2's o_proj), "
               "use_sliding_window=true, sliding_window 4 (shorter than the text) and layer_types [sliding, "
               "full, sliding] (transformers 5 layout): layer_types decides, not max_window_layers (1 here, "
               "which alone would window layers 1 and 2): layers 0 and 2 attend to the key itself and the 3 "
               "before (i - 4 < j <= i), layer 1 is full causal. q_norm / k_norm as in the qwen3 case."),

    # ---- issue 22, gemma: cases of this group below (one section per group keeps merges apart)
    #
    dict(name="gemma", family="gemma", cls=T.GemmaForCausalLM, seed=1340, tokenizer="llama",
         texts=["every head looks at every token in the text."],
         config=T.GemmaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=12, rope_theta=10000.0,
                              max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2),
         legacy_config={"rope_theta": 10000.0, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh"},
         notes="GemmaForCausalLM, lm_head tied (absent): prefix 'model.'. Multi-query: 4 query heads over 1 kv "
               "head; head_dim 12 differs from hidden_size / heads = 8 (q_proj (48, 32), o_proj (32, 48)). The "
               "embeddings are multiplied by sqrt(hidden_size) (a float32 scalar). Every RMSNorm computes "
               "x / sqrt(mean(x^2) + eps) * (1 + weight) in float32 (the stored weights are offsets from 1; "
               "here 1 + N(0, 0.2^2), so the factor is about 2). MLP: down(gelu_tanh(gate(x)) * up(x)). "
               "config.json in the Hub's (transformers 4) layout, as google/gemma-7b's: top-level rope_theta (no "
               "rope_parameters, so rope_parameters.rope_theta is left out), "
               "hidden_act 'gelu' (GemmaConfig runs it as gelu_pytorch_tanh) beside hidden_activation "
               "(not a GemmaConfig field). <s> is prepended."),
    dict(name="gemma2", family="gemma2", cls=T.Gemma2ForCausalLM, seed=1341, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Gemma2Config(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=3,
                               num_attention_heads=6, num_key_value_heads=3, head_dim=16, rope_theta=10000.0,
                               max_position_embeddings=64, query_pre_attn_scalar=20, attn_logit_softcapping=2.0,
                               final_logit_softcapping=5.0, sliding_window=4, pad_token_id=2, bos_token_id=1,
                               eos_token_id=2),
         notes="Gemma2ForCausalLM (prefix 'model.'), 6 heads (not a power of two) over 3 kv heads, head_dim 16 "
               "(not hidden_size / heads = 8). Scores: q.k * query_pre_attn_scalar**-0.5 (20, not head_dim), "
               "then soft-capped 2.0 * tanh(s / 2.0) (attn_logit_softcapping 2.0, small enough that it changes "
               "every map), then masked. layer_types (transformers 5 layout) [sliding, full, sliding]: layers 0 "
               "and 2 have sliding_window 4 (i - 4 < j <= i), shorter than the texts; layer 1 full causal. "
               "Sandwich norms: h + post_attention_layernorm(attn(input_layernorm(h))), then h + "
               "post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))), all (1 + w) RMSNorms. "
               "final_logit_softcapping applies to the LM head's logits only, not compared here."),
    dict(name="gemma3_text", family="gemma3_text", cls=T.Gemma3ForCausalLM, seed=1342, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Gemma3TextConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                   max_position_embeddings=64, query_pre_attn_scalar=24, sliding_window=4,
                                   attn_logit_softcapping=1.0,
                                   layer_types=["sliding_attention", "sliding_attention", "full_attention",
                                                "sliding_attention"],
                                   rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
                                                    "full_attention": {"rope_type": "linear", "factor": 4.0,
                                                                       "rope_theta": 50000.0}},
                                   pad_token_id=0, bos_token_id=1, eos_token_id=2),
         notes="Gemma3ForCausalLM (model_type gemma3_text, prefix 'model.'), 4 heads over 2 kv heads, head_dim "
               "16. layer_types [sliding, sliding, full, sliding]: sliding layers see i - 4 < j <= i and rotate "
               "with rope_parameters.sliding_attention (theta 100), the full layer with "
               "rope_parameters.full_attention (linear, factor 4, theta 50000). self_attn.q_norm / k_norm (16,): "
               "(1 + w) RMSNorm of each head's q and k over head_dim, before RoPE. Scale "
               "query_pre_attn_scalar**-0.5 (24). attn_logit_softcapping is 1.0 in config.json, and transformers' "
               "Gemma3Attention never applies it: the maps are not soft-capped. Sandwich norms and sqrt(d) "
               "embeddings as gemma2."),
    dict(name="gemma3", family="gemma3", cls=T.Gemma3ForConditionalGeneration, seed=1343, tokenizer="llama",
         texts=["attention is all you need, said the model."],
         config=T.Gemma3Config(
             text_config=T.Gemma3TextConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=6, head_dim=8, max_position_embeddings=64,
                                            sliding_window=3, rope_theta=20000.0, rope_local_base_freq=500.0,
                                            rope_scaling={"rope_type": "linear", "factor": 8.0},
                                            pad_token_id=0, bos_token_id=1, eos_token_id=2),
             vision_config=T.SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                num_attention_heads=2, image_size=28, patch_size=14,
                                                vision_use_head=False),
             mm_tokens_per_image=4, boi_token_index=125, eoi_token_index=126, image_token_index=127),
         prefix="language_model.model.", prefix_found="",
         gemma3_hub_config=["hidden_size", "intermediate_size", "num_hidden_layers", "head_dim", "vocab_size",
                            "max_position_embeddings", "sliding_window", "model_type"],
         gemma3_hub_extra={"rope_theta": 20000.0, "rope_local_base_freq": 500.0,
                           "rope_scaling": {"rope_type": "linear", "factor": 8.0}},
         notes="Gemma3ForConditionalGeneration (model_type gemma3; Gemma 3 >= 4B) with a tiny SigLIP vision "
               "tower (its tensors, vision_tower.* and multi_modal_projector.*, are not part of the text pass). "
               "Text tensors under 'language_model.model.' (transformers 5.24's save_pretrained writes the Hub's "
               "names; in memory they are 'model.language_model.'). config.json's text_config is in the Hub's "
               "layout (as google/gemma-3-4b-it's): only hidden_size, intermediate_size, num_hidden_layers, head_dim, "
               "vocab_size, max_position_embeddings, sliding_window (3), model_type, and the transformers 4 RoPE "
               "keys rope_theta 20000 (global layers), rope_local_base_freq 500 (sliding layers), rope_scaling "
               "linear factor 8 (global layers only); every other key is left out, so Gemma3TextConfig's default "
               "applies: num_attention_heads 8 over num_key_value_heads 4, query_pre_attn_scalar 256, "
               "rms_norm_eps 1e-6, hidden_activation gelu_pytorch_tanh, attention_bias false, "
               "sliding_window_pattern 6 (layers 0-4 sliding, layer 5 full), no layer_types, no "
               "rope_parameters. The reference is AutoModel (Gemma3Model) on input_ids only."),
    dict(name="olmo2", family="olmo2", cls=T.Olmo2ForCausalLM, seed=1344, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads.", "the cat sat on the mat."],
         config=T.Olmo2Config(vocab_size=140, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                              num_attention_heads=6, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
                              pad_token_id=0, bos_token_id=None, eos_token_id=None),
         notes="Olmo2ForCausalLM (prefix 'model.', lm_head untied), 6 heads over 2 kv heads, head_dim 8. No "
               "input norms: h + post_attention_layernorm(attn(h)), then h + post_feedforward_layernorm(mlp(h)). "
               "self_attn.q_norm.weight (48,) and k_norm.weight (16,): one RMSNorm over the whole q projection "
               "(H * head_dim) and one over the whole k projection (G * head_dim), before the split into heads "
               "and before RoPE. rms_norm_eps 1e-6 (Olmo2Config's default is 1e-5). No special tokens added. A "
               "batch of two texts of different lengths, right-padded with <|endoftext|>."),

    # ---- issue 22, neox: cases of this group below (one section per group keeps merges apart)
    #
    dict(name="gpt_neox", family="gpt_neox", cls=T.GPTNeoXForCausalLM, seed=1340, tokenizer="gpt2",
         texts=["the quick brown fox jumps over the lazy dog!"],
         config=T.GPTNeoXConfig(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                                num_attention_heads=3, max_position_embeddings=64, rotary_pct=0.25,
                                rotary_emb_base=10000, use_parallel_residual=True, bos_token_id=None,
                                eos_token_id=None),
         legacy_config={"rotary_pct": 0.25, "rotary_emb_base": 10000, "rope_scaling": None},
         notes="GPTNeoXForCausalLM (Pythia's layout): tensors prefixed 'gpt_neox.' (embed_in, layers.N."
               "input_layernorm, attention.query_key_value, attention.dense, post_attention_layernorm, "
               "mlp.dense_h_to_4h / dense_4h_to_h, final_layer_norm), plus the LM head. 3 heads of 16 (not a "
               "power of two). query_key_value (3d, d) is fused per head: its output viewed as (heads, 3 * "
               "head_dim) and chunked into q, k, v of each head. use_parallel_residual true: h + Attn(N1(h)) + "
               "MLP(N2(h)). config.json in the Hub's (transformers 4) layout, as EleutherAI/pythia-*'s: "
               "rotary_pct 0.25 and rotary_emb_base 10000 at the top level, no rope_parameters: RoPE turns the "
               "first int(16 * 0.25) = 4 features of each head (rotate_half within them, w_i = 10000^(-2i/4)), "
               "the other 12 pass through. attention_bias true (GPTNeoXConfig's default): biases on "
               "query_key_value and dense. hidden_act gelu (erf)."),
    dict(name="gpt_neox_sequential", family="gpt_neox", cls=T.GPTNeoXModel, seed=1341, tokenizer="gpt2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.GPTNeoXConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                                num_attention_heads=4, max_position_embeddings=64, use_parallel_residual=False,
                                attention_bias=False, hidden_act="gelu_new",
                                rope_parameters={"rope_type": "default", "rope_theta": 500.0,
                                                 "partial_rotary_factor": 0.5},
                                bos_token_id=None, eos_token_id=None),
         notes="GPTNeoXModel (no prefix) with use_parallel_residual false: h1 = h + Attn(N1(h)), h1 + MLP(N2(h1)). "
               "attention_bias false: no bias on query_key_value or dense (the MLP keeps its biases). "
               "hidden_act gelu_new (tanh). transformers 5 layout: rope_parameters {rope_theta 500, "
               "partial_rotary_factor 0.5}: 4 of each head's 8 features turn."),
    dict(name="gpt_neox_rope_dynamic", family="gpt_neox", cls=T.GPTNeoXModel, seed=1342, tokenizer="gpt2",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.GPTNeoXConfig(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                                num_attention_heads=2, max_position_embeddings=8, rotary_pct=0.5,
                                rotary_emb_base=1000, rope_scaling={"rope_type": "dynamic", "factor": 3.0},
                                bos_token_id=None, eos_token_id=None),
         legacy_config={"rotary_pct": 0.5, "rotary_emb_base": 1000,
                        "rope_scaling": {"type": "dynamic", "factor": 3.0}},
         notes="GPTNeoXModel with dynamic NTK RoPE over partial rotary, transformers 4 layout: rope_scaling {type: "
               "dynamic, factor: 3} (no rope_theta inside: rotary_emb_base 1000 is theta), rotary_pct 0.5: 12 of "
               "each head's 24 features turn, max_position_embeddings 8, shorter than the text: transformers "
               "recomputes theta * (3 n / 8 - 2)^(12/10) over the 12 rotary features for the n tokens."),
    dict(name="phi", family="phi", cls=T.PhiForCausalLM, seed=1343, tokenizer="gpt2",
         texts=["attention is all you need, said the model."],
         config=T.PhiConfig(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                            num_attention_heads=6, max_position_embeddings=64, partial_rotary_factor=0.5,
                            rope_theta=10000.0, qk_layernorm=True, bos_token_id=None, eos_token_id=None),
         legacy_config={"partial_rotary_factor": 0.5, "rope_theta": 10000.0, "rope_scaling": None},
         notes="PhiForCausalLM (microsoft/phi-2's layout): prefix 'model.' (embed_tokens, layers.N.input_layernorm, "
               "self_attn.q_proj / k_proj / v_proj / dense, mlp.fc1 / fc2, final_layernorm), plus lm_head with a "
               "bias. One norm for attention and MLP: h + Attn(N(h)) + MLP(N(h)). 6 heads of 8 (not a power of "
               "two). qk_layernorm true: self_attn.q_layernorm and k_layernorm, LayerNorm (weight and bias, eps "
               "layer_norm_eps) of each head's q and k over head_dim 8, before RoPE. config.json in the Hub's "
               "(transformers 4) layout: top-level partial_rotary_factor 0.5 and rope_theta: the first 4 of each "
               "head's 8 features turn. hidden_act gelu_new (tanh); biases on every projection."),
    dict(name="phi_rope_linear", family="phi", cls=T.PhiModel, seed=1344, tokenizer="gpt2",
         texts=["every head looks at every token in the text."],
         config=T.PhiConfig(vocab_size=128, hidden_size=40, intermediate_size=80, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                            rope_parameters={"rope_type": "linear", "factor": 4.0, "rope_theta": 100.0,
                                             "partial_rotary_factor": 0.4},
                            bos_token_id=None, eos_token_id=None),
         notes="PhiModel (no prefix), qk_layernorm false (PhiConfig's default: no q/k norms), 4 heads of 10 over "
               "2 kv heads (grouped). transformers 5 layout: "
               "rope_parameters {linear, factor 4, rope_theta 100, partial_rotary_factor 0.4}: int(10 * 0.4) = 4 "
               "features of each head turn, at 100^(-2i/4) / 4."),

    # ---- issue 22, phi3: cases of this group below (one section per group keeps merges apart)
    #
    dict(name="phi3", family="phi3", cls=T.Phi3ForCausalLM, seed=1350, tokenizer="llama", logits=True,
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Phi3Config(vocab_size=128, hidden_size=64, intermediate_size=80, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                             original_max_position_embeddings=16, partial_rotary_factor=0.75,
                             rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                              "short_factor": [1.0, 1.1, 1.2, 1.4, 1.7, 2.0],
                                              "long_factor": [1.5, 2.5, 4.0, 6.0, 9.0, 14.0]},
                             bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False),
         notes="Phi3ForCausalLM: tensors prefixed 'model.', plus lm_head.weight. Fused self_attn.qkv_proj "
               "(96, 64) = [q | k | v] rows: 4 query heads then 2 kv heads for k and for v, head_dim 16. Fused "
               "mlp.gate_up_proj (160, 64) = [gate | up] rows: SiLU(gate) * up. No biases. RMSNorm eps 1e-5 "
               "(Phi3Config's default). partial_rotary_factor 0.75 (top level and inside rope_parameters, as "
               "transformers 5 writes it): RoPE turns the first 12 of each head's 16 features (rotate_half "
               "within those 12), the last 4 pass unchanged. LongRoPE with 6 short and long factors (one per "
               "pair of the 12), original_max_position_embeddings 16 (top level) < the text's tokens: the long "
               "factors apply, and cos/sin are multiplied by sqrt(1 + ln(64/16) / ln 16)."),
    dict(name="phi3_window", family="phi3", cls=T.Phi3Model, seed=1351, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Phi3Config(vocab_size=128, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=6, num_key_value_heads=3, max_position_embeddings=64,
                             sliding_window=4,
                             rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "factor": 2.0,
                                              "original_max_position_embeddings": 8,
                                              "short_factor": [1.0, 1.3, 1.8, 2.6],
                                              "long_factor": [1.5, 2.5, 4.0, 9.0]},
                             bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False),
         legacy_config={"rope_theta": 10000.0,
                        "rope_scaling": {"type": "longrope", "factor": 2.0, "original_max_position_embeddings": 8,
                                         "short_factor": [1.0, 1.3, 1.8, 2.6],
                                         "long_factor": [1.5, 2.5, 4.0, 9.0]}},
         drop_config_keys=["original_max_position_embeddings"],
         notes="Phi3Model (no prefix) with 6 heads (not a power of two) over 3 kv heads, head_dim 8, "
               "sliding_window 4 (shorter than the text) in every layer: query i attends key j iff "
               "i - 4 < j <= i. config.json in the Hub's (transformers 4) layout: top-level rope_theta, "
               "rope_scaling {type: longrope, factor 2, original_max_position_embeddings 8, short and long "
               "factors}, and no top-level original_max_position_embeddings (left out on purpose): Phi3Config's "
               "field defaults to 4096 and transformers uses it instead of the 8 inside rope_scaling, so the "
               "text (longer than 8, shorter than 4096) takes the short factors, and the attention factor is "
               "sqrt(1 + ln 2 / ln 4096)."),
    dict(name="opt", family="opt", cls=T.OPTForCausalLM, seed=1352, tokenizer="opt", logits=True,
         texts=["the quick brown fox jumps over the lazy dog!", "a cat sat."],
         config=T.OPTConfig(vocab_size=130, hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                            ffn_dim=96, max_position_embeddings=40, word_embed_proj_dim=32, pad_token_id=1,
                            bos_token_id=2, eos_token_id=2),
         notes="OPTForCausalLM: tensors prefixed 'model.decoder.' (embed_tokens, embed_positions (42 rows: "
               "max_position_embeddings + the offset 2), layers.N.self_attn.{q,k,v,out}_proj, "
               "self_attn_layer_norm, fc1, fc2, final_layer_norm, and the decoder's final_layer_norm); "
               "lm_head tied, absent. word_embed_proj_dim 32 < hidden_size 48: embed_tokens (130, 32) through "
               "project_in (48, 32) before the positions; the last state goes through the decoder's "
               "final_layer_norm and then project_out (32, 48): hidden[L] here is the state between them (captured "
               "with a forward hook; transformers' hidden_states[L] is project_out of it). "
               "Pre-norm (do_layer_norm_before true), ReLU, biases everywhere, "
               "LayerNorm eps 1e-5 (fixed, nn.LayerNorm's default). 3 heads. Position ids come from the "
               "attention mask, cumsum(mask) * mask - 1, and take rows + 2 of embed_positions. A batch of two "
               "texts of different lengths, right-padded with <pad>=1: each text's tokens take rows 2..len+1 "
               "(the padding takes row 1). '</s> $A' (</s> = 2 first, as OPT's tokenizer)."),
    dict(name="opt_post", family="opt", cls=T.OPTModel, seed=1353, tokenizer="opt",
         texts=["attention is all you need, said the model."],
         config=T.OPTConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            ffn_dim=64, max_position_embeddings=40, do_layer_norm_before=False,
                            word_embed_proj_dim=16, pad_token_id=1, bos_token_id=2, eos_token_id=2),
         notes="OPTModel (prefix 'decoder.') as OPT-350m: do_layer_norm_before false (post-norm: "
               "h = N1(h + Attn(h)), h = N2(h + MLP(h)); the decoder has no final_layer_norm), and "
               "word_embed_proj_dim 16 < hidden_size 32: embed_tokens is (130, 16), project_in (32, 16) maps the "
               "word embeddings to 32 before the positions are added, project_out (16, 32) maps the last state "
               "back to 16 (for the LM head). transformers' hidden_states[L] is that projected, 16 wide state; "
               "hidden[L] here is the state entering project_out (captured with a forward hook), 32 wide as "
               "the others: what attncli shows."),
    dict(name="opt_bare", family="opt", cls=T.OPTModel, seed=1354, tokenizer="opt",
         ids=[[2, 40, 17, 1, 52, 9, 33, 77, 5]],
         config=T.OPTConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            ffn_dim=64, max_position_embeddings=40, enable_bias=False,
                            layer_norm_elementwise_affine=False, _remove_final_layer_norm=True,
                            activation_function="gelu", pad_token_id=1, bos_token_id=2, eos_token_id=2),
         notes="OPTModel (prefix 'decoder.') with enable_bias false (no bias on q/k/v/out_proj, fc1, fc2), "
               "layer_norm_elementwise_affine false (LayerNorms without weight or bias: none in the file), "
               "_remove_final_layer_norm true (no final norm although pre-norm) and activation_function gelu. "
               "The ids hold the pad id 1 inside, attention_mask all 1: OPT's positions come from the mask, not "
               "the ids, so every token takes row i + 2."),
    dict(name="granite", family="granite", cls=T.GraniteForCausalLM, seed=1355, tokenizer="gpt2", logits=True,
         texts=["the cat sat on the mat and the dog ran."],
         config=T.GraniteConfig(vocab_size=130, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, head_dim=12, rms_norm_eps=1e-5,
                                max_position_embeddings=64, embedding_multiplier=3.0, attention_multiplier=0.2,
                                residual_multiplier=0.5, logits_scaling=4.0, attention_bias=True, mlp_bias=True,
                                rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                                bos_token_id=None, eos_token_id=None, tie_word_embeddings=False),
         notes="GraniteForCausalLM: tensors prefixed 'model.', plus lm_head.weight. Llama's layer with "
               "Granite's multipliers away from 1: the embeddings x 3 (embedding_multiplier), the scores "
               "q.k x 0.2 (attention_multiplier, instead of 1/sqrt(12)), each sublayer's output x 0.5 "
               "(residual_multiplier) before the residual add; logits_scaling 4 divides the logits only (not "
               "computed here). 4 query heads over 2 kv heads, head_dim 12 (given; hidden_size / heads = 8). "
               "attention_bias and mlp_bias true: q/k/v/o_proj and gate/up/down_proj have biases."),

    # ---- issue 22, moe: cases of this group below (one section per group keeps merges apart)
    dict(name="mixtral", family="mixtral", cls=T.MixtralForCausalLM, seed=1370, tokenizer="llama",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.MixtralConfig(vocab_size=128, hidden_size=32, intermediate_size=24, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, sliding_window=5,
                                num_local_experts=4, num_experts_per_tok=2, rope_theta=10000.0,
                                max_position_embeddings=64, tie_word_embeddings=False),
         notes="MixtralForCausalLM (prefix 'model.', lm_head.weight too): 4 query heads over 2 kv heads, "
               "sliding_window 5 (shorter than the text: i - 5 < j <= i in every layer). Each layer's MLP is a "
               "mixture of 4 experts, 2 per token: block_sparse_moe.gate.weight (4, 32) the router, "
               "block_sparse_moe.experts.E.w1/w3/w2.weight the gate, up, down of expert E (24 wide; as "
               "save_pretrained writes them and as the Hub's checkpoints have them: transformers 5 fuses them "
               "into experts.gate_up_proj when it loads). Routing: softmax over the 4 router logits, top 2, "
               "divided by their sum. Router weights drawn N(0, 2.5²/32) so that routing is decisive."),
    dict(name="mixtral_tie", family="mixtral", cls=T.MixtralModel, seed=1371, tokenizer="llama",
         texts=["a dog ran in the park and the cat sat still; every head looks at every token."],
         tie_experts=[1, 3, 4],
         config=T.MixtralConfig(vocab_size=128, hidden_size=32, intermediate_size=16, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=4, num_local_experts=8,
                                num_experts_per_tok=2, rope_theta=10000.0, max_position_embeddings=64),
         notes="MixtralModel (no prefix), 8 experts, 2 per token, with routing ties: in every layer the router "
               "rows of experts 3 and 4 are copies of expert 1's, so every token's router gives experts 1, 3 and "
               "4 the same logit and (8 experts: one vector of torch's softmax, checked) the same probability; "
               "for the tokens where they share the 2nd place (or the first two of three), "
               "torch.topk's CPU choice among them (libstdc++'s nth_element and sort, not the lowest index "
               "first) decides which experts run. The generator checks that some token's choice differs from "
               "the lowest-index-first one. No sliding_window (MixtralConfig's default, null)."),
    dict(name="qwen3_moe", family="qwen3_moe", cls=T.Qwen3MoeForCausalLM, seed=1372, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen3MoeConfig(vocab_size=140, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, head_dim=12, num_experts=5,
                                 num_experts_per_tok=3, moe_intermediate_size=20, norm_topk_prob=False,
                                 decoder_sparse_step=2, rope_theta=1000000.0, max_position_embeddings=64,
                                 tie_word_embeddings=True),
         legacy_config={"rope_theta": 1000000.0, "rope_scaling": None, "sliding_window": None,
                        "use_sliding_window": False, "max_window_layers": 2, "num_experts": 5},
         drop_config_keys=["num_local_experts"],
         notes="Qwen3MoeForCausalLM (prefix 'model.'), config.json in the Hub's (transformers 4) layout as "
               "Qwen/Qwen3-30B-A3B's: top-level rope_theta, rope_scaling null, torch_dtype, max_window_layers "
               "(not read by Qwen3-MoE), num_experts 5 where transformers 5 writes num_local_experts (its "
               "alias in Qwen3MoeConfig's attribute_map; qwen3_moe_norm keeps num_local_experts). 4 query "
               "heads over 2 kv heads, head_dim 12, q_norm/k_norm as qwen3. "
               "decoder_sparse_step 2: layer 0 has a dense MLP (mlp.gate_proj/up_proj/down_proj, "
               "intermediate_size 40), layer 1 a mixture of 5 experts (mlp.gate.weight the router, "
               "mlp.experts.E.gate_proj/up_proj/down_proj.weight, moe_intermediate_size 20), 3 per token, "
               "norm_topk_prob false: the top-3 softmax probabilities are used as they are (not summing to "
               "1). Router weights drawn N(0, 2.5²/32)."),
    dict(name="qwen3_moe_norm", family="qwen3_moe", cls=T.Qwen3MoeModel, seed=1373, tokenizer="qwen2",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Qwen3MoeConfig(vocab_size=140, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
                                 num_attention_heads=6, num_key_value_heads=3, head_dim=8, num_experts=4,
                                 num_experts_per_tok=2, moe_intermediate_size=24, norm_topk_prob=True,
                                 mlp_only_layers=[1], attention_bias=True, use_sliding_window=True,
                                 sliding_window=4, rope_theta=10000.0, max_position_embeddings=64),
         notes="Qwen3MoeModel (no prefix), 6 heads over 3 kv heads, head_dim 8, attention_bias true (q, k, v "
               "and o biases), use_sliding_window true with sliding_window 4 in every layer (Qwen3-MoE has no "
               "layer_types or max_window_layers: i - 4 < j <= i). mlp_only_layers [1]: layers 0 and 2 have "
               "4 experts, 2 per token, norm_topk_prob true (the two probabilities divided by their sum); "
               "layer 1 a dense MLP of intermediate_size 56. Router weights drawn N(0, 2.5²/48)."),

    dict(name="gpt_oss", family="gpt_oss", cls=T.GptOssForCausalLM, seed=1374, tokenizer="qwen2",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.GptOssConfig(vocab_size=140, hidden_size=32, intermediate_size=16, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=4,
                               num_local_experts=4, num_experts_per_tok=2, swiglu_limit=1.0, swiglu_alpha=1.5,
                               max_position_embeddings=64, tie_word_embeddings=False,
                               rope_parameters={"rope_type": "yarn", "factor": 4.0, "beta_fast": 8.0,
                                                "beta_slow": 1.0, "truncate": False, "rope_theta": 10000.0,
                                                "original_max_position_embeddings": 8}),
         notes="GptOssForCausalLM (prefix 'model.'): 4 query heads over 2 kv heads, head_dim 8, attention_bias "
               "(GptOssConfig's default true: q, k, v and o biases). Attention sinks: self_attn.sinks (4,) "
               "drawn N(1, 1.5²), one logit per head joining the softmax's denominator, so rows sum to less "
               "than 1. layer_types as GptOssConfig makes them (sliding on even layers): layer 0 a 4-token "
               "window (i - 4 < j <= i), layer 1 full causal. YaRN RoPE, factor 4 over "
               "original_max_position_embeddings 8 (the text is longer), beta_fast 8, truncate false. Each "
               "layer's MLP is a mixture of 4 experts, 2 per token: mlp.router.weight (4, 32) and its bias; "
               "mlp.experts.gate_up_proj (4, 32, 32) stored in x out with gate and up in alternate columns, "
               "gate_up_proj_bias, down_proj (4, 16, 32), down_proj_bias. Routing: top-2 router logits, "
               "softmax over those 2. Experts: (clamp(up, -L, L) + 1) * g * sigmoid(alpha * g), "
               "g = min(gate, L), with swiglu_limit L = 1 (so the clamp bites) and swiglu_alpha 1.5."),
    dict(name="gpt_oss_bf16", family="gpt_oss", cls=T.GptOssModel, seed=1375, tokenizer="qwen2",
         texts=["tokens attend to tokens; heads attend to heads."], dtype=torch.bfloat16,
         config=T.GptOssConfig(vocab_size=140, hidden_size=48, intermediate_size=24, num_hidden_layers=3,
                               num_attention_heads=6, num_key_value_heads=2, head_dim=8, sliding_window=3,
                               num_local_experts=5, num_experts_per_tok=3, max_position_embeddings=64,
                               layer_types=["full_attention", "sliding_attention", "full_attention"],
                               rope_parameters={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0,
                                                "beta_slow": 1.0, "truncate": False, "rope_theta": 20000.0,
                                                "original_max_position_embeddings": 4096}),
         legacy_config={"rope_theta": 20000.0,
                        "layer_types": ["full_attention", "sliding_attention", "full_attention"]},
         notes="GptOssModel (no prefix) saved in bfloat16, its numbers unquantized (the Hub's are MXFP4); "
               "config.json in the transformers 4 layout (torch_dtype, top-level rope_theta 20000) with neither "
               "rope_parameters nor rope_scaling: GptOssConfig's __post_init__ supplies YaRN (factor 32 over "
               "original_max_position_embeddings 4096, beta_fast 32, beta_slow 1, truncate false) and the "
               "top-level rope_theta is its θ. 6 heads (not a power of two) over 2 kv heads; "
               "layer_types [full, sliding, full] with "
               "sliding_window 3; 5 experts, 3 per token; swiglu_limit 7 and swiglu_alpha 1.702 "
               "(GptOssConfig's defaults, left out of the config class call); attention_bias true; sinks as in "
               "gpt_oss."),

    # ---- issue 22, encoders: cases of this group below (one section per group keeps merges apart)
    dict(name="xlm_roberta", family="xlm-roberta", cls=T.XLMRobertaForMaskedLM, seed=1360, tokenizer="roberta",
         texts=["attention is all you need, said the model.", "the cat sat on the mat."],
         config=T.XLMRobertaConfig(vocab_size=130, hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
                                   intermediate_size=80, max_position_embeddings=40, type_vocab_size=1,
                                   pad_token_id=1, bos_token_id=0, eos_token_id=2),
         notes="XLMRobertaForMaskedLM: tensors prefixed 'roberta.' (RoBERTa's names: embeddings.*, "
               "encoder.layer.N.attention.self.query/key/value, attention.output.dense/LayerNorm, "
               "intermediate.dense, output.dense/LayerNorm), plus lm_head.* (decoder weight tied, absent). "
               "RoBERTa's layer and positions (counted after pad_token_id 1: token i takes row i + 2). 6 heads "
               "of 8 (not a power of two). A batch of two texts of different lengths, right-padded with <pad>=1."),
    dict(name="electra", family="electra", cls=T.ElectraForPreTraining, seed=1361, tokenizer="wordpiece",
         texts=["The cat sat on the [MASK], sitting still."],
         config=T.ElectraConfig(vocab_size=120, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=64, max_position_embeddings=40),
         notes="ElectraForPreTraining (the discriminator): tensors prefixed 'electra.', plus "
               "discriminator_predictions.*. embedding_size 16 differs from hidden_size 32: the word, position "
               "and token type tables and embeddings.LayerNorm are 16 wide, and embeddings_project (32, 16) with "
               "its bias maps the normed embeddings to the hidden size; hidden[0] is after that projection (the "
               "input of layer 0). Then BERT's post-norm layer. token_type_ids 0 (row 0 added)."),
    dict(name="albert", family="albert", cls=T.AlbertForMaskedLM, seed=1362, tokenizer="wordpiece",
         texts=["every head looks at every token in the text."],
         config=T.AlbertConfig(vocab_size=120, embedding_size=16, hidden_size=48, num_hidden_layers=3,
                               num_attention_heads=3, intermediate_size=96, max_position_embeddings=40,
                               pad_token_id=0, bos_token_id=2, eos_token_id=3),
         notes="AlbertForMaskedLM: tensors prefixed 'albert.', plus predictions.* (the MLM head). Factorized "
               "embeddings: the tables and embeddings.LayerNorm are embedding_size 16 wide, "
               "encoder.embedding_hidden_mapping_in (48, 16) maps them to hidden_size 48 (hidden[0] is after "
               "it). One layer's weights, encoder.albert_layer_groups.0.albert_layers.0.* (attention.query/key/"
               "value/dense, attention.LayerNorm, ffn, ffn_output, full_layer_layer_norm), run 3 times "
               "(num_hidden_groups 1, inner_group_num 1, as the released ALBERTs): post-norm as BERT. 3 heads of "
               "16; hidden_act gelu_new (tanh), AlbertConfig's default."),
    dict(name="modernbert", family="modernbert", cls=T.ModernBertForMaskedLM, seed=1363, tokenizer="wordpiece",
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.ModernBertConfig(vocab_size=120, hidden_size=32, intermediate_size=40, num_hidden_layers=4,
                                   num_attention_heads=4, global_attn_every_n_layers=3, local_attention=6,
                                   global_rope_theta=1000.0, local_rope_theta=50.0, max_position_embeddings=64,
                                   pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2,
                                   sep_token_id=3),
         legacy_config={"global_attn_every_n_layers": 3, "global_rope_theta": 1000.0, "local_rope_theta": 50.0},
         notes="ModernBertForMaskedLM: tensors prefixed 'model.', plus head.* and decoder.bias (decoder weight "
               "tied, absent). config.json in the Hub's (transformers 4) layout, as answerdotai/ModernBERT-base's: "
               "global_attn_every_n_layers 3, global_rope_theta 1000, local_rope_theta 50, local_attention 6, no "
               "layer_types, no rope_parameters. Layers 0 and 3 are global (every key; RoPE base 1000), layers 1 "
               "and 2 local: query i sees key j iff |i - j| <= local_attention // 2 = 3 (shorter than the text; "
               "RoPE base 50). Pre-norm; layer 0 has no attn_norm (nn.Identity: the embeddings' norm precedes "
               "it); LayerNorms without biases (norm_bias false), no biases on Wqkv, Wo, Wi, mlp.Wo "
               "(attention_bias, mlp_bias false). Wqkv (3d, d): its output viewed as (3, heads, head_dim) "
               "-> q, k, v. Wi (2 * intermediate, d): act(first half) * second half (GeGLU, gelu erf). "
               "hidden[L] is after final_norm."),
    dict(name="modernbert_batch", family="modernbert", cls=T.ModernBertModel, seed=1364, tokenizer="wordpiece",
         texts=["the quick brown fox jumps over the lazy dog!", "a cat ran."],
         config=T.ModernBertConfig(vocab_size=120, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
                                   num_attention_heads=6, local_attention=5, max_position_embeddings=64,
                                   layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                                   rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 2000.0},
                                                    "sliding_attention": {"rope_type": "default",
                                                                          "rope_theta": 100.0}},
                                   attention_bias=True, mlp_bias=True, norm_bias=True, norm_eps=1e-6,
                                   pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2,
                                   sep_token_id=3),
         notes="ModernBertModel (no prefix), config.json in the transformers 5 layout: layer_types [sliding, "
               "full, sliding] (which decides; global_attn_every_n_layers 3 beside it would make layer 0 global) "
               "and rope_parameters {full_attention: rope_theta 2000, sliding_attention: rope_theta 100}. "
               "local_attention 5 (odd): local layers see |i - j| <= 5 // 2 = 2. attention_bias, mlp_bias and "
               "norm_bias true (every LayerNorm, Wqkv, Wo, Wi and mlp.Wo has a bias), norm_eps 1e-6, 6 heads of "
               "8. A batch of two texts of different lengths, right-padded with [PAD]=0 (eager attention with "
               "the padding mask, no unpadding)."),

    # ---- issue 22, deberta: cases of this group below (one section per group keeps merges apart)
    #
    dict(name="deberta_v3", family="deberta-v2", cls=T.DebertaV2Model, seed=1340, tokenizer="spm_deberta",
         texts=["the cat sat on the mat and the dog ran in the park."],
         config=T.DebertaV2Config(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64, type_vocab_size=0,
                                  relative_attention=True, max_relative_positions=-1, position_buckets=8,
                                  pos_att_type="p2c|c2p", share_att_key=True, norm_rel_ebd="layer_norm",
                                  position_biased_input=False, layer_norm_eps=1e-7, hidden_act="gelu"),
         spm_config={"do_lower_case": False, "vocab_type": "spm"}, spm_class="DebertaV2Tokenizer",
         spm_variants=[{"add_prefix_space": False}, {"do_lower_case": True, "split_by_punct": True,
                                                      "add_prefix_space": False},
                       {"mask_token": "[MSK]"}, {"unk_token": "[PAD]"}],
         notes="DebertaV2Model (no prefix) in DeBERTa-v3's layout: relative_attention, pos_att_type p2c|c2p, "
               "share_att_key (the positions go through each layer's own query_proj/key_proj, biases "
               "included), norm_rel_ebd layer_norm (encoder.LayerNorm on encoder.rel_embeddings), "
               "position_biased_input false (no absolute positions), type_vocab_size 0 (no token types). "
               "position_buckets 8 with max_relative_positions -1, so max_position_embeddings (64) is M: "
               "distances |i - j| >= 4 are log-bucketed (the text has 28 tokens), the table has 16 rows. "
               "Scale 1/sqrt(8 * 3). The tokenizer is a SentencePiece spm.model (unigram, trained on the "
               "corpus) with tokenizer_config.json {do_lower_case: false, vocab_type: spm} as "
               "microsoft/deberta-v3-base ships it (no tokenizer.json; the class comes from model_type); "
               "ids from transformers' DebertaV2Tokenizer. buckets.npz: transformers' "
               "make_log_bucket_position over -1100..1100 for (256, 512), DeBERTa-v3's, and (8, 64)."),
    dict(name="deberta_v3_pos_proj", family="deberta-v2", cls=T.DebertaV2ForMaskedLM, seed=1341,
         tokenizer="spm_deberta",
         texts=["Attention is all you need, said the model.", "A dog ran!"],
         config=T.DebertaV2Config(vocab_size=128, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                                  intermediate_size=64, max_position_embeddings=40, type_vocab_size=2,
                                  relative_attention=True, max_relative_positions=6, pos_att_type=["c2p", "p2c"],
                                  share_att_key=False, position_biased_input=True, layer_norm_eps=1e-7,
                                  hidden_act="gelu"),
         spm_config={"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": True, "split_by_punct": True},
         spm_class="DebertaV2Tokenizer",
         notes="DebertaV2ForMaskedLM (prefix 'deberta.', plus the legacy MLM head lm_predictions.*) with "
               "share_att_key false: each layer has its own pos_key_proj (c2p) and pos_query_proj (p2c). "
               "No position_buckets (absent: -1) and max_relative_positions 6: relative positions i - j "
               "unbucketed, clamped to the 12-row table (rel_embeddings, not normed: norm_rel_ebd absent, "
               "'none'). position_biased_input true: the absolute position table is added too; "
               "type_vocab_size 2 (row 0 added). 3 heads of 12. A batch of two texts, right-padded with "
               "[PAD] = 0. tokenizer_config.json names DebertaV2Tokenizer with do_lower_case and "
               "split_by_punct."),
    dict(name="deberta_v2_absolute", family="deberta-v2", cls=T.DebertaV2Model, seed=1342, tokenizer="spm_deberta",
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.DebertaV2Config(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=40, type_vocab_size=0,
                                  relative_attention=False, pos_att_type=["p2c", "c2p"], layer_norm_eps=1e-7,
                                  hidden_act="gelu"),
         spm_config={"do_lower_case": False, "vocab_type": "spm"}, spm_class="DebertaV2Tokenizer",
         notes="DebertaV2Model with relative_attention false (DebertaV2Config's default): no rel_embeddings, no "
               "c2p or p2c terms, but pos_att_type [p2c, c2p] still sets the scale to 1/sqrt(16 * 3) "
               "(DisentangledSelfAttention counts the terms before it looks at relative_attention); "
               "position_biased_input true (the default): learned absolute positions. share_att_key, "
               "position_buckets and norm_rel_ebd are absent (nothing reads them without relative "
               "attention)."),
    dict(name="llama_spm", family="llama", cls=T.LlamaModel, seed=1343, tokenizer="spm_llama",
         texts=["every head looks at every token in the text."],
         config=T.LlamaConfig(vocab_size=384, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False),
         spm_config={"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                     "legacy": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                     "pad_token": "</s>"},
         spm_class="LlamaTokenizer",
         spm_variants=[{"tokenizer_class": "LlamaTokenizer"},
                       {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "legacy": True},
                       {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_prefix_space": False},
                       {"tokenizer_class": "LlamaTokenizer", "add_eos_token": True}],
         notes="LlamaModel whose tokenizer is a SentencePiece BPE tokenizer.model (byte fallback) with Llama-2's "
               "tokenizer_config.json (LlamaTokenizer, add_bos_token true, legacy false) and no "
               "tokenizer.json; ids from transformers' LlamaTokenizer, which builds BPE merges from the "
               "vocabulary (generate_merges) and puts <s> first."),

    # ---- issue 22, predict: cases of this group below (one section per group keeps merges apart)
    # Each saved from its *ForCausalLM / *ForMaskedLM class and run by it (logits=True): expected.npz adds
    # logits (B, n, vocab), top_ids (B, n, 5) (torch.topk of the logits) and, for the decoders, loss (B,):
    # transformers' labels= loss of each text run alone (labels = its ids: the mean next-token cross-entropy).
    dict(name="gpt2_lm", family="gpt2", cls=T.GPT2LMHeadModel, seed=1340, tokenizer="gpt2", logits=True,
         texts=["the cat sat on the mat and the dog ran."],
         config=T.GPT2Config(vocab_size=130, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=64,
                             bos_token_id=None, eos_token_id=None),
         notes="GPT2LMHeadModel, tie_word_embeddings true: lm_head.weight is transformer.wte.weight (absent "
               "from the file); logits = ln_f(h) . wte^T, no bias."),
    dict(name="llama_lm", family="llama", cls=T.LlamaForCausalLM, seed=1341, tokenizer="llama", logits=True,
         texts=["every head looks at every token in the text.", "the cat sat."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False, pad_token_id=2),
         notes="LlamaForCausalLM, tie_word_embeddings false: its own lm_head.weight (vocab, d) in the file. A "
               "batch of two texts, right-padded with id 2: logits and loss compared on each text's valid "
               "positions (loss is each text run alone)."),
    dict(name="mistral_lm", family="mistral", cls=T.MistralForCausalLM, seed=1342, tokenizer="llama", logits=True,
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.MistralConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, sliding_window=4,
                                rope_theta=10000.0, max_position_embeddings=64, tie_word_embeddings=True),
         notes="MistralForCausalLM, tie_word_embeddings true (lm_head.weight absent: the embeddings), "
               "sliding_window 4 shorter than the text."),
    dict(name="qwen2_lm", family="qwen2", cls=T.Qwen2ForCausalLM, seed=1343, tokenizer="qwen2", logits=True,
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.Qwen2Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                              max_position_embeddings=64, tie_word_embeddings=False),
         notes="Qwen2ForCausalLM, tie_word_embeddings false: its own lm_head.weight."),
    dict(name="qwen3_lm", family="qwen3", cls=T.Qwen3ForCausalLM, seed=1344, tokenizer="qwen2", logits=True,
         texts=["small models make small files, and tests stay fast."],
         config=T.Qwen3Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=12, rope_theta=1000000.0,
                              max_position_embeddings=64, tie_word_embeddings=True),
         notes="Qwen3ForCausalLM, tie_word_embeddings true (as Qwen/Qwen3-0.6B): lm_head.weight absent, the "
               "embeddings are the output weight; q/k norms."),
    dict(name="bloom_lm", family="bloom", cls=T.BloomForCausalLM, seed=1345, tokenizer="bloom", logits=True,
         texts=["a dog ran in the park and the cat sat still."],
         config=T.BloomConfig(vocab_size=120, hidden_size=48, n_layer=2, n_head=6, bos_token_id=1,
                              eos_token_id=2, pad_token_id=3),
         notes="BloomForCausalLM, tie_word_embeddings true: lm_head.weight is transformer.word_embeddings."),
    dict(name="bert_mlm", family="bert", cls=T.BertForMaskedLM, seed=1346, tokenizer="wordpiece", logits=True,
         texts=["the cat sat on the [MASK], and the [MASK] ran in the park."],
         config=T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, max_position_embeddings=40, tie_word_embeddings=True),
         notes="BertForMaskedLM: the MLM head cls.predictions: transform.dense, the activation hidden_act "
               "(gelu), transform.LayerNorm (eps layer_norm_eps), then the decoder tied to the word embeddings "
               "(absent from the file) plus cls.predictions.bias. Two [MASK] tokens in the text."),
    dict(name="roberta_mlm", family="roberta", cls=T.RobertaForMaskedLM, seed=1347, tokenizer="roberta",
         logits=True, texts=["attention is all you <mask>, said the model."],
         config=T.RobertaConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=64, max_position_embeddings=40, type_vocab_size=1,
                                pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu_new",
                                tie_word_embeddings=True),
         notes="RobertaForMaskedLM: lm_head.dense, gelu (erf; fixed in RobertaLMHead, whatever hidden_act "
               "says: gelu_new here, which the layers' MLP uses), lm_head.layer_norm, the decoder tied to the "
               "word embeddings, lm_head.bias. One <mask> in the text."),
    dict(name="distilbert_mlm", family="distilbert", cls=T.DistilBertForMaskedLM, seed=1348, tokenizer="wordpiece",
         logits=True, texts=["every [MASK] looks at every token!"],
         config=T.DistilBertConfig(vocab_size=110, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                   max_position_embeddings=40, tie_word_embeddings=True),
         notes="DistilBertForMaskedLM: vocab_transform, the activation (gelu), vocab_layer_norm (eps 1e-12, "
               "fixed), vocab_projector tied to the word embeddings (its bias vocab_projector.bias in the file)."),
    dict(name="bert_pair", family="bert", cls=T.BertForMaskedLM, seed=1349, tokenizer="wordpiece", logits=True,
         texts=["the cat sat on the mat."], pairs=["a dog ran in the [MASK]."],
         config=T.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, max_position_embeddings=40, type_vocab_size=2),
         notes="BertForMaskedLM given a sentence pair: tokenizer(text, pair) gives [CLS] A [SEP] B [SEP] with "
               "token_type_ids 0 over [CLS] A [SEP] and 1 over B [SEP] (the template's $B:1 [SEP]:1); the "
               "embeddings add token_type_embeddings row 0 or 1 by type. One [MASK] in B."),

    # ---- issue 22, hub: cases of this group below (one section per group keeps merges apart)
    #
    dict(name="llama_fp8", family="llama", cls=T.LlamaForCausalLM, seed=1380, tokenizer="llama",
         texts=["small models make small files, and tests stay fast."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=False, pad_token_id=2),
         fp8_block=[16, 8],
         notes="An FP8 checkpoint as transformers' FineGrainedFP8Config writes one: every q/k/v/o_proj and "
               "gate/up/down_proj weight of the layers is stored as F8_E4M3 beside its weight_scale_inv (F32, "
               "one scale per 16 x 8 block: rows/16 x cols/8), quantized here as Fp8Quantize does (scale = "
               "448 / the block's largest |w|, w * scale clamped to +-448 and cast to float8_e4m3fn, "
               "weight_scale_inv = 1 / scale); embeddings, norms and lm_head stay F32. config.json has "
               "quantization_config {quant_method: fp8, weight_block_size: [16, 8], activation_scheme: "
               "dynamic}. The reference is transformers' own load on CPU, which dequantizes (Fp8Dequantize: "
               "fp8 -> float32 times the block's scale); the in-memory model is given torch's fp8 * scale "
               "weights before the reload check."),

    # ---- issue 22, hooks: what each layer's attention saw (seen.npz: q, k, v, scores), as forward hooks read it
    dict(name="llama_seen", family="llama", cls=T.LlamaModel, seed=1341, tokenizer="llama", seen=True,
         texts=["every head looks at every token in the text.", "a cat ran."],
         config=T.LlamaConfig(vocab_size=128, hidden_size=36, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=6, num_key_value_heads=2, head_dim=8, rope_theta=500.0,
                              max_position_embeddings=64, pad_token_id=2),
         notes="LlamaModel, 6 query heads over 2 kv heads (query head h reads kv head h // 3), RoPE θ 500, a batch "
               "of two texts right-padded with id 2. seen.npz holds what transformers' attention function "
               "receives and computes for each layer (captured by a registered attention function that calls "
               "the model's own eager_attention_forward): q (L, B, H, n, hd) after RoPE, k and v (L, B, G, n, "
               "hd) after RoPE (k) and before repeat_kv, scores (L, B, H, n, n) = q·kᵀ·scaling + the additive "
               "mask (finfo(float32).min where masked), the values before the softmax."),
    dict(name="qwen3_seen", family="qwen3", cls=T.Qwen3Model, seed=1342, tokenizer="qwen2", seen=True,
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Qwen3Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, head_dim=8, rope_theta=10000.0,
                              max_position_embeddings=64, use_sliding_window=True, sliding_window=4,
                              layer_types=["sliding_attention", "full_attention"]),
         notes="Qwen3Model: q and k after q_norm / k_norm and RoPE; layer 0 has a 4-token sliding window (its "
               "scores are masked outside it), layer 1 is full causal. seen.npz as in llama_seen."),
    dict(name="gpt2_seen", family="gpt2", cls=T.GPT2Model, seed=1343, tokenizer="gpt2", seen=True,
         texts=["the cat sat on the mat."],
         config=T.GPT2Config(vocab_size=120, n_embd=32, n_layer=2, n_head=4, n_positions=40,
                             scale_attn_by_inverse_layer_idx=True),
         notes="GPT2Model with scale_attn_by_inverse_layer_idx: layer l's scores are scaled by 1/(√hd·(l+1)). "
               "Fused c_attn split into q, k, v. seen.npz as in llama_seen (no RoPE)."),
    dict(name="bert_seen", family="bert", cls=T.BertModel, seed=1344, tokenizer="wordpiece", seen=True,
         texts=["the quick brown fox jumps over the lazy dog!", "a cat ran."],
         config=T.BertConfig(vocab_size=120, hidden_size=36, num_hidden_layers=2, num_attention_heads=3,
                             intermediate_size=64, max_position_embeddings=40),
         notes="BertModel, 3 heads of 12, a padded batch of two texts: the padded keys are masked in the second "
               "text's scores. seen.npz as in llama_seen."),

    # ---- issue 22, heads: the LM / MLM head of each family that landed without one, saved from its *ForCausalLM /
    # *ForMaskedLM class with logits=True (expected.npz as predict's cases: logits, top_ids, loss for the decoders)
    dict(name="gpt_neox_lm", family="gpt_neox", cls=T.GPTNeoXForCausalLM, seed=1390, tokenizer="gpt2", logits=True,
         texts=["the quick brown fox jumps over the lazy dog!", "a cat ran."],
         config=T.GPTNeoXConfig(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                                num_attention_heads=3, max_position_embeddings=64, rotary_pct=0.25,
                                rotary_emb_base=10000, bos_token_id=None, eos_token_id=None, pad_token_id=0),
         notes="GPTNeoXForCausalLM, tie_word_embeddings false (GPTNeoXConfig's default): the output weight is "
               "embed_out.weight (Pythia's name, as save_pretrained writes it; transformers 5 loads it as "
               "lm_head.weight), no bias. A batch of two texts right-padded with <|endoftext|>."),
    dict(name="phi_lm", family="phi", cls=T.PhiForCausalLM, seed=1391, tokenizer="qwen2", logits=True,
         texts=["tokens attend to tokens; heads attend to heads."],
         config=T.PhiConfig(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=4, max_position_embeddings=64, qk_layernorm=True,
                            bos_token_id=None, eos_token_id=None),
         notes="PhiForCausalLM, tie_word_embeddings false (PhiConfig's default): lm_head.weight and lm_head.bias "
               "(Phi's head has a bias). qk_layernorm true."),
    dict(name="gemma_lm", family="gemma", cls=T.GemmaForCausalLM, seed=1392, tokenizer="llama", logits=True,
         texts=["small models make small files, and tests stay fast."],
         config=T.GemmaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=12, rope_theta=10000.0,
                              max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2),
         drop_config_keys=["tie_word_embeddings"],
         notes="GemmaForCausalLM with tie_word_embeddings left out of config.json (GemmaConfig's default, true): "
               "the output weight is the word embeddings (lm_head.weight absent), no bias, no soft-capping."),
    dict(name="gemma2_lm", family="gemma2", cls=T.Gemma2ForCausalLM, seed=1393, tokenizer="llama", logits=True,
         texts=["the quick brown fox jumps over the lazy dog and the cat sat still."],
         config=T.Gemma2Config(vocab_size=128, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                               num_attention_heads=6, num_key_value_heads=3, head_dim=16, rope_theta=10000.0,
                               max_position_embeddings=64, query_pre_attn_scalar=20, attn_logit_softcapping=2.0,
                               sliding_window=4, pad_token_id=2, bos_token_id=1, eos_token_id=2),
         drop_config_keys=["final_logit_softcapping"],
         notes="Gemma2ForCausalLM, tied (tie_word_embeddings true). final_logit_softcapping is left out of "
               "config.json: Gemma2Config's default 30.0 applies, logits = 30 * tanh(z / 30) (the raw z reach "
               "about 30 here, so the capping moves them by far more than the tolerance)."),
    dict(name="gemma3_text_lm", family="gemma3_text", cls=T.Gemma3ForCausalLM, seed=1394, tokenizer="llama",
         logits=True, texts=["every head looks at every token in the text."],
         config=T.Gemma3TextConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                   max_position_embeddings=64, query_pre_attn_scalar=24, sliding_window=4,
                                   final_logit_softcapping=3.0, tie_word_embeddings=False,
                                   pad_token_id=0, bos_token_id=1, eos_token_id=2),
         notes="Gemma3ForCausalLM, tie_word_embeddings false: its own lm_head.weight. final_logit_softcapping 3.0 "
               "(Gemma3TextConfig's default is null): logits = 3 * tanh(z / 3), which bites."),
    dict(name="gemma3_lm", family="gemma3", cls=T.Gemma3ForConditionalGeneration, seed=1403, tokenizer="llama",
         logits=True, texts=["the cat sat on the mat and the dog ran."],
         config=T.Gemma3Config(
             text_config=T.Gemma3TextConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                            head_dim=8, max_position_embeddings=64, sliding_window=3,
                                            tie_word_embeddings=True, pad_token_id=0, bos_token_id=1,
                                            eos_token_id=2),
             vision_config=T.SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                num_attention_heads=2, image_size=28, patch_size=14,
                                                vision_use_head=False),
             mm_tokens_per_image=4, boi_token_index=125, eoi_token_index=126, image_token_index=127,
             tie_word_embeddings=False),
         prefix="language_model.model.", prefix_found="",
         notes="Gemma3ForConditionalGeneration (model_type gemma3) whose config.json says tie_word_embeddings "
               "false at its top level (Gemma3Config's key, which decides for this class) and true in its "
               "text_config (which it does not read): its own lm_head.weight is the output weight. No "
               "soft-capping (this class applies none). The reference for the maps is AutoModel (Gemma3Model)."),
    dict(name="olmo2_lm", family="olmo2", cls=T.Olmo2ForCausalLM, seed=1395, tokenizer="qwen2", logits=True,
         texts=["attention is all you need, said the model."],
         config=T.Olmo2Config(vocab_size=140, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                              max_position_embeddings=64, tie_word_embeddings=True,
                              pad_token_id=0, bos_token_id=None, eos_token_id=None),
         notes="Olmo2ForCausalLM with tie_word_embeddings true (Olmo2Config's default is false): the output "
               "weight is the word embeddings."),
    dict(name="mixtral_lm", family="mixtral", cls=T.MixtralForCausalLM, seed=1396, tokenizer="llama", logits=True,
         texts=["a dog ran in the park and the cat sat still.", "the cat sat."],
         config=T.MixtralConfig(vocab_size=128, hidden_size=32, intermediate_size=24, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                                num_experts_per_tok=2, rope_theta=10000.0, max_position_embeddings=64,
                                tie_word_embeddings=False, pad_token_id=2),
         notes="MixtralForCausalLM, its own lm_head.weight; the loss is the plain cross-entropy "
               "(output_router_logits false: no auxiliary loss). A batch of two texts right-padded with </s>=2."),
    dict(name="qwen3_moe_lm", family="qwen3_moe", cls=T.Qwen3MoeForCausalLM, seed=1397, tokenizer="qwen2",
         logits=True, texts=["the quick brown fox jumps over the lazy dog!"],
         config=T.Qwen3MoeConfig(vocab_size=140, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_experts=4,
                                 num_experts_per_tok=2, moe_intermediate_size=20, norm_topk_prob=True,
                                 rope_theta=10000.0, max_position_embeddings=64, tie_word_embeddings=True),
         notes="Qwen3MoeForCausalLM, tie_word_embeddings true: the output weight is the word embeddings."),
    dict(name="gpt_oss_lm", family="gpt_oss", cls=T.GptOssForCausalLM, seed=1398, tokenizer="qwen2", logits=True,
         texts=["small models make small files, and tests stay fast."],
         config=T.GptOssConfig(vocab_size=140, hidden_size=32, intermediate_size=16, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=4,
                               num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=64,
                               rope_parameters={"rope_type": "yarn", "factor": 4.0, "beta_fast": 8.0,
                                                "beta_slow": 1.0, "truncate": False, "rope_theta": 10000.0,
                                                "original_max_position_embeddings": 8}),
         notes="GptOssForCausalLM, tie_word_embeddings false (GptOssConfig's default): its own lm_head.weight; "
               "sinks, windows, YaRN and experts as in the gpt_oss case."),
    dict(name="xlm_roberta_mlm", family="xlm-roberta", cls=T.XLMRobertaForMaskedLM, seed=1399, tokenizer="roberta",
         logits=True, texts=["attention is all you <mask>, said the <mask>."],
         config=T.XLMRobertaConfig(vocab_size=130, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=40, type_vocab_size=1,
                                   pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu_new"),
         notes="XLMRobertaForMaskedLM: lm_head.dense, gelu (erf, fixed in XLMRobertaLMHead whatever hidden_act "
               "says: gelu_new here), lm_head.layer_norm, the decoder tied to the word embeddings (absent), "
               "lm_head.bias. Two <mask> tokens."),
    dict(name="electra_mlm", family="electra", cls=T.ElectraForMaskedLM, seed=1400, tokenizer="wordpiece",
         logits=True, texts=["the cat sat on the [MASK], and the dog ran in the [MASK]."],
         config=T.ElectraConfig(vocab_size=120, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=64, max_position_embeddings=40,
                                hidden_act="gelu_new"),
         notes="ElectraForMaskedLM (the generator): generator_predictions.dense (16, 32) maps the hidden size "
               "32 to embedding_size 16, then gelu (erf, fixed in ElectraGeneratorPredictions whatever "
               "hidden_act says: gelu_new here), generator_predictions.LayerNorm (16), then generator_lm_head "
               "(120, 16) tied to the word embeddings (absent) plus generator_lm_head.bias. Two [MASK] tokens."),
    dict(name="albert_mlm", family="albert", cls=T.AlbertForMaskedLM, seed=1401, tokenizer="wordpiece",
         logits=True, texts=["every [MASK] looks at every token in the text."],
         config=T.AlbertConfig(vocab_size=120, embedding_size=16, hidden_size=48, num_hidden_layers=2,
                               num_attention_heads=4, intermediate_size=96, max_position_embeddings=40,
                               pad_token_id=0, bos_token_id=2, eos_token_id=3),
         notes="AlbertForMaskedLM: predictions.dense (16, 48) to embedding_size 16, hidden_act (gelu_new, "
               "AlbertConfig's default), predictions.LayerNorm (16), predictions.decoder (120, 16) tied to the "
               "word embeddings (absent) plus predictions.bias (the decoder's bias is tied to it)."),
    dict(name="modernbert_mlm", family="modernbert", cls=T.ModernBertForMaskedLM, seed=1402, tokenizer="wordpiece",
         logits=True, texts=["the quick brown fox jumps over the [MASK] dog!"],
         config=T.ModernBertConfig(vocab_size=120, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                                   num_attention_heads=4, local_attention=4, max_position_embeddings=64,
                                   classifier_activation="silu", classifier_bias=True, decoder_bias=True,
                                   pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2,
                                   sep_token_id=3),
         notes="ModernBertForMaskedLM: head.dense with its bias (classifier_bias true; ModernBertConfig's default "
               "is false), classifier_activation silu (its default is gelu), head.norm without bias (norm_bias "
               "false), then decoder tied to the word embeddings (absent) plus decoder.bias (decoder_bias true)."),
    dict(name="deberta_v3_mlm", family="deberta-v2", cls=T.DebertaV2ForMaskedLM, seed=1404, tokenizer="spm_deberta",
         logits=True, texts=["the cat sat on the [MASK] and the dog ran in the [MASK]."],
         config=T.DebertaV2Config(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64, type_vocab_size=0,
                                  relative_attention=True, max_relative_positions=-1, position_buckets=8,
                                  pos_att_type="p2c|c2p", share_att_key=True, norm_rel_ebd="layer_norm",
                                  position_biased_input=False, layer_norm_eps=1e-7, hidden_act="gelu",
                                  legacy=False, tie_word_embeddings=False),
         spm_config={"do_lower_case": False, "vocab_type": "spm"}, spm_class="DebertaV2Tokenizer",
         notes="DebertaV2ForMaskedLM with legacy false: the head microsoft/deberta-v3-* ship, "
               "lm_predictions.lm_head.dense, gelu (hidden_act), lm_predictions.lm_head.LayerNorm, then times the "
               "word embeddings (always: this head reads them itself, whatever tie_word_embeddings says; false "
               "here) plus lm_predictions.lm_head.bias. DeBERTa-v3's attention as deberta_v3. Two [MASK]s."),
    dict(name="deberta_v2_mlm", family="deberta-v2", cls=T.DebertaV2ForMaskedLM, seed=1405, tokenizer="spm_deberta",
         logits=True, texts=["every [MASK] looks at every token in the text."],
         config=T.DebertaV2Config(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=40, type_vocab_size=0,
                                  relative_attention=True, max_relative_positions=8, pos_att_type=["c2p", "p2c"],
                                  layer_norm_eps=1e-7, hidden_act="gelu_new"),
         spm_config={"do_lower_case": False, "vocab_type": "spm"}, spm_class="DebertaV2Tokenizer",
         notes="DebertaV2ForMaskedLM with legacy true (DebertaV2Config's default, in config.json): BERT's head "
               "cls.predictions.transform.dense, hidden_act (gelu_new), transform.LayerNorm, then the decoder tied "
               "to the word embeddings (absent) plus cls.predictions.bias."),
]


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------


QK_NAMES = {"query", "key", "q_lin", "k_lin", "q_proj", "k_proj", "c_attn", "query_key_value", "Wqkv",
            "query_proj", "key_proj", "pos_key_proj", "pos_query_proj",
            "qkv_proj"}


def redraw(model: torch.nn.Module, seed: int, embed_std: float = 1.0) -> None:
    """Every parameter from a seeded normal (see the module docstring); fails on a parameter it does not know."""
    from transformers.pytorch_utils import Conv1D

    g = torch.Generator().manual_seed(seed)

    def normal(p: torch.Tensor, mean: float, std: float) -> None:
        with torch.no_grad():
            p.copy_(mean + std * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))

    done: set[int] = set()
    # embeddings first, so that a tied lm_head keeps the embedding's draw
    order = sorted(model.named_modules(), key=lambda kv: (not isinstance(kv[1], torch.nn.Embedding), kv[0]))
    for mname, m in order:
        own = dict(m.named_parameters(recurse=False))
        if not own:
            continue
        kind = type(m).__name__
        # query/key projections (and the fused ones) 1.5x wider: attention rows far from uniform
        gain = 1.5 if mname.rsplit(".", 1)[-1] in QK_NAMES else 1.0
        for pname, p in sorted(own.items()):
            if id(p) in done:  # tied (lm_head.weight is the embedding)
                continue
            if isinstance(m, torch.nn.Embedding):
                normal(p, 0.0, embed_std)
            elif isinstance(m, torch.nn.Linear):
                normal(p, 0.0, 0.2) if pname == "bias" else normal(p, 0.0, gain / math.sqrt(m.in_features))
            elif isinstance(m, Conv1D):  # weight (in, out)
                normal(p, 0.0, 0.2) if pname == "bias" else normal(p, 0.0, gain / math.sqrt(p.shape[0]))
            elif isinstance(m, torch.nn.LayerNorm) or kind.endswith("RMSNorm"):
                normal(p, 0.0, 0.2) if pname == "bias" else normal(p, 1.0, 0.2)
            elif kind.endswith("TopKRouter"):  # a mixture of experts' router: weight (E, d), gpt-oss's bias (E,)
                normal(p, 0.0, 0.2) if pname == "bias" else normal(p, 0.0, 2.5 / math.sqrt(p.shape[1]))
            elif kind.endswith("Experts"):  # fused (E, ...) expert weights: fan-in the hidden size or the width
                fan_in = (getattr(m, "hidden_dim", None) or m.hidden_size) if pname.startswith("gate_up") else \
                    (getattr(m, "intermediate_dim", None) or m.intermediate_size)
                normal(p, 0.0, 0.2) if pname.endswith("bias") else normal(p, 0.0, 1 / math.sqrt(fan_in))
            elif pname == "sinks":  # gpt-oss's per-head sink logits: large enough to take a visible share
                normal(p, 1.0, 1.5)
            elif pname == "bias" and p.ndim == 1:  # e.g. the MLM head's output bias
                normal(p, 0.0, 0.2)
            elif kind in ("Conv2d", "Gemma3MultiModalProjector"):  # gemma3's vision tower: not compared
                normal(p, 0.0, 0.02)
            else:
                raise AssertionError(f"redraw: unknown parameter {kind}.{pname}")
            done.add(id(p))
    assert done == {id(p) for p in model.parameters()}


def tie_experts(model: torch.nn.Module, experts: list[int]) -> None:
    """Routing ties: in every router, the rows of `experts` become copies of the first one's."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gate.weight", "router.weight")) and p.ndim == 2:
                p[experts[1:]] = p[experts[0]].clone()


def check_tie(model: torch.nn.Module, ids: np.ndarray, experts: list[int]) -> None:
    """Some token's top-k (torch.topk, as the router runs it) among tied experts differs from the lowest index
    first: the case tests the tie-breaking, not only that ties exist."""
    seen: list[bool] = []

    def hook(module, args, out):
        probs = torch.softmax(out[0].float(), dim=-1)  # (tokens, E)
        # exactly equal probabilities (torch's softmax computes vector lanes and a tail differently: with a
        # number of experts that is not a multiple of the vector width, equal logits can differ by an ulp)
        assert all(torch.equal(probs[:, experts[0]], probs[:, e]) for e in experts[1:]), "softmax split a tie"
        k = module.top_k
        _, idx = torch.topk(probs, k, dim=-1)
        lowest = np.argsort(-probs.numpy(), axis=-1, kind="stable")[:, :k]
        seen.append(any(set(a) != set(b) for a, b in zip(idx.numpy().tolist(), lowest.tolist(), strict=True)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if type(m).__name__.endswith("TopKRouter")]
    with torch.no_grad():
        model(input_ids=torch.from_numpy(ids))
    for h in handles:
        h.remove()
    assert any(seen), f"no token's top-k among the tied experts {experts} differs from lowest-index-first"


def spm_variants(folder: Path, variants: list[dict]) -> list:
    """[tokenizer_config.json, [[text, ids], ...]] for each variant of the case's tokenizer_config.json: the same
    SentencePiece model and config.json in a scratch folder, ids from transformers' AutoTokenizer."""
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("config.json", "spm.model", "tokenizer.model"):
            if (folder / name).is_file():
                shutil.copy(folder / name, Path(scratch) / name)
        for variant in variants:
            (Path(scratch) / "tokenizer_config.json").write_text(json.dumps(variant))
            hf = transformers.AutoTokenizer.from_pretrained(scratch)
            out.append([variant, [[t, hf(t)["input_ids"]] for t in SPM_CHECKS]])
    return out


def tensor_names(path: Path) -> dict[str, tuple[list[int], str]]:
    with safe_open(str(path), "np") as f:
        return {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}


def encode(c: dict, folder: Path) -> tuple[np.ndarray, np.ndarray, list[list[int]], list[str]]:
    """input_ids, attention_mask (B, n) from transformers' tokenizer, checked against tokenizers' encode."""
    if c["tokenizer"] in SPM_TOKENIZERS:  # transformers' own class for the folder (AutoTokenizer), its backend
        hf = transformers.AutoTokenizer.from_pretrained(folder)
        assert type(hf).__name__ == c["spm_class"], type(hf)
        backend = hf.backend_tokenizer
    else:
        path = folder / "tokenizer.json"
        backend = Tokenizer.from_file(str(path))
        hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(path), **TOKENIZERS[c["tokenizer"]][1])
    if c.get("pairs"):  # sentence pairs (predict's cases): ids and token types as the pair template says
        pairs = list(zip(c["texts"], c["pairs"], strict=True))
        encs = [backend.encode(a, b, add_special_tokens=True) for a, b in pairs]
        for (a, b), e in zip(pairs, encs, strict=True):
            got = hf(a, b, return_token_type_ids=True)
            assert got["input_ids"] == e.ids and got["token_type_ids"] == e.type_ids, (c["name"], a, b)
        batch = hf([a for a, _ in pairs], [b for _, b in pairs], padding=True, return_token_type_ids=True,
                   return_tensors="np")
        c["_types"] = batch["token_type_ids"].astype(np.int64)
        seqs = [e.ids for e in encs]
        ids, mask = batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)
        added = [backend.id_to_token(i) for i in seqs[0] if backend.id_to_token(i) in
                 {t.content for t in backend.get_added_tokens_decoder().values() if t.special}]
    elif c.get("texts"):
        seqs = [backend.encode(t, add_special_tokens=True).ids for t in c["texts"]]
        for t, s in zip(c["texts"], seqs, strict=True):
            assert hf(t)["input_ids"] == s, (c["name"], t, hf(t)["input_ids"], s)
        batch = hf(c["texts"], padding=True, return_tensors="np")
        ids, mask = batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)
        added = [backend.id_to_token(i) for i in seqs[0] if backend.id_to_token(i) in
                 {t.content for t in backend.get_added_tokens_decoder().values() if t.special}]
    else:
        seqs = c["ids"]
        n = max(map(len, seqs))
        pad = hf.pad_token_id
        ids = np.array([s + [pad] * (n - len(s)) for s in seqs], dtype=np.int64)
        mask = np.array([[1] * len(s) + [0] * (n - len(s)) for s in seqs], dtype=np.int64)
        added = []
    assert all(max(s) < backend.get_vocab_size() for s in seqs)
    return ids, mask, [list(map(int, s)) for s in seqs], added


def run(model, family: str, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None = None):
    kw = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
          "output_attentions": True, "output_hidden_states": True}
    if types is not None:  # a sentence pair's token types (predict's cases)
        kw["token_type_ids"] = torch.from_numpy(types)
    elif family == "bert":
        kw["token_type_ids"] = torch.zeros_like(kw["input_ids"])
    # OPT-350m's project_out makes the last state narrower than the others: keep the state entering it
    decoder = getattr(model, "decoder", None) or getattr(getattr(model, "model", None), "decoder", None)
    project_out = getattr(decoder, "project_out", None) if family == "opt" else None
    entering: list[torch.Tensor] = []
    hook = None if project_out is None else project_out.register_forward_hook(
        lambda module, args, output: entering.append(args[0]))
    with torch.no_grad():
        out = model(**kw)
    if hook is not None:
        hook.remove()
    states = out.hidden_states if hook is None else (*out.hidden_states[:-1], entering[0])
    att = torch.stack(out.attentions).to(torch.float64).numpy()  # (L, B, H, n, n)
    hid = torch.stack(states).to(torch.float64).numpy()  # (L+1, B, n, d)
    last = getattr(out, "last_hidden_state", None) if hook is None else entering[0]
    logits = getattr(out, "logits", None)  # a head class (predict's cases): (B, n, vocab)
    return att, hid, last, logits


def predicted(c: dict, folder: Path, family: str, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None,
              att: np.ndarray, hid: np.ndarray) -> dict[str, np.ndarray]:
    """predict's cases: the folder reloaded with its head class (c["cls"]); its maps and hidden states must equal
    the base model's. logits (B, n, vocab), top_ids (B, n, 5) by torch.topk, token_type_ids for pairs, and for
    the decoders loss (B,): transformers' labels= loss of each text alone (labels = its ids)."""
    head = c["cls"].from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    att1, hid1, _, logits = run(head, family, ids, mask, types)
    assert np.array_equal(att1, att) and np.array_equal(hid1, hid), f"{c['name']}: the head class's pass differs"
    out = {"logits": logits.to(torch.float64).numpy(),
           "top_ids": torch.topk(logits, 5, dim=-1).indices.numpy().astype(np.int64)}
    if types is not None:
        out["token_type_ids"] = types
    if not c["cls"].__name__.endswith("ForMaskedLM"):  # a causal head: the labels= loss
        losses = []
        for b in range(ids.shape[0]):
            lb = int(mask[b].sum())
            one = torch.from_numpy(ids[b: b + 1, :lb])
            with torch.no_grad():
                losses.append(float(head(input_ids=one, labels=one).loss))
        out["loss"] = np.array(losses, dtype=np.float64)
    return out


def legacy_gpt2_buffers(path: Path, n_layer: int, n_positions: int) -> None:
    with safe_open(str(path), "np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    tril = np.tril(np.ones((n_positions, n_positions), dtype=np.float32))[None, None]
    for i in range(n_layer):
        tensors[f"h.{i}.attn.bias"] = tril.copy()
        tensors[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    save_file(dict(sorted(tensors.items())), str(path), metadata=meta)


def legacy_config(path: Path, extra: dict) -> None:
    """Rewrite config.json in the layout transformers 4 wrote (as most Hub checkpoints are)."""
    cfg = json.loads(path.read_text())
    cfg.pop("rope_parameters", None)
    cfg.pop("layer_types", None)
    cfg["torch_dtype"] = cfg.pop("dtype")
    cfg.update(extra)
    cfg["transformers_version"] = "4.43.1"
    path.write_text(json.dumps(dict(sorted(cfg.items())), indent=2) + "\n")


def gemma3_hub_config(path: Path, keep: list[str], extra: dict) -> None:
    """Rewrite a gemma3 config.json as the Hub's Gemma 3 >= 4B ones are: a text_config of a few keys (the rest
    Gemma3TextConfig's defaults) with the transformers 4 RoPE keys."""
    cfg = json.loads(path.read_text())
    text = {k: v for k, v in cfg["text_config"].items() if k in keep}
    cfg["text_config"] = dict(sorted({**text, **extra}.items()))
    path.write_text(json.dumps(dict(sorted(cfg.items())), indent=2) + "\n")


def layer_windows(model, family: str) -> list[int | None]:
    """Each layer's sliding window as the loaded model applies it (None: none)."""
    if family in ("mistral", "phi3"):
        return [model.config.sliding_window] * model.config.num_hidden_layers
    if family in ("mixtral", "qwen3_moe"):  # one window (or none) in every layer
        return [model.config.sliding_window] * model.config.num_hidden_layers
    if family in ("qwen2", "qwen3", "gemma2", "gemma3_text", "gpt_oss"):
        return [layer.self_attn.sliding_window for layer in model.layers]
    if family == "modernbert":  # bidirectional: (L, R), key j seen iff i - L <= j <= i + R
        half = model.config.sliding_window  # local_attention // 2
        return [(half, half) if t == "sliding_attention" else None for t in model.config.layer_types]
    if family == "gemma3":
        return [layer.self_attn.sliding_window for layer in model.language_model.layers]
    return [None] * model.config.num_hidden_layers


SEEN: list[dict] = []


def seen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """An attention function that records what it is given (q, k, v per head, k and v before repeat_kv) and the
    scores its model's own eager_attention_forward computes before the softmax, then calls that function."""
    eager = sys.modules[type(module).__module__].eager_attention_forward
    scale = query.size(-1) ** -0.5 if scaling is None else scaling
    rep = query.shape[1] // key.shape[1]
    scores = torch.matmul(query, key.repeat_interleave(rep, dim=1).transpose(-1, -2)) * scale
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]]
    out = eager(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    assert torch.allclose(torch.softmax(scores, -1), out[1], atol=1e-6), "the captured scores are not eager's"
    SEEN.append({name: t.detach().to(torch.float64).numpy() for name, t in
                 (("q", query), ("k", key), ("v", value), ("scores", scores))})
    return out


def capture_seen(folder: Path, family: str, ids: np.ndarray, mask: np.ndarray, att: np.ndarray) -> None:
    """seen.npz: q, k, v and scores of every layer (L, B, ·, n, ·), recorded by seen_attention in call order."""
    transformers.AttentionInterface.register("seen", seen_attention)
    transformers.AttentionMaskInterface.register("seen", transformers.masking_utils.eager_mask)  # additive, as eager
    model = transformers.AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="seen").eval()
    SEEN.clear()
    att2, _, _ = run(model, family, ids, mask)
    assert np.max(np.abs(att2 - att)) <= 1e-7 and len(SEEN) == att.shape[0], (np.max(np.abs(att2 - att)), len(SEEN))
    np.savez_compressed(folder / "seen.npz", **{k: np.stack([s[k] for s in SEEN]) for k in ("q", "k", "v", "scores")})


def check_maps(name: str, att: np.ndarray, mask: np.ndarray, causal: bool, windows: list[int | None],
               sinks: bool = False, valid_rows_only: bool = False) -> None:
    L, B, H, n, _ = att.shape
    if sinks:  # attention sinks take the rest of each row
        assert np.all(att.sum(-1) <= 1.0 + 1e-6) and np.any(att.sum(-1) < 0.9), f"{name}: the sinks take no share"
    else:
        assert np.allclose(att.sum(-1), 1.0, atol=1e-5), name
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    for layer, window in enumerate(windows):
        blocked = np.zeros((B, n, n), dtype=bool)
        blocked |= (mask[:, None, :] == 0)  # padded keys
        if causal:
            blocked |= (j > i)[None]
        if isinstance(window, tuple):
            blocked |= ((j < i - window[0]) | (j > i + window[1]))[None]
        elif window is not None:
            blocked |= (j <= i - window)[None]
        for b in range(B):
            rows = slice(0, int(mask[b].sum()) if valid_rows_only else n)  # deberta: padded rows masked whole
            seen = ~blocked[b][rows].all(-1)  # query rows with a key to see (not: a padded row outside every window)
            got = att[layer, b][:, rows]
            assert np.all(got[:, blocked[b][rows] & seen[:, None]] == 0.0), f"{name}: a masked entry is not exactly 0"
            assert np.all(got[:, ~blocked[b][rows]] > 0.0), f"{name}: an allowed entry is 0 (masked?)"


def fp8_quantize(model: torch.nn.Module, folder: Path, block: list[int]) -> None:
    """Rewrite model.safetensors as an FP8 checkpoint (transformers' Fp8Quantize, block-wise: each layer's
    *_proj.weight as float8_e4m3fn with its weight_scale_inv), add quantization_config to config.json, and give
    the in-memory model the dequantized weights (fp8 -> float32 times each block's scale, in torch)."""
    from safetensors.torch import load_file
    from safetensors.torch import save_file as save_torch

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    bm, bn = block
    out, plain = {}, {}
    for name, w in tensors.items():
        if not (name.endswith("_proj.weight") and ".layers." in name):
            out[name] = w
            continue
        rows, cols = w.shape
        assert rows % bm == 0 and cols % bn == 0, (name, w.shape, block)
        tiles = w.reshape(rows // bm, bm, cols // bn, bn)
        scale = 448.0 / tiles.abs().amax(dim=(1, 3))
        q = torch.clamp(tiles * scale[:, None, :, None], -448.0, 448.0).to(torch.float8_e4m3fn).reshape(rows, cols)
        inv = (1.0 / scale).to(torch.float32)
        out[name], out[name[: -len("weight")] + "weight_scale_inv"] = q, inv
        plain[name] = q.to(torch.float32) * inv.repeat_interleave(bm, 0).repeat_interleave(bn, 1)
    save_torch(dict(sorted(out.items())), str(path), metadata=meta)
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "quant_method": "fp8", "weight_block_size": block}
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    missing, unexpected = model.load_state_dict(plain, strict=False)
    assert not unexpected and len(plain) == 7 * model.config.num_hidden_layers, (unexpected, len(plain))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------------------
# one case
# --------------------------------------------------------------------------------------------------------------


def make(c: dict) -> list[Path]:
    name, family = c["name"], c["family"]
    folder = HERE / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    config = c["config"]
    config._attn_implementation = "eager"
    torch.manual_seed(c["seed"])
    model = c["cls"](config).eval()
    redraw(model, c["seed"], c.get("embed_std", 1.0))
    if c.get("tie_experts"):
        tie_experts(model, c["tie_experts"])
    dtype = c.get("dtype", torch.float32)
    if dtype != torch.float32:
        with torch.no_grad():  # the in-memory model keeps the bf16 values, in float32
            for p in model.parameters():
                p.copy_(p.to(dtype).to(torch.float32))
        copy.deepcopy(model).to(dtype).save_pretrained(folder)  # (model.to() would round its RoPE buffers too)
    else:
        model.save_pretrained(folder)
    # (generation_config.json too for the *ForCausalLM / *LMHeadModel classes: attncli has no use for it)
    assert {p.name for p in folder.iterdir()} - {"generation_config.json"} == {"config.json", "model.safetensors"}
    if c.get("legacy_gpt2_buffers"):
        legacy_gpt2_buffers(folder / "model.safetensors", config.n_layer, config.n_positions)
    if c.get("legacy_config"):
        legacy_config(folder / "config.json", c["legacy_config"])
    if c.get("gemma3_hub_config"):
        gemma3_hub_config(folder / "config.json", c["gemma3_hub_config"], c["gemma3_hub_extra"])
    if c.get("fp8_block"):
        fp8_quantize(model, folder, c["fp8_block"])
    if c.get("drop_config_keys"):
        path = folder / "config.json"
        cfg = json.loads(path.read_text())
        for key in c["drop_config_keys"]:
            del cfg[key]
        path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    if c["tokenizer"] in SPM_TOKENIZERS:
        SPM_TOKENIZERS[c["tokenizer"]](folder, c["spm_config"])
    else:
        tok = TOKENIZERS[c["tokenizer"]][0]()
        vocab = config.get_text_config().vocab_size  # (gemma3: its text_config)
        assert tok.get_vocab_size() <= vocab, (name, tok.get_vocab_size(), vocab)
        tok.save(str(folder / "tokenizer.json"))
    ids, mask, seqs, added = encode(c, folder)

    # the reference: the folder as transformers loads it
    loaded = transformers.AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    types = c.get("_types")
    att, hid, last, _ = run(loaded, family, ids, mask, types)
    att0, hid0, _, _ = run(model, family, ids, mask, types)  # the model in memory (its class, before saving)
    extra = predicted(c, folder, family, ids, mask, types, att, hid) if c.get("logits") else {}
    assert np.max(np.abs(att - att0)) <= 1e-6 and np.max(np.abs(hid - hid0)) <= 1e-6 * max(1, np.abs(hid).max()), \
        f"{name}: reloaded folder differs from the model in memory"
    assert np.array_equal(hid[-1], last.to(torch.float64).numpy()), f"{name}: hidden[L] is not last_hidden_state"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())

    if c.get("tie_experts"):
        check_tie(loaded, ids, c["tie_experts"])
    causal = family not in {"bert", "roberta", "distilbert", "xlm-roberta", "electra", "albert", "modernbert",
                            "deberta-v2"}
    windows = layer_windows(loaded, family)
    if name == "qwen2":
        assert loaded.config.sliding_window is None  # use_sliding_window false: no window
    whole_rows = family == "deberta-v2"  # its mask is mask_i·mask_j: padded query rows are masked whole
    check_maps(name, att, mask, causal, windows, sinks=family == "gpt_oss", valid_rows_only=whole_rows)
    L, B, H, n, _ = att.shape

    if c.get("seen"):
        capture_seen(folder, family, ids, mask, att)

    # what transformers gives on padded query rows (batches)
    padded = None
    if B > 1:
        rows = []
        for b in range(B):
            lb = int(mask[b].sum())
            if lb < n:
                pr = att[:, b, :, lb:, :]  # (L, H, n - lb, n)
                assert np.allclose(pr.sum(-1), 1.0, atol=1e-5)
                if not whole_rows:
                    # a bidirectional window's padded rows past len_b - 1 + L see no valid key: uniform over all n
                    far = np.array([[isinstance(w, tuple) and i - w[0] > lb - 1 for i in range(lb, n)]
                                    for w in windows])
                    assert np.allclose(pr[far[:, None].repeat(H, 1)], 1 / n, atol=1e-7)
                    assert np.all(pr[~far[:, None].repeat(H, 1)][..., lb:] == 0.0)
                rows.append(f"sequence {b + 1}: rows {lb}..{n - 1}")
        far_rows = any(isinstance(w, tuple) for w in windows)
        padded = ("Padded query rows (" + "; ".join(rows) + ") are ordinary softmax rows over the valid keys"
                  f"{' up to the row' if causal else ''} (they sum to 1; padded key columns are exactly 0 in "
                  "every row" + ("; except, in a local layer, a padded row i whose window holds no valid key "
                                 "(i - L > len_b - 1): uniform, 1/n over every key, padded ones too" if far_rows
                                 else "") + "), and the hidden states at padded positions are computed but "
                  "meaningless. "
                  "Compare only valid rows and columns: attentions[l, b, h, :len_b, :len_b] and "
                  "hidden[l, b, :len_b].")
        if whole_rows:
            padded = ("Padded query rows (" + "; ".join(rows) + ") have every key masked (DeBERTa's mask is "
                      "mask_i * mask_j, filled with the float32 minimum): each is uniform over all n keys, padded "
                      "ones included; valid rows give exactly 0 to padded keys. Compare only valid rows and "
                      "columns: attentions[l, b, h, :len_b, :len_b] and hidden[l, b, :len_b].")

    # single runs of each sequence agree with its valid block of the batch
    if B > 1:
        for b, s in enumerate(seqs):
            a1, h1, _, _ = run(loaded, family, np.array([s]), np.ones((1, len(s)), dtype=np.int64))
            lb = len(s)
            assert np.max(np.abs(a1[:, 0] - att[:, b, :, :lb, :lb])) <= 1e-6, name
            assert np.max(np.abs(h1[:, 0] - hid[:, b, :lb])) <= 1e-5 * max(1, np.abs(h1).max()), name

    np.savez_compressed(folder / "expected.npz", input_ids=ids, attention_mask=mask,
                        attentions=att, hidden=hid, **extra)
    names = tensor_names(folder / "model.safetensors")
    base = c["cls"].base_model_prefix  # "bert", "transformer", "model", ...
    prefix = f"{base}." if any(k.startswith(f"{base}.") for k in names) else ""
    assert prefix == ("" if c["cls"].__name__.endswith("Model") and "LMHead" not in c["cls"].__name__
                      else f"{base}.") or prefix == c.get("prefix_found"), (name, prefix)
    prefix = c.get("prefix", prefix)  # (gemma3: its text tower's, the file's other tensors being the vision tower)
    cfg = loaded.config.get_text_config()  # (gemma3: its text_config)
    d = hid.shape[-1]
    case = {
        "family": family,
        "class": c["cls"].__name__,
        "prefix": prefix,
        "texts": c.get("texts"),
        "ids": seqs,
        "lengths": [len(s) for s in seqs],
        "special_tokens": bool(c.get("texts")),
        "added_tokens": added,
        "n_layers": L,
        "n_heads": H,
        "n_kv_heads": getattr(cfg, "num_key_value_heads", H),
        "head_dim": getattr(cfg, "head_dim", None) or d // H,
        "hidden_size": d,
        "dtype": sorted({dt for _, dt in names.values()}),
        "padded": padded,
        **({"pairs": c["pairs"]} if c.get("pairs") else {}),
        "notes": c["notes"],
        "tensors": {k: v[0] for k, v in sorted(names.items())},
    }
    if c["tokenizer"] in SPM_TOKENIZERS:  # more texts through transformers' tokenizer, for the reader's tests
        hf = transformers.AutoTokenizer.from_pretrained(folder)
        case["tokenizer_checks"] = [[t, hf(t)["input_ids"]] for t in SPM_CHECKS]
        case["tokenizer_variants"] = spm_variants(folder, c.get("spm_variants", []))
    if family == "deberta-v2" and name == "deberta_v3":  # the bucket function itself at the Hub's settings
        from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position

        rel = torch.arange(-1100, 1101)
        np.savez_compressed(folder / "buckets.npz", relative=rel.numpy(),
                            **{f"b{b}_m{m}": make_log_bucket_position(rel, b, m).numpy() for b, m in ((256, 512),
                                                                                                     (8, 64))})
    (folder / "case.json").write_text(json.dumps(case, indent=1, ensure_ascii=False) + "\n")
    print(f"{name}: {c['cls'].__name__}, prefix {prefix!r}, {len(names)} tensors, L={L} H={H} n={n} B={B} d={d}, "
          f"{sum(p.stat().st_size for p in folder.iterdir()) / 1024:.0f} KiB")
    return sorted(folder.iterdir())


def main(names: list[str]) -> None:
    """Every case, or only the cases named (the others' files and SHA256SUMS lines are kept as they are)."""
    unknown = set(names) - {c["name"] for c in CASES}
    if unknown:
        sys.exit(f"no such case: {', '.join(sorted(unknown))}; cases: {', '.join(c['name'] for c in CASES)}")
    chosen = [c for c in CASES if not names or c["name"] in names]
    kept: dict[str, str] = {}
    if names:
        for line in (HERE / "SHA256SUMS").read_text().splitlines():
            rel = line.split("  ", 1)[1]
            if rel.split("/", 1)[0] not in names:
                kept[rel] = line
    else:
        for old in HERE.iterdir():
            if old.is_dir() and (old / "case.json").exists():
                shutil.rmtree(old)
    written: list[Path] = []
    for c in chosen:
        written += make(c)
    lines = {p.relative_to(HERE).as_posix(): f"{sha256(p)}  {p.relative_to(HERE).as_posix()}" for p in written}
    order = [c["name"] for c in CASES]
    every = {**kept, **lines}
    ranked = sorted(every, key=lambda rel: (order.index(rel.split("/", 1)[0]), rel))
    (HERE / "SHA256SUMS").write_text("\n".join(every[rel] for rel in ranked) + "\n")
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
