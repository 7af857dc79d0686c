"""The elementwise pieces of a forward pass (norms, activations), in place and a cache-sized block at a time.

numpy runs one pass over memory per operation, so a formula of twenty operations over a (512, 3072) array
reads and writes 6 MB twenty times. Here each function works on blocks of rows of about 128 KB, which stay in
the core's cache through every operation, and writes into its input (`x` is overwritten: the caller owns it).

    LayerNorm(x) = (x − mean(x)) / √(var(x) + ε) · w + b       RMSNorm(x) = x / √(mean(x²) + ε) · w
    GELU(x) = x·Φ(x) = x·½·erfc(−x/√2)          GELU_tanh(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    SiLU(x) = x / (1 + e^(−x))                   ReLU(x) = max(x, 0)

GELU in float32 uses x·Φ(x) = max(x, 0) − |x|·Φ(−|x|) and Φ(−|x|) = e^(−x²/2)·P(t), t = 1/(1 + p·|x|), with
P a polynomial of degree 6 fitted by least squares to math.erfc when first needed (the form of Abramowitz &
Stegun 7.1.26, with more terms): within 4·10⁻⁹ of Φ, so the result is as close to x·Φ(x) as float32 itself
(measured: 1.4·10⁻⁷ relative). float64 uses the erf table below, within 3·10⁻¹⁶.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

# the forward pass's RMSNorm is the core's (core/norms.py), which a Spec's q/k norms use too
from attncli.core.norms import BLOCK, rms_norm_  # noqa: F401 - rms_norm_: models/ import it from here
from attncli.core.norms import blocks as _blocks


def linear(x: np.ndarray, wb: tuple[np.ndarray, np.ndarray | None], out: np.ndarray | None = None) -> np.ndarray:
    """x·W + b for rows x (r, in), W (in, out) and b (out,) or None; into `out` (r, out) when given."""
    y = np.matmul(x, wb[0], out=out)  # (r, in) @ (in, out) -> (r, out)
    if wb[1] is not None:
        y += wb[1]
    return y


# ---------------------------------------------------------------- norms


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, into a new array."""
    y = np.array(x, copy=True, order="C")  # C order: the 2-D view below writes into y
    layer_norm_(y.reshape(-1, y.shape[-1]), w, b, eps)
    return y


def layer_norm_(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float) -> np.ndarray:
    """LayerNorm of the rows of x (m, d), in place: the mean, then the variance of x − mean (two passes, as torch
    computes them), each a matrix-vector product with (1/d, ..., 1/d)."""
    ft = x.dtype.type
    mean_of = np.full(x.shape[-1], 1 / x.shape[-1], dtype=x.dtype)  # (d,)
    for xb in _blocks(x):
        xb -= (xb @ mean_of)[:, None]  # (r, d) − (r, 1)
        inv = np.square(xb) @ mean_of  # (r,): the variance
        inv += ft(eps)
        np.sqrt(inv, out=inv)
        np.divide(ft(1), inv, out=inv)
        xb *= inv[:, None]
        xb *= w
        if b is not None:
            xb += b
    return x


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm over the last axis, into a new array."""
    y = np.array(x, copy=True, order="C")  # C order: the 2-D view below writes into y
    rms_norm_(y.reshape(-1, y.shape[-1]), w, eps)
    return y


# ---------------------------------------------------------------- erf (float64 GELU)

ERF_STEP, ERF_TOP = 1 / 16, 6.0  # grid of the erf table; erf(6) = 1 − 2·10⁻¹⁷


def _erf_table(order: int = 8) -> np.ndarray:
    """Taylor coefficients of erf at x₀ = 0, 1/16, ..., 6: erf^(k)(x₀)/k!, with erf^(k) = 2/√π (−1)^(k−1)
    H_{k−1}(x) e^(−x²) (H the Hermite polynomials) and erf(x₀) from math.erf."""
    xs = np.arange(0, ERF_TOP + ERF_STEP, ERF_STEP)
    coef = np.empty((order + 1, xs.size))
    coef[0] = [math.erf(v) for v in xs]
    h_prev, h = np.zeros_like(xs), np.ones_like(xs)  # H_{k−2}, H_{k−1}
    g = 2 / math.sqrt(math.pi) * np.exp(-xs * xs)
    fact = 1.0
    for k in range(1, order + 1):
        fact *= k
        coef[k] = (-1) ** (k - 1) * h * g / fact
        h_prev, h = h, 2 * xs * h - 2 * (k - 1) * h_prev
    return coef


_ERF = _erf_table()


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none), from the table above: the Taylor polynomial at the nearest grid
    point, |x − x₀| ≤ 1/32. float64: order 8, within 3·10⁻¹⁶ of math.erf; float32: order 4 in float32,
    within 10⁻⁷ (float32's own precision, as torch.erf)."""
    single = x.dtype == np.float32
    order, kind = (4, np.float32) if single else (8, np.float64)
    z = np.asarray(x, dtype=kind)
    a = np.minimum(np.abs(z), kind(ERF_TOP))
    idx = np.rint(a * kind(1 / ERF_STEP)).astype(np.intp)
    dx = a - idx.astype(kind) * kind(ERF_STEP)
    coef = _ERF.astype(kind) if single else _ERF
    p = coef[order][idx]
    for k in range(order - 1, -1, -1):  # Horner
        p *= dx
        p += coef[k][idx]
    return np.copysign(p, z)


