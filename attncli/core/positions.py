"""Positional information: sinusoidal and learned tables added to X, rotary embeddings on Q and K, ALiBi.

    sinusoidal (Vaswani et al. 2017):  PE(pos, 2i) = sin(pos / base^(2i/d)),  PE(pos, 2i+1) = cos(pos / base^(2i/d))
        layout "interleaved" puts sin and cos in alternate columns (the paper, the Annotated Transformer);
        layout "concat" puts all sines first, then all cosines (tensor2tensor's order).
    RoPE (Su et al. 2021): each pair of features is rotated by θ_i = pos · ω_i, ω_i = base^(−2i/d), i < d/2;
        layout "half" pairs x_i with x_{i+d/2} (GPT-NeoX, LLaMA's rotate_half);
        layout "interleaved" pairs x_2i with x_2i+1 (GPT-J, the paper).
        Scaled RoPE (transformers' modeling_rope_utils.py, one function each below) changes the frequencies ω
        and may multiply cos and sin by an attention factor m (so the scores by m²):
        linear ω/s; dynamic NTK base·(s·n/M − (s − 1))^(d/(d−2)) when n > M; YaRN a ramp between ω and ω/s,
        m = 0.1·ln s + 1; LongRoPE ω/f_i (short or long factors), m = √(1 + ln s / ln M₀); Llama 3 ω/s for long
        wavelengths, ω for short ones, a smooth blend between.
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


def rope_angles(positions: np.ndarray, d: int, base: float = 10000.0, inv_freq: np.ndarray | None = None
                ) -> np.ndarray:
    """θ[p, i] = positions[p] · ω_i: the rotation angles, (n, d/2); ω_i = base^(−2i/d), or `inv_freq` (d/2,)
    when given (a scaled RoPE's frequencies, below)."""
    if d < 2 or d % 2:
        raise AttnError(f"{param('rope')} needs an even per-head dimension d_k ≥ 2; got {d}")
    if base <= 0:
        raise AttnError(f"{param('rope_base')} must be positive; got {base}")
    if inv_freq is None:
        omega = _frequencies(d, base)
    else:
        omega = np.asarray(inv_freq, dtype=np.float64).reshape(-1)
        if omega.shape[0] != d // 2:
            raise AttnError(f"{param('spec.rope.inv_freq')} has {omega.shape[0]} frequencies; the {d} features "
                            f"that turn need {d // 2} (one per pair)")
    return np.asarray(positions, dtype=np.float64)[:, None] * omega[None, :]


def rope(x: np.ndarray, positions: np.ndarray, *, base: float = 10000.0, layout: str = "half",
         inv_freq: np.ndarray | None = None, attention_factor: float = 1.0) -> np.ndarray:
    """Rotate features of x (..., n, d) by their positions (n,); returns the same shape and dtype. `inv_freq`
    (d/2,): the frequencies ω instead of base^(−2i/d); `attention_factor` m multiplies cos and sin."""
    if layout not in ROPE_LAYOUTS:
        raise AttnError(f"{param('rope_layout')} must be half or interleaved; got {layout!r}")
    d = x.shape[-1]
    theta = rope_angles(positions, d, base, inv_freq)  # (n, d/2)
    cos, sin = np.cos(theta), np.sin(theta)
    if attention_factor != 1.0:
        cos, sin = cos * attention_factor, sin * attention_factor
    cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
    if layout == "half":
        x1, x2 = x[..., : d // 2], x[..., d // 2:]  # (..., n, d/2) each
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = x1 * cos - x2 * sin, x2 * cos + x1 * sin
    return out


# ---- scaled RoPE: the frequencies ω (d/2,) of each rope_type of transformers' modeling_rope_utils.py


def linear_frequencies(d: int, base: float, factor: float) -> np.ndarray:
    """Position interpolation (kaiokendev; rope_type "linear"): ω_i / s, s = `factor`."""
    return _frequencies(d, base) / factor


def dynamic_frequencies(d: int, base: float, factor: float, n: int, max_positions: int) -> np.ndarray:
    """Dynamic NTK (rope_type "dynamic"): for a text of n > M = `max_positions` tokens, the base becomes
    base·(s·n/M − (s − 1))^(d/(d−2)); up to M tokens, ω as without scaling."""
    if n <= max_positions:
        return _frequencies(d, base)
    return _frequencies(d, base * (factor * n / max_positions - (factor - 1)) ** (d / (d - 2)))


def yarn_frequencies(d: int, base: float, factor: float, original: int, beta_fast: float = 32.0,
                     beta_slow: float = 1.0, truncate: bool = True) -> np.ndarray:
    """YaRN (Peng et al. 2023; rope_type "yarn"): pair i keeps ω_i where it turns more than β_fast times over the
    M₀ = `original` positions, takes ω_i/s where it turns fewer than β_slow times, and a linear ramp between:
    ω′_i = ω_i/s · r_i + ω_i · (1 − r_i), r_i = clamp((i − lo)/(hi − lo), 0, 1), lo/hi the pair indices
    d·ln(M₀/(2πβ))/(2 ln base) for β_fast/β_slow (floored/ceiled unless not `truncate`), within 0 .. d − 1."""
    def pair(rotations: float) -> float:
        return d * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

    lo, hi = pair(beta_fast), pair(beta_slow)
    if truncate:
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, d - 1)
    if lo == hi:
        hi += 0.001  # transformers' guard against a zero-width ramp
    ramp = np.clip((np.arange(d // 2, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)  # (d/2,)
    omega = _frequencies(d, base)
    return omega / factor * ramp + omega * (1 - ramp)


def yarn_attention_factor(factor: float, mscale: float | None = None, mscale_all_dim: float | None = None
                          ) -> float:
    """YaRN's m: 0.1·ln s + 1 (1 when s ≤ 1); with `mscale` and `mscale_all_dim` (DeepSeek), the ratio
    (0.1·mscale·ln s + 1) / (0.1·mscale_all_dim·ln s + 1)."""
    def m(scale: float) -> float:
        return 1.0 if factor <= 1 else 0.1 * scale * math.log(factor) + 1.0

    return m(mscale) / m(mscale_all_dim) if mscale and mscale_all_dim else m(1.0)


def longrope_frequencies(d: int, base: float, factors: np.ndarray) -> np.ndarray:
    """LongRoPE (Ding et al. 2024; rope_type "longrope"; Phi-3): ω_i / f_i, one factor per pair (d/2,)."""
    return _frequencies(d, base) / np.asarray(factors, dtype=np.float64)


def longrope_attention_factor(factor: float, original: int) -> float:
    """LongRoPE's m: √(1 + ln s / ln M₀) (1 when s ≤ 1), M₀ = `original`."""
    return 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))


def llama3_frequencies(d: int, base: float, factor: float, low_freq_factor: float, high_freq_factor: float,
                       original: int) -> np.ndarray:
    """Llama 3.1's (rope_type "llama3"): wavelength λ_i = 2π/ω_i; ω_i/s where λ_i > M₀/low_freq_factor, ω_i where
    λ_i < M₀/high_freq_factor, and between them (1 − t)·ω_i/s + t·ω_i, t = (M₀/λ_i − low)/(high − low)."""
    omega = _frequencies(d, base)
    wavelen = 2 * math.pi / omega
    low_wavelen, high_wavelen = original / low_freq_factor, original / high_freq_factor
    scaled = np.where(wavelen > low_wavelen, omega / factor, omega)
    t = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smooth = (1 - t) * scaled / factor + t * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return np.where(medium, smooth, scaled)


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
