"""A mixture of experts in place of a layer's MLP (Mixtral, Qwen3-MoE, gpt-oss), as the family's `moe` says
(models/layer_parts.py, Moe), following each family's modeling file (MixtralSparseMoeBlock, Qwen3MoeSparseMoeBlock,
GptOssMLP):

    router logits   z = x·W_r (+ b_r)                                                   (r, E)
    select          softmax_topk: p = softmax(z) over the E experts, (w, e) = top-k of p, w / Σw if renormalize
                    topk_softmax: (z_k, e) = top-k of z, w = softmax(z_k) over the k
    experts         MoE(x) = Σ over the k chosen e of w_e · Expert_e(x)      (summed in the order of e, from 0)
                    gated: Expert_e(x) = W_down,e·(act(W_gate,e·x) ⊙ W_up,e·x)
                    clamped_swiglu (gpt-oss): g = min(W_gate,e·x + b, L), u = clip(W_up,e·x + b, −L, L),
                                              Expert_e(x) = W_down,e·((u + 1) ⊙ g·σ(α·g)) + b_down,e

Top-k breaks ties as torch.topk does on the CPU (models/topk.py). Each token is routed on its own, so rows run
in parallel as the dense MLP's do; an expert's weights are read when a token first needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from attncli.errors import AttnError
from attncli.models import rules
from attncli.models.checkpoint import OPTION
from attncli.models.layer_parts import Moe
from attncli.models.ops import linear
from attncli.models.topk import topk
from attncli.models.weights import Layer

Expert = Callable[[np.ndarray], np.ndarray]


def settings(layer: Layer, moe: Moe) -> tuple[int, int, int]:
    """The number of experts, k and an expert's width, from config.json (the config class's defaults)."""
    fam, cfg = layer.ckpt.family, layer.ckpt.config
    values = []
    for keys in (moe.count, (moe.top_k,), (moe.inter,)):
        default = next((fam.default(key) for key in keys if fam.default(key) is not None), None)
        values.append(int(rules.first(cfg, keys, default)))
    count, k, inter = values
    if count < 1 or not 1 <= k <= count or inter < 1:
        raise AttnError(f"{OPTION}: config.json's mixture of experts does not fit: {moe.count[0]} {count}, "
                        f"{moe.top_k} {k}, {moe.inter} {inter}; k must be between 1 and the number of experts")
    return count, k, inter


def experts_of(layer: Layer, act: Callable[[np.ndarray], np.ndarray]) -> Expert | None:
    """Layer i's mixture of experts as a function of rows x (r, d) → (r, d); None when the family has none or
    this layer's MLP is dense (Qwen3-MoE's mlp_only_layers, decoder_sparse_step)."""
    fam, s = layer.ckpt.family, layer.s
    moe = fam.moe
    if moe is None or not moe.layers(layer.ckpt.config, layer.i):
        return None
    count, k, inter = settings(layer, moe)
    router = layer.linear(moe.router, s.hidden, count, moe.router_bias)  # W_r (d, E), b_r (E,)
    renormalize = layer.ckpt.flag(moe.renormalize)
    cfg = layer.ckpt.config
    limit = float(cfg.get("swiglu_limit", fam.default("swiglu_limit")) or 0.0)
    alpha = float(cfg.get("swiglu_alpha", fam.default("swiglu_alpha")) or 0.0)
    lock, cache = threading.Lock(), {}

    def weights(e: int) -> tuple:
        with lock:
            if e not in cache:
                cache[e] = expert_weights(layer, moe, e, count, inter)
            return cache[e]

    def run(x: np.ndarray) -> np.ndarray:
        w, chosen = route(x, router, moe, k, renormalize)  # (r, k), (r, k)
        out = np.zeros_like(x)  # (r, d)
        for e in np.unique(chosen):
            rows, slot = np.nonzero(chosen == e)
            y = expert(x[rows], weights(int(e)), moe, act, limit, alpha)  # (t, d)
            y *= w[rows, slot][:, None]
            out[rows] += y  # one expert at a time, in the order of e: as transformers' index_add_
        return out

    return run


def route(x: np.ndarray, router: tuple[np.ndarray, np.ndarray | None], moe: Moe, k: int, renormalize: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k experts and their weights, (r, k) each, from rows x (r, d) (the module docstring)."""
    w_r = router[0]  # (d, E)
    # one matrix-vector product per expert: two experts with the same router weights get exactly the same logit
    # (a matrix product may round its columns differently), so a tie is a tie, as in transformers
    z = np.stack([x @ w_r[:, e] for e in range(w_r.shape[1])], axis=-1)  # (r, E)
    if router[1] is not None:
        z += router[1]
    if moe.select == "topk_softmax":
        top, chosen = topk(z, k)
        return softmax(top), chosen
    p = softmax(z)
    w, chosen = topk(p, k)
    if renormalize:
        w = w / w.sum(axis=-1, keepdims=True)
    return w, chosen


def softmax(z: np.ndarray) -> np.ndarray:
    """softmax over the last axis, max subtracted first (as torch)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def expert_weights(layer: Layer, moe: Moe, e: int, count: int, inter: int) -> tuple:
    """Expert e's (W_gate, b), (W_up, b), (W_down, b), each W in × out (biases None when stored without)."""
    d = layer.s.hidden
    if moe.stored == "per_expert":
        at = moe.experts.format(e=e)
        return tuple(layer.linear(at + name, n_in, n_out, False)
                     for name, n_in, n_out in zip(moe.names, (d, d, inter), (inter, inter, d), strict=True))
    gate_up = layer.get(moe.experts + "gate_up_proj", (count, d, 2 * inter))[e]  # (d, 2I), in × out
    gate_up_b = layer.get(moe.experts + "gate_up_proj_bias", (count, 2 * inter))[e]  # (2I,)
    down = layer.get(moe.experts + "down_proj", (count, inter, d))[e]  # (I, d)
    down_b = layer.get(moe.experts + "down_proj_bias", (count, d))[e]  # (d,)
    return ((gate_up[:, ::2], gate_up_b[::2]), (gate_up[:, 1::2], gate_up_b[1::2]), (down, down_b))


def expert(x: np.ndarray, w: tuple, moe: Moe, act: Callable[[np.ndarray], np.ndarray], limit: float,
           alpha: float) -> np.ndarray:
    """One expert on its rows x (t, d) → (t, d) (the module docstring)."""
    gate, up = linear(x, w[0]), linear(x, w[1])  # (t, I) each
    if moe.act == "clamped_swiglu":
        np.minimum(gate, gate.dtype.type(limit), out=gate)
        np.clip(up, -limit, limit, out=up)
        sig = np.negative(gate) * gate.dtype.type(alpha)
        np.exp(sig, out=sig)
        sig += 1
        h = (up + 1) * (gate / sig)  # (u + 1) · g·σ(α·g)
    else:
        h = act(gate) * up
    return linear(h, w[2])
