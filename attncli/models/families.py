"""Model families as data: where each tensor lives in a checkpoint, how it is laid out, how a layer is put
together, and every config.json key that changes the numbers. The forward pass (forward.py) is one function over
these tables; the rules a family selects by name (scale, window, position ids) are in rules.py.

The names follow transformers' modeling files (the reference semantics; see each family's `source`):

    norm_at="post" (bert, roberta, distilbert):   x = N₁(x + Attn(x));  x = N₂(x + MLP(x))
    norm_at="pre" (gpt2, llama, mistral, qwen2, qwen3, bloom):  x = x + Attn(N₁(x));  x = x + MLP(N₂(x))
    norm_at="pre", parallel_residual (GPT-NeoX, Falcon style; no family here yet):  x = x + Attn(N₁(x)) + MLP(N₂(x))
    final_norm: N_f(x) at the end, whose output is the last hidden state

`{i}` in a name is the layer index. Linear weights are stored out × in (torch.nn.Linear, `weights="out_in"`)
except GPT-2's Conv1D, stored in × out (`weights="in_out"`); they are oriented in × out once, when read.
Checkpoints saved from a task model carry a prefix (`bert.`, `model.`, `transformer.`): `prefixes` lists the ones
tried, in order.

Every key of transformers' config class for a family that changes the forward pass's numbers is listed in the
family's `config`, as one of: Honoured (read, by the code named), Refused (only the values listed are computed;
any other stops the run with one line naming the key and its value, before anything is computed) or Rounding
(changes only the order of float32 operations in transformers, within the goldens' tolerance). Keys that change
nothing attncli computes (dropout, use_cache, tie_word_embeddings: no LM head here, ...) are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from attncli.models import rules


@dataclass(frozen=True)
class Honoured:
    """A config.json key attncli reads. `default`: its value when config.json does not have it (transformers'
    config class default); `read_by`: the code that reads it; `goldens`: the golden cases (tests/golden/models)
    whose config.json sets it, away from the default where one says so in its notes."""

    key: str
    default: Any
    read_by: str
    goldens: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    """A config.json key whose values other than `accepts` attncli does not compute (absent or null: the default,
    which it does): a checkpoint setting another is refused, naming the key, its value and `what` it changes.
    "a.b" is the key b of the object a."""

    key: str
    accepts: tuple[Any, ...]
    what: str


@dataclass(frozen=True)
class Rounding:
    """A config.json key that changes only how transformers orders its float32 operations (`what`)."""

    key: str
    what: str


Key = Honoured | Refused | Rounding


@dataclass(frozen=True)
class Family:
    name: str
    source: str  # the transformers modeling file whose numbers this family reproduces
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
    fused_layout: str = "blocks"  # "blocks": [q | k | v] (GPT-2); "per_head": (heads, 3, head_dim) (BLOOM)
    attn_bias: bool | str = True  # True, False, or the config key that says (llama's attention_bias)
    o_bias: bool | str = True
    # the norms (weight names, relative to the layer) each head's q and k go through over head_dim, after the
    # projections and before RoPE: the family's norm_kind and ε, one weight (head_dim,) shared by every head
    # (Qwen3's q_norm, k_norm); None: no such norms
    qk_norm: tuple[str, str] | None = None
    # norms, relative to the layer: N₁ and N₂ (where they sit: norm_at), and the final norm
    norm1: tuple[str, str | None] = ("", None)
    norm2: tuple[str, str | None] = ("", None)
    final_norm: tuple[str, str | None] | None = None
    norm_kind: str = "layer"  # "layer" (LayerNorm) or "rms" (RMSNorm)
    eps_keys: tuple[str, ...] = ("layer_norm_eps",)  # config keys of the norms' ε, first one present wins
    eps: float = 1e-12  # ε when config.json has none of them (the config class's default)
    # MLP, relative to the layer: "plain" up → act → down; "gated" act(gate)·up → down
    mlp: str = "plain"
    up: str = ""
    down: str = ""
    gate: str | None = None
    mlp_bias: bool | str = True
    act_key: str | None = None  # the config key naming the activation
    act: str = "gelu"  # the activation when the config does not say
    weights: str = "out_in"  # how linear weights are stored: "out_in" (nn.Linear) or "in_out" (GPT-2's Conv1D)
    # how a layer is put together
    causal: bool = False  # causal self-attention (query i sees keys j ≤ i)
    norm_at: str = "post"  # "post": N(x + sublayer(x)); "pre": x + sublayer(N(x))
    parallel_residual: bool = False  # pre-norm only: x + Attn(N₁(x)) + MLP(N₂(x)), both from the same x
    # positions and each layer's attention settings, as named rules (rules.py)
    positions: str = "learned"  # "learned", "rope" or "alibi"
    position_ids: rules.Positions = rules.count_positions  # rows of the learned table each token takes
    # where config.json keeps θ, first found wins: inside rope_parameters before the top level, as transformers 5
    rope_theta: tuple[str, ...] = ("rope_parameters.rope_theta", "rope_theta")
    scale: rules.Scale = rules.inverse_sqrt_scale  # the scores' factor, per layer
    window: rules.Window = rules.no_window  # the sliding window, per layer
    # config.json keys: aliases (first one present wins), and every key that changes the numbers
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    config: tuple[Key, ...] = ()

    def default(self, key: str) -> Any:
        """The value transformers uses when config.json does not have `key` (its Honoured entry; None if none)."""
        return next((k.default for k in self.config if isinstance(k, Honoured) and k.key == key), None)

    def __post_init__(self) -> None:
        if self.norm_at not in ("pre", "post") or self.parallel_residual and self.norm_at != "pre":
            raise ValueError(f"{self.name}: norm_at is 'pre' or 'post', and a parallel residual is pre-norm")
        if self.weights not in ("out_in", "in_out") or self.fused_layout not in ("blocks", "per_head"):
            raise ValueError(f"{self.name}: weights is 'out_in' or 'in_out'; fused_layout 'blocks' or 'per_head'")
        if self.qk_norm is not None and self.fused_qkv is not None:
            raise ValueError(f"{self.name}: q/k norms are read for separate q and k projections only")


COMMON_KEYS = {
    "layers": ("num_hidden_layers", "n_layer", "n_layers"),
    "hidden": ("hidden_size", "n_embd", "dim", "d_model"),
    "heads": ("num_attention_heads", "n_head", "n_heads"),
    "kv_heads": ("num_key_value_heads",),
    "head_dim": ("head_dim",),
    "inter": ("intermediate_size", "n_inner", "hidden_dim"),
    "vocab": ("vocab_size",),
    "positions": ("max_position_embeddings", "n_positions"),
}

SHAPES = "forward.shapes (and every tensor's shape checked against it)"
ACT = "forward.activation (ops.ACTIVATIONS; other values refused)"
EPS = "forward.shapes (ε of every norm)"
MLP = "forward.mlp_weights (width of the MLP)"
ROPE = "forward.layer_settings (rules.rope_base)"


def _shape_keys(goldens: tuple[str, ...], **names: Any) -> tuple[Honoured, ...]:
    """Honoured entries for the keys that give the shapes: name=(key, default) for each."""
    return tuple(Honoured(key, default, MLP if what == "inter" else SHAPES, goldens)
                 for what, (key, default) in names.items())


ROPE_SCALED = "forward.layer_spec (rules.rope_frequencies, core/positions.py)"
# the golden cases of RoPE scaling, one per rope_type and layout (tests/golden/models)
ROPE_GOLDENS = ("llama_rope_llama3", "llama_rope_linear", "llama_rope_dynamic", "llama_rope_yarn",
                "llama_rope_yarn_mscale", "llama_rope_longrope", "llama_rope_longrope_short")


def _rope_keys(goldens: tuple[str, ...], legacy: tuple[str, ...] = ("qwen2", "qwen2_window_layers")
               ) -> tuple[Key, ...]:
    """RoPE as transformers 5 reads it (modeling_rope_utils.py): θ from rope_parameters (or the older top-level
    rope_theta); the scaling of every type transformers implements for these families (linear, dynamic, yarn,
    longrope, llama3), in rope_parameters or in transformers 4's rope_scaling; other types refused. Partial
    rotary is refused: Llama's default RoPE ignores it and its scaled ones fail on it in transformers."""
    other = ("a RoPE type transformers' modeling_rope_utils.py does not implement for this family; the ones it "
             "does are computed, tests/golden/models/llama_rope_* from each")
    yarn, longrope = ("llama_rope_yarn", "llama_rope_yarn_mscale"), ("llama_rope_longrope",)
    return (
        Honoured("rope_parameters.rope_theta", 10000.0, ROPE, goldens),
        Honoured("rope_theta", 10000.0, ROPE, legacy),
        Honoured("rope_parameters.factor", None, ROPE_SCALED, ("llama_rope_llama3", *yarn)),
        Honoured("rope_scaling.factor", None, ROPE_SCALED, ("llama_rope_linear", "llama_rope_dynamic",
                                                            "llama_rope_longrope_short")),
        Honoured("rope_parameters.low_freq_factor", None, ROPE_SCALED, ("llama_rope_llama3",)),
        Honoured("rope_parameters.high_freq_factor", None, ROPE_SCALED, ("llama_rope_llama3",)),
        Honoured("rope_parameters.original_max_position_embeddings", "max_position_embeddings", ROPE_SCALED,
                 ("llama_rope_llama3", *yarn, *longrope)),
        Honoured("original_max_position_embeddings", None, ROPE_SCALED, ("llama_rope_longrope_short",)),
        Honoured("max_position_embeddings", 2048, ROPE_SCALED, ("llama_rope_dynamic", *longrope)),
        Honoured("rope_parameters.beta_fast", 32, ROPE_SCALED, ("llama_rope_yarn_mscale",)),
        Honoured("rope_parameters.beta_slow", 1, ROPE_SCALED, ("llama_rope_yarn_mscale",)),
        Honoured("rope_parameters.truncate", True, ROPE_SCALED, ("llama_rope_yarn_mscale",)),
        Honoured("rope_parameters.mscale", None, ROPE_SCALED, ("llama_rope_yarn_mscale",)),
        Honoured("rope_parameters.mscale_all_dim", None, ROPE_SCALED, ("llama_rope_yarn_mscale",)),
        Honoured("rope_scaling.attention_factor", None, ROPE_SCALED, ("llama_rope_longrope_short",)),
        Honoured("rope_parameters.short_factor", None, ROPE_SCALED, longrope),
        Honoured("rope_parameters.long_factor", None, ROPE_SCALED, longrope),
        Honoured("rope_scaling.short_factor", None, ROPE_SCALED, ("llama_rope_longrope_short",)),
        Refused("rope_parameters.rope_type", rules.ROPE_TYPES, other),
        Refused("rope_scaling.rope_type", rules.ROPE_TYPES, other),
        Refused("rope_scaling.type", rules.ROPE_TYPES, other),
        Refused("rope_parameters.partial_rotary_factor", (1.0,), "partial rotary"),
        Refused("partial_rotary_factor", (1.0,), "partial rotary"),
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
    return (*_shape_keys(goldens, hidden=("hidden_size", 768), layers=("num_hidden_layers", 12),
                         heads=("num_attention_heads", 12), inter=("intermediate_size", 3072)),
            Honoured("hidden_act", "gelu", ACT, goldens),
            Honoured("layer_norm_eps", 1e-12, EPS, goldens),
            Refused("is_decoder", (False,), "it makes the self-attention causal"),
            Refused("position_embedding_type", ("absolute",), "relative position scores instead of the learned "
                    "absolute positions"))


_LLAMA = dict(
    prefixes=("model.", ""), layer="layers.{i}.", word="embed_tokens.weight",
    q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj",
    norm1=("input_layernorm.weight", None), norm2=("post_attention_layernorm.weight", None),
    final_norm=("norm.weight", None), norm_kind="rms", eps_keys=("rms_norm_eps",), eps=1e-6,
    mlp="gated", gate="mlp.gate_proj", up="mlp.up_proj", down="mlp.down_proj", mlp_bias=False,
    act_key="hidden_act", act="silu", causal=True, norm_at="pre", positions="rope",
)


def _llama_keys(goldens: tuple[str, ...], eps_goldens: tuple[str, ...], kv_heads: int | None = None,
                theta_goldens: tuple[str, ...] | None = None) -> tuple[Key, ...]:
    """Llama's keys; `kv_heads` is num_key_value_heads when config.json does not have it (None: the heads).
    head_dim is read by the code every family shares (forward.shapes): llama_gqa gives it away from hidden/heads."""
    return (*_shape_keys(goldens, hidden=("hidden_size", 4096), layers=("num_hidden_layers", 32),
                         heads=("num_attention_heads", 32), kv_heads=("num_key_value_heads", kv_heads),
                         inter=("intermediate_size", 11008)),
            Honoured("head_dim", None, SHAPES, ("llama_gqa",)),
            Honoured("hidden_act", "silu", ACT, goldens),
            Honoured("rms_norm_eps", 1e-6, EPS, eps_goldens),
            *_rope_keys(goldens if theta_goldens is None else theta_goldens))


def _replacing(keys: tuple[Key, ...], *new: Key) -> tuple[Key, ...]:
    """`keys` with each entry for a key of `new` replaced by it (a family that differs from the one it follows)."""
    names = {k.key for k in new}
    return (*(k for k in keys if k.key not in names), *new)


# the golden cases (tests/golden/models) of each family
GPT2 = ("gpt2", "gpt2_6heads", "gpt2_unscaled", "gpt2_layer_scaled")
LLAMA = ("llama_gqa", "llama_batch", "llama_bf16", "llama_attn_bias", "llama_no_eps")
QWEN2 = ("qwen2", "qwen2_window_layers", "qwen2_layer_types")
QWEN3 = ("qwen3", "qwen3_window")

FAMILIES: dict[str, Family] = {
    "bert": Family(
        "bert", "transformers/models/bert/modeling_bert.py", prefixes=("bert.", ""), layer="encoder.layer.{i}.",
        **_BERT_EMBED, **_BERT_LAYER, config=_bert_keys(("bert", "bert_batch"))),
    "roberta": Family(
        "roberta", "transformers/models/roberta/modeling_roberta.py", prefixes=("roberta.", ""),
        layer="encoder.layer.{i}.", position_ids=rules.positions_after_pad, **_BERT_EMBED, **_BERT_LAYER,
        config=(*_bert_keys(("roberta", "roberta_pad_inside")),
                Honoured("pad_token_id", 1, "rules.positions_after_pad", ("roberta", "roberta_pad_inside")))),
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
        config=(*_shape_keys(("distilbert",), hidden=("dim", 768), layers=("n_layers", 6), heads=("n_heads", 12),
                             inter=("hidden_dim", 3072)),
                Honoured("activation", "gelu", ACT, ("distilbert",)),
                Refused("sinusoidal_pos_embds", (False,), "a sinusoidal position table instead of a learned one"))),
    "gpt2": Family(
        "gpt2", "transformers/models/gpt2/modeling_gpt2.py", prefixes=("transformer.", ""),
        layer="h.{i}.", word="wte.weight", position="wpe.weight",
        fused_qkv="attn.c_attn", o="attn.c_proj",
        norm1=("ln_1.weight", "ln_1.bias"), norm2=("ln_2.weight", "ln_2.bias"), final_norm=("ln_f.weight", "ln_f.bias"),
        eps_keys=("layer_norm_epsilon",), eps=1e-5,
        up="mlp.c_fc", down="mlp.c_proj", act_key="activation_function", act="gelu_new", weights="in_out",
        causal=True, norm_at="pre", scale=rules.gpt2_scale,
        config=(*_shape_keys(GPT2, hidden=("n_embd", 768), layers=("n_layer", 12), heads=("n_head", 12),
                             inter=("n_inner", None)),
                Honoured("activation_function", "gelu_new", ACT, GPT2),
                Honoured("layer_norm_epsilon", 1e-5, EPS, GPT2),
                Honoured("scale_attn_weights", True, "rules.gpt2_scale", ("gpt2_unscaled",)),
                Honoured("scale_attn_by_inverse_layer_idx", False, "rules.gpt2_scale", ("gpt2_layer_scaled",)),
                Rounding("reorder_and_upcast_attn", "the same scores, scaled before the product, in float32"))),
    "llama": Family(
        "llama", "transformers/models/llama/modeling_llama.py", attn_bias="attention_bias", o_bias="attention_bias",
        **{**_LLAMA, "mlp_bias": "mlp_bias"},
        config=(*_llama_keys(LLAMA, ("llama_gqa", "llama_no_eps")),
                Honoured("attention_bias", False, "forward.qkv_weights, forward.layer_weights", ("llama_attn_bias",)),
                Honoured("mlp_bias", False, "forward.mlp_weights", ("llama_attn_bias",)))),
    "mistral": Family(
        "mistral", "transformers/models/mistral/modeling_mistral.py", attn_bias=False, o_bias=False,
        window=rules.window_in_every_layer, **_LLAMA,
        config=(*_llama_keys(("mistral_window",), ("mistral_window",), kv_heads=8),
                Honoured("sliding_window", 4096, "rules.window_in_every_layer", ("mistral_window",)),
                Refused("layer_types", (), "which layers have a sliding window: transformers' Mistral ignores "
                        "it with a warning, Ministral reads it"))),
    "qwen2": Family(
        "qwen2", "transformers/models/qwen2/modeling_qwen2.py", attn_bias=True, o_bias=False,
        window=rules.qwen2_window, **_LLAMA,
        config=(*_llama_keys(QWEN2, QWEN2, kv_heads=32, theta_goldens=("qwen2_layer_types",)),
                Honoured("use_sliding_window", False, "rules.qwen2_window", QWEN2[1:]),
                Honoured("sliding_window", 4096, "rules.qwen2_window", QWEN2[1:]),
                Honoured("max_window_layers", 28, "rules.qwen2_window", ("qwen2_window_layers",)),
                Honoured("layer_types", None, "rules.qwen2_window", ("qwen2_layer_types",)))),
    "qwen3": Family(  # Qwen2's layer and windows, with q/k norms, head_dim 128 by default and attention_bias
        "qwen3", "transformers/models/qwen3/modeling_qwen3.py", attn_bias="attention_bias", o_bias="attention_bias",
        qk_norm=("self_attn.q_norm.weight", "self_attn.k_norm.weight"), window=rules.qwen2_window, **_LLAMA,
        config=(*_replacing(_llama_keys(QWEN3, QWEN3, kv_heads=32, theta_goldens=("qwen3_window",)),
                            Honoured("head_dim", 128, SHAPES, QWEN3),  # Qwen3Config's default, not hidden / heads
                            Honoured("rope_theta", 10000.0, ROPE, ("qwen3",))),
                Honoured("attention_bias", False, "forward.qkv_weights, forward.layer_weights", ("qwen3_window",)),
                Honoured("use_sliding_window", False, "rules.qwen2_window", QWEN3),
                Honoured("sliding_window", 4096, "rules.qwen2_window", QWEN3),
                Honoured("max_window_layers", 28, "rules.qwen2_window", QWEN3),
                Honoured("layer_types", None, "rules.qwen2_window", ("qwen3_window",)))),
    "bloom": Family(
        "bloom", "transformers/models/bloom/modeling_bloom.py", prefixes=("transformer.", ""),
        layer="h.{i}.", word="word_embeddings.weight",
        embed_norm=("word_embeddings_layernorm.weight", "word_embeddings_layernorm.bias"),
        fused_qkv="self_attention.query_key_value", fused_layout="per_head", o="self_attention.dense",
        norm1=("input_layernorm.weight", "input_layernorm.bias"),
        norm2=("post_attention_layernorm.weight", "post_attention_layernorm.bias"),
        final_norm=("ln_f.weight", "ln_f.bias"), eps_keys=("layer_norm_epsilon",), eps=1e-5,
        up="mlp.dense_h_to_4h", down="mlp.dense_4h_to_h",
        act="bloom_gelu", causal=True, norm_at="pre", positions="alibi", keys={"hidden": ("n_embed",)},
        config=(*_shape_keys(("bloom",), hidden=("hidden_size", 64), layers=("n_layer", 2), heads=("n_head", 8)),
                Honoured("layer_norm_epsilon", 1e-5, EPS, ("bloom",)),
                Refused("apply_residual_connection_post_layernorm", (False,),
                        "the normed input is added back instead of the input"),
                Rounding("pretraining_tp", "with slow_but_exact, the output projections summed in slices"),
                Rounding("slow_but_exact", "the output projections summed in slices of pretraining_tp"))),
}

