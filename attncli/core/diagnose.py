"""Diagnosing a wrong answer: recompute with the common mistakes and see which one the answer matches.

Each mistake (core/mistakes.py) changes the computation the way a student might have and gives the array
that student would have written. An answer is matched, in this order, against:

    singles  the expected array in another shape (transposed, flattened into one line), a neighbouring step
             given for the one asked (core/neighbours.py: qk for the scores, the weights for the output, K for
             Q, ...), each single mistake, and the weights rounded to the answer's own decimals; every single
             that matches is named, so mistakes that coincide for this problem's numbers are named together;
    percents the expected array and every single × 100: an answer written in percent (33.3 for 0.3333),
             at the check's tolerance or to the answer's own decimals;
    pairs    two mistakes at once (a mistake's array transposed or given for another, two mistakes together),
             tried only when nothing above matches, computed one at a time until one matches.

Pure: takes the problem's keywords, its result and the function that computes them; candidates are computed on
first need and kept, so one Diagnoser serves a whole class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from attncli.core.mistakes import Kwargs
from attncli.core.suspects import Candidate, Compute, Suspects, dims, flat_shape
from attncli.errors import AttnError

Close = Callable[[np.ndarray, np.ndarray], bool]

@dataclass
class Finding:
    """What a wrong answer matches: the mistakes' names (ids such as "no-scaling"; two or more when the
    problem's numbers make several mistakes give the same array, or when a pair of mistakes was made) and one
    message in plain words for the student: `said` names parameters ‹name› (attncli.errors.param), so a command
    line can say its options; `message` is how a library caller reads it."""

    names: list[str]
    said: str

    @property
    def message(self) -> str:
        return AttnError(self.said).text()  # ‹name› -> name, as in a library error


class _Hit(NamedTuple):
    names: tuple[str, ...]
    message: str
    short: str
    reshaped: tuple[int, ...] | None  # the shape a one-line answer was read as


def decimals_of(a: np.ndarray, most: int = 6) -> int | None:
    """The fewest decimals the answer's finite values are written with (0.25, 0.5, 1.75 → 2), None if over `most`."""
    finite = a[np.isfinite(a)].reshape(1, -1)[:, :4096]  # a sample is enough
    if finite.size == 0:
        return None
    scale = 10.0 ** np.arange(most + 1)[:, None]  # (most + 1, 1)
    off = np.max(np.abs(np.round(finite * scale) - finite * scale) / scale, axis=1)  # (most + 1,)
    fits = np.flatnonzero(off <= 1e-9)
    return int(fits[0]) if fits.size else None


