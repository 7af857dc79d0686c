"""One forward pass over a checkpoint, in numpy, with every attention computed by attncli's core.

    h₀ = E_word[ids] (+ E_pos[positions]) (+ E_type[0]) (→ LayerNorm)                     embeddings
    encoder (post-norm):  h = LN₁(h + Attn(h));  h = LN₂(h + MLP(h))
    decoder (pre-norm):   h = h + Attn(N₁(h));  h = h + MLP(N₂(h));  last hidden state = N_f(h)
    Attn(h) = attncli.core.attention(x=h, W_Q, W_K, W_V, W_O, biases, heads, kv heads, causal, window,
              key padding, RoPE or ALiBi)    MLP = W_down·act(W_up·h)  or  W_down·(act(W_gate·h) ⊙ W_up·h)

Hidden states follow transformers' `output_hidden_states`: the embeddings, then each layer's output (the last
one after the final norm in decoders): layers + 1 of them. Weights are read one layer at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attncli.errors import AttnError
from attncli.models.checkpoint import OPTION, Checkpoint


@dataclass
class Shapes:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    eps: float


def shapes(ckpt: Checkpoint) -> Shapes:
    hidden, heads = int(ckpt.need("hidden")), int(ckpt.need("heads"))
    kv = int(ckpt.setting("kv_heads") or heads)
    head_dim = int(ckpt.setting("head_dim") or 0) or (hidden // heads if heads and hidden % heads == 0 else 0)
    if heads <= 0 or head_dim <= 0 or kv <= 0 or heads % kv:
        raise AttnError(f"{OPTION}: config.json's head counts do not fit: hidden {hidden}, heads {heads}, kv heads "
                        f"{kv}, head_dim {head_dim}; heads must divide the hidden size (or head_dim be given) and "
                        "kv heads divide heads")
    eps = ckpt.setting("eps", 1e-12 if ckpt.family.name in ("bert", "roberta", "distilbert") else 1e-5)
    return Shapes(int(ckpt.need("layers")), hidden, heads, kv, head_dim, int(ckpt.need("vocab")), float(eps))


# ---------------------------------------------------------------- the pieces


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * w
    return y + b if b is not None else y


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


ERF_STEP, ERF_TOP = 1 / 16, 6.0  # grid of the erf table; erf(6) = 1 − 2·10⁻¹⁷


def _erf_table(order: int = 8) -> np.ndarray:
    """Taylor coefficients of erf at x₀ = 0, 1/16, ..., 6: erf^(k)(x₀)/k!, with erf^(k) = 2/√π (−1)^(k−1)
    H_{k−1}(x) e^(−x²) (H the Hermite polynomials) and erf(x₀) from math.erf."""
    xs = np.arange(0, ERF_TOP + ERF_STEP, ERF_STEP)
    coef = np.empty((order + 1, xs.size))
    coef[0] = [math.erf(v) for v in xs]
    h_prev, h = np.zeros_like(xs), np.ones_like(xs)  # H_{k−2}, H_{k−1}
    g = 2 / math.sqrt(math.pi) * np.exp(-xs * xs)
    fact = 1.0
    for k in range(1, order + 1):
        fact *= k
        coef[k] = (-1) ** (k - 1) * h * g / fact
        h_prev, h = h, 2 * xs * h - 2 * (k - 1) * h_prev
    return coef


_ERF = _erf_table()


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none), from the table above: the Taylor polynomial at the nearest grid
    point, |x − x₀| ≤ 1/32. float64: order 8, within 3·10⁻¹⁶ of math.erf; float32: order 4 in float32,
    within 10⁻⁷ (float32's own precision, as torch.erf), four times faster."""
    single = x.dtype == np.float32
    order, kind = (4, np.float32) if single else (8, np.float64)
    z = np.asarray(x, dtype=kind)
    a = np.minimum(np.abs(z), kind(ERF_TOP))
    idx = np.rint(a * kind(1 / ERF_STEP)).astype(np.intp)
    dx = a - idx.astype(kind) * kind(ERF_STEP)
    coef = _ERF.astype(kind) if single else _ERF
    p = coef[order][idx]
    for k in range(order - 1, -1, -1):  # Horner
        p *= dx
        p += coef[k][idx]
    return np.copysign(p, z)


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1 + erf(x / x.dtype.type(math.sqrt(2))))).astype(x.dtype)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))).astype(x.dtype)


