"""Grading answers for `attncli check`: one Grader per problem (the expected array, the tolerance and the
diagnoser, computed once) and the reading of an answer (its empty cells kept as such). Which answer is whose
(`--problems DIR`) is cli/submissions.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attncli.cli.params import spoken
from attncli.errors import AttnError
from attncli.render.grades import Verdict, cell_list, the

if TYPE_CHECKING:
    from attncli.cli.common import Sources


@dataclass
class Tolerance:
    atol: float
    rtol: float
    decimals: int | None

    @classmethod
    def of(cls, atol: float | None, rtol: float | None, decimals: int | None) -> Tolerance:
        if decimals is not None and (atol is not None or rtol is not None):
            raise AttnError("--decimals sets the tolerance; give it or --atol/--rtol, not both")
        if decimals is not None and not 0 <= decimals <= 15:
            raise AttnError(f"--decimals must be between 0 and 15; got {decimals}")
        for name, value in (("--atol", atol), ("--rtol", rtol)):
            if value is not None and not value >= 0:
                raise AttnError(f"{name} must be a number ≥ 0; got {value}")
        if decimals is not None:
            return cls(0.5 * 10.0 ** -decimals * (1 + 1e-9), 0.0, decimals)
        return cls(1e-6 if atol is None else atol, 1e-6 if rtol is None else rtol, None)

    def text(self) -> str:
        return f"±{self.atol:.3g}" if self.rtol == 0 else f"atol {self.atol:g}, rtol {self.rtol:g}"

    def as_dict(self) -> dict[str, Any]:
        atol = self.atol if self.decimals is None else 0.5 * 10.0 ** -self.decimals  # without the rounding margin
        return {"atol": atol, "rtol": self.rtol, "decimals": self.decimals}

    def within(self, a, b):
        """Cell by cell: equal within tolerance (NaN matches NaN, ±inf matches itself)."""
        import numpy as np

        both_nan = np.isnan(a) & np.isnan(b)
        same_inf = np.isinf(a) & (a == b)
        with np.errstate(invalid="ignore"):  # a finite value is never within rtol of an infinite one (rtol·∞ = ∞)
            return both_nan | same_inf | ((np.abs(a - b) <= self.atol + self.rtol * np.abs(b)) & np.isfinite(b))

    def close(self, a, b) -> bool:
        import numpy as np

        return a.shape == b.shape and bool(np.all(self.within(a, b)))


class Grader:
    """Grades answers against one expected array; diagnoses failures with `doctor` (a core.diagnose.Diagnoser).
    `defaults`: what was compared by default and how to change it, said with every verdict ("" when the
    problem or the command line chose)."""

    def __init__(self, want, what: str, tol: Tolerance, doctor: Any | None, points: float,
                 credit_mode: str, defaults: str = "") -> None:
        self.want, self.what, self.tol, self.doctor = want, what, tol, doctor
        self.points, self.credit_mode, self.defaults = points, credit_mode, defaults

    def verdict(self, answer: str | None, **kw: Any) -> Verdict:
        """A verdict on this problem, not yet graded (fields as `kw`)."""
        return Verdict(answer, self.what, False, None, None, int(self.want.size), max_score=self.points,
                       tolerance=self.tol.text(), tol=self.tol.as_dict(), defaults=self.defaults, **kw)

    def grade(self, ans, answer: str, empty=None) -> Verdict:
        """Grade one answer; `empty` marks its cells that were left empty (they hold NaN)."""
        import numpy as np

        from attncli.render.grades import credit

        want = self.want
        v = self.verdict(answer)
        ans, empty = self.shaped(ans, empty)
        if ans.shape != want.shape:
            v.detail = f"your answer is {dims(ans.shape)} but {the(self.what)} should be {dims(want.shape)}"
            self._diagnose(v, ans)
            if not v.diagnosis and ans.ndim >= 2 and ans.shape == want.shape[:-2] + want.shape[-2:][::-1]:
                v.detail += " (the transposed shape: tokens as rows vs columns, see --layout)"
            v.score = credit(v, self.points, self.credit_mode)
            return v
        ok = self.tol.within(ans, want)
        if empty is not None:
            ok &= ~empty
        diff = np.abs(ans - want)
        numbers = np.isfinite(diff)
        v.max_error = float(diff[numbers].max()) if numbers.any() else None
        v.count = int((~ok).sum())
        v.passed = v.count == 0
        if not v.passed:
            named = self._note_cells(v, ans, empty)
            v.cells = [tuple(int(i) for i in idx) for idx in np.argwhere(~ok & ~named)[:8]]
            self._diagnose(v, ans)
            if not v.diagnosis and not v.noted:
                v.diagnosis = rounding_hint(ans, want, self.tol.decimals)
        v.score = credit(v, self.points, self.credit_mode)
        return v

    def _note_cells(self, v: Verdict, ans, empty):
        """Name the wrong cells that hold no number (empty, NaN, ±inf where a number is expected); their mask."""
        import numpy as np

        finite_want = np.isfinite(self.want)
        blank = empty if empty is not None else np.zeros(ans.shape, dtype=bool)
        kinds = (("is empty", "are empty", blank),
                 ("is not a number (nan)", "are not numbers (nan)", np.isnan(ans) & finite_want & ~blank),
                 ("is infinite", "are infinite", np.isinf(ans) & finite_want))
        named = np.zeros(ans.shape, dtype=bool)
        for one, many, mask in kinds:
            n = int(mask.sum())
            if n:
                cells = [tuple(int(i) for i in idx) for idx in np.argwhere(mask)[:8]]
                which = cell_list(cells, n, sentence=True)
                v.notes.append(f"cells {which} {many}" if n > 1 else f"cell {which} {one}")
                named |= mask
        v.noted = int(named.sum())
        return named

    def shaped(self, ans, empty=None):
        """The answer (and its empty cells) in the expected shape when it holds the same numbers laid out as
        files hold them."""
        import numpy as np

        want = self.want
        shape = None
        if ans.shape != want.shape and ans.size == want.size and np.squeeze(ans).shape == np.squeeze(want).shape:
            shape = want.shape  # (1, n, d) vs (n, d): the same numbers
        elif ans.ndim == 2 and want.ndim >= 3 and ans.shape == (want.size // want.shape[-1], want.shape[-1]):
            shape = want.shape  # a CSV holds heads (or batches) stacked, as compute --format csv writes
        if shape is None:
            return ans, empty
        return ans.reshape(shape), None if empty is None else empty.reshape(shape)

    def _diagnose(self, v: Verdict, ans) -> None:
        if self.doctor is None:
            return
        found = self.doctor.diagnose(ans)
        if found is not None:
            v.names, v.diagnosis = list(found.names), spoken(found.said)


def dims(shape: tuple[int, ...]) -> str:
    """A shape as a student reads it: 3×3, or a single number."""
    return "×".join(map(str, shape)) if shape else "a single number"


def rounding_hint(ans, want, asked: int | None = None) -> str:
    """An answer written with few decimals that matches at that precision: say so (and, when the problem asks
    for more decimals than the answer has, that it is right but too coarse)."""
    import numpy as np

    from attncli.core.diagnose import decimals_of

    d = decimals_of(ans)
    if d is None or not np.all(np.abs(ans - want) <= 0.5 * 10.0 ** -d * (1 + 1e-9)):
        return ""
    if asked is None:
        return f"matches when rounded to {d} decimals: pass --decimals {d} (or decimals = {d} in the problem)"
    if d < asked:
        return f"is right to {d} decimal{'s' if d != 1 else ''}, but {asked} are asked: give more decimals"
    return ""


def build_grader(src: Sources, options: dict[str, Any], own: dict[str, Any], expected: str | None, diagnose: bool,
                 defaults: str = "") -> Grader:
    """The Grader of one problem (or of --expected): the expected array, tolerance and diagnoser. `own` holds
    what, atol, rtol, decimals, points and credit (what and credit checked by the caller)."""
    import numpy as np

    from attncli.core import diagnose as dg

    what, credit = own["what"], own["credit"] or "all"
    tol = Tolerance.of(own["atol"], own["rtol"], own["decimals"])
    if expected is not None:
        from attncli.core.validate import as_real

        want = np.asarray(as_real(src.array(expected, "--expected"), "--expected"), dtype=np.float64)
        cands: Any = dg.expected_candidates(want)
        what = ""
    else:
        from attncli.cli.common import saying_what_was_read
        from attncli.cli.pipeline import compute_attention as attention
        from attncli.cli.pipeline import rows_problem
        from attncli.cli.spec import attention_kwargs
        from attncli.io.memory import available_memory

        kwargs, _ = attention_kwargs(src, options)
        with saying_what_was_read(src):
            result = attention(**kwargs, memory_limit=available_memory())
        want = result.export(what).astype(np.float64)
        problem, compute = rows_problem(kwargs)  # the diagnosis works in rows layout; compute shows kwargs' layout
        cands = dg.candidates(problem, what, result, compute)
    doctor = dg.Diagnoser(want, cands, tol.close) if diagnose else None
    return Grader(want, what, tol, doctor, points_of(own["points"]), credit, defaults)


def points_of(points: float | None) -> float:
    """--points (default 1), checked."""
    import math

    if points is None:
        return 1.0
    if not (math.isfinite(points) and points >= 0):
        raise AttnError(f"--points must be a number ≥ 0; got {points}")
    return float(points)


def read_answer(src: Sources, path: str):
    """An answer as float64 and the mask of its empty cells (None when it has none): a text table's empty cell
    (`0.2,,0.5`) is graded as a wrong cell, "is empty", not refused."""
    import numpy as np

    from attncli.core.validate import as_real

    loaded = src.read(path, "ANSWER", empty_cells=True)
    try:
        ans = np.asarray(as_real(loaded.array, f"ANSWER {path}"), dtype=np.float64)
    except (TypeError, ValueError):
        raise AttnError(f"ANSWER {path}: must hold real numbers") from None
    return ans, loaded.empty
