"""Factorized embeddings (ELECTRA, ALBERT): the embedding tables are narrower than the layers, and a linear map
takes the embeddings, after their norm, to the hidden size (the family's `embed_project`):

    h₀ = LayerNorm(E_word[ids] + E_pos + E_type) · W_proj + b_proj        (embedding_size → hidden_size)

ELECTRA has the map only when embedding_size ≠ hidden_size (modeling_electra.py, ElectraModel.embeddings_project);
ALBERT always (modeling_albert.py, AlbertTransformer.embedding_hidden_mapping_in). transformers' hidden_states[0]
is the projected state, the input of the first layer.
"""

from __future__ import annotations

import numpy as np

from attncli.models.checkpoint import Checkpoint
from attncli.models.weights import Layer, Shapes


def embedding_width(ckpt: Checkpoint, s: Shapes) -> int:
    """The width of the embedding tables and their norm: config.json's embedding_size (its config class's default
    when absent) for a family with a projection, else the hidden size."""
    fam = ckpt.family
    if fam.embed_project is None:
        return s.hidden
    return int(ckpt.setting("embed") or fam.default("embedding_size") or s.hidden)


def project(ckpt: Checkpoint, h: np.ndarray, s: Shapes) -> np.ndarray:
    """The embeddings h (B, n, e) mapped to (B, n, d) by the family's projection, when it has one there (h as it
    is otherwise)."""
    fam = ckpt.family
    width = h.shape[-1]
    if fam.embed_project is None or (width == s.hidden and not fam.embed_project_always):
        return h
    w, b = Layer(ckpt, 0, s, h.dtype, at="").linear(fam.embed_project, width, s.hidden, True)  # (e, d), (d,)
    out = h.reshape(-1, width) @ w  # (B·n, d)
    out += b
    return out.reshape(*h.shape[:-1], s.hidden)
