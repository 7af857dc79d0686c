"""Score functions: how strongly query i matches key j, before scale, masks and normalization.

Shapes: q (..., n_q, d_q), k (..., n_k, d_k) -> S (..., n_q, n_k). Leading axes broadcast, which is how
grouped-query attention shares a key head between query heads. Score parameters (W, W_q, W_k, v) come
already broadcast to q's leading axes, so a per-head parameter is just one more leading axis.

    scaled    S = Q·Kᵀ                    (× 1/√d_k by default)     Vaswani et al. 2017
    dot       S = Q·Kᵀ                                               Luong et al. 2015, "dot"
    general   S = Q·W·Kᵀ,  W: d_q × d_k                              Luong "general" (bilinear)
    additive  S_ij = vᵀ·tanh(W_qᵀq_i + W_kᵀk_j)                      Bahdanau et al. 2015, "concat"
    cosine    S_ij = q_i·k_j / (‖q_i‖‖k_j‖)                          (× scale, as a logit scale)
    location  S = Q·W_a,  W_a: d_q × n_k  (keys not used)            Luong "location"
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from attncli.core.validate import named
from attncli.errors import AttnError, param

Params = dict[str, np.ndarray]
ADDITIVE_CHUNK_BYTES = 64 * 2**20  # bound on the n_q × n_k × h intermediate of `additive`


def _t(k: np.ndarray) -> np.ndarray:
    return np.swapaxes(k, -1, -2)


def dot(q: np.ndarray, k: np.ndarray, p: Params) -> np.ndarray:
    """S = Q·Kᵀ."""
    return q @ _t(k)  # (..., n_q, d) @ (..., d, n_k) -> (..., n_q, n_k)


def general(q: np.ndarray, k: np.ndarray, p: Params) -> np.ndarray:
    """S = Q·W·Kᵀ with W = w_score (d_q × d_k)."""
    return (q @ p["w_score"]) @ _t(k)  # (..., n_q, d_q) @ (d_q, d_k) @ (..., d_k, n_k)


def additive(q: np.ndarray, k: np.ndarray, p: Params) -> np.ndarray:
    """S_ij = vᵀ·tanh(q_i·W_q + k_j·W_k) with wa_q (d_q × h), wa_k (d_k × h), va (h).

    The (..., n_q, n_k, h) intermediate is built a block of queries at a time, so memory stays bounded.
    """
    qa = q @ p["wa_q"]  # (..., n_q, h)
    ka = k @ p["wa_k"]  # (..., n_k, h)
    va = p["va"]  # (..., h)
    lead = np.broadcast_shapes(qa.shape[:-2], ka.shape[:-2])
    n_q, n_k, h = qa.shape[-2], ka.shape[-2], qa.shape[-1]
    out = np.empty(lead + (n_q, n_k), dtype=np.result_type(qa, ka))
    per_query = max(1, int(np.prod(lead)) * n_k * h * out.itemsize)
    step = max(1, ADDITIVE_CHUNK_BYTES // per_query)
    for i in range(0, n_q, step):
        feats = np.tanh(qa[..., i:i + step, None, :] + ka[..., None, :, :])  # (..., step, n_k, h)
        out[..., i:i + step, :] = (feats @ va[..., None, :, None])[..., 0] if va.ndim > 1 else feats @ va
    return out


def cosine(q: np.ndarray, k: np.ndarray, p: Params) -> np.ndarray:
    """S_ij = cos(q_i, k_j); a zero vector has cosine 0 with everything."""
    def unit(a: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(a, axis=-1, keepdims=True)
        return np.divide(a, norm, out=np.zeros_like(a), where=norm > 0)

    return unit(q) @ _t(unit(k))


def location(q: np.ndarray, k: np.ndarray, p: Params) -> np.ndarray:
    """S = Q·W_a with W_a = w_score (d_q × n_k); the keys' content is not used."""
    w = p["w_score"]
    if w.shape[-1] != k.shape[-2]:
        raise AttnError(f"{param('score', 'location')}: {param('w_score')} has {w.shape[-1]} columns but there "
                        f"are {k.shape[-2]} keys; W_a must be d_q × n_k")
    return q @ w  # (..., n_q, d_q) @ (d_q, n_k)


ScoreFn = Callable[[np.ndarray, np.ndarray, Params], np.ndarray]
# name -> (function, parameters it needs, what meta calls it)
SCORES: dict[str, tuple[ScoreFn, tuple[str, ...], str]] = {
    "scaled": (dot, (), "scaled_dot_product"),
    "dot": (dot, (), "dot_product"),
    "general": (general, ("w_score",), "general (Luong bilinear)"),
    "additive": (additive, ("wa_q", "wa_k", "va"), "additive (Bahdanau concat)"),
    "cosine": (cosine, (), "cosine"),
    "location": (location, ("w_score",), "location (Luong)"),
}


def default_scale(score: str, d_k: int) -> float:
    """The scale a score uses when `scale` is not given: 1/√d_k for `scaled`, 1 otherwise."""
    return 1.0 / math.sqrt(d_k) if score == "scaled" else 1.0


def check_params(score: str, params: dict[str, np.ndarray | None], d_q: int, d_k: int,
                 origin: str = "q/k") -> None:
    """Say which score parameter is missing or has the wrong shape; `origin` names where q and k came from."""
    needed = SCORES[score][1]
    for name in needed:
        if params.get(name) is None:
            raise AttnError(f"{param('score', score)} needs {', '.join(param(n) for n in needed)}")
    extra = [n for n, a in params.items() if a is not None and n not in needed]
    if extra:
        raise AttnError(f"{param(extra[0])} is a parameter of another score; {param('score', score)} "
                        f"does not use it")
    if d_q != d_k and score in ("scaled", "dot", "cosine"):
        grouped = ("; if keys and values have fewer heads than queries (grouped-query attention), give "
                   f"{param('kv_heads')}" if d_k and d_q > d_k and d_q % d_k == 0 else "")
        raise AttnError(f"{param('score', score)} needs queries and keys of the same width per head, but "
                        f"{named(origin)} give d_q = {d_q} and d_k = {d_k}; fix the shapes, or use "
                        f"{param('score', 'general')} or additive, which handle different widths{grouped}")
    w_score = param("w_score")
    if score == "general":
        w = params["w_score"]
        if w.ndim < 2 or w.shape[-2:] != (d_q, d_k):
            raise AttnError(f"{w_score} must be d_q × d_k = {d_q} × {d_k} for {param('score', 'general')}; "
                            f"got {w.shape}")
    if score == "location" and (params["w_score"].ndim < 2 or params["w_score"].shape[-2] != d_q):
        raise AttnError(f"{w_score} must be d_q × n_k with d_q = {d_q} for {param('score', 'location')}; "
                        f"got {params['w_score'].shape}")
    if score == "additive":
        wq, wk, va = params["wa_q"], params["wa_k"], params["va"]
        if wq.ndim < 2 or wk.ndim < 2:
            raise AttnError(f"{param('wa_q')} and {param('wa_k')} must be matrices (d_q × h, d_k × h); "
                            f"got {wq.shape} and {wk.shape}")
        if wq.shape[-2] != d_q or wk.shape[-2] != d_k or wq.shape[-1] != wk.shape[-1] or va.shape[-1] != wq.shape[-1]:
            raise AttnError(f"{param('score', 'additive')} needs {param('wa_q')} d_q × h = {d_q} × h, "
                            f"{param('wa_k')} d_k × h = {d_k} × h and {param('va')} of length h; "
                            f"got {wq.shape}, {wk.shape} and {va.shape}")