ACTIVATIONS = {
    "gelu": _gelu_erf, "gelu_python": _gelu_erf,
    "gelu_new": _gelu_tanh, "gelu_pytorch_tanh": _gelu_tanh, "gelu_fast": _gelu_tanh, "bloom_gelu": _gelu_tanh,
    "relu": lambda x: np.maximum(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)), "swish": lambda x: x / (1 + np.exp(-x)),
}


def activation(ckpt: Checkpoint):
    fam = ckpt.family
    name = ckpt.config.get(fam.act_key, fam.act) if fam.act_key else fam.act
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
        """(W as in × out, b): nn.Linear stores out × in, GPT-2's Conv1D in × out."""
        if self.ckpt.family.conv1d:
            w = self.get(name + ".weight", (n_in, n_out))
        else:
            w = self.get(name + ".weight", (n_out, n_in)).T
        b = self.get(name + ".bias", (n_out,)) if bias else None
        return w, b

    def norm(self, names: tuple[str, str | None], x: np.ndarray) -> np.ndarray:
        w = self.get(names[0], (self.s.hidden,))
        if self.ckpt.family.norm_kind == "rms":
            return rms_norm(x, w, self.s.eps)
        return layer_norm(x, w, self.get(names[1], (self.s.hidden,)) if names[1] else None, self.s.eps)


# ---------------------------------------------------------------- the pass


@dataclass
class Pass:
    attentions: dict[int, np.ndarray]  # layer -> (B, H, n, n), for the layers asked for
    allowed: dict[int, np.ndarray | None]  # layer -> bool, broadcastable to its attentions (None: all)
    hidden: list[np.ndarray] | None  # layers + 1 of (B, n, d), when asked for


def embeddings(ckpt: Checkpoint, ids: np.ndarray, s: Shapes, dtype: np.dtype) -> np.ndarray:
    """(B, n, d) from token ids (B, n)."""
    fam = ckpt.family
    word = ckpt.tensor(fam.word)
    if word.ndim != 2 or word.shape[1] != s.hidden:
        raise AttnError(f"{OPTION}: the word embeddings '{ckpt.prefix + fam.word}' have shape {word.shape}, not "
                        f"(vocabulary, {s.hidden}) as config.json's hidden size says")
    if ids.size and (ids.min() < 0 or ids.max() >= word.shape[0]):
        bad = int(ids.max() if ids.max() >= word.shape[0] else ids.min())
        raise AttnError(f"token id {bad} is outside the embedding table of {word.shape[0]} rows; is the tokenizer "
                        "the model's own?")
    h = word[ids].astype(dtype)  # (B, n, d)
    n = ids.shape[1]
    if fam.position is not None:
        table = ckpt.tensor(fam.position)
        offset = int(ckpt.config.get("pad_token_id", 1)) + 1 if fam.name == "roberta" else 0
        if table.ndim != 2 or table.shape[1] != s.hidden or table.shape[0] < n + offset:
            raise AttnError(f"{OPTION}: the model has {table.shape[0] - offset} learned positions; the text has {n} "
                            "tokens: give a shorter text")
        h = h + table[offset: offset + n].astype(dtype)
    if fam.token_type is not None and ckpt.has(fam.token_type):
        h = h + ckpt.tensor(fam.token_type)[0].astype(dtype)
    if fam.embed_norm is not None:
        w, b = fam.embed_norm
        h = layer_norm(h, ckpt.tensor(w, (s.hidden,)).astype(dtype),
                       ckpt.tensor(b, (s.hidden,)).astype(dtype) if b else None, s.eps)
    return h.astype(dtype, copy=False)


