"""Recomputing the tail of a computation: a mistake made after the projections (scale, masks, normalizer, W_O)
need not run attention again. `tail` recomputes S = Q·Kᵀ·scale → masks → normalize → ·V → W_O from a result's Q, K
and V, for the plain problems a class is given; `rebuild` redoes only ·V and W_O from other weights.

    A′ = f(A or S),   head_h = A′_h·V_h,   O = concat(head_1 … head_N)·W_O + b_O

Pure numpy, on a problem in rows layout (the command's keywords with "spec": the Spec it ran; see
mistakes.with_spec). Tested against a whole computation in tests/test_diagnosis.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attncli.core import masks as mk
from attncli.core.heads import merge_heads
from attncli.core.neighbours import spec_of
from attncli.core.normalize import normalize
from attncli.core.spec import Spec

Kwargs = dict[str, Any]


def wo_rows(kw: Kwargs) -> np.ndarray | None:
    """W_O as (H·d_v, d_out) in rows layout, or None."""
    wo = kw.get("wo")
    if wo is None:
        return None
    w = np.asarray(wo)
    return w.reshape(-1, w.shape[-1]) if w.ndim == 3 else w


def rebuild(res: Any, kw: Kwargs, weights: np.ndarray, **more: Any) -> Any:
    """The result with other weights: head_h = A_h·V_h, O = concat(heads)·W_O + b_O (padded queries zero)."""
    B, H = weights.shape[:2]
    v = np.repeat(res.v, H // res.v.shape[1], axis=1)  # (B, H, n_k, d_v): each kv head shared by H/G heads
    heads = weights @ v  # (B, H, n_q, n_k) @ (B, H, n_k, d_v) -> (B, H, n_q, d_v)
    out = merge_heads(heads)  # (B, n_q, H·d_v)
    w = wo_rows(kw)
    if w is not None:
        bo = kw.get("bo")
        out = out @ w + (0 if bo is None else np.asarray(bo).reshape(-1))  # (B, n_q, d_out)
    if spec_of(kw).query_lens is not None:
        lens = np.broadcast_to(np.asarray(spec_of(kw).query_lens).reshape(-1), (B,))
        out = np.where(np.arange(out.shape[1])[None, :, None] < lens[:, None, None], out, 0)
    return res.replace(weights=weights, heads=heads, output=out, **more)


TAIL_KEYS = frozenset({"spec", "wo", "bo"})  # what `tail` recomputes from a result's Q, K, V ...
TAIL_FIELDS = frozenset({"scale", "normalize", "normalize_over", "causal", "window", "mask", "key_lens",
                         "query_lens"})  # ... of the spec: the scale, the masks and the normalizer


def tail_covers(base: Kwargs, kw: Kwargs) -> bool:
    """`kw` differs from `base` only in what `tail` recomputes (TAIL_KEYS, and of the spec TAIL_FIELDS)."""
    differ = {n for n in base.keys() | kw.keys() if base.get(n) is not kw.get(n)}
    if not differ <= TAIL_KEYS:
        return False
    if "spec" not in differ:
        return True
    a, b = spec_of(base), spec_of(kw)
    return all(f in TAIL_FIELDS for f in Spec._fields if not _same(getattr(a, f), getattr(b, f)))


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return a == b


def plain(kw: Kwargs) -> bool:
    """A problem `tail` can recompute: S = Q·Kᵀ·scale, boolean masks, a normalizer; nothing added to S."""
    spec = spec_of(kw)
    return (spec.score in ("scaled", "dot") and spec.softcap is None and spec.temperature == 1.0 and not spec.alibi
            and spec.bias is None and spec.disentangled is None
            and spec.graph is None and spec.window2d is None and kw.get("image") is None
            and not kw.get("allow_nonfinite") and spec.empty_rows == "zero")


def tail(res: Any, kw: Kwargs) -> Any:
    """The result of a plain problem recomputed from `res`'s Q, K, V with the spec's scale, masks and normalizer
    and W_O (TAIL_KEYS): a mistake made after the projections costs a few products, not a whole computation."""
    spec = spec_of(kw)
    B, H, n_q, d_k = res.q.shape
    k = np.repeat(res.k, H // res.k.shape[1], axis=1)  # (B, H, n_k, d_k)
    scale = spec.scale
    if scale is None:
        scale = 1 / math.sqrt(d_k) if spec.score == "scaled" else 1.0
    s = (res.q @ np.swapaxes(k, -1, -2)) * scale  # (B, H, n_q, d_k) @ (B, H, d_k, n_k) -> (B, H, n_q, n_k)
    allowed = mk.combine(s.shape, spec).allowed if spec.masked else None
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    if spec.normalize_over == "queries":
        w = np.swapaxes(normalize(np.swapaxes(s, -1, -2).copy(), spec.normalize)[0], -1, -2)
    else:
        w = normalize(s.copy(), spec.normalize)[0]  # normalize works in place
    return rebuild(res, kw, w, scores=s, allowed=allowed)
