"""Homework problems with small, hand-computable numbers: what `attncli init` draws, one or one per student.

A problem is X (n × d_model) and the projections W_Q, W_K (d_model × H·d_k), W_V (d_model × H·d_v) and, for
several heads, W_O (H·d_v × d_model). Every entry is an integer or has one decimal:

    X    in {-1, 0, 1, 2}           (an all-zero token is drawn again)
    W_V  in {-1, 0, 1}              W_O in {-1, 0, 1}
    W_Q, W_K in {-a, 0, a}          a from QK_STEPS (1, 0.5, 0.3, 0.2, 0.1): first the largest that keeps
                                    the scaled scores S / √d_k of n tokens within ±3 (`qk_steps`);
                                    the next smaller one when X_TRIES inputs found no
                                    readable heads

Draws are rejected, and drawn again from the same generator, until the softmax is worth computing by hand
(`acceptable`): in every head, every query row that sees two keys or more has all its scaled scores within
±SCORE_LIMIT, its largest weight at most MAX_WEIGHT and its smallest at least MIN_WEIGHT (so no weight rounds
to 0 or 1), and at least half of those rows are not flat (their scores span SPREAD or more). Everything is
drawn from the raw 64-bit stream of numpy's PCG64 seeded with `seed` (the bit generator of
`numpy.random.default_rng(seed)`; each entry is one raw draw modulo the number of values), whose output NumPy
keeps the same across versions: a seed and the sizes give the same numbers on every machine.
`student_seed(course_seed, student_id)` turns a roster's ids into seeds with SHA-256 (never Python's hash()).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from attncli.errors import AttnError, param

MAX_TOKENS = 16  # beyond this nobody computes by hand
MAX_DIM = 16  # d_model, H·d_k and H·d_v
MAX_WEIGHT = 0.9
MIN_WEIGHT = 0.01
SCORE_LIMIT = 3.0
SPREAD = 0.25
X_TRIES = 10  # inputs X drawn for each magnitude a
TRIES_PER_HEAD = 30  # draws of one head's W_Q, W_K for one X
X_VALUES = np.array([-1, 0, 1, 2])
W_VALUES = np.array([-1, 0, 1])
QK_STEPS = (1.0, 0.5, 0.3, 0.2, 0.1)  # the entries of W_Q and W_K are {-a, 0, a}
WHAT = ("weights", "output")


@dataclass(frozen=True)
class ProblemSize:
    """The sizes and options of a generated problem. d_k and d_v are per head."""

    tokens: int = 3
    d_model: int = 4
    d_k: int = 2
    d_v: int = 2
    heads: int = 1
    causal: bool = False
    what: str = "weights"
    decimals: int = 2


def default_head_dim(d_model: int, heads: int) -> int:
    """d_k = d_v when not given: 2 (or d_model, if smaller) for one head; d_model / heads for several, as in
    Vaswani et al."""
    if heads <= 1:
        return min(2, d_model)
    if d_model % heads:
        raise AttnError(f"init: {param('heads', heads)} does not divide {param('d_model', d_model)}, so d_k = "
                        f"d_model / heads is not a whole number; give {param('d_k')} and {param('d_v')} (e.g. "
                        f"{param('d_k', 2)} {param('d_v', 2)}), or {param('heads', _divisor_hint(d_model))}")
    return d_model // heads


def _divisor_hint(n: int) -> str:
    return " or ".join(str(h) for h in range(1, n + 1) if n % h == 0 and h > 1)[:40] or "1"


def validate(size: ProblemSize) -> ProblemSize:
    """Refuse sizes nobody computes by hand, naming the field (ProblemSize's) and its limits."""
    def bounded(name: str, value: int, low: int, high: int, why: str = "") -> None:
        if not low <= value <= high:
            raise AttnError(f"init: {param(name)} must be {low} to {high}{why}; got {value}")

    bounded("tokens", size.tokens, 2, MAX_TOKENS, " (one token has every weight 1; more than 16 is not "
            "computed by hand)")
    bounded("d_model", size.d_model, 1, MAX_DIM)
    bounded("heads", size.heads, 1, MAX_DIM)
    bounded("d_k", size.d_k, 1, MAX_DIM)
    bounded("d_v", size.d_v, 1, MAX_DIM)
    for name, d in (("d_k", size.d_k), ("d_v", size.d_v)):
        if size.heads * d > MAX_DIM:
            raise AttnError(f"init: {param('heads', size.heads)} × {param(name, d)} = {size.heads * d} columns in "
                            f"the projection; at most {MAX_DIM} are computed by hand")
    if size.what not in WHAT:
        raise AttnError(f"init: {param('what')} must be {' or '.join(WHAT)}; got {size.what!r}")
    bounded("decimals", size.decimals, 0, 6)
    return size


def student_seed(course_seed: int, student_id: str) -> int:
    """A 63-bit seed from the course seed and a student id: the same on every machine and Python version."""
    digest = hashlib.sha256(f"{course_seed}:{student_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def qk_steps(d_model: int, tokens: int) -> tuple[float, ...]:
    """The magnitudes a to try for W_Q and W_K's entries {-a, 0, a}, largest first: from the largest of QK_STEPS
    whose scaled scores stay within ±SCORE_LIMIT for all tokens² of them (their spread is about d_model·a², the
    largest of N about √(2 ln N) spreads) down to the smallest."""
    reach = d_model * np.sqrt(2 * np.log(tokens * tokens))
    first = next((i for i, a in enumerate(QK_STEPS) if reach * a * a <= SCORE_LIMIT), len(QK_STEPS) - 1)
    return QK_STEPS[first:]


def generate(seed: int, size: ProblemSize) -> dict[str, np.ndarray]:
    """The matrices of one problem: x, wq, wk, wv (and wo for several heads), drawn until `acceptable`.
    For each magnitude a (largest first), up to X_TRIES inputs X are drawn; for each X, every head's W_Q and
    W_K columns get up to TRIES_PER_HEAD draws to be acceptable on their own."""
    rng = np.random.PCG64(seed)
    n, dm, h = size.tokens, size.d_model, size.heads
    one_head = replace(size, heads=1)
    found = None
    for a in qk_steps(dm, n):
        qk_values = np.array([-a, 0.0, a])
        for _ in range(X_TRIES):
            x = _tokens(rng, n, dm)  # (n, d_model)
            blocks = []
            for _head in range(h):
                for _ in range(TRIES_PER_HEAD):
                    wq = _pick(rng, qk_values, size=(dm, size.d_k))  # (d_model, d_k)
                    wk = _pick(rng, qk_values, size=(dm, size.d_k))  # (d_model, d_k)
                    if acceptable(x, wq, wk, one_head):
                        blocks.append((wq, wk))
                        break
                else:
                    break  # this X has no readable head: draw another
            if len(blocks) == h:
                found = x, np.hstack([b[0] for b in blocks]), np.hstack([b[1] for b in blocks])
                break
        if found:
            break
    if found is None:  # pragma: no cover - tests draw every size at the limits
        raise AttnError("init: found no problem whose weights are worth computing by hand for these sizes; "
                        f"try other sizes or another {param('seed')}")
    x, wq, wk = found  # wq, wk: (d_model, H·d_k), heads in contiguous column blocks
    arrays = {"x": x, "wq": wq, "wk": wk,
              "wv": _pick(rng, W_VALUES, size=(dm, h * size.d_v))}  # (d_model, H·d_v)
    if h > 1:
        arrays["wo"] = _pick(rng, W_VALUES, size=(h * size.d_v, dm))  # (H·d_v, d_model)
    return arrays


def _pick(rng: np.random.PCG64, values: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Entries drawn from `values`: one raw 64-bit draw each, modulo len(values) (a bias below 1e-18)."""
    raw = rng.random_raw(int(np.prod(size)))  # (prod(size),) uint64
    return np.asarray(values, dtype=float)[raw % np.uint64(len(values))].reshape(size)


def _tokens(rng: np.random.PCG64, n: int, d_model: int) -> np.ndarray:
    """X (n × d_model) with entries in X_VALUES and no all-zero token (its scores would all be 0): zero rows
    are drawn again."""
    x = _pick(rng, X_VALUES, size=(n, d_model))  # (n, d_model)
    while not (nonzero := np.any(x, axis=1)).all():
        x[~nonzero] = _pick(rng, X_VALUES, size=(int((~nonzero).sum()), d_model))
    return x


def scaled_scores(x: np.ndarray, wq: np.ndarray, wk: np.ndarray, heads: int) -> np.ndarray:
    """S_h / √d_k for every head: (H, n, n)."""
    n = x.shape[0]
    d_k = wq.shape[1] // heads
    q = (x @ wq).reshape(n, heads, d_k).transpose(1, 0, 2)  # (H, n, d_k)
    k = (x @ wk).reshape(n, heads, d_k).transpose(1, 0, 2)  # (H, n, d_k)
    return q @ k.transpose(0, 2, 1) / np.sqrt(d_k)  # (H, n, n)


def acceptable(x: np.ndarray, wq: np.ndarray, wk: np.ndarray, size: ProblemSize) -> bool:
    """True when every head's softmax is worth computing by hand (see the module docstring)."""
    s = scaled_scores(x, wq, wk, size.heads)  # (H, n, n)
    n = x.shape[0]
    allowed = np.tril(np.ones((n, n), bool)) if size.causal else np.ones((n, n), bool)
    rows = allowed.sum(axis=1) >= 2  # rows with a choice to make (a causal first row has one key)
    if np.any(np.abs(s[:, allowed]) > SCORE_LIMIT):
        return False
    masked = np.where(allowed, s, -np.inf)  # (H, n, n)
    e = np.exp(masked - masked.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)  # (H, n, n)
    w = w[:, rows]  # (H, rows, n)
    if np.any(w.max(axis=-1) > MAX_WEIGHT) or np.any(np.where(allowed[rows], w, 1.0) < MIN_WEIGHT):
        return False
    spread = np.where(allowed, s, -np.inf).max(axis=-1) - np.where(allowed, s, np.inf).min(axis=-1)  # (H, n)
    lively = (spread[:, rows] >= SPREAD).sum(axis=-1)  # (H,)
    return bool(np.all(2 * lively >= rows.sum()))
