"""One forward pass over a checkpoint, in numpy, with every attention computed by attncli's core.

    h₀ = E_word[ids] (+ E_pos[position ids]) (+ E_type[token types], 0 unless a pair) (→ LayerNorm)   embeddings
         (→ · W_proj + b: factorized embeddings, ELECTRA and ALBERT, models/factorized.py)
    post-norm:  h = N₁(h + Attn(h));  h = N₂(h + MLP(h))
    pre-norm:   h = h + Attn(N₁(h));  h = h + MLP(N₂(h))      (parallel residual: h + Attn(N₁(h)) + MLP(N₂(h)))
    final norm: last hidden state = N_f(h)
    Attn(h) = W_O·attend(Q, K, V, the layer's Spec)    Q, K, V = h·W + b, split into heads
    q/k norms (qwen3): q_h = N_q(q_h), k_h = N_k(k_h) over each head's head_dim, before attend applies RoPE
                (olmo2: q = N_q(q), k = N_k(k) over the whole projection, before the split into heads)
    sublayer output norms (gemma2/3 sandwich, olmo2): h + Nₐ(Attn(·)), h + Nₘ(MLP(·)); gemma: h₀ × √d
    MLP = W_down·act(W_up·h)  or  W_down·(act(W_gate·h) ⊙ W_up·h)   (ModernBERT's Wi: [W_gate | W_up] in one)
          or a mixture of experts (models/moe.py)
    OPT: E_word[ids] through project_in when narrower than the layers; Granite: E_word[ids] × m_emb, and each
    sublayer's output × m_res before the residual add (h + m_res·Attn(N₁(h)), ...): models/projections.py

What a family is (families/, the tables; family.py, what they hold) decides every branch here: where the norms sit,
causal or not, the positions, and each layer's attention: one Spec (causal, window, RoPE, ALiBi, scale,
soft-capping) made by the rules the family names (rules.py), given with the projected heads to attncli.attend, once
per layer. Hidden states follow transformers' `output_hidden_states`: the embeddings, then each layer's output (the
last one after the final norm when the family has one): layers + 1 of them. Weights are read one layer at a time,
oriented in × out as they are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from attncli.core.attend import attend
from attncli.core.spec import Plan, Spec
from attncli.errors import AttnError
from attncli.models import moe, rules
from attncli.models.checkpoint import OPTION, Checkpoint, RowsOutside
from attncli.models.factorized import embedding_width, project
from attncli.models.layer_attention import layer_spec
from attncli.models.ops import gelu_, layer_norm, linear
from attncli.models.projections import project_out, residual_factor, scaled_words, word_width
from attncli.models.relative import layer_terms
from attncli.models.weights import Layer, Shapes, activation, mlp_weights, qkv_weights, shapes, split_fused

# ---------------------------------------------------------------- the pass


@dataclass
class Pass:
    attentions: np.ndarray | None  # (B, layers, heads, n, n): the layers and heads asked for, in their order
    allowed: dict[int, np.ndarray | None]  # layer -> bool, broadcastable to its (B, H, n, n) maps (None: all)
    hidden: list[np.ndarray] | None  # layers + 1 of (B, n, d), when asked for
    # what each kept layer's attention saw, for the layers and heads asked for (B, layers, heads, n, ·): q (after
    # q/k norms and RoPE), k and v (the kv head each query head reads), scores (after scale, soft-capping, masks)
    kept: dict[str, np.ndarray] = field(default_factory=dict)
    # (B, n, d): the last hidden state (after the final norm; OPT-350m's through project_out, (B, n, e)) as the
    # LM head reads it, when asked for
    last: np.ndarray | None = None


def embeddings(ckpt: Checkpoint, ids: np.ndarray, s: Shapes, dtype: np.dtype, types: np.ndarray | None = None
               ) -> np.ndarray:
    """(B, n, d) from token ids (B, n) and, for a family with token types, their type ids (B, n) (None: all 0);
    factorized embeddings: e wide, then projected to d."""
    fam = ckpt.family
    width = embedding_width(ckpt, s)  # the hidden size, or a factorized embedding's embedding_size
    words = word_width(ckpt, width)  # OPT's word_embed_proj_dim, mapped to `width` by project_in
    try:
        word = ckpt.rows(fam.word, ids)  # (B, n, e): the text's rows only, read and decoded alone
    except RowsOutside as outside:
        bad = int(ids.max() if ids.max() >= outside.rows else ids.min())
        raise AttnError(f"token id {bad} is outside the embedding table of {outside.rows} rows; is the tokenizer "
                        "the model's own?") from None
    if word.ndim != ids.ndim + 1 or word.shape[-1] != words:
        what = "hidden size" if words == s.hidden else "embedding_size" if words == width else fam.project_in[1]
        raise AttnError(f"{OPTION}: the word embeddings '{ckpt.prefix + fam.word}' have rows of shape "
                        f"{word.shape[ids.ndim:]}, not the (vocabulary, {words}) table config.json's {what} says")
    h = scaled_words(ckpt, word.astype(dtype), s)  # (B, n, d): OPT's project_in, Granite's factor
    if fam.embed_scale:  # Gemma: × √d, √d rounded to the model's dtype first (hidden_size**0.5 as a tensor)
        h *= dtype.type(s.hidden ** 0.5)
    n = ids.shape[1]
    if fam.position is not None and (fam.position_key is None or rules.flag(ckpt.config, *fam.position_key)):
        table = ckpt.tensor(fam.position)
        rows = fam.position_ids(ckpt.config, ids)  # (B, n): the row of the position table each token takes
        start = int(fam.position_ids(ckpt.config, np.full((1, 1), -1))[0, 0])  # the first token's row
        if table.ndim != 2 or table.shape[1] != width or (ids.size and int(rows.max()) >= table.shape[0]):
            raise AttnError(f"{OPTION}: the model has {table.shape[0] - start} learned positions; the text has {n} "
                            "tokens: give a shorter text")
        h = h + table[rows].astype(dtype)  # (B, n, d)
    if fam.token_type is not None and ckpt.has(fam.token_type):
        h = h + token_types(ckpt.tensor(fam.token_type), types).astype(dtype)  # (d,) or (B, n, d)
    if fam.embed_norm is not None:
        w, b = fam.embed_norm
        h = layer_norm(h, ckpt.tensor(w, (width,)).astype(dtype),
                       ckpt.tensor(b, (width,)).astype(dtype) if b and ckpt.flag(fam.norm_bias) else None, s.eps)
    return project(ckpt, h.astype(dtype, copy=False), s)  # (B, n, d): ELECTRA's and ALBERT's map to the hidden size


def token_types(table: np.ndarray, types: np.ndarray | None) -> np.ndarray:
    """The token type embedding each token adds: row 0 for all (types None), else table[types] (B, n, d)."""
    if types is None:
        return table[0]
    if types.size and int(types.max()) >= table.shape[0]:
        raise AttnError(f"{OPTION}: the tokenizer gives token type {int(types.max())} but the model's token type "
                        f"table has {table.shape[0]} row(s) (config.json type_vocab_size); the model takes no "
                        "second segment")
    return table[types]


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


def heads_of(ys: list[np.ndarray], layout: str | None, B: int, n: int, s: Shapes
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V as (B, H, n, hd), (B, G, n, hd), (B, G, n, hd): views of the projections' outputs (B·n, ·), one
    fused (split by `layout`) or three."""
    if layout is not None:
        parts = split_fused(ys[0], layout, s)  # (m, H, hd), (m, G, hd), (m, G, hd)
    else:
        parts = tuple(y.reshape(B * n, -1, s.head_dim) for y in ys)
    return tuple(a.reshape(B, n, a.shape[1], s.head_dim).transpose(0, 2, 1, 3)  # type: ignore[return-value]
                 for a in parts)


