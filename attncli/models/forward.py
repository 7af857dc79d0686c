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
from attncli.models.ops import ACTIVATIONS, gelu_, layer_norm, layer_norm_, rms_norm_


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


def activation(ckpt: Checkpoint):
    """The family's MLP activation, as an in-place function of a (rows, width) array (ops.ACTIVATIONS)."""
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
        """The norm `names` (weight, bias) of x, into a new array."""
        y = np.array(x, dtype=self.dtype, copy=True)
        self.norm_(names, y.reshape(-1, y.shape[-1]))
        return y

    def norm_(self, names: tuple[str, str | None], x: np.ndarray) -> np.ndarray:
        """The norm `names` of the rows of x (m, d), in place."""
        w = self.get(names[0], (self.s.hidden,))
        if self.ckpt.family.norm_kind == "rms":
            return rms_norm_(x, w, self.s.eps)
        return layer_norm_(x, w, self.get(names[1], (self.s.hidden,)) if names[1] else None, self.s.eps)


# ---------------------------------------------------------------- the pass


@dataclass
class Pass:
    attentions: np.ndarray | None  # (B, layers, heads, n, n): the layers and heads asked for, in their order
    allowed: dict[int, np.ndarray | None]  # layer -> bool, broadcastable to its (B, H, n, n) maps (None: all)
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



# ---------------------------------------------------------------- the pass, a layer at a time