class Diagnoser:
    """Match answers against the expected array's common mistakes, computing each candidate once, on first
    need, and reusing it for every later answer (a class of 1,000 answers costs one set of candidates).

    `close(a, b)` says whether two arrays of the same shape agree within the check's tolerance; an answer
    written with 1 to 4 decimals also agrees with an array it equals at that precision. Answers of any shape
    are accepted: one whose shape differs from `want` is still matched (transposed, flattened, another array).
    """

    def __init__(self, want: np.ndarray, candidates: Suspects | Iterable[Candidate], close: Close) -> None:
        self.want = np.asarray(want, dtype=np.float64)
        self.close = close
        self.suspects = candidates if isinstance(candidates, Suspects) else \
            Suspects(None, "", None, want=self.want, extra=candidates)
        self._same_as_want: dict[int, bool] = {}

    def _comparer(self, answer: np.ndarray) -> tuple[Close | None, int | None]:
        """How to compare this answer (None: it is right at its own decimals) and its decimals."""
        d = decimals_of(answer)
        if d is None or not 1 <= d <= 4:
            return self.close, d
        tol = 0.5 * 10.0 ** -d * (1 + 1e-9)

        def same(a: np.ndarray, b: np.ndarray) -> bool:
            if self.close(a, b):
                return True
            with np.errstate(invalid="ignore"):
                return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol))

        if answer.shape == self.want.shape and same(answer, self.want):
            return None, d  # right at its own precision: no mistake (check says how to pass)
        return same, d

    def _percent_close(self, decimals: int | None) -> Close:
        """Whether an answer is 100 × a candidate: equal within the check's tolerance once divided by 100, or within
        half a unit of its own last decimal (33.3 for 0.3333, 33 for 0.33); never when it is as close to the
        candidate itself (zeros for values below 0.005)."""
        tol = 0.5 * 10.0 ** -decimals * (1 + 1e-9) if decimals is not None and decimals <= 4 else None

        def same(a: np.ndarray, b: np.ndarray) -> bool:
            if a.shape != b.shape:
                return False
            with np.errstate(invalid="ignore", over="ignore"):
                if tol is not None and np.all(np.abs(a - b) <= tol):
                    return False  # as close to the candidate itself: no sign of percentages
                return self.close(a / 100, b) or (tol is not None and bool(np.all(np.abs(a - 100 * b) <= tol)))

        return same

    def _useless(self, c: Candidate) -> bool:
        """A mistake that gives the expected array itself for this problem (e.g. no biases when they are 0)."""
        key = id(c)
        if key not in self._same_as_want:
            self._same_as_want[key] = c.array.shape == self.want.shape and self.close(c.array, self.want)
        return self._same_as_want[key]

    def _hit(self, c: Candidate, answer: np.ndarray, same: Close) -> _Hit | None:
        a = c.array
        if a.shape == answer.shape:
            if c.names and same(answer, a) and (c.percent or not self._useless(c)):
                return _Hit(c.names, c.message, c.short or c.message, None)
        elif a.size == answer.size and flat_shape(answer.shape) and not flat_shape(a.shape):
            if same(answer.reshape(a.shape), a) and (not c.names or c.percent or not self._useless(c)):
                if not c.names:
                    return _Hit(("flattened",), f"has the right values, given as one line of {a.size} numbers instead "
                                f"of the {dims(a.shape)} array asked", "the right values", a.shape)
                return _Hit(c.names + ("flattened",), c.message, c.short or c.message, a.shape)
        return None

    def diagnose(self, answer: np.ndarray) -> Finding | None:
        """The mistake(s) the answer matches, or None."""
        answer = np.asarray(answer, dtype=np.float64)
        same, decimals = self._comparer(answer)
        if same is None:
            return None
        hits = [h for c in self.suspects.singles if (h := self._hit(c, answer, same))]
        if decimals is not None:
            hits += [h for c in self.suspects.rounded(decimals) if (h := self._hit(c, answer, same))]
        if hits:
            return _finding(hits, answer)
        percent = self._percent_close(decimals)
        hits = [h for c in self.suspects.percents() if (h := self._hit(c, answer, percent))]
        if hits:
            example = _percent_example(answer)
            return _finding([h._replace(message=h.message.replace("{pct}", example)) for h in hits], answer)
        pairs = self.suspects.pairs
        for i, c in enumerate(pairs):
            h = self._hit(c, answer, same)
            if h:  # others already computed that give the same numbers
                return _finding([h] + [h2 for c2 in pairs.items[i + 1:] if (h2 := self._hit(c2, answer, same))],
                                answer)
        return None


def _percent_example(answer: np.ndarray) -> str:
    """"(0.3333), not percentages (33.33)" from the answer's first value that is not 0."""
    values = answer[np.isfinite(answer) & (answer != 0)]
    v = float(values.flat[0]) if values.size else 50.0
    return f"({v / 100:.6g}), not percentages ({v:.6g})"


def _finding(hits: list[_Hit], answer: np.ndarray) -> Finding:
    hits = list({h.names: h for h in hits}.values())
    hits = [h for h in hits if not any(set(o.names) < set(h.names) for o in hits)]  # the simpler explanation
    shape = next((h.reshaped for h in hits if h.reshaped is not None), None)
    once = "" if shape is None or hits[0].names == ("flattened",) else \
        f" (once its {answer.size} numbers, given in one line, are reshaped to {dims(shape)})"
    if len(hits) == 1:
        return Finding(list(hits[0].names), hits[0].message + once)
    names = list(dict.fromkeys(n for h in hits for n in h.names))
    return Finding(names, "matches mistakes that coincide for this problem (its numbers make them give the same "
                   "array): " + "; or ".join(h.short for h in hits) + once)


def candidates(kwargs: Kwargs, what: str, result: Any, compute: Compute) -> Suspects:
    """Arrays a student would have written for `what` after each mistake (computed lazily, once). `compute` runs
    the problem's keywords (`kwargs`, `result` is what they gave) with a mistake made: the caller's attention."""
    return Suspects(kwargs, what, result, compute=compute)


def expected_candidates(want: np.ndarray) -> Suspects:
    """The mistakes an answer can show against a given expected array (check's expected array): no problem to
    recompute, so only its other shapes (transposed, flattened into one line)."""
    return Suspects(None, "", None, want=want)
