"""Suspects: every array a student might have written for one problem, computed on first need and kept.

The candidates core/diagnose.py matches an answer against: the expected array in another shape (transposed,
flattened into one line), a neighbouring step given for the one asked (core/neighbours.py), each single mistake
(core/mistakes.py), the weights rounded to the answer's decimals, every single × 100 (percent), and pairs of
mistakes. Pure: takes the problem's keywords, its result and the function that computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.core.mistakes import MISTAKES, STAGES, Kwargs, Mistake, rounded, with_spec
from attncli.core.neighbours import views as neighbours
from attncli.core.recompute import plain, tail, tail_covers
from attncli.errors import param
from attncli.vocabulary import NOUN

Compute = Callable[..., Any]  # the problem's keywords -> its AttentionResult (the CLI's compute_attention)

LAYOUT = ("matches the expected array transposed: tokens as rows vs columns mixed up (K used where Kᵀ belongs, "
          f"or the other {param('layout')})")
LAYOUT_SHORT = "the array transposed (tokens as rows vs columns)"
SMALL_MAPS = 1 << 18  # cells of the weights (all heads) up to which pairs of mistakes are tried


@dataclass
class Candidate:
    """An array a student might have written: `names` are the mistakes' ids (() for the expected array itself,
    which only counts in another shape), `message` what the student reads, `short` how it is named next to
    other matches."""

    names: tuple[str, ...]
    message: str
    array: np.ndarray
    short: str = ""
    percent: bool = False  # the answer is `array` × 100 (compared by Diagnoser._percent_close, without a copy)

    @property
    def name(self) -> str:
        return "+".join(self.names)


class _Cached:
    """An iterator computed once, on demand, and replayed from its start for every later loop."""

    def __init__(self, source: Iterable[Candidate]) -> None:
        self._source: Iterator[Candidate] = iter(source)
        self.items: list[Candidate] = []

    def __iter__(self) -> Iterator[Candidate]:
        i = 0
        while True:
            if i == len(self.items):
                try:
                    self.items.append(next(self._source))
                except Exception:  # noqa: BLE001 - StopIteration, or a candidate that failed: no more candidates
                    self._source = iter(())
                    return
            yield self.items[i]
            i += 1


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def flat_shape(shape: tuple[int, ...]) -> bool:
    """One line of numbers: at most one axis longer than 1."""
    return sum(s > 1 for s in shape) <= 1


def dims(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


def _transposed(message: str) -> str:
    """"matches X" -> "matches, once transposed, X" (messages follow "Your answer ...")."""
    return "matches, once transposed, " + message.removeprefix("matches ")


class Suspects:
    """Every array a student might have written for one problem, computed on first need and kept: the singles,
    the pairs (see the module docstring) and, per number of decimals, the weights rounded before ·V."""

    def __init__(self, kwargs: Kwargs | None, what: str, result: Any, want: np.ndarray | None = None,
                 extra: Iterable[Candidate] = (), compute: Compute | None = None) -> None:
        self.kw, self.what, self.res, self.compute = with_spec(kwargs or {}, result), what, result, compute
        self.want = np.asarray(result.export(what) if want is None else want, dtype=np.float64)
        self._extra = extra
        self._mistaken: list[tuple[Mistake, Any, np.ndarray]] = []  # single mistakes computed: (mistake, result, array)
        self._rounded: dict[int, list[Candidate]] = {}
        self._percents: list[Candidate] | None = None
        self._kwargs: dict[Mistake, Kwargs | None] = {}
        self._results: dict[Mistake, Any] = {}  # each single mistake's result: its Q, K, V serve its pairs
        # pairs, and the results they start from, only for problems of homework size (a 4k-token problem would
        # keep maps of hundreds of MB for each mistake and take minutes)
        self._small = result is not None and result.weights is not None and result.weights.size <= SMALL_MAPS
        self.singles = _Cached(self._singles())
        self.pairs = _Cached(self._pairs())

    # ---- computing ------------------------------------------------------------------------------------
    def _changed(self, m: Mistake) -> Kwargs | None:
        """The problem's kwargs with mistake `m` made (once per mistake, so pairs share its arrays)."""
        if m not in self._kwargs:
            try:
                self._kwargs[m] = m.change(self.kw, self.res)
            except Exception:  # noqa: BLE001 - a mistake that cannot be made for this problem is no candidate
                self._kwargs[m] = None
        return self._kwargs[m]

    def _made(self, *ms: Mistake) -> tuple[Any, np.ndarray | None]:
        """The result with mistakes `ms` made and its array the answer is compared with (None: not here)."""
        r = self._run(*ms)
        if r is None:
            return None, None
        try:
            return r, np.asarray(r.export(self.what), dtype=np.float64)
        except Exception:  # noqa: BLE001 - an array this mistake cannot give is no candidate
            return r, None

    def _run(self, *ms: Mistake) -> Any:
        """The result with mistakes `ms` made, or None when they cannot be made here (or together). A mistake
        made after the projections reuses Q, K, V of a result already computed (recompute.tail)."""
        ms = tuple(sorted(ms, key=lambda m: STAGES[m.stage]))  # the projections' mistake first: its Q, K, V serve
        try:
            kw = self._changed(ms[0])
            bases = [(self.kw, self.res)]
            for m in ms[1:]:
                if kw is None:
                    return None
                bases.append((kw, self._results.get(ms[0])))
                kw = m.change(kw, self.res)
            if kw is None:
                return None
            r = None
            for base_kw, base in reversed(bases) if plain(kw) else ():
                differ = {n for n in base_kw.keys() | kw.keys() if base_kw.get(n) is not kw.get(n)}
                if base is not None and tail_covers(base_kw, kw):
                    r = tail(base, kw) if differ else base
                    break
            if r is None:
                if self.compute is None:
                    return None
                r = self.compute(**kw)
            for m in ms:
                if m.post is not None:
                    r = m.post(r, kw)
            if len(ms) == 1 and self._small:
                self._results[ms[0]] = r
            return r
        except Exception:  # noqa: BLE001 - a mistake that cannot be computed for this problem is no candidate
            return None

    def _singles(self) -> Iterator[Candidate]:
        yield Candidate((), "", self.want)  # the expected array itself: right values in another shape
        if self.want.ndim >= 2:
            yield Candidate(("layout",), LAYOUT, _swap(self.want), LAYOUT_SHORT)
        yield from self._extra
        if self.res is None:
            return
        try:
            views = list(neighbours(self.kw, self.what, self.res))
        except Exception:  # noqa: BLE001 - e.g. maps not kept
            views = []
        for name, message, short, a in views:
            a = np.asarray(a, dtype=np.float64)
            yield Candidate((name,), message, a, short)
            if a.ndim >= 2:
                yield Candidate((name, "layout"), _transposed(message), _swap(a), f"{short}, transposed")
        for m in MISTAKES:
            if not m.changes(self.what):
                continue
            r, a = self._made(m)
            if a is None:
                continue
            self._mistaken.append((m, r if self._small else None, a))
            yield Candidate((m.name,), m.text(self.kw, self.what, self.res), a, m.phrase(self.kw))

    def rounded(self, decimals: int) -> list[Candidate]:
        """The output with the weights rounded to `decimals` before ·V (computed once per `decimals`)."""
        if decimals not in self._rounded:
            self._rounded[decimals] = []
            if self.res is not None and self.what in ("heads", "concat", "output") and self.res.weights is not None:
                m = rounded(decimals)
                try:
                    a = np.asarray(m.post(self.res, self.kw).export(self.what), dtype=np.float64)
                    self._rounded[decimals].append(Candidate((m.name,), m.text(self.kw, self.what, self.res), a,
                                                             m.phrase(self.kw)))
                except Exception:  # noqa: BLE001
                    pass
        return self._rounded[decimals]

    def percents(self) -> list[Candidate]:
        """The expected array and every single × 100: an answer written in percent (33.33 for 0.3333). Their
        messages hold {pct}, which the diagnosis fills with the answer's own numbers (never the expected's)."""
        if self._percents is None:
            noun = NOUN.get(self.what, "the values")
            expected = Candidate(("percent",), "matches the expected array × 100 (every value is 100 × the "
                                 f"expected): give {noun} as fractions {{pct}}", self.want,
                                 "every value × 100 (percentages)", percent=True)
            self._percents = [expected] + [
                Candidate(c.names + ("percent",), "matches, × 100 (as percentages), "
                          f"{c.message.removeprefix('matches ')}; give fractions {{pct}}", c.array,
                          f"{c.short} × 100", percent=True) for c in self.singles if c.names]
        return self._percents

    def _pairs(self) -> Iterator[Candidate]:
        for _ in self.singles:  # every single mistake computed first
            pass
        if not self._small:
            return
        done = list(self._mistaken)

        def two(first: str, second: str) -> str:
            return f"matches two mistakes together: {first}, and {second}"

        for m, _, a in done:  # a mistake's array, transposed
            if a.ndim >= 2:
                yield Candidate((m.name, "layout"), _transposed(m.text(self.kw, self.what, self.res)), _swap(a),
                                f"{m.phrase(self.kw)}, transposed")
        for m, r, _ in done:  # another of its arrays given for the one asked
            try:
                views = list(neighbours(self.kw, self.what, r))
            except Exception:  # noqa: BLE001
                continue
            for name, _, short, a in views:
                yield Candidate((name, m.name), two(short, m.phrase(self.kw)), np.asarray(a, dtype=np.float64),
                                f"{short} and {m.phrase(self.kw)}")
        for i, (m1, _, _) in enumerate(done):  # two mistakes made together
            for m2, _, _ in done[i + 1:]:
                if m1.name == m2.name or m1.groups & m2.groups or (m1.post and m2.post):
                    continue
                _, a = self._made(m1, m2)
                if a is None:
                    continue
                s1, s2 = m1.phrase(self.kw), m2.phrase(self.kw)
                yield Candidate((m1.name, m2.name), two(s1, s2), a, f"{s1} and {s2}")