class Rows:
    """Runs a function over row ranges of the (B·n, ·) activations on `count` threads (BLAS single-threaded, as
    the CLI arranges) — the calling thread and the kernel's helpers (core/threads.py) — or inline: every row's
    numbers are the same either way."""

    def __init__(self, m: int, threads: int | None) -> None:
        from attncli.core.threads import default_threads

        count = max(1, min(threads or default_threads(), m // 64))
        bounds = np.linspace(0, m, count + 1).astype(int)
        self.ranges = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.parallel = count > 1

    def run(self, fn) -> None:
        """fn(r0, r1) for each range, in parallel."""
        if not self.parallel:
            fn(*self.ranges[0])
        else:
            from attncli.core.threads import in_threads

            in_threads(lambda r: fn(*r), self.ranges, len(self.ranges))


def qkv_weights(layer: Layer) -> tuple[list[tuple[np.ndarray, np.ndarray | None]], str]:
    """The projections X·W + b that give Q, K, V (W in × out): one fused product (GPT-2's [q | k | v] columns,
    "blocks"; BLOOM's per head (q, k, v), "per_head") or three ("three")."""
    fam, s = layer.ckpt.family, layer.s
    H, G, hd, d = s.heads, s.kv_heads, s.head_dim, s.hidden
    bias = layer.ckpt.flag(fam.attn_bias)
    if fam.fused_qkv is not None:
        return [layer.linear(fam.fused_qkv, d, 3 * H * hd, bias)], (
            "blocks" if fam.fused_layout == "qkv" else "per_head")
    return [layer.linear(fam.q, d, H * hd, bias), layer.linear(fam.k, d, G * hd, bias),  # type: ignore[arg-type]
            layer.linear(fam.v, d, G * hd, bias)], "three"  # type: ignore[arg-type]


def split_qkv(ys: list[np.ndarray], layout: str, B: int, n: int, s: Shapes
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V as (B, H, n, hd), (B, G, n, hd), (B, G, n, hd): views of the projections' outputs (B·n, ·)."""
    H, G, hd = s.heads, s.kv_heads, s.head_dim
    if layout == "per_head":
        y5 = ys[0].reshape(B, n, H, 3, hd)  # (B, n, H, 3, hd)
        return tuple(y5[:, :, :, j].transpose(0, 2, 1, 3) for j in range(3))  # type: ignore[return-value]
    if layout == "blocks":
        y = ys[0]
        ys = [y[:, : H * hd], y[:, H * hd: (H + G) * hd], y[:, (H + G) * hd:]]
    return tuple(a.reshape(B, n, a.shape[1] // hd, hd).transpose(0, 2, 1, 3)  # type: ignore[return-value]
                 for a in ys)


def _linear_rows(x: np.ndarray, wb: tuple[np.ndarray, np.ndarray | None], out: np.ndarray) -> np.ndarray:
    """out = x·W + b for rows x (r, in)."""
    np.matmul(x, wb[0], out=out)  # (r, in) @ (in, out) -> (r, out)
    if wb[1] is not None:
        out += wb[1]
    return out


def _block(layer: Layer, h: np.ndarray, lens: list[int] | None, rows: Rows, act, dtype: str,
           threads: int | None, into: np.ndarray | None, heads: list[int]
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """One layer on h (B, n, d): the new hidden state and where the attention weights may be nonzero; the
    weights of `heads` are copied `into` (B, len(heads), n, n) when given. Rows run in parallel through the
    projections, the norms, the MLP and that copy; the attention between them runs on every core inside attncli's
    core."""
    from attncli.core.attend import attend as core_attend
    from attncli.core.spec import Plan, Rope, Spec

    def attention(q, k, v, *, key_lens, dtype, need, threads, scale, causal=False, window=None, rope=False,
                  rope_base=10000.0, rope_layout="half", alibi=False):
        """The layer's settings (attention_settings) as a Spec, run by attend."""
        spec = Spec(causal=causal, window=window, key_lens=key_lens, scale=scale, alibi=alibi,
                    rope=Rope(rope_base, rope_layout) if rope else None)
        return core_attend(q, k, v, spec, Plan(dtype=dtype, need=need, threads=threads))

    fam, s = layer.ckpt.family, layer.s
    B, n, d = h.shape
    ft = layer.dtype
    x = h.reshape(B * n, d)  # (m, d), read only
    proj, layout = qkv_weights(layer)
    ys = [np.empty((B * n, w.shape[1]), dtype=ft) for w, _ in proj]  # (m, width)

    def project(r0: int, r1: int) -> None:
        xr = x[r0:r1]
        if fam.decoder:  # pre-norm
            xr = layer.norm_(fam.norm1, xr.copy())
        for wb, y in zip(proj, ys, strict=True):
            _linear_rows(xr, wb, y[r0:r1])

    rows.run(project)
    q, k, v = split_qkv(ys, layout, B, n, s)  # (B, H, n, hd), (B, G, n, hd) ×2
    settings = attention_settings(layer.ckpt, layer.i, s)
    q *= ft.type(settings.pop("scale", 1 / math.sqrt(s.head_dim)))  # Q/√d_k: no pass over the n × n scores
    every = heads == list(range(s.heads))
    # With no causal mask, window or positions (the encoders), a query row's attention needs its own row of Q
    # and all of K and V: each thread attends for its own rows and goes straight on to their MLP.
    by_rows = rows.parallel and settings == {"causal": False}
    pieces: dict[tuple[int, int, int], np.ndarray] = {}  # (b, i0, i1) -> where those rows' weights may be nonzero
    if by_rows:
        merged = np.empty((B * n, s.heads * s.head_dim), dtype=ft)  # (m, H·hd)
    else:
        res = attention(q, k, v, key_lens=lens, dtype=dtype, need=["weights", "heads"], threads=threads,
                        scale=1.0, **settings)
        merged = res.heads.transpose(0, 2, 1, 3).reshape(B * n, -1)  # (m, H·hd): a view of the kernel's layout
    o = layer.linear(fam.o, s.heads * s.head_dim, d, layer.ckpt.flag(fam.o_bias))
    (up_w, up_b), (down_w, down_b), gate = _mlp_weights(layer)
    out = np.empty_like(x)  # (m, d)

    def attend(r0: int, r1: int) -> None:
        """The attention of the query rows r0..r1 (of the B·n), their heads into `merged`, their maps `into`."""
        for b in range(B):
            i0, i1 = max(r0 - b * n, 0), min(r1 - b * n, n)
            if i0 >= i1:
                continue
            got = attention(q[b: b + 1, :, i0:i1], k[b: b + 1], v[b: b + 1], dtype=dtype, threads=1, scale=1.0,
                            key_lens=None if lens is None else [lens[b]], need=["weights", "heads"], **settings)
            merged[b * n + i0: b * n + i1] = got.heads[0].transpose(1, 0, 2).reshape(i1 - i0, -1)  # (rows, H·hd)
            if into is not None:
                into[b, :, i0:i1] = got.weights[0] if every else got.weights[0, heads]
            pieces[b, i0, i1] = got.allowed

    def rest(r0: int, r1: int) -> None:
        if by_rows:
            attend(r0, r1)
        a = _linear_rows(merged[r0:r1], o, out[r0:r1])  # Attn(h)
        a += x[r0:r1]
        if fam.decoder:  # h₁ = h + Attn(N₁(h)); h = h₁ + MLP(N₂(h₁))
            m_in = layer.norm_(fam.norm2, a.copy())
        else:  # h₁ = LN₁(h + Attn(h)); h = LN₂(h₁ + MLP(h₁))
            m_in = layer.norm_(fam.norm1, a)
        if gate is not None:  # act(W_gate·x) ⊙ W_up·x
            u = _linear_rows(m_in, (up_w, up_b), np.empty((r1 - r0, up_w.shape[1]), dtype=ft))  # (r, inter)
            u *= act(_linear_rows(m_in, gate, np.empty_like(u)))
        elif act is gelu_:  # the bias added inside GELU's blocks, while they are in the cache
            u = gelu_(_linear_rows(m_in, (up_w, None), np.empty((r1 - r0, up_w.shape[1]), dtype=ft)), up_b)
        else:
            u = act(_linear_rows(m_in, (up_w, up_b), np.empty((r1 - r0, up_w.shape[1]), dtype=ft)))
        a += _linear_rows(u, (down_w, down_b), np.empty((r1 - r0, d), dtype=ft))
        if not fam.decoder:
            layer.norm_(fam.norm2, a)
        if into is not None and not by_rows:  # the maps' query rows of these tokens, while the other threads compute
            for b in range(B):
                i0, i1 = max(r0 - b * n, 0), min(r1 - b * n, n)
                if i0 < i1:
                    into[b, :, i0:i1] = res.weights[b, :, i0:i1] if every else res.weights[b, heads, i0:i1]

    rows.run(rest)
    if not by_rows:
        return out.reshape(B, n, d), res.allowed
    if lens is None:  # nothing masked
        return out.reshape(B, n, d), None
    allowed = np.ones((B, max(a.shape[1] for a in pieces.values()), n, n), dtype=bool)  # (B, 1, n, n)
    for (b, i0, i1), piece in pieces.items():
        allowed[b, :, i0:i1] = piece[0]
    return out.reshape(B, n, d), allowed


def _mlp_weights(layer: Layer) -> tuple:
    fam, s = layer.ckpt.family, layer.s
    inter = int(layer.ckpt.config.get("intermediate_size") or layer.ckpt.config.get("n_inner")
                or layer.ckpt.config.get("hidden_dim") or 4 * s.hidden)
    bias = layer.ckpt.flag(fam.mlp_bias)
    up = layer.linear(fam.up, s.hidden, inter, bias)
    down = layer.linear(fam.down, inter, s.hidden, bias)
    gate = layer.linear(fam.gate, s.hidden, inter, bias) if fam.mlp == "gated" else None  # type: ignore[arg-type]
    return up, down, gate


def forward(ckpt: Checkpoint, ids: np.ndarray, lens: list[int] | None, *, layers: list[int], hidden: bool,
            dtype: str = "float32", threads: int | None = None, heads: list[int] | None = None) -> Pass:
    """Run the model on token ids (B, n); `lens` are the valid lengths of a padded batch (keys beyond are
    masked, as transformers' attention_mask does); keep the maps of `layers` (and `heads`, default all) and,
    if `hidden`, every state. Each layer's maps go into one (B, layers, heads, n, n) array as the layer ends."""
    s = shapes(ckpt)
    np_dtype = np.dtype(dtype)
    fam = ckpt.family
    act = activation(ckpt)
    h = embeddings(ckpt, ids, s, np_dtype)  # (B, n, d)
    B, n = ids.shape
    states = [h] if hidden else None
    where = {layer: j for j, layer in enumerate(layers)}
    heads = list(range(s.heads)) if heads is None else heads
    maps = np.empty((B, len(layers), len(heads), n, n), dtype=np_dtype) if layers else None
    allowed: dict[int, np.ndarray | None] = {}
    last = max(where) if where and not hidden else s.layers - 1
    rows = Rows(B * n, threads)
    for i in range(last + 1):
        into = maps[:, where[i]] if maps is not None and i in where else None  # (B, H, n, n)
        h, ok = _block(Layer(ckpt, i, s, np_dtype), h, lens, rows, act, dtype, threads, into, heads)
        if i in where:
            allowed[i] = ok
        if states is not None:
            states.append(h)
    if states is not None and fam.final_norm is not None:  # the model's final norm (no layer prefix)
        states[-1] = Layer(ckpt, s.layers, s, np_dtype, at="").norm(fam.final_norm, h)
    return Pass(maps, allowed, states)
