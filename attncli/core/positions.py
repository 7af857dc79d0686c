"""Positional information: sinusoidal and learned tables added to X, rotary embeddings on Q and K, ALiBi.

    sinusoidal (Vaswani et al. 2017):  PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d))
        layout "interleaved" puts sin and cos in alternate columns (the paper, the Annotated Transformer);
        layout "concat" puts all sines first, then all cosines (tensor2tensor's order).
    RoPE (Su et al. 2021): each pair of features is rotated by θ_i = pos · base^(−2i/d), i < d/2;
        layout "half" pairs x_i with x_{i+d/2} (GPT-NeoX, LLaMA's rotate_half);
        layout "interleaved" pairs x_2i with x_2i+1 (GPT-J, the paper).
    ALiBi (Press et al. 2022): head h adds −m_h·|i − j| to the scores (−m_h·(i − j) when causal),
        m_h = 2^(−8h/N) for h = 1..N.
"""

from __future__ import annotations

import math

import numpy as np

from attncli.errors import AttnError, param

PE_LAYOUTS = ("interleaved", "concat")
ROPE_LAYOUTS = ("half", "interleaved")


def _frequencies(d: int, base: float) -> np.ndarray:
    """ω_i = base^(−2i/d) for i = 0 .. d/2 − 1."""
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)


def sinusoidal(n: int, d: int, *, base: float = 10000.0, layout: str = "interleaved") -> np.ndarray:
    """The n × d sinusoidal table for positions 0 .. n − 1 (see the module docstring)."""
    if d < 2 or d % 2:
        raise AttnError(f"{param('pe', 'sinusoidal')} needs an even d_model ≥ 2; got {d}")
    if layout not in PE_LAYOUTS:
        raise AttnError(f"{param('pe_layout')} must be interleaved or concat; got {layout!r}")
    if base <= 0:
        raise AttnError(f"{param('pe_base')} must be positive; got {base}")
    angles = np.arange(n, dtype=np.float64)[:, None] * _frequencies(d, base)[None, :]  # (n, d/2)
    pe = np.empty((n, d))
    if layout == "interleaved":
        pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    else:
        pe[:, : d // 2], pe[:, d // 2:] = np.sin(angles), np.cos(angles)
    return pe


def rope_angles(positions: np.ndarray, d: int, base: float = 10000.0) -> np.ndarray:
    """θ[p, i] = positions[p] · base^(−2i/d): the rotation angles, (n, d/2)."""
    if d < 2 or d % 2:
        raise AttnError(f"{param('rope')} needs an even per-head dimension d_k ≥ 2; got {d}")
    if base <= 0:
        raise AttnError(f"{param('rope_base')} must be positive; got {base}")
    return np.asarray(positions, dtype=np.float64)[:, None] * _frequencies(d, base)[None, :]


def rope(x: np.ndarray, positions: np.ndarray, *, base: float = 10000.0, layout: str = "half") -> np.ndarray:
    """Rotate features of x (..., n, d) by their positions (n,); returns the same shape and dtype."""
    if layout not in ROPE_LAYOUTS:
        raise AttnError(f"{param('rope_layout')} must be half or interleaved; got {layout!r}")
    d = x.shape[-1]
    theta = rope_angles(positions, d, base)  # (n, d/2)
    cos, sin = np.cos(theta).astype(x.dtype), np.sin(theta).astype(x.dtype)
    if layout == "half":
        x1, x2 = x[..., : d // 2], x[..., d // 2:]  # (..., n, d/2) each
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = x1 * cos - x2 * sin, x2 * cos + x1 * sin
    return out


def alibi_slopes(heads: int) -> np.ndarray:
    """m_h = 2^(−8h/N), h = 1..N (Press et al.'s geometric sequence) when N is a power of two. Otherwise, as the
    ALiBi paper's code and BLOOM do: the N′ = 2^⌊log₂ N⌋ slopes 2^(−8h/N′), then every other slope of 2N′ heads,
    2^(−4h/N′) for h = 1, 3, 5, ..., for the N − N′ heads left."""
    closest = 2 ** int(math.floor(math.log2(heads)))
    slopes = 2.0 ** (-8.0 * np.arange(1, closest + 1) / closest)
    if closest == heads:
        return slopes
    extra = 2.0 ** (-4.0 * np.arange(1, 2 * (heads - closest), 2) / closest)
    return np.concatenate([slopes, extra])


def alibi_bias(heads: int, n_q: int, n_k: int, causal: bool = False, rows: tuple[int, int] | None = None,
               keys: tuple[int, int] | None = None) -> np.ndarray:
    """(heads, n_q, n_k): −m_h·|i − j|, or −m_h·(i − j) when causal; only query rows i0..i1 and keys j0..j1
    when `rows`/`keys` are given (a block of a long sequence)."""
    i0, i1 = rows or (0, n_q)
    j0, j1 = keys or (0, n_k)
    dist = np.arange(i0, i1)[:, None] - np.arange(j0, j1)[None, :]  # i − j, (rows, keys)
    dist = dist if causal else np.abs(dist)
    return -alibi_slopes(heads)[:, None, None] * dist[None]
