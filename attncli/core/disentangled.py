"""Disentangled attention (DeBERTa, He et al. 2021): scores from content and from relative positions.

Token i attends to token j with three terms, each a product of a content vector and a relative-position vector
taken from a table of 2k rows (the relative position embeddings projected by the layer's own W_K and W_Q, or by
their own projections), all over one scale:

    S_ij = (q_i·k_j  +  q_i·K_r[c(i, j)]  +  k_j·Q_r[c′(j, i)]) / √(d·f)
           content      c2p: content-to-position    p2c: position-to-content

    δ(i, j) = bucket(i − j)                                        the relative position, log-bucketed
    c(i, j) = clamp(δ(i, j) + k, 0, 2k − 1),  c′(j, i) = clamp(−δ(j, i) + k, 0, 2k − 1)
    f = 1 + the number of position terms (c2p, p2c) present: 3 for DeBERTa-v3

bucket (transformers' make_log_bucket_position; b = `buckets`, m = b // 2, M = `max_position`): a distance
|r| < m stays r; a longer one becomes sign(r)·(⌈ln(|r|/m) / ln((M − 1)/m) · (m − 1)⌉ + m), so distances out to
M share the buckets m … b − 1 logarithmically (computed in float32, as transformers computes it). Without buckets
(b ≤ 0) δ = i − j, clamped to the table.

Source: transformers 5.24, models/deberta_v2/modeling_deberta_v2.py (DisentangledSelfAttention,
build_relative_position, make_log_bucket_position). The Spec holds a `Disentangled` (below); the kernel adds
the two position terms to each block of scores (kernel.py), so memory stays ∝ the block.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attncli.core.values import Value, frozen_array, integer
from attncli.errors import AttnError, param

KINDS = ("c2p", "p2c")


def log_buckets(rel: np.ndarray, buckets: int, max_position: int) -> np.ndarray:
    """The bucket of each relative position `rel` (integers, any shape): r when |r| < b//2, else
    sign(r)·(⌈ln(|r|/m) / ln((M − 1)/m)·(m − 1)⌉ + m), m = b//2, M = max_position; in float32, as transformers."""
    rel = np.asarray(rel, dtype=np.int64)
    mid = buckets // 2
    near = (rel < mid) & (rel > -mid)
    abs_pos = np.where(near, mid - 1, np.abs(rel)).astype(np.float32)
    f32 = np.float32
    log_pos = np.ceil(np.log(abs_pos / f32(mid)) / np.log(f32((max_position - 1) / mid)) * f32(mid - 1)) + f32(mid)
    return np.where(abs_pos <= mid, rel.astype(np.float32), log_pos * np.sign(rel)).astype(np.int64)


def relative_positions(n_q: int, n_k: int, buckets: int = 0, max_position: int = 0) -> np.ndarray:
    """δ (n_q, n_k): i − j for query i and key j, log-bucketed when `buckets` and `max_position` are > 0."""
    rel = np.arange(n_q, dtype=np.int64)[:, None] - np.arange(n_k, dtype=np.int64)[None, :]
    return log_buckets(rel, buckets, max_position) if buckets > 0 and max_position > 0 else rel


def project_positions(table: np.ndarray, w: np.ndarray, b: np.ndarray | None, heads: int) -> np.ndarray:
    """The relative position embeddings `table` (2k, d_model) projected as queries or keys, split into heads:
    (table·W + b) (2k, H·d) → (H, 2k, d)."""
    out = table @ w  # (2k, d_model) @ (d_model, H·d) -> (2k, H·d)
    if b is not None:
        out = out + b
    return out.reshape(table.shape[0], heads, -1).transpose(1, 0, 2)


class Disentangled(Value):
    """The position terms of disentangled attention (module docstring): `kinds` ("c2p", "p2c", or both);
    `pos_key` K_r (2k, d_k) shared or (H, 2k, d_k) per head, needed for c2p; `pos_query` Q_r (2k, d_q) or
    (H, 2k, d_q), needed for p2c; `buckets` b and `max_position` M of the log buckets (0: i − j as it is).
    With no `spec.scale` the scores' scale is 1/√(d_k·(1 + len(kinds)))."""

    kinds: tuple[str, ...]
    pos_key: np.ndarray | None
    pos_query: np.ndarray | None
    buckets: int
    max_position: int
    _fields = ("kinds", "pos_key", "pos_query", "buckets", "max_position")
    _defaults: dict[str, Any] = {"kinds": ("c2p", "p2c"), "pos_key": None, "pos_query": None, "buckets": 0,
                                 "max_position": 0}

    def __init__(self, kinds: Any = ("c2p", "p2c"), pos_key: Any = None, pos_query: Any = None, buckets: int = 0,
                 max_position: int = 0) -> None:
        name = "spec.disentangled"
        if isinstance(kinds, str):
            kinds = [k.strip() for k in kinds.replace("|", ",").split(",") if k.strip()]
        if not isinstance(kinds, (list, tuple)) or not kinds or any(k not in KINDS for k in kinds) \
                or len(set(kinds)) != len(kinds):
            raise AttnError(f"{param(name + '.kinds')} takes c2p, p2c or both; got {kinds!r}")
        kinds = tuple(k for k in KINDS if k in kinds)
        tables = {}
        for field, kind, given in (("pos_key", "c2p", pos_key), ("pos_query", "p2c", pos_query)):
            a = frozen_array(given, f"{name}.{field}", kinds="fiu")
            if kind in kinds and a is None:
                raise AttnError(f"{param(name + '.' + field)} is needed for {kind}")
            if a is not None and (a.ndim not in (2, 3) or a.shape[-2] < 2 or a.shape[-2] % 2
                                  or not np.all(np.isfinite(a))):
                raise AttnError(f"{param(name + '.' + field)} must be 2k finite rows of relative positions, "
                                f"(2k, d) or (heads, 2k, d); got shape {a.shape}")
            tables[field] = a if kind in kinds else None
        rows = {a.shape[-2] for a in tables.values() if a is not None}
        if len(rows) > 1:
            raise AttnError(f"{param(name + '.pos_key')} and {param(name + '.pos_query')} must have the same rows "
                            f"(2k); got {sorted(rows)}")
        buckets = integer(buckets, name + ".buckets", low=0, optional=False)
        max_position = integer(max_position, name + ".max_position", low=0, optional=False)
        if buckets > 0 and max_position - 1 <= buckets // 2:
            raise AttnError(f"{param(name + '.max_position')} must be more than {buckets // 2 + 1} (half the "
                            f"buckets, plus one) for {buckets} buckets; got {max_position}")
        self._set(kinds=kinds, pos_key=tables["pos_key"], pos_query=tables["pos_query"], buckets=buckets,
                  max_position=max_position)

    @property
    def span(self) -> int:
        """k: the table has 2k rows, relative positions −k … k − 1 after the shift."""
        table = self.pos_key if self.pos_key is not None else self.pos_query
        return table.shape[-2] // 2  # type: ignore[union-attr]

    def factor(self) -> int:
        """f = 1 + the number of position terms: the scale is 1/√(d·f)."""
        return 1 + len(self.kinds)


