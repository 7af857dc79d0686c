"""Model families as data: where each tensor lives in a checkpoint, how it is laid out, and the settings a
family reads from config.json. The forward pass (forward.py) is one function over these tables.

The names follow transformers' modeling files (the reference semantics; see each family's `source`):

    encoder, post-norm (bert, roberta, distilbert):   x = LN₁(x + Attn(x));  x = LN₂(x + MLP(x))
    decoder, pre-norm (gpt2, llama, mistral, qwen2, bloom):  x = x + Attn(N₁(x));  x = x + MLP(N₂(x)); N_f at the end

`{i}` in a name is the layer index. Linear weights are stored out × in (torch.nn.Linear) except GPT-2's
Conv1D, stored in × out. Checkpoints saved from a task model carry a prefix (`bert.`, `model.`, `transformer.`):
`prefixes` lists the ones tried, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    name: str
    source: str  # the transformers modeling file whose numbers this family reproduces
    decoder: bool  # causal self-attention, and a final norm whose output is the last hidden state
    prefixes: tuple[str, ...]
    layer: str  # the layer's prefix, e.g. "encoder.layer.{i}."
    # embeddings: word, position (learned), token type, and a norm after them (weight, bias names)
    word: str
    position: str | None = None
    token_type: str | None = None
    embed_norm: tuple[str, str | None] | None = None
    # attention, relative to the layer: q, k, v, o projections (weight names; biases by the `bias` suffix rule)
    q: str | None = None
    k: str | None = None
    v: str | None = None
    o: str = ""
    fused_qkv: str | None = None  # one tensor holding q, k, v
    fused_layout: str = "qkv"  # "qkv": [q; k; v] blocks (GPT-2); "per_head": (heads, 3, head_dim) (BLOOM)
    attn_bias: bool | str = True  # True, False, or the config key that says (llama's attention_bias)
    o_bias: bool | str = True
    # norms, relative to the layer: before attention and before the MLP (pre-norm), or after (post-norm)
    norm1: tuple[str, str | None] = ("", None)
    norm2: tuple[str, str | None] = ("", None)
    final_norm: tuple[str, str | None] | None = None
    norm_kind: str = "layer"  # "layer" (LayerNorm) or "rms" (RMSNorm)
    # MLP, relative to the layer: "plain" up → act → down; "gated" act(gate)·up → down
    mlp: str = "plain"
    up: str = ""
    down: str = ""
    gate: str | None = None
    mlp_bias: bool | str = True
    act_key: str | None = None  # the config key naming the activation
    act: str = "gelu"  # the activation when the config does not say
    conv1d: bool = False  # weights stored in × out (GPT-2's Conv1D)
    positions: str = "learned"  # "learned", "rope" or "alibi"
    # config.json keys, first one present wins
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)


COMMON_KEYS = {
    "layers": ("num_hidden_layers", "n_layer", "n_layers"),
    "hidden": ("hidden_size", "n_embd", "dim", "d_model"),
    "heads": ("num_attention_heads", "n_head", "n_heads"),
    "kv_heads": ("num_key_value_heads",),
    "head_dim": ("head_dim",),
    "eps": ("layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps"),
    "vocab": ("vocab_size",),
    "positions": ("max_position_embeddings", "n_positions"),
}

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
_LLAMA = dict(
    decoder=True, prefixes=("model.", ""), layer="layers.{i}.", word="embed_tokens.weight",
    q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj",
    norm1=("input_layernorm.weight", None), norm2=("post_attention_layernorm.weight", None),
    final_norm=("norm.weight", None), norm_kind="rms",
    mlp="gated", gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj", mlp_bias="mlp_bias",
    act_key="hidden_act", act="silu", positions="rope",
)

FAMILIES: dict[str, Family] = {
    "bert": Family("bert", "transformers/models/bert/modeling_bert.py", decoder=False, prefixes=("bert.", ""),
                   layer="encoder.layer.{i}.", **_BERT_EMBED, **_BERT_LAYER),
    "roberta": Family("roberta", "transformers/models/roberta/modeling_roberta.py", decoder=False,
                      prefixes=("roberta.", ""), layer="encoder.layer.{i}.", **_BERT_EMBED, **_BERT_LAYER),
    "distilbert": Family(
        "distilbert", "transformers/models/distilbert/modeling_distilbert.py", decoder=False,
        prefixes=("distilbert.", ""), layer="transformer.layer.{i}.", word="embeddings.word_embeddings.weight",
        position="embeddings.position_embeddings.weight",
        embed_norm=("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"),
        q="attention.q_lin", k="attention.k_lin", v="attention.v_lin", o="attention.out_lin",
        norm1=("sa_layer_norm.weight", "sa_layer_norm.bias"), up="ffn.lin1", down="ffn.lin2",
        norm2=("output_layer_norm.weight", "output_layer_norm.bias"), act_key="activation",
        keys={"layers": ("n_layers",), "hidden": ("dim",), "heads": ("n_heads",)}),
    "gpt2": Family(
        "gpt2", "transformers/models/gpt2/modeling_gpt2.py", decoder=True, prefixes=("transformer.", ""),
        layer="h.{i}.", word="wte.weight", position="wpe.weight",
        fused_qkv="attn.c_attn", o="attn.c_proj",
        norm1=("ln_1.weight", "ln_1.bias"), norm2=("ln_2.weight", "ln_2.bias"), final_norm=("ln_f.weight", "ln_f.bias"),
        up="mlp.c_fc", down="mlp.c_proj", act_key="activation_function", act="gelu_new", conv1d=True),
    "llama": Family("llama", "transformers/models/llama/modeling_llama.py", attn_bias="attention_bias",
                    o_bias="attention_bias", **_LLAMA),
    "mistral": Family("mistral", "transformers/models/mistral/modeling_mistral.py", attn_bias=False, o_bias=False,
                      **_LLAMA),
    "qwen2": Family("qwen2", "transformers/models/qwen2/modeling_qwen2.py", attn_bias=True, o_bias=False, **_LLAMA),
    "bloom": Family(
        "bloom", "transformers/models/bloom/modeling_bloom.py", decoder=True, prefixes=("transformer.", ""),
        layer="h.{i}.", word="word_embeddings.weight",
        embed_norm=("word_embeddings_layernorm.weight", "word_embeddings_layernorm.bias"),
        fused_qkv="self_attention.query_key_value", fused_layout="per_head", o="self_attention.dense",
        norm1=("input_layernorm.weight", "input_layernorm.bias"),
        norm2=("post_attention_layernorm.weight", "post_attention_layernorm.bias"),
        final_norm=("ln_f.weight", "ln_f.bias"), up="mlp.dense_h_to_4h", down="mlp.dense_4h_to_h",
        act="bloom_gelu", positions="alibi"),
}

# architectures (config.json "architectures") -> model_type, for configs that do not say model_type
ARCHITECTURES = {
    "Bert": "bert", "Roberta": "roberta", "DistilBert": "distilbert", "GPT2": "gpt2", "Llama": "llama",
    "Mistral": "mistral", "Qwen2": "qwen2", "Bloom": "bloom",
}


def family_of(config: dict) -> Family:
    """The family config.json describes (model_type, else architectures), or an error naming the supported."""
    from attncli.errors import AttnError

    kind = config.get("model_type")
    if kind is None:
        for arch in config.get("architectures") or []:
            for stem, name in ARCHITECTURES.items():
                rest = arch[len(stem):] if isinstance(arch, str) and arch.startswith(stem) else None
                if rest is not None and (rest in ("", "Model") or rest.startswith(("For", "LMHead"))):
                    kind = name
    if kind not in FAMILIES:
        shown = repr(kind) if kind is not None else "nothing (no model_type or known architectures)"
        raise AttnError(f"MODEL: config.json names model_type {shown}, which attncli does not support; supported: "
                        f"{', '.join(FAMILIES)}")
    return FAMILIES[kind]
