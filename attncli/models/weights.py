"""A layer's weights as the forward pass (forward.py) uses them: the sizes config.json gives, each tensor read
and checked when it is needed, linear weights oriented in × out once as they are read (nn.Linear stores out × in,
GPT-2's Conv1D in × out: the family's `weights`), and one splitter for fused Q/K/V projections in either layout
(GPT-2's [q | k | v] columns, BLOOM's per-head (H, 3, d_head)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attncli.errors import AttnError
from attncli.models import rules
from attncli.models.checkpoint import OPTION, Checkpoint
from attncli.models.ops import ACTIVATIONS, layer_norm_, rms_norm_


@dataclass
class Shapes:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    eps: float  # of every norm: the family's eps key, or its config class's default
    inter: int  # the MLP's width


def shapes(ckpt: Checkpoint) -> Shapes:
    """The sizes config.json gives (with the family's key names and defaults), checked to fit together."""
    fam = ckpt.family
    hidden, heads = int(ckpt.need("hidden")), int(ckpt.need("heads"))
    kv = int(ckpt.setting("kv_heads") or fam.default("num_key_value_heads") or heads)  # Mistral: 8, Qwen2: 32
    head_dim = int(ckpt.setting("head_dim") or fam.default("head_dim") or 0) or (  # Qwen3: 128
        hidden // heads if heads and hidden % heads == 0 else 0)
    if heads <= 0 or head_dim <= 0 or kv <= 0 or heads % kv:
        raise AttnError(f"{OPTION}: config.json's head counts do not fit: hidden {hidden}, heads {heads}, kv heads "
                        f"{kv}, head_dim {head_dim}; heads must divide the hidden size (or head_dim be given) and "
                        "kv heads divide heads")
    eps = rules.first(ckpt.config, fam.eps_keys, fam.eps)
    inter = int(ckpt.setting("inter") or 4 * hidden)
    return Shapes(int(ckpt.need("layers")), hidden, heads, kv, head_dim, int(ckpt.need("vocab")), float(eps), inter)


def activation(ckpt: Checkpoint):
    """The family's MLP activation, as an in-place function of a (rows, width) array (ops.ACTIVATIONS)."""
    fam = ckpt.family
    name = ckpt.config.get(fam.act_key, fam.act) if fam.act_key else fam.act
    name = dict(fam.act_aliases).get(name, name)  # the config class's renaming (Gemma: "gelu" → tanh GELU)
    if name not in ACTIVATIONS:
        raise AttnError(f"{OPTION}: config.json's activation {name!r} is not supported; supported: "
                        f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# ---------------------------------------------------------------- weights of one layer


class Layer:
    """The tensors of layer i, read and checked on demand, as the forward pass uses them (in × out)."""

    def __init__(self, ckpt: Checkpoint, i: int, s: Shapes, dtype: np.dtype, at: str | None = None) -> None:
        self.ckpt, self.i, self.s, self.dtype = ckpt, i, s, dtype
        self.at = ckpt.family.layer.format(i=i) if at is None else at  # "" for the model's own tensors

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        return self.ckpt.tensor(self.at + name, shape).astype(self.dtype, copy=False)

    def linear(self, name: str, n_in: int, n_out: int, bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(W, b) with W (n_in, n_out), oriented as it is read: nn.Linear stores out × in (W is then a transposed
        view, no copy), GPT-2's Conv1D in × out."""
        if self.ckpt.family.weights == "in_out":
            w = self.get(name + ".weight", (n_in, n_out))
        else:
            w = self.get(name + ".weight", (n_out, n_in)).T  # (in, out)
        b = self.get(name + ".bias", (n_out,)) if bias else None
        return w, b

    def norm(self, names: tuple[str, str | None], x: np.ndarray) -> np.ndarray:
        """The norm `names` (weight, bias) of x, into a new array."""
        y = np.array(x, dtype=self.dtype, copy=True, order="C")  # C order: the 2-D view below writes into y
        self.norm_(names, y.reshape(-1, y.shape[-1]))
        return y

    def norm_(self, names: tuple[str, str | None] | None, x: np.ndarray, width: int | None = None) -> np.ndarray:
        """The norm `names` of the rows of x (m, width), in place (None: no norm, x as it is); `width` is the
        hidden size unless given (a per-head q/k norm's is head_dim). "rms_offset" (Gemma's RMSNorm) computes
        x/rms(x)·(1 + w) with 1 + w rounded to the working dtype first, as Gemma's (1.0 + weight.float())."""
        fam = self.ckpt.family
        if names is None:
            return x
        if names == fam.norm1 and self.i == 0 and not fam.first_norm1:  # ModernBERT's layer 0: N₁ is the identity
            return x
        d = self.s.hidden if width is None else width
        if not self.ckpt.flag(self.ckpt.family.norm_affine):  # no weight or bias (OPT's elementwise_affine false)
            return layer_norm_(x, np.ones(d, dtype=self.dtype), None, self.s.eps) \
                if self.ckpt.family.norm_kind == "layer" else rms_norm_(x, np.ones(d, dtype=self.dtype), self.s.eps)
        w = self.get(names[0], (d,))
        kind = fam.norm_kind
        if kind == "rms_offset":
            return rms_norm_(x, (w + self.dtype.type(1)).astype(self.dtype, copy=False), self.s.eps)
        if kind == "rms":
            return rms_norm_(x, w, self.s.eps)
        bias = self.get(names[1], (d,)) if names[1] and self.ckpt.flag(fam.norm_bias) else None
        return layer_norm_(x, w, bias, self.s.eps)

    def has_qk_norm(self) -> bool:
        """Whether each head's q and k go through a norm before RoPE (the family's qk_norm, when its qk_norm_if
        says so: always, or as a config key says)."""
        fam = self.ckpt.family
        return fam.qk_norm is not None and self.ckpt.flag(fam.qk_norm_if)

    def qk_norm_(self, q: np.ndarray, k: np.ndarray) -> None:
        """Each head's q and k normed over head_dim, in place (the family's qk_norm with its qk_norm_bias, before
        RoPE; nothing when it has none): q (r, H·hd), k (r, G·hd), rows of the projections' contiguous outputs,
        seen as (r·H, hd) and (r·G, hd) rows; or, qk_norm_over "full", each row of q and of k normed whole (H·hd
        and G·hd wide)."""
        fam, hd = self.ckpt.family, self.s.head_dim
        if not self.has_qk_norm():
            return
        names, biases = fam.qk_norm, fam.qk_norm_bias or (None, None)
        if fam.qk_norm_over == "full":  # OLMo 2: over all of q (r, H·hd) and all of k (r, G·hd)
            self.norm_((names[0], biases[0]), q, q.shape[1])
            self.norm_((names[1], biases[1]), k, k.shape[1])
            return
        for name, bias, y in ((names[0], biases[0], q), (names[1], biases[1], k)):
            rows = y.reshape(-1, hd)  # (r·H, hd) or (r·G, hd): a view when y's rows are contiguous
            self.norm_((name, bias), rows, hd)
            if rows.ctypes.data != y.ctypes.data:  # reshape made a copy: write it back
                y[...] = rows.reshape(y.shape)


def split_fused(a: np.ndarray, layout: str, s: Shapes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V parts of a fused projection's last axis (3·H·hd wide; weights (d, ·), bias (·,) or outputs
    (m, ·)), as views (..., H, hd), (..., G, hd), (..., G, hd). layout "blocks": [q | k | v] columns (GPT-2's
    c_attn); "per_head": (H, 3, hd), each head's q, k, v side by side (BLOOM's query_key_value)."""
    H, G, hd = s.heads, s.kv_heads, s.head_dim
    lead = a.shape[:-1]
    if layout == "per_head":
        a4 = a.reshape(*lead, H, 3, hd)  # (..., H, 3, hd)
        return a4[..., 0, :], a4[..., 1, :], a4[..., 2, :]
    q, k, v = a[..., : H * hd], a[..., H * hd: (H + G) * hd], a[..., (H + G) * hd:]
    return q.reshape(*lead, H, hd), k.reshape(*lead, G, hd), v.reshape(*lead, G, hd)


def qkv_weights(layer: Layer) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The projections X·W + b that give Q, K, V (W in × out): one fused product (the family's fused_layout
    says how its output splits) or three."""
    fam, s = layer.ckpt.family, layer.s
    H, G, hd, d = s.heads, s.kv_heads, s.head_dim, s.hidden
    bias = layer.ckpt.flag(fam.attn_bias)
    if fam.fused_qkv is not None:
        return [layer.linear(fam.fused_qkv, d, (H + 2 * G) * hd, bias)]
    return [layer.linear(fam.q, d, H * hd, bias), layer.linear(fam.k, d, G * hd, bias),  # type: ignore[arg-type]
            layer.linear(fam.v, d, G * hd, bias)]  # type: ignore[arg-type]


def mlp_weights(layer: Layer) -> tuple:
    """(W_up, b), (W_down, b), (W_gate, b) or None for a plain MLP: W in × out, s.inter wide; a fused gated MLP's
    one tensor (d, 2·inter) split into gate (its first half, through the activation) and up (its second)."""
    fam, s = layer.ckpt.family, layer.s
    bias = layer.ckpt.flag(fam.mlp_bias)
    if fam.mlp == "gated_fused":  # one product, [act input | multiplier] (ModernBERT's Wi), as column views
        w, b = layer.linear(fam.up, s.hidden, 2 * s.inter, bias)  # (d, 2·inter)
        gate = (w[:, : s.inter], None if b is None else b[: s.inter])  # act(x·W₁)
        up = (w[:, s.inter:], None if b is None else b[s.inter:])  # · x·W₂
        return up, layer.linear(fam.down, s.inter, s.hidden, bias), gate
    up = layer.linear(fam.up, s.hidden, s.inter, bias)
    down = layer.linear(fam.down, s.inter, s.hidden, bias)
    gate = layer.linear(fam.gate, s.hidden, s.inter, bias) if fam.mlp == "gated" else None  # type: ignore[arg-type]
    return up, down, gate
