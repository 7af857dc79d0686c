"""Layer i's attention as one Spec, from the family's fields and the rules it names over config.json (causal,
window, RoPE with its scaling and partial rotary, ALiBi, scale, soft-capping, sinks, q/k norms), and as the keywords
one layer of a model in compute gives attncli's attention. The forward pass (forward.py) and compute share these.
"""

from __future__ import annotations

import numpy as np

from attncli.core.spec import QKNorm, Rope, Spec
from attncli.errors import AttnError, param
from attncli.models import rope_config as ropes
from attncli.models.checkpoint import Checkpoint
from attncli.models.family import Family
from attncli.models.relative import layer_terms
from attncli.models.weights import Layer, Shapes, qkv_weights, split_fused


def layer_spec(ckpt: Checkpoint, i: int, s: Shapes, n: int | None = None) -> Spec:
    """Layer i's attention as one Spec for a text of n tokens, from the family's fields and the rules it names
    (rules.py) over config.json: causal; window (L, 0): query i sees keys i − L ≤ j ≤ i (transformers'
    sliding_window W is L = W − 1), or a rule's (L, R) (ModernBERT's local layers: |i − j| ≤ L = R); RoPE (θ,
    rotate_half, and a scaled RoPE's frequencies and attention factor, which may depend on n: None = a text no
    longer than the model's positions, as transformers computes them when it loads the model) or ALiBi; scale
    (None: the core's 1/√d_head)."""
    fam, cfg = ckpt.family, ckpt.config
    window = fam.window(cfg, i)
    if isinstance(window, int):  # a causal window W: (W − 1, 0); a rule's (L, R) is the Spec's as it is
        window = (window - 1, 0)
    rope = None
    if fam.positions == "rope":
        rcfg = fam.layer_rope(rope_config(ckpt), i)  # with the family's RoPE default; per layer type (Gemma 3)
        base, omega, m, dim = ropes.rope_frequencies(rcfg, s.head_dim, 0 if n is None else n, keys=fam.rope_keys)
        if omega is None:  # the default type: θ where the family's table says config.json keeps it
            base = _rope_base(fam, rcfg, i)
        rope = Rope(base, "half", dim=dim, inv_freq=omega, attention_factor=m)
    return Spec(causal=fam.causal, window=window, rope=rope,
                alibi=fam.positions == "alibi", scale=fam.scale(cfg, i, s.head_dim), softcap=fam.softcap(cfg, i),
                sinks=layer_sinks(ckpt, i, s))


def _rope_base(fam: Family, cfg: dict, i: int) -> float:
    """Layer i's RoPE θ: the family's per-layer rule (ModernBERT's global and local bases), else its keys."""
    return ropes.rope_base(cfg, fam.rope_theta) if fam.layer_rope_base is None else fam.layer_rope_base(cfg, i)


def rope_config(ckpt: Checkpoint) -> dict:
    """config.json, with the family's rope_default as its rope_parameters when it has neither rope_parameters
    nor rope_scaling (gpt-oss: GptOssConfig's YaRN defaults; a top-level rope_theta still wins over the
    default's θ, as transformers standardizes it)."""
    cfg, default = ckpt.config, ckpt.family.rope_default
    if default is None or cfg.get("rope_parameters") is not None or cfg.get("rope_scaling") is not None:
        return cfg
    theta = cfg.get("rope_theta", default["rope_theta"])
    return {**cfg, "rope_parameters": {**default, "rope_theta": theta}}


def layer_sinks(ckpt: Checkpoint, i: int, s: Shapes) -> np.ndarray | None:
    """Layer i's attention sinks (heads,), one logit per head (the family's sinks tensor), or None."""
    name = ckpt.family.sinks
    if name is None:
        return None
    return ckpt.tensor(ckpt.family.layer.format(i=i) + name, (s.heads,)).astype(np.float64)