# ---------------------------------------------------------------- activations, in place

GELU_P, GELU_DEGREE = 0.25, 6


@cache
def gelu_coefficients() -> tuple[np.float32, ...]:
    """c₀..c₆ with Φ(−a) ≈ e^(−a²/2)·Σ c_k t^k, t = 1/(1 + p·a), a ≥ 0: least squares against math.erfc on
    a = 0..14 (beyond, e^(−a²/2) is below float32's smallest normal number)."""
    a = np.linspace(0, 14, 3001)
    t = 1 / (1 + GELU_P * a)
    tail = np.array([0.5 * math.erfc(v / math.sqrt(2)) for v in a])  # Φ(−a)
    basis = np.vander(t, GELU_DEGREE + 1, increasing=True) * np.exp(-a * a / 2)[:, None]
    c, *_ = np.linalg.lstsq(basis, tail, rcond=None)
    return tuple(np.float32(v) for v in c)


def gelu_(x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """GELU (erf) of x (m, k) (+ bias (k,) first), in place. float32: x·Φ(x) = max(x, 0) − |x|·Φ(−|x|), with
    Φ(−|x|) from the fitted polynomial (no cancellation on either side); float64: ½x·(1 + erf(x/√2)) from the
    erf table."""
    if x.dtype != np.float32:
        if bias is not None:
            x += bias
        x[...] = 0.5 * x * (1 + erf(x / math.sqrt(2)))
        return x
    c = gelu_coefficients()
    step = max(1, BLOCK // max(1, x.shape[-1]))
    a, e, t, e2 = (np.empty((step, x.shape[-1]), np.float32) for _ in range(4))
    for xb in _blocks(x):
        r = xb.shape[0]
        ab, eb, tb = a[:r], e[:r], t[:r]
        if bias is not None:
            xb += bias
        np.abs(xb, out=ab)
        np.multiply(xb, xb, out=eb)
        eb *= np.float32(-0.5)
        np.exp(eb, out=eb)  # e^(−x²/2)
        np.multiply(ab, np.float32(GELU_P), out=tb)
        tb += np.float32(1)
        np.divide(np.float32(1), tb, out=tb)  # t
        q = e2[:r]
        np.multiply(tb, c[-1], out=q)  # P(t) by Horner
        for ck in c[-2:0:-1]:
            q += ck
            q *= tb
        q += c[0]
        q *= eb  # Φ(−|x|) = e^(−x²/2)·P(t)
        xb += ab
        xb *= np.float32(0.5)  # max(x, 0) = (x + |x|)/2, exactly
        ab *= q
        xb -= ab
    return x


def gelu_tanh_(x: np.ndarray) -> np.ndarray:
    ft = x.dtype.type
    c = math.sqrt(2 / math.pi)
    for xb in _blocks(x):
        u = np.square(xb)
        u *= ft(0.044715 * c)
        u += ft(c)
        u *= xb  # √(2/π)·(x + 0.044715·x³)
        np.tanh(u, out=u)
        u += ft(1)
        xb *= ft(0.5)
        xb *= u
    return x


def silu_(x: np.ndarray) -> np.ndarray:
    for xb in _blocks(x):
        u = np.negative(xb)
        np.exp(u, out=u)
        u += 1
        xb /= u
    return x


def relu_(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": gelu_, "gelu_python": gelu_,
    "gelu_new": gelu_tanh_, "gelu_pytorch_tanh": gelu_tanh_, "gelu_fast": gelu_tanh_, "bloom_gelu": gelu_tanh_,
    "relu": relu_, "silu": silu_, "swish": silu_,
}
