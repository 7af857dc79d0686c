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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from attncli.core.mistakes import MISTAKES, STAGES, Kwargs, Mistake, rounded, with_spec
from attncli.core.neighbours import views as neighbours
from attncli.core.recompute import plain, tail, tail_covers
from attncli.errors import AttnError, param
from attncli.vocabulary import NOUN

Close = Callable[[np.ndarray, np.ndarray], bool]
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
        return AttnError(self.said).text()  # ‹layout› -> layout, as in a library error


class _Hit(NamedTuple):
    names: tuple[str, ...]
    message: str
    short: str
    reshaped: tuple[int, ...] | None  # the shape a one-line answer was read as


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


def _flat(shape: tuple[int, ...]) -> bool:
    """One line of numbers: at most one axis longer than 1."""
    return sum(s > 1 for s in shape) <= 1


def _dims(shape: tuple[int, ...]) -> str:
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
        elif a.size == answer.size and _flat(answer.shape) and not _flat(a.shape):
            if same(answer.reshape(a.shape), a) and (not c.names or c.percent or not self._useless(c)):
                if not c.names:
                    return _Hit(("flattened",), f"has the right values, given as one line of {a.size} numbers instead "
                                f"of the {_dims(a.shape)} array asked", "the right values", a.shape)
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
        f" (once its {answer.size} numbers, given in one line, are reshaped to {_dims(shape)})"
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