def attention_settings(ckpt: Checkpoint, i: int, s: Shapes) -> dict:
    """What differs between families and layers in the attention call: causal, window, RoPE, ALiBi, scale."""
    fam, cfg = ckpt.family, ckpt.config
    out: dict = {"causal": fam.decoder}
    if fam.positions == "rope":
        scaling = cfg.get("rope_scaling") or {}
        kind = scaling.get("rope_type", scaling.get("type", "default")) if isinstance(scaling, dict) else "?"
        if kind not in ("default", None):
            raise AttnError(f"{OPTION}: config.json asks for rope_scaling {kind!r}, which attncli does not support "
                            "yet (plain RoPE only)")
        theta = cfg.get("rope_theta")
        if theta is None and isinstance(cfg.get("rope_parameters"), dict):
            theta = cfg["rope_parameters"].get("rope_theta")
        out.update(rope=True, rope_base=float(theta if theta is not None else 10000.0), rope_layout="half")
    if fam.positions == "alibi":
        out["alibi"] = True
    window = sliding_window(ckpt, i)
    if window is not None:
        out["window"] = (window - 1, 0)  # key j is seen when i − j < window (transformers' sliding_window)
    if fam.name == "gpt2":
        scale = 1 / math.sqrt(s.head_dim) if cfg.get("scale_attn_weights", True) else 1.0
        if cfg.get("scale_attn_by_inverse_layer_idx"):
            scale /= i + 1
        out["scale"] = scale
    return out


def sliding_window(ckpt: Checkpoint, i: int) -> int | None:
    cfg = ckpt.config
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if isinstance(types, list) and i < len(types):
        return int(window) if types[i] == "sliding_attention" and window else None
    if ckpt.family.name == "mistral":
        return int(window) if window else None
    if ckpt.family.name == "qwen2" and cfg.get("use_sliding_window") and window:
        return int(window) if i >= int(cfg.get("max_window_layers", 0)) else None
    return None