# architectures (config.json "architectures") -> model_type, for configs that do not say model_type
ARCHITECTURES = {
    "Bert": "bert", "Roberta": "roberta", "DistilBert": "distilbert", "GPT2": "gpt2", "Llama": "llama",
    "Mistral": "mistral", "Qwen2": "qwen2", "Qwen3": "qwen3", "Bloom": "bloom",
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


def refusal(config: dict, family: Family) -> str | None:
    """The message for the first key of `family.config` that config.json sets to a value attncli does not
    compute (None: every one is honoured or at a value attncli computes)."""
    for key in family.config:
        if not isinstance(key, Refused):
            continue
        value = rules.lookup(config, key.key)
        if value is rules.MISSING or any(value == ok for ok in key.accepts):
            continue
        name = rules.found_at(config, key.key)
        allowed = " or ".join(json_text(ok) for ok in key.accepts) if key.accepts else "absent"
        return (f"MODEL: config.json sets {name} to {json_text(value)}; attncli computes a {family.name} model only "
                f"with {key.key} {allowed} ({key.what}), so it stops rather than show maps that would be wrong")
    problem = rules.rope_problem(config) if family.positions == "rope" else None
    return None if problem is None else f"MODEL: config.json's {problem}, so attncli stops rather than guess its RoPE"


def json_text(value: Any) -> str:
    """A config value as config.json writes it (true, null, "llama3", {...}), cut to 80 characters."""
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