def attention_kwargs(spec: Spec) -> dict:
    """A layer's Spec as keywords of attncli.core.attention.attention (what `compute` calls with one layer of a
    model): causal, and window, RoPE (rope=True with its base and layout; rope= the Spec's Rope itself when it
    holds a scaled RoPE's frequencies, attention factor or partial dim), ALiBi, scale and sinks where set."""
    out: dict = {"causal": spec.causal}
    if spec.rope is not None:
        plain = spec.rope == Rope(spec.rope.base, spec.rope.layout, spec.rope.start)
        out.update(rope=True if plain else spec.rope, rope_base=spec.rope.base, rope_layout=spec.rope.layout)
    if spec.alibi:
        out["alibi"] = True
    if spec.window is not None:
        out["window"] = spec.window
    if spec.scale is not None:
        out["scale"] = spec.scale
    if spec.qk_norm is not None:
        out["qk_norm"] = spec.qk_norm
    if spec.softcap is not None:
        out["softcap"] = spec.softcap
    if spec.sinks is not None:
        out["sinks"] = spec.sinks
    return out


def layer_weights(layer: Layer, n: int) -> dict:
    """Layer i's self-attention for n tokens as attncli.core.attention keywords: W_Q, W_K, W_V, W_O and biases
    (in × out), heads, kv heads, and its settings (layer_spec); DeBERTa's relative-position terms as
    `rel_embeddings` (a core Disentangled)."""
    fam, s = layer.ckpt.family, layer.s
    rms = fam.norm_kind in ("rms", "rms_offset") and fam.qk_norm_bias is None
    if layer.has_qk_norm() and not (rms and fam.qk_norm_over == "head"):
        # the core's q/k norms (Spec.qk_norm) are per-head RMSNorms: a LayerNorm (Phi's) or a norm over all the
        # heads at once (OLMo 2's) is refused rather than computed as one
        what = "each head's q and k" if fam.qk_norm_over == "head" else "q and k, all heads at once,"
        raise AttnError(f"{param('config')}: layer {layer.i} of this {fam.name} model puts {what} through "
                        f"{'an RMSNorm' if rms else 'a LayerNorm'} ({', '.join(fam.qk_norm)}) before RoPE; one "
                        "layer's attention computes per-head RMSNorm q/k norms only; the model's own forward pass "
                        "does (attncli model, its layers chosen)")
    proj = qkv_weights(layer)
    if fam.fused_qkv is not None:
        (w, b), d = proj[0], s.hidden
        ws = [part.reshape(d, -1) for part in split_fused(w, fam.fused_layout, s)]  # (d, H·hd), (d, G·hd) ×2
        bs = [None] * 3 if b is None else [part.reshape(-1) for part in split_fused(b, fam.fused_layout, s)]
        proj = list(zip(ws, bs, strict=True))
    (wq, bq), (wk, bk), (wv, bv) = proj
    wo, bo = layer.linear(fam.o, s.heads * s.head_dim, s.hidden, layer.ckpt.flag(fam.o_bias))
    spec = layer_spec(layer.ckpt, layer.i, s, n)
    if layer.has_qk_norm():  # each head's q and k through the layer's RMSNorms over head_dim, before RoPE
        nq, nk = (layer.get(name, (s.head_dim,)) for name in fam.qk_norm)
        if fam.norm_kind == "rms_offset":  # Gemma's (1 + w), rounded to the dtype as its norm computes it
            nq, nk = ((w + layer.dtype.type(1)).astype(layer.dtype) for w in (nq, nk))
        spec = spec.replace(qk_norm=QKNorm(nq, nk, s.eps))
    out = dict(wq=wq, wk=wk, wv=wv, wo=wo, bq=bq, bk=bk, bv=bv, bo=bo, heads=s.heads, kv_heads=s.kv_heads,
               **attention_kwargs(spec))
    if fam.relative is not None:  # DeBERTa: the layer's c2p/p2c terms, whole (compute's rel_embeddings takes them)
        out["rel_embeddings"] = layer_terms(layer)
    return out