def _block(layer: Layer, h: np.ndarray, lens: list[int] | None, rows: Rows, act, dtype: str,
           threads: int | None, into: np.ndarray | None, heads: list[int], keep: dict[str, np.ndarray] | None = None
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """One layer on h (B, n, d): the new hidden state and where the attention weights may be nonzero; the
    weights of `heads` are copied `into` (B, len(heads), n, n) when given, and what the attention saw into `keep`
    (name -> (B, len(heads), n, ·): see Pass.kept). Rows run in parallel through the
    projections, the norms, the MLP and that copy; the attention between them runs on every core inside attncli's
    core."""
    fam, s = layer.ckpt.family, layer.s
    B, n, d = h.shape
    ft = layer.dtype
    pre = fam.is_pre_norm(layer.ckpt.config)
    res_m = residual_factor(layer.ckpt)  # Granite: x + m·Attn(·), x + m·MLP(·)
    x = h.reshape(B * n, d)  # (m, d), read only
    proj = qkv_weights(layer)
    ys = [np.empty((B * n, w.shape[1]), dtype=ft) for w, _ in proj]  # (m, width)
    qk_norm, parallel = layer.has_qk_norm(), layer.ckpt.flag(fam.parallel_residual)

    def project(r0: int, r1: int) -> None:
        xr = layer.norm_(fam.norm1, x[r0:r1].copy()) if pre and fam.norm1 else x[r0:r1]  # N₁(h) or h
        for wb, y in zip(proj, ys, strict=True):
            linear(xr, wb, out=y[r0:r1])
        if qk_norm:  # Qwen3, Phi: each head's q and k through a norm over head_dim, before RoPE
            layer.qk_norm_(ys[0][r0:r1], ys[1][r0:r1])

    rows.run(project)
    q, k, v = heads_of(ys, fam.fused_layout if fam.fused_qkv else None, B, n, s)  # (B, H, n, hd), (B, G, n, hd) ×2
    spec = layer_spec(layer.ckpt, layer.i, s, n)
    if fam.relative is not None:  # DeBERTa: c2p and p2c from this layer's projections of the relative positions
        spec = spec.replace(disentangled=layer_terms(layer))
    if keep or spec.disentangled is not None:  # q as the model has it, the scale applied to the scores
        scaled = spec
    else:
        q *= ft.type(1 / math.sqrt(s.head_dim) if spec.scale is None else spec.scale)  # no pass over the n × n scores
        scaled = spec.replace(scale=1.0)
    plan = Plan(need=("weights", "heads", *(keep or ())), dtype=dtype, threads=threads)

    def attend_(qb: np.ndarray, kb: np.ndarray, vb: np.ndarray, key_lens: list[int] | None, plan: Plan):
        """attncli's core on projected heads (b, H, n_q, hd), (b, G, n, hd) ×2: the layer's one attention."""
        return attend(qb, kb, vb, scaled if key_lens is None else scaled.replace(key_lens=key_lens), plan)

    every = heads == list(range(s.heads))
    # With no causal mask, window or positions (the encoders), a query row's attention needs its own row of Q
    # and all of K and V: each thread attends for its own rows and goes straight on to their MLP.
    by_rows = rows.parallel and spec == Spec(scale=spec.scale) and not keep
    pieces: dict[tuple[int, int, int], np.ndarray] = {}  # (b, i0, i1) -> where those rows' weights may be nonzero
    if by_rows:
        merged = np.empty((B * n, s.heads * s.head_dim), dtype=ft)  # (m, H·hd)
    else:
        res = attend_(q, k, v, lens, plan)
        merged = res.heads.transpose(0, 2, 1, 3).reshape(B * n, -1)  # (m, H·hd): a view of the kernel's layout
        if keep:
            _keep(res, keep, heads, s)
    o = layer.linear(fam.o, s.heads * s.head_dim, d, layer.ckpt.flag(fam.o_bias))
    mlp = mlp_of(layer, act)
    out = np.empty_like(x)  # (m, d)

    def attend_rows(r0: int, r1: int) -> None:
        """The attention of the query rows r0..r1 (of the B·n), their heads into `merged`, their maps `into`."""
        for b in range(B):
            i0, i1 = max(r0 - b * n, 0), min(r1 - b * n, n)
            if i0 >= i1:
                continue
            got = attend_(q[b: b + 1, :, i0:i1], k[b: b + 1], v[b: b + 1], None if lens is None else [lens[b]],
                          plan.replace(threads=1))
            merged[b * n + i0: b * n + i1] = got.heads[0].transpose(1, 0, 2).reshape(i1 - i0, -1)  # (rows, H·hd)
            if into is not None:
                into[b, :, i0:i1] = got.weights[0] if every else got.weights[0, heads]
            pieces[b, i0, i1] = got.allowed

    def rest(r0: int, r1: int) -> None:
        if by_rows:
            attend_rows(r0, r1)
        a = linear(merged[r0:r1], o, out=out[r0:r1])  # Attn(h)
        layer.norm_(fam.attn_out_norm, a)  # Nₐ(Attn(h)) when the family norms the output (Gemma 2/3, OLMo 2)
        if res_m is not None:
            a *= ft.type(res_m)
        a += x[r0:r1]  # h₁ = h + Attn(·)
        if not pre:  # h₁ = N₁(h + Attn(h)); h = N₂(h₁ + MLP(h₁))
            m_in = layer.norm_(fam.norm1, a)
        elif parallel:  # h + Attn(N₁(h)) + MLP(N₂(h))
            m_in = layer.norm_(fam.norm2, x[r0:r1].copy())
        else:  # h₁ = h + Attn(N₁(h)); h = h₁ + MLP(N₂(h₁))
            m_in = layer.norm_(fam.norm2, a.copy())
        f = layer.norm_(fam.mlp_out_norm, mlp(m_in))  # (Nₘ)
        if res_m is not None:
            f *= ft.type(res_m)
        a += f
        if not pre:
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


def _keep(res, keep: dict[str, np.ndarray], heads: list[int], s: Shapes) -> None:
    """Copy what layer's attention saw (an AttentionResult of (B, H or G, n, ·) arrays) for `heads` into `keep`'s
    (B, len(heads), n, ·) slots: k and v of the kv head each query head reads (h · G // H, as repeat_kv)."""
    kv = [h * s.kv_heads // s.heads for h in heads]
    for name, into in keep.items():
        got = getattr(res, name)  # q, scores (B, H, n, ·); k, v (B, G, n, hd)
        into[...] = got[:, kv] if name in ("k", "v") else got[:, heads]


def mlp_of(layer: Layer, act):
    """Layer i's MLP as a function of rows (r, d) → (r, d): its mixture of experts where the family has one in
    this layer (models/moe.py), else the dense MLP (_mlp)."""
    experts = moe.experts_of(layer, act)
    if experts is not None:
        return experts
    up, down, gate = mlp_weights(layer)
    return lambda x: _mlp(x, up, down, gate, act)


def _mlp(x: np.ndarray, up: tuple, down: tuple, gate: tuple | None, act) -> np.ndarray:
    """MLP(x) for rows x (r, d): W_down·act(W_up·x + b) + b, or W_down·(act(W_gate·x) ⊙ W_up·x) when gated."""
    (up_w, up_b), ft = up, x.dtype
    u = np.empty((x.shape[0], up_w.shape[1]), dtype=ft)  # (r, inter)
    if gate is not None:  # act(W_gate·x) ⊙ W_up·x
        linear(x, up, out=u)
        u *= act(linear(x, gate, out=np.empty_like(u)))
    elif act is gelu_:  # the bias added inside GELU's blocks, while they are in the cache
        u = gelu_(linear(x, (up_w, None), out=u), up_b)
    else:
        u = act(linear(x, up, out=u))
    return linear(u, down, out=np.empty((x.shape[0], down[0].shape[1]), dtype=ft))  # (r, d)


def forward(ckpt: Checkpoint, ids: np.ndarray, lens: list[int] | None, *, layers: list[int], hidden: bool,
            dtype: str = "float32", threads: int | None = None, heads: list[int] | None = None,
            keep: tuple[str, ...] = (), types: np.ndarray | None = None, last: bool = False) -> Pass:
    """Run the model on token ids (B, n); `lens` are the valid lengths of a padded batch (keys beyond are
    masked, as transformers' attention_mask does); keep the maps of `layers` (and `heads`, default all) and,
    if `hidden`, every state; if `last`, the last hidden state (what a head reads). `types`: token type ids
    (B, n) of a sentence pair (None: all 0). Each layer's maps go into one (B, layers, heads, n, n) array as the
    layer ends; `keep` (of q, k, v, scores) adds what those layers' attention saw, in (B, layers, heads, n, ·)
    arrays."""
    s = shapes(ckpt)
    np_dtype = np.dtype(dtype)
    fam = ckpt.family
    act = activation(ckpt)
    h = embeddings(ckpt, ids, s, np_dtype, types)  # (B, n, d)
    B, n = ids.shape
    states = [h] if hidden else None
    where = {layer: j for j, layer in enumerate(layers)}
    heads = list(range(s.heads)) if heads is None else heads
    maps = np.empty((B, len(layers), len(heads), n, n), dtype=np_dtype) if layers else None
    kept = {name: np.empty((B, len(layers), len(heads), n, n if name == "scores" else s.head_dim), dtype=np_dtype)
            for name in keep if layers}
    allowed: dict[int, np.ndarray | None] = {}
    stop = max(where) if where and not hidden and not last else s.layers - 1
    rows = Rows(B * n, threads)
    for i in range(stop + 1):
        into = maps[:, where[i]] if maps is not None and i in where else None  # (B, H, n, n)
        slots = {name: a[:, where[i]] for name, a in kept.items()} if i in where else None  # (B, H, n, ·)
        h, ok = _block(Layer(ckpt, i, s, np_dtype), h, lens, rows, act, dtype, threads, into, heads, slots)
        if i in where:
            allowed[i] = ok
        if states is not None:
            states.append(h)
    if (states is not None or last) and fam.has_final_norm(ckpt.config):  # the model's final norm (no layer prefix)
        h = Layer(ckpt, s.layers, s, np_dtype, at="").norm(fam.final_norm, h)  # type: ignore[arg-type]
        if states is not None:
            states[-1] = h
    return Pass(maps, allowed, states, kept, project_out(ckpt, h, s) if last else None)