def attend(layer: Layer, x: np.ndarray, key_lens: list[int] | None, dtype: str, threads: int | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One self-attention block through attncli's core: output (B, n, d), weights (B, H, n, n), and where a
    query may attend (bool, broadcastable to the weights; None when nothing is masked)."""
    from attncli.core.attention import attention

    res = attention(x=x, key_lens=key_lens, dtype=dtype, need=["weights", "output"], threads=threads,
                    **layer_attention(layer))
    return res.output, res.weights, res.allowed  # (B, n, d), (B, H, n, n), bool


def layer_attention(layer: Layer) -> dict:
    """Everything attncli.core.attention needs for layer i's self-attention besides its input: W_Q, W_K, W_V,
    W_O and biases (in × out), heads, kv heads, and the family's settings (causal, window, RoPE, ALiBi, scale)."""
    fam, s = layer.ckpt.family, layer.s
    H, G, hd, d = s.heads, s.kv_heads, s.head_dim, s.hidden
    qkv_bias = layer.ckpt.flag(fam.attn_bias)
    if fam.fused_qkv is not None:
        if fam.fused_layout == "qkv":  # GPT-2: [q | k | v] columns, each H·hd
            w, b = layer.linear(fam.fused_qkv, d, 3 * H * hd, qkv_bias)
            wq, wk, wv = np.split(w, 3, axis=1)
            bq, bk, bv = np.split(b, 3) if b is not None else (None, None, None)
        else:  # BLOOM: per head (q, k, v) of hd columns each: (d, H, 3, hd)
            w, b = layer.linear(fam.fused_qkv, d, 3 * H * hd, qkv_bias)
            w4 = w.reshape(d, H, 3, hd)
            wq, wk, wv = (w4[:, :, j].reshape(d, H * hd) for j in range(3))
            if b is not None:
                b3 = b.reshape(H, 3, hd)
                bq, bk, bv = (b3[:, j].reshape(H * hd) for j in range(3))
            else:
                bq = bk = bv = None
    else:
        wq, bq = layer.linear(fam.q, d, H * hd, qkv_bias)  # type: ignore[arg-type]
        wk, bk = layer.linear(fam.k, d, G * hd, qkv_bias)  # type: ignore[arg-type]
        wv, bv = layer.linear(fam.v, d, G * hd, qkv_bias)  # type: ignore[arg-type]
    wo, bo = layer.linear(fam.o, H * hd, d, layer.ckpt.flag(fam.o_bias))
    return dict(wq=wq, wk=wk, wv=wv, wo=wo, bq=bq, bk=bk, bv=bv, bo=bo, heads=H, kv_heads=G,
                **attention_settings(layer.ckpt, layer.i, s))


def mlp(layer: Layer, x: np.ndarray, act, threads: int | None = None) -> np.ndarray:
    """The MLP on (B, n, d), its rows split over `threads` (the CLI keeps BLAS single-threaded, so the two big
    products and the activation run on every core this way; the rows are independent)."""
    from attncli.core.kernel import default_threads

    rows = x.reshape(-1, x.shape[-1])  # (B·n, d)
    count = max(1, min(threads or default_threads(), rows.shape[0] // 64))
    if count == 1:
        return _mlp_rows(layer, rows, act).reshape(*x.shape[:-1], -1)
    from concurrent.futures import ThreadPoolExecutor

    weights = _mlp_weights(layer)
    parts = np.array_split(rows, count)
    with ThreadPoolExecutor(count) as pool:
        done = list(pool.map(lambda part: _mlp_rows(layer, part, act, weights), parts))
    return np.concatenate(done).reshape(*x.shape[:-1], -1)


def _mlp_weights(layer: Layer) -> tuple:
    fam, s = layer.ckpt.family, layer.s
    inter = int(layer.ckpt.config.get("intermediate_size") or layer.ckpt.config.get("n_inner")
                or layer.ckpt.config.get("hidden_dim") or 4 * s.hidden)
    bias = layer.ckpt.flag(fam.mlp_bias)
    up = layer.linear(fam.up, s.hidden, inter, bias)
    down = layer.linear(fam.down, inter, s.hidden, bias)
    gate = layer.linear(fam.gate, s.hidden, inter, bias) if fam.mlp == "gated" else None  # type: ignore[arg-type]
    return up, down, gate


def _mlp_rows(layer: Layer, x: np.ndarray, act, weights: tuple | None = None) -> np.ndarray:
    """MLP = W_down·act(W_up·x) or W_down·(act(W_gate·x) ⊙ W_up·x), for rows x (m, d)."""
    (up_w, up_b), (down_w, down_b), gate = weights if weights is not None else _mlp_weights(layer)
    up = x @ up_w + (up_b if up_b is not None else 0)  # (m, inter)
    if gate is not None:
        gate_w, gate_b = gate
        up = act(x @ gate_w + (gate_b if gate_b is not None else 0)) * up
    else:
        up = act(up)
    out = up @ down_w  # (m, d)
    return out + down_b if down_b is not None else out


def forward(ckpt: Checkpoint, ids: np.ndarray, lens: list[int] | None, *, layers: list[int], hidden: bool,
            dtype: str = "float32", threads: int | None = None) -> Pass:
    """Run the model on token ids (B, n); `lens` are the valid lengths of a padded batch (keys beyond are
    masked, as transformers' attention_mask does); keep the maps of `layers` and, if `hidden`, every state."""
    s = shapes(ckpt)
    np_dtype = np.dtype(dtype)
    fam = ckpt.family
    act = activation(ckpt)
    h = embeddings(ckpt, ids, s, np_dtype)
    states = [h] if hidden else None
    keep = set(layers)
    maps: dict[int, np.ndarray] = {}
    allowed: dict[int, np.ndarray | None] = {}
    last = max(keep) if keep and not hidden else s.layers - 1
    for i in range(last + 1):
        layer = Layer(ckpt, i, s, np_dtype)
        if fam.decoder:  # pre-norm
            a, w, ok = attend(layer, layer.norm(fam.norm1, h), lens, dtype, threads)
            h = h + a
            h = h + mlp(layer, layer.norm(fam.norm2, h), act, threads)
        else:  # post-norm
            a, w, ok = attend(layer, h, lens, dtype, threads)
            h = layer.norm(fam.norm1, h + a)
            h = layer.norm(fam.norm2, h + mlp(layer, h, act, threads))
        h = h.astype(np_dtype, copy=False)
        if i in keep:
            maps[i], allowed[i] = w, ok
        if states is not None:
            states.append(h)
    if states is not None and fam.final_norm is not None:  # the model's final norm (no layer prefix)
        states[-1] = Layer(ckpt, s.layers, s, np_dtype, at="").norm(fam.final_norm, h)
    return Pass(maps, allowed, states)
