"""Diagnosing a wrong answer: recompute with the common mistakes and see which one the answer matches.

Each mistake changes the computation the way a student might have (left out 1/√d_k, normalized the
wrong axis, forgot the causal mask, ...) and gives the array that student would have written. Pure:
takes attention() keyword arguments (the problem) and returns candidate arrays in the user's shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.core.attention import attention

Kwargs = dict[str, Any]


@dataclass(frozen=True)
class Mistake:
    name: str
    message: str | Callable[[Kwargs], str]
    change: Callable[[Kwargs, Any], Kwargs | None]  # new kwargs, or None when the mistake is impossible here


def _set(**changes: Any) -> Callable[[Kwargs, Any], Kwargs]:
    return lambda kw, res: {**kw, **changes}


def _no_scale(kw: Kwargs, res: Any) -> Kwargs | None:
    if kw.get("score", "scaled") != "scaled" or kw.get("scale") is not None:
        return None
    return {**kw, "scale": 1.0}


def _sqrt_n(kw: Kwargs, res: Any) -> Kwargs | None:
    if kw.get("score", "scaled") != "scaled" or kw.get("scale") is not None:
        return None
    n_k, d_k = res.k.shape[2], res.k.shape[3]
    return None if n_k == d_k else {**kw, "scale": 1 / math.sqrt(n_k)}


def _transposed_weights(kw: Kwargs, res: Any) -> Kwargs | None:
    ws = [kw.get(n) for n in ("wq", "wk", "wv")]
    if any(w is None or isinstance(w, list) for w in ws) or any(np.ndim(w) != 2 or w.shape[0] != w.shape[1]
                                                               for w in ws):
        return None
    return {**kw, **{n: np.asarray(w).T for n, w in zip(("wq", "wk", "wv"), ws, strict=True)}}


def _no_biases(kw: Kwargs, res: Any) -> Kwargs | None:
    names = [n for n in ("bq", "bk", "bv", "bo") if kw.get(n) is not None]
    return {**kw, **dict.fromkeys(names)} if names else None


def _toggle_causal(kw: Kwargs, res: Any) -> Kwargs:
    return {**kw, "causal": not kw.get("causal", False)}


def _no_padding(kw: Kwargs, res: Any) -> Kwargs | None:
    names = [n for n in ("key_lens", "query_lens", "mask") if kw.get(n) is not None]
    return {**kw, **dict.fromkeys(names)} if names else None


def _no_wo(kw: Kwargs, res: Any) -> Kwargs | None:
    return {**kw, "wo": None, "bo": None} if kw.get("wo") is not None else None


def _heads_reversed(kw: Kwargs, res: Any) -> Kwargs | None:
    """concat(head_N, …, head_1)·W_O equals concat(head_1, …, head_N)·W_O′ with W_O′'s row blocks reversed."""
    wo, H = kw.get("wo"), res.weights.shape[1]
    if wo is None or H < 2 or np.ndim(wo) != 2:
        return None
    cols = kw.get("layout", "rows") == "cols"
    w = np.asarray(wo).T if cols else np.asarray(wo)  # (H·d_v, d_out)
    if w.shape[0] % H:
        return None
    w = w.reshape(H, -1, w.shape[1])[::-1].reshape(w.shape)
    return {**kw, "wo": w.T if cols else w}


def _other_normalization_axis(kw: Kwargs, res: Any) -> Kwargs:
    return {**kw, "_normalize_over_queries": True}


