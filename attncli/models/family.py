"""Model families as data: where each tensor lives in a checkpoint, how it is laid out, how a layer is put
together, and every config.json key that changes the numbers. The forward pass (forward.py) is one function over
these tables; the rules a family selects by name (scale, window, position ids) are in rules.py.

The names follow transformers' modeling files (the reference semantics; see each family's `source`):

    norm_at="post" (bert, roberta, distilbert, xlm-roberta, electra, albert):  x = N₁(x + Attn(x));  x = N₂(x + MLP(x))
    norm_at="pre" (gpt2, llama, mistral, qwen2, qwen3, bloom, modernbert, phi3, granite):
        x = x + Attn(N₁(x));  x = x + MLP(N₂(x))
    with attn_out_norm / mlp_out_norm (gemma2, gemma3: "sandwich"):  x = x + Nₐ(Attn(N₁(x)));  x = x + Nₘ(MLP(N₂(x)))
    norm1 = norm2 = None, with out norms (olmo2):  x = x + Nₐ(Attn(x));  x = x + Nₘ(MLP(x))
    norm_at="pre", parallel_residual (GPT-NeoX; Phi, whose N₂ is N₁):  x = x + Attn(N₁(x)) + MLP(N₂(x))
    (opt: pre or post as config.json's do_layer_norm_before says, its pre_norm_rule)
    final_norm: N_f(x) at the end, whose output is the last hidden state

`{i}` in a name is the layer index. Linear weights are stored out × in (torch.nn.Linear, `weights="out_in"`)
except GPT-2's Conv1D, stored in × out (`weights="in_out"`); they are oriented in × out once, when read.
Checkpoints saved from a task model carry a prefix (`bert.`, `model.`, `transformer.`): `prefixes` lists the ones
tried, in order.

Every key of transformers' config class for a family that changes the forward pass's numbers is listed in the
family's `config`, as one of: Honoured (read, by the code named), Refused (only the values listed are computed;
any other stops the run with one line naming the key and its value, before anything is computed) or Rounding
(changes only the order of float32 operations in transformers, within the goldens' tolerance). Keys that change
nothing attncli computes (dropout, use_cache, ...) are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from attncli.models import rope_config, rules
from attncli.models.layer_parts import Moe, Relative


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
    norm1: tuple[str, str | None] | None = ("", None)  # None: no norm there (OLMo 2's pre-norm has none)
    norm2: tuple[str, str | None] | None = ("", None)
    final_norm: tuple[str, str | None] | None = None
    # "layer" (LayerNorm), "rms" (RMSNorm: x/rms(x)·w) or "rms_offset" (Gemma's: x/rms(x)·(1 + w), in float32)
    norm_kind: str = "layer"
    eps_keys: tuple[str, ...] = ("layer_norm_eps",)  # config keys of the norms' ε, first one present wins
    eps: float = 1e-12  # ε when config.json has none of them (the config class's default)
    # MLP, relative to the layer: "plain" up → act → down; "gated" act(gate)·up → down; "gated_fused": `up` names
    # one tensor 2·inter wide, [act input | multiplier] (ModernBERT's Wi: act(x·W₁)·(x·W₂) → down)
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
    # pre-norm only: x + Attn(N₁(x)) + MLP(N₂(x)), both from the same x; True, False or the config key that says
    # (GPT-NeoX's use_parallel_residual); Phi's one norm for both is norm2 = norm1
    parallel_residual: bool | str = False
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
    # RoPE as the family's config class reads it (rope_config.RopeKeys: the top-level keys of θ and of the partial
    # rotary fraction, and that fraction's default; only the first int(d_head · fraction) features of each head turn):
    # GPT-NeoX, Phi. None: θ where `rope_theta` says, and every feature turns (Llama's default RoPE)
    rope_keys: rope_config.RopeKeys | None = None
    # the q/k norms' biases (names relative to the layer, as qk_norm's weights; None: none), and
    # whether the model has those norms: True, or the config key that says (Phi's qk_layernorm, default false)
    qk_norm_bias: tuple[str, str] | None = None
    qk_norm_if: bool | str = True
    # factorized embeddings (ELECTRA, ALBERT): the embedding tables and their norm are config.json's embedding_size
    # wide (keys["embed"], else its Honoured default), and this linear (name without a layer prefix; weight and
    # bias) maps them to the hidden size: only when the two widths differ (ELECTRA's embeddings_project), or
    # always when `embed_project_always` (ALBERT's encoder.embedding_hidden_mapping_in); None: no such map
    embed_project: str | None = None
    embed_project_always: bool = False
    # whether the LayerNorms (embeddings, N₁, N₂, final) have the biases their names say: True, or the config key
    # that says (ModernBERT's norm_bias, default false)
    norm_bias: bool | str = True
    # False: layer 0 has no N₁ (ModernBERT's attn_norm is nn.Identity there: the embeddings' norm precedes it)
    first_norm1: bool = True
    # layer i's RoPE θ when it differs between layers (ModernBERT's global and local bases, rules.py); None: the
    # family's `rope_theta` keys in every layer
    layer_rope_base: rules.LayerRopeBase | None = None
    # ---- issue 22 (Gemma 1/2/3, OLMo 2); each default keeps the families above as they were
    embed_scale: bool = False  # h₀ = E_word[ids] · √d, with √d (hidden_size**0.5) rounded to the model's dtype
    # norms on the sublayer outputs (weight, bias), relative to the layer: h + N(Attn(·)), h + N(MLP(·)), each
    # before the residual add (Gemma 2/3's post_attention_layernorm / post_feedforward_layernorm, OLMo 2's)
    attn_out_norm: tuple[str, str | None] | None = None
    mlp_out_norm: tuple[str, str | None] | None = None
    # what qk_norm normalizes over: "head", each head's head_dim (Qwen3, Gemma 3); "full", the whole projection
    # (H·head_dim for q, G·head_dim for k) before the split into heads (OLMo 2)
    qk_norm_over: str = "head"
    softcap: rules.Softcap = rules.no_softcap  # per layer: scores c·tanh(S/c) after the scale, before the masks
    layer_rope: rules.LayerRope = rules.same_rope  # the config a layer's RoPE is read from (Gemma 3: by layer type)
    text_config: str | None = None  # the config.json key holding the text model's config (Gemma 3's text_config)
    # activation names the config class renames before use (GemmaConfig: hidden_act "gelu" runs gelu_pytorch_tanh)
    act_aliases: tuple[tuple[str, str], ...] = ()
    # True: a key config.json leaves out takes its Honoured default (the config class's) for every reader, as
    # transformers fills a config (the Hub's Gemma 3 text_config sets a handful of keys and relies on the rest)
    class_defaults: bool = False
    # the head that turns the last hidden state into logits over the vocabulary (models/predict.py; a causal
    # family's predicts the next token, an encoder's fills masks). Names are whole, without the checkpoint's
    # prefix: the head sits beside the base model (lm_head.weight, cls.predictions.*). lm_head: the output weight
    # (vocab, d), replaced by the word embeddings when config.json ties them (tie_word_embeddings, the family's
    # Honoured default when absent); None: the family has no head attncli reads. lm_bias: the output bias, the
    # first name present (() or none present: no bias). lm_transform: (dense, norm weight, norm bias) of an MLM
    # head, applied first: LayerNorm(act(dense(h))), with the family's ε; lm_act: that activation (None: the
    # family's MLP activation, from act_key)
    lm_head: str | None = None
    lm_bias: tuple[str, ...] = ()
    lm_transform: tuple[str, str, str] | None = None
    lm_act: str | None = None
    # a mixture of experts in place of the MLP (Mixtral, Qwen3-MoE, gpt-oss; models/moe.py), None: a dense MLP
    moe: Moe | None = None
    # attention sinks: the tensor (heads,) relative to the layer holding one logit per head that joins the
    # softmax's denominator (gpt-oss's self_attn.sinks; the Spec's sinks), None: none
    sinks: str | None = None
    # RoPE's settings when config.json has neither rope_parameters nor rope_scaling (gpt-oss: the config class's
    # __post_init__ writes its YaRN defaults), as a rope_parameters object; None: the default RoPE
    rope_default: dict[str, Any] | None = None
    # the config key, and its value when absent, that says whether the learned position table is added (DeBERTa's
    # position_biased_input); None: it is added whenever the family has one
    position_key: tuple[str, bool] | None = None
    # disentangled attention's tensors (DeBERTa; models/relative.py): relative-position scores c2p and p2c added
    # to each layer's, over the scale the family's `scale` rule gives; None: none
    relative: Relative | None = None
    # ---- issue 22 (Phi-3, OPT, Granite): each default keeps the families above as they were
    # whether the norms sit before (True) or after (False) each sublayer, from config.json (OPT's
    # do_layer_norm_before), instead of norm_at; and whether final_norm applies (OPT's); None: norm_at / always
    pre_norm_rule: rules.Flag | None = None
    final_norm_rule: rules.Flag | None = None
    # the norms have a weight (and bias): True, or the config key that says (OPT's layer_norm_elementwise_affine;
    # false: N(x) with weight 1 and no bias, nothing read from the checkpoint)
    norm_affine: bool | str = True
    # (tensor, config key of the word embeddings' width): a linear map without bias from that width to the hidden
    # size, applied to the word embeddings when the two differ (OPT's project_in and word_embed_proj_dim)
    project_in: tuple[str, str] | None = None
    # config keys of factors (Granite's): the word embeddings × embed_multiplier; each sublayer's output ×
    # residual_multiplier before it is added to the residual stream. None: no factor
    embed_multiplier: str | None = None
    residual_multiplier: str | None = None
    # config.json as the family's transformers config class standardizes it, before any rule reads it or any key
    # is refused (Phi3Config's: original_max_position_embeddings 4096 when absent, rope type su/yarn → longrope)
    standardize: rules.Standardize | None = None
    # config keys whose value must be a finite number (Granite's multipliers): anything else is refused in one line
    numbers: tuple[str, ...] = ()
    # OPT's project_out: the last state back to the word embeddings' width (project_in's key) before the LM head
    # (models/predict.py; the hidden states stay as wide as the layers). None: no such map
    project_out: str | None = None
    # ---- issue 22, heads: each default keeps the families above as they were
    # other names of the output weight, tried after lm_head in order (GPT-NeoX: Pythia's embed_out.weight, which
    # transformers 5 renames lm_head.weight when it loads; Gemma 3's language_model.lm_head.weight)
    lm_head_alt: tuple[str, ...] = ()
    # the config key naming an MLM head's activation, read before lm_act (ModernBERT's classifier_activation, its
    # Honoured default when absent); None: lm_act, else the family's MLP activation
    lm_act_key: str | None = None
    # tensors that say the checkpoint holds another head than the one attncli reads, and what that head is (the
    # ELECTRA discriminator's discriminator_predictions): predictions are refused naming it
    lm_instead: tuple[tuple[str, str], ...] = ()
    # True: tie_word_embeddings is read from config.json's top level, not from its text_config (Gemma 3's
    # Gemma3ForConditionalGeneration ties by Gemma3Config's own key)
    lm_tie_outer: bool = False
    # logit settings config.json may hold that the family's head class does not apply (Gemma3ForConditionalGeneration
    # ignores its text_config's final_logit_softcapping): set to anything but null, predictions are refused
    lm_unread: tuple[str, ...] = ()
    # True: the output weight is the word embeddings whatever tie_word_embeddings says (DeBERTa's non-legacy head
    # multiplies by them itself)
    lm_tied_always: bool = False
    # (config key, value, lm_* fields): when config.json's key (its Honoured default when absent) is that value, the
    # head is read with these fields in place of the family's (DeBERTa's legacy false: lm_predictions.lm_head.*)
    lm_switch: tuple[str, Any, dict[str, Any]] | None = None
    # whether the head has its output bias (lm_bias) and its dense layer's bias: True, or the config key that says
    # (ModernBERT's decoder_bias, classifier_bias); a bias the key turns off is not read even if the file holds it
    # (transformers' Linear has none then); the head's norm has a bias as `norm_bias` says
    lm_out_bias: bool | str = True
    lm_dense_bias: bool | str = True

    def is_pre_norm(self, cfg: dict[str, Any]) -> bool:
        """Whether the norms sit before each sublayer (pre-norm) for this config.json."""
        return self.norm_at == "pre" if self.pre_norm_rule is None else self.pre_norm_rule(cfg)

    def has_final_norm(self, cfg: dict[str, Any]) -> bool:
        """Whether final_norm applies for this config.json."""
        return self.final_norm is not None and (self.final_norm_rule is None or self.final_norm_rule(cfg))

    def setting(self, cfg: dict[str, Any], key: str) -> Any:
        """config.json's value of `key`, else transformers' default (its Honoured entry)."""
        value = rules.lookup(cfg, key)
        return self.default(key) if value is rules.MISSING else value

    def default(self, key: str) -> Any:
        """The value transformers uses when config.json does not have `key` (its Honoured entry; None if none)."""
        return next((k.default for k in self.config if isinstance(k, Honoured) and k.key == key), None)

    def __post_init__(self) -> None:
        if self.norm_at not in ("pre", "post") or self.parallel_residual and self.norm_at != "pre":
            raise ValueError(f"{self.name}: norm_at is 'pre' or 'post', and a parallel residual is pre-norm")
        if self.weights not in ("out_in", "in_out") or self.fused_layout not in ("blocks", "per_head"):
            raise ValueError(f"{self.name}: weights is 'out_in' or 'in_out'; fused_layout 'blocks' or 'per_head'")
        if self.mlp not in ("plain", "gated", "gated_fused"):
            raise ValueError(f"{self.name}: mlp is 'plain', 'gated' or 'gated_fused'")
        if self.qk_norm is not None and self.fused_qkv is not None:
            raise ValueError(f"{self.name}: q/k norms are read for separate q and k projections only")
        if self.qk_norm is None and (self.qk_norm_bias is not None or self.qk_norm_if is not True):
            raise ValueError(f"{self.name}: qk_norm_bias and qk_norm_if describe the q/k norms of qk_norm")
        if self.qk_norm_over not in ("head", "full"):
            raise ValueError(f"{self.name}: qk_norm_over is 'head' or 'full'")


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
ROPE = "forward.layer_settings (rope_config.rope_base)"
HEAD = "predict.output_weight (the LM/MLM head's output weight: the word embeddings when tied)"


def shape_keys(goldens: tuple[str, ...], **names: Any) -> tuple[Honoured, ...]:
    """Honoured entries for the keys that give the shapes: name=(key, default) for each."""
    return tuple(Honoured(key, default, MLP if what == "inter" else SHAPES, goldens)
                 for what, (key, default) in names.items())


ROPE_SCALED = "layer_attention.layer_spec (rope_config.rope_frequencies, core/positions.py)"
# the golden cases of RoPE scaling, one per rope_type and layout (tests/golden/models)
ROPE_GOLDENS = ("llama_rope_llama3", "llama_rope_linear", "llama_rope_dynamic", "llama_rope_yarn",
                "llama_rope_yarn_mscale", "llama_rope_longrope", "llama_rope_longrope_short")


def rope_keys(goldens: tuple[str, ...], legacy: tuple[str, ...] = ("qwen2", "qwen2_window_layers")
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
        Refused("rope_parameters.rope_type", rope_config.ROPE_TYPES, other),
        Refused("rope_scaling.rope_type", rope_config.ROPE_TYPES, other),
        Refused("rope_scaling.type", rope_config.ROPE_TYPES, other),
        Refused("rope_parameters.partial_rotary_factor", (1.0,), "partial rotary"),
        Refused("partial_rotary_factor", (1.0,), "partial rotary"),
    )


def replacing(keys: tuple[Key, ...], *new: Key) -> tuple[Key, ...]:
    """`keys` with each entry for a key of `new` replaced by it (a family that differs from the one it follows)."""
    names = {k.key for k in new}
    return (*(k for k in keys if k.key not in names), *new)


def json_text(value: Any) -> str:
    """A config value as config.json writes it (true, null, "llama3", {...}), cut to 80 characters."""
    import json

    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
