"""Grading answers for `attncli check`: one Grader per problem (the expected array, the tolerance and the
diagnoser, computed once), and the matching of answer files to students' own problems (`--problems DIR`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attncli.errors import AttnError
from attncli.render.grades import Verdict


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
    """Grades answers against one expected array; diagnoses failures with `doctor` (a core.diagnose.Diagnoser)."""

    def __init__(self, want, what: str, tol: Tolerance, doctor: Any | None, points: float,
                 credit_mode: str) -> None:
        self.want, self.what, self.tol, self.doctor = want, what, tol, doctor
        self.points, self.credit_mode = points, credit_mode

    def grade(self, ans, answer: str) -> Verdict:
        import numpy as np

        from attncli.render.grades import credit

        want = self.want
        v = Verdict(answer, self.what, False, None, 0, int(want.size), max_score=self.points,
                    tolerance=self.tol.text())
        ans = self.shaped(ans)
        if ans.shape != want.shape:
            v.detail = f"your answer is {_dims(ans.shape)} but {_the(self.what)} should be {_dims(want.shape)}"
            self._diagnose(v, ans)
            if not v.diagnosis and ans.ndim >= 2 and ans.shape == want.shape[:-2] + want.shape[-2:][::-1]:
                v.detail += " (the transposed shape: tokens as rows vs columns, see --layout)"
            v.score = credit(v, self.points, self.credit_mode)
            return v
        ok = self.tol.within(ans, want)
        diff = np.abs(ans - want)
        finite = np.isfinite(diff)
        v.max_error = float(diff[finite].max()) if finite.any() else 0.0
        v.count = int((~ok).sum())
        v.passed = v.count == 0
        if not v.passed:
            v.cells = [tuple(int(i) for i in idx) for idx in np.argwhere(~ok)[:8]]
            self._diagnose(v, ans)
            if not v.diagnosis:
                v.diagnosis = rounding_hint(ans, want, self.tol.decimals)
        v.score = credit(v, self.points, self.credit_mode)
        return v

    def shaped(self, ans):
        """The answer in the expected shape when it holds the same numbers laid out as files hold them."""
        import numpy as np

        want = self.want
        if ans.shape != want.shape and ans.size == want.size and np.squeeze(ans).shape == np.squeeze(want).shape:
            return ans.reshape(want.shape)  # (1, n, d) vs (n, d): the same numbers
        if ans.ndim == 2 and want.ndim >= 3 and ans.shape == (want.size // want.shape[-1], want.shape[-1]):
            return ans.reshape(want.shape)  # a CSV holds heads (or batches) stacked, as compute --format csv writes
        return ans

    def _diagnose(self, v: Verdict, ans) -> None:
        if self.doctor is None:
            return
        found = self.doctor.diagnose(ans)
        if found is not None:
            v.names, v.diagnosis = list(found.names), found.message


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "a single number"


def _the(what: str) -> str:
    return f"the {what}" if what else "the expected array"


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


# ---- check --problems DIR: each answer against its student's problem ------------------------------------

_SEPARATORS = re.compile(r"[_\-.\s]")


class ProblemIndex:
    """DIR/<student id>.toml. An answer names its student by its file name (`ada.csv`, `ada_weights.csv`,
    `ada-hw3.npy`) or by its folder (`ada/weights.csv`); the longest student id that fits wins."""

    def __init__(self, directory: str) -> None:
        if not os.path.isdir(directory):
            raise AttnError(f"--problems: '{directory}' is not a folder of problem files (attncli init --roster "
                            "students.csv --out problems/ writes one)")
        self.directory = directory
        self.by_id = {p.name[:-5]: str(p) for p in sorted(Path(directory).iterdir())
                      if p.name.endswith(".toml") and p.is_file()}
        if not self.by_id:
            raise AttnError(f"--problems: '{directory}' holds no .toml problem files (attncli init --roster "
                            "students.csv --out problems/ writes one per student)")

    def find(self, answer: str) -> tuple[str, str] | None:
        """(student id, problem path) for an answer file, or None."""
        path = Path(answer)
        stem = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
        for name in (path.name, stem):
            if name in self.by_id:
                return name, self.by_id[name]
        best = None
        for sid in self.by_id:
            if stem.startswith(sid) and _SEPARATORS.fullmatch(stem[len(sid):len(sid) + 1] or "x") \
                    and (best is None or len(sid) > len(best)):
                best = sid
        if best is not None:
            return best, self.by_id[best]
        parent = path.parent.name
        if parent in self.by_id:
            return parent, self.by_id[parent]
        return None
