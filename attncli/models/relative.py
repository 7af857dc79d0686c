"""DeBERTa-v2/v3's disentangled attention in a model: its settings from config.json and each layer's relative
position terms, as transformers 5.24's models/deberta_v2/modeling_deberta_v2.py computes them
(DebertaV2Encoder.get_rel_embedding, DisentangledSelfAttention). The math is the core's
(attncli/core/disentangled.py); this module only reads the checkpoint.

    R = LayerNorm(rel_embeddings) (when norm_rel_ebd names layer_norm), 2k rows, k = position_buckets (or
        max_relative_positions, which is max_position_embeddings when below 1)
    c2p: K_r = R·W_K + b_K (share_att_key) or R·W_pos_key + b;  p2c: Q_r = R·W_Q + b_Q or R·W_pos_query + b
    scale 1/√(d·(1 + the number of pos_att_type entries c2p, p2c)), with or without relative_attention
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from attncli.core.disentangled import KINDS, Disentangled, project_positions
from attncli.models import rules

if TYPE_CHECKING:
    from attncli.models.weights import Layer


def pos_att_types(cfg: dict[str, Any]) -> tuple[str, ...]:
    """The position terms pos_att_type names, c2p and p2c, as DebertaV2Config reads it: a string "p2c|c2p" is
    lower-cased and split on |; a list is taken as it is. Other entries (DeBERTa v1's p2p) are ignored, as
    transformers ignores them (no term, no share of the scale)."""
    value = rules.lookup(cfg, "pos_att_type")
    if isinstance(value, str):
        value = [x.strip() for x in value.lower().split("|")]
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(kind for kind in KINDS if kind in value)


def deberta_scale(cfg: dict[str, Any], i: int, head_dim: int) -> float:
    """1/√(d_head·(1 + the position terms pos_att_type names)), whether relative_attention is on or not
    (DisentangledSelfAttention.forward's scale_factor)."""
    return 1 / math.sqrt(head_dim * (1 + len(pos_att_types(cfg))))


def settings(cfg: dict[str, Any]) -> tuple[int, int, int]:
    """(k, buckets, max_position): the table's half size and the log buckets' settings (DebertaV2Encoder)."""
    max_position = int(rules.first(cfg, ("max_relative_positions",), -1))
    if max_position < 1:
        max_position = int(rules.first(cfg, ("max_position_embeddings",), 512))
    buckets = int(rules.first(cfg, ("position_buckets",), -1))
    return (buckets if buckets > 0 else max_position), max(buckets, 0), max_position


def _norm_rel(cfg: dict[str, Any]) -> bool:
    """Whether norm_rel_ebd names layer_norm (split on |, lower-cased, as DebertaV2Encoder reads it)."""
    value = rules.first(cfg, ("norm_rel_ebd",), "none")
    return "layer_norm" in [x.strip() for x in str(value).lower().split("|")]


def layer_terms(layer: Layer) -> Disentangled | None:
    """Layer i's relative-position terms (None when relative_attention is off or pos_att_type names none): the
    relative embeddings (normed) projected by the layer's own W_Q/W_K or its pos_query_proj/pos_key_proj."""
    ckpt, s = layer.ckpt, layer.s
    cfg, names = ckpt.config, ckpt.family.relative
    kinds = pos_att_types(cfg)
    if names is None or not rules.flag(cfg, "relative_attention", False) or not kinds:
        return None
    span, buckets, max_position = settings(cfg)
    top = type(layer)(ckpt, layer.i, s, layer.dtype, at="")  # the model's own tensors (no layer prefix)
    table = top.get(names.table, (2 * span, s.hidden))  # (2k, d)
    if _norm_rel(cfg):
        table = top.norm(names.norm, table)
    share = rules.flag(cfg, "share_att_key", False)
    width = s.heads * s.head_dim
    tables: dict[str, np.ndarray] = {}
    for kind, field, own, shared in (("c2p", "pos_key", names.pos_key, ckpt.family.k),
                                     ("p2c", "pos_query", names.pos_query, ckpt.family.q)):
        if kind in kinds:
            w, b = layer.linear(shared if share else own, s.hidden, width, True)  # type: ignore[arg-type]
            tables[field] = project_positions(table, w, b, s.heads)  # (H, 2k, d_head)
    return Disentangled(kinds, tables.get("pos_key"), tables.get("pos_query"), buckets, max_position)