MISTAKES: list[Mistake] = [
    Mistake("no-scaling", "matches the unscaled scores: 1/√d_k was left out", _no_scale),
    Mistake("sqrt-n", "matches scaling by 1/√n (the sequence length) instead of 1/√d_k", _sqrt_n),
    Mistake("softmax-axis", "matches softmax over the wrong axis (down each column of S instead of along each row)",
            _other_normalization_axis),
    Mistake("no-softmax", "matches the raw scores: the softmax was left out", _set(normalize="none")),
    Mistake("no-softmax-no-scaling", "matches Q·Kᵀ itself: both the scaling and the softmax were left out",
            lambda kw, res: None if _no_scale(kw, res) is None else {**_no_scale(kw, res), "normalize": "none"}),
    Mistake("transposed-weights", "matches X·Wᵀ: the weight matrices were applied transposed", _transposed_weights),
    Mistake("no-biases", "matches the computation without the biases b_Q, b_K, b_V, b_O", _no_biases),
    Mistake("causal", lambda kw: ("matches the computation without the causal mask: it is missing"
                                  if kw.get("causal") else
                                  "matches a causal mask (j ≤ i) that the problem does not ask for"), _toggle_causal),
    Mistake("no-padding", "matches the computation without the padding mask (--key-lens/--query-lens/--mask)",
            _no_padding),
    Mistake("heads-order", "matches the heads concatenated in the wrong (reversed) order before W_O", _heads_reversed),
    Mistake("no-wo", "matches the concatenated heads: the output projection W_O was left out", _no_wo),
]


@dataclass
class Candidate:
    name: str
    message: str
    array: np.ndarray


@dataclass
class Finding:
    """What a wrong answer matches: the mistakes' names (ids such as "no-scaling"; two or more when the
    problem's numbers make several mistakes give the same array, or when a pair of mistakes was made) and one
    message in plain words for the student."""

    names: list[str]
    message: str


class Diagnoser:
    """Match answers against the expected array's common mistakes, computing each candidate once, on first
    need, and reusing it for every later answer (a class of 1,000 answers costs one set of candidates).

    `close(a, b)` says whether two arrays of the same shape agree within the check's tolerance. Answers of any
    shape are accepted: an answer whose shape differs from `want` is still matched (reshaped, transposed, ...).
    """

    def __init__(self, want: np.ndarray, candidates: Iterator[Candidate] | list[Candidate],
                 close: Callable[[np.ndarray, np.ndarray], bool]) -> None:
        self.want = want
        self.close = close
        self._pending = iter(candidates)
        self._cache: list[Candidate] = []

    def _all(self) -> Iterator[Candidate]:
        yield from self._cache
        for c in self._pending:
            self._cache.append(c)
            yield c

    def diagnose(self, answer: np.ndarray) -> Finding | None:
        for c in self._all():
            arr = np.asarray(c.array, dtype=np.float64)
            if arr.shape == answer.shape and self.close(answer, arr):
                return Finding([c.name], c.message)
        return None


def candidates(kwargs: Kwargs, what: str, result: Any) -> Iterator[Candidate]:
    """Arrays a student would have written for `what` after each mistake (computed lazily, in order)."""
    if what == "output" and result is not None:
        yield Candidate("weights-for-output", "matches the attention weights: ·V was left out (weights given where "
                        "the output was asked)", result.export("weights"))
        yield Candidate("heads-for-output", "matches the per-head outputs before W_O", result.export("heads"))
    if what == "weights" and result is not None:
        yield Candidate("scores-for-weights", "matches the scores: the softmax was left out", result.export("scores"))
    for m in MISTAKES:
        try:
            changed = m.change(kwargs, result)
            if changed is None:
                continue
            message = m.message(kwargs) if callable(m.message) else m.message
            yield Candidate(m.name, message, attention(**changed).export(what))
        except Exception:  # noqa: BLE001 - a mistake that cannot be computed for this problem is no candidate
            continue
    if result is not None:
        exp = result.export(what)
        if exp.ndim >= 2:
            yield Candidate("layout", "matches the expected array transposed: tokens as rows vs columns mixed up "
                            "(K used where Kᵀ belongs, or the other --layout)", np.swapaxes(exp, -1, -2))


def expected_candidates(want: np.ndarray) -> list[Candidate]:
    """The mistakes an answer can show against a given expected array (check --expected): no problem to recompute."""
    if want.ndim < 2:
        return []
    return [Candidate("layout", "matches the expected array transposed: tokens as rows vs columns mixed up (K used "
                      "where Kᵀ belongs, or the other --layout)", np.swapaxes(want, -1, -2))]
