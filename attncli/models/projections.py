"""The ends of OPT's and Granite's pass: the word embeddings as the layers take them, and the last state as the LM
head reads it (the family's project_in / project_out and multiplier fields, models/family.py).

    OPT (modeling_opt.py, OPTDecoder):  h₀ = E_word[ids]·W_in + E_pos[positions]  when word_embed_proj_dim e ≠ d;
                                        the head reads N_f(h_L)·W_out (d → e), the tied embeddings being e wide
    Granite (modeling_granite.py):      h₀ = m_emb · E_word[ids];  each sublayer's output × m_res before the add
"""

from __future__ import annotations

import numpy as np

from attncli.models.checkpoint import Checkpoint
from attncli.models.factorized import embedding_width
from attncli.models.weights import Layer, Shapes


def word_width(ckpt: Checkpoint, width: int) -> int:
    """The word embeddings' width: `width` (the embeddings'), or the family's project_in width key (OPT's
    word_embed_proj_dim) when config.json sets it."""
    key = ckpt.family.project_in[1] if ckpt.family.project_in is not None else None
    value = None if key is None else ckpt.config.get(key)
    return width if value is None else int(value)


def scaled_words(ckpt: Checkpoint, h: np.ndarray, s: Shapes) -> np.ndarray:
    """The word embeddings (B, n, e) as the layers take them (B, n, d): through project_in (no bias) when
    their width e is not the hidden size d (OPT), × the embedding multiplier (Granite)."""
    fam, e = ckpt.family, h.shape[-1]
    if fam.project_in is not None and e != s.hidden:
        w, _ = Layer(ckpt, 0, s, h.dtype, at="").linear(fam.project_in[0], e, s.hidden, False)  # (e, d)
        h = h @ w
    if fam.embed_multiplier is not None:
        h *= h.dtype.type(fam.setting(ckpt.config, fam.embed_multiplier))
    return h


def residual_factor(ckpt: Checkpoint) -> float | None:
    """The factor on each sublayer's output before the residual add (Granite's residual_multiplier), or None."""
    fam = ckpt.family
    return None if fam.residual_multiplier is None else float(fam.setting(ckpt.config, fam.residual_multiplier))


def project_out(ckpt: Checkpoint, h: np.ndarray, s: Shapes) -> np.ndarray:
    """The last hidden state (B, n, d) as the LM head reads it: through the family's project_out (no bias) back to
    the word embeddings' width e when e ≠ d (OPT-350m), else h as it is."""
    fam = ckpt.family
    width = word_width(ckpt, embedding_width(ckpt, s))
    if fam.project_out is None or width == s.hidden:
        return h
    w, _ = Layer(ckpt, s.layers, s, h.dtype, at="").linear(fam.project_out, s.hidden, width, False)  # (d, e)
    return h @ w