def default_scale(dis: Disentangled, d_k: int) -> float:
    """1/√(d_k·f), DeBERTa's scale."""
    return 1.0 / math.sqrt(d_k * dis.factor())


class Terms:
    """The two position terms for one attention, ready to be cut into blocks: c2p_all (B, G, r, n_q, 2k) =
    q·K_rᵀ and p2c_all (B, G, r, n_k, 2k) = k·Q_rᵀ (per query head), with the table rows each pair (i, j)
    takes."""

    def __init__(self, dis: Disentangled, qg: np.ndarray, kh: np.ndarray) -> None:
        B, G, r, n_q, d_q = qg.shape
        n_k, H, ft = kh.shape[2], G * r, qg.dtype
        if n_q != n_k:
            raise AttnError(f"{param('spec.disentangled')} needs as many queries as keys (self-attention); got "
                            f"{n_q} queries and {n_k} keys")
        span = dis.span
        rel = relative_positions(n_q, n_k, dis.buckets, dis.max_position)  # δ(i, j) (n, n)
        self.c2p_at = np.clip(rel + span, 0, 2 * span - 1)  # [i, j]: c(i, j)
        self.p2c_at = np.clip(-rel + span, 0, 2 * span - 1)  # [j, i]: c′(j, i), from key j's row as transformers
        self.c2p_all = self.p2c_all = None
        if dis.pos_key is not None:
            pk = _per_head(dis.pos_key, H, G, r, "pos_key", kh.shape[3]).astype(ft)  # (1|G, 1|r, 2k, d)
            self.c2p_all = qg @ np.swapaxes(pk, -1, -2)  # (B, G, r, n_q, 2k)
        if dis.pos_query is not None:
            pq = _per_head(dis.pos_query, H, G, r, "pos_query", d_q).astype(ft)
            self.p2c_all = kh[:, :, None] @ np.swapaxes(pq, -1, -2)  # (B, G, r, n_k, 2k)

    def block(self, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
        """c2p + p2c for query rows i0..i1 and keys j0..j1: (B, H, rows, keys), unscaled."""
        out = None
        if self.c2p_all is not None:
            c = self.c2p_all[..., i0:i1, :]  # (B, G, r, rows, 2k)
            at = np.broadcast_to(self.c2p_at[i0:i1, j0:j1], (*c.shape[:3], i1 - i0, j1 - j0))
            out = np.take_along_axis(c, at, axis=-1)  # (B, G, r, rows, keys)
        if self.p2c_all is not None:
            p = self.p2c_all[..., j0:j1, :]  # (B, G, r, keys, 2k)
            at = np.broadcast_to(self.p2c_at[j0:j1, i0:i1], (*p.shape[:3], j1 - j0, i1 - i0))
            term = np.swapaxes(np.take_along_axis(p, at, axis=-1), -1, -2)  # (B, G, r, rows, keys)
            out = term if out is None else out + term
        B, G, r = out.shape[:3]  # type: ignore[union-attr]
        return out.reshape(B, G * r, i1 - i0, j1 - j0)  # type: ignore[union-attr]


def _per_head(a: np.ndarray, H: int, G: int, r: int, name: str, d: int) -> np.ndarray:
    """A position table shared (2k, d) or per head (H, 2k, d), as (1|G, 1|r, 2k, d) against the grouped heads."""
    if a.shape[-1] != d:
        raise AttnError(f"{param('spec.disentangled.' + name)} has {a.shape[-1]} features per row; the heads have {d}")
    if a.ndim == 2:
        return a[None, None]
    if a.shape[0] != H:
        raise AttnError(f"{param('spec.disentangled.' + name)} has {a.shape[0]} heads; the attention has {H}")
    return a.reshape(G, r, *a.shape[1:])
