"""A folder of problems as a grader carries it (`attncli grader`): which files go, which ids name the students,
which array the students upload, and what a student is shown of each problem.

The folder is what `attncli init --roster` writes: <id>.toml per student and roster.csv (id, file, seed). Every
problem is read (a file that does not read is refused now, not when a student submits); files a problem reads
(x = "x.csv") travel with it when they are inside the folder, and are refused when they are not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from attncli.errors import AttnError

ROSTER = "roster.csv"
# inputs shown to a student as matrices, in this order, with their names in the formulas
SHOWN = {"x": "X", "x_kv": r"X_{kv}", "q": "Q", "k": "K", "v": "V", "wq": "W_Q", "wk": "W_K", "wv": "W_V",
         "bq": "b_Q", "bk": "b_K", "bv": "b_V", "wo": "W_O", "bo": "b_O", "mask": "M", "bias": "B",
         "adjacency": "G", "pe": "P"}
NOT_SETTINGS = {"what", "atol", "rtol", "decimals", "points", "credit", "expected", "diagnose", "report",
                "report_format", "visibility", "fmt", "output", "precision", "show", "dpi", "cmap", "threads",
                "max_cells"}


class Problem:
    """One problem file: its name in the folder, its path, the values it sets (paths made absolute)."""

    def __init__(self, name: str, path: str, values: dict[str, Any]) -> None:
        self.name, self.path, self.values = name, path, values

    @property
    def id(self) -> str:
        return self.name[:-5]

    @property
    def what(self) -> str:
        return str(self.values.get("what", "output"))  # check's default


class ProblemSet:
    """The problems of a folder, the files a grader carries (path in the folder -> path on disk), the ids."""

    def __init__(self, directory: str, problems: list[Problem], files: dict[str, str], ids: list[str]) -> None:
        self.directory, self.problems, self.files, self.ids = directory, problems, files, ids

    def what(self) -> str:
        """The one array every problem asks for; refused (naming them) when they differ."""
        asked: dict[str, str] = {}
        for p in self.problems:
            asked.setdefault(p.what, p.name)
        if len(asked) > 1:
            shown = ", ".join(f"{w} ({name})" for w, name in list(asked.items())[:4])
            raise AttnError(f"--answer-file: the problems ask for different arrays ({shown}), so no one upload name "
                            "fits them all; give the name students upload, e.g. --answer-file answer.csv")
        return next(iter(asked))


def read_problem_set(directory: str, option: str = "--problems") -> ProblemSet:
    """Read every DIR/*.toml (and DIR/roster.csv); refuse a folder without problems or a problem that reads a
    file outside the folder."""
    from attncli.cli.problem import ATTENTION_NAMES, COMMAND_KEYS, PATH_OPTIONS, load_problem

    if not os.path.isdir(directory):
        raise AttnError(f"{option}: '{directory}' is not a folder of problems (attncli init --roster students.csv "
                        "--out problems/ writes one)")
    base = Path(directory).resolve()
    names = sorted(p.name for p in base.iterdir() if p.name.endswith(".toml") and p.is_file())
    if not names:
        raise AttnError(f"{option}: '{directory}' holds no .toml problem files (attncli init --roster "
                        "students.csv --out problems/ writes one per student)")
    problems, files = [], {}
    for name in names:
        path = os.path.join(directory, name)
        values = load_problem(path, [*ATTENTION_NAMES, *COMMAND_KEYS])
        problems.append(Problem(name, path, values))
        files[name] = str(base / name)
        for key in sorted(PATH_OPTIONS & values.keys()):
            for used in _files_read(values[key]):
                rel = os.path.relpath(used, base)
                if rel.startswith(".."):
                    raise AttnError(f"{option}: {name} reads {used} ({key}), outside '{directory}'; the grader "
                                    f"carries only the folder: move the file into it, or write {key} inline")
                files[Path(rel).as_posix()] = used
    if (base / ROSTER).is_file():
        files[ROSTER] = str(base / ROSTER)
    from attncli.cli.submissions import ProblemIndex  # the one reader of roster.csv, as check reads it

    ids = [s.id.strip() for s in ProblemIndex(directory).students]
    return ProblemSet(directory, problems, files, ids)


def _files_read(value: Any) -> list[str]:
    """The files on disk an option's value names (`file.npz:name` names file.npz)."""
    found = []
    for v in value if isinstance(value, list) else [value]:
        if not isinstance(v, str):
            continue
        for candidate in (v, v.rpartition(":")[0]):
            if candidate and os.path.isabs(candidate) and os.path.isfile(candidate):
                found.append(os.path.realpath(candidate))
                break
    return found


def student_field(ids: list[str], match: str | None) -> tuple[str, str]:
    """Which field of Gradescope's submission metadata names a student, and why: --match, else the ids: emails
    (they hold @) or Student IDs (SID). Ids of both kinds are refused, naming the choices."""
    emails = [i for i in ids if "@" in i]
    others = [i for i in ids if "@" not in i]
    if match is not None:
        if match not in ("sid", "email"):
            raise AttnError(f"--match must be sid or email; got {match!r}")
        if match == "email" and not emails:
            raise AttnError(f"--match email: none of the problems' ids is an email (e.g. {others[0]!r}); students "
                            "would find no problem: drop --match, or write the problems by email (attncli init "
                            "--roster roster.csv --id-column Email)")
        return match, "as --match says"
    if emails and others:
        raise AttnError(f"--match: the problems' ids are of two kinds, {len(emails)} emails (e.g. {emails[0]!r}) "
                        f"and {len(others)} other ids (e.g. {others[0]!r}); say which field of Gradescope's "
                        "submission metadata names a student: --match email or --match sid")
    if emails:
        return "email", "the problems' ids are emails"
    return "sid", "the problems' ids hold no @"


def task_text(problem: Problem) -> str:
    """The problem's own `# Task:` comment (what attncli init writes), or a sentence made from what it asks."""
    lines: list[str] = []
    with open(problem.path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = line.rstrip("\n")
            if lines:
                if not text.startswith("#") or not text[1:].strip():
                    break
                lines.append(text[2:] if text.startswith("# ") else text[1:])
            elif text.startswith("# Task:"):
                first = text[len("# Task:"):].strip()
                lines.append(first[:1].upper() + first[1:])
    if lines:
        return "\n".join(lines)
    decimals = problem.values.get("decimals")
    rounded = f", rounded to {decimals} decimals" if decimals is not None else ""
    return f"Compute the attention {problem.what} of the inputs below{rounded}."


def shown_inputs(problem: Problem) -> list[tuple[str, list[list[float]]]]:
    """(name in the formulas, rows) of each input matrix the problem gives, as written in the problem."""
    import numpy as np

    from attncli.io import read_array

    shown = []
    for key, label in SHOWN.items():
        value = problem.values.get(key)
        if value is None:
            continue
        sources = value if isinstance(value, list) and value and all(isinstance(v, str) for v in value) else [value]
        for h, source in enumerate(sources):
            if isinstance(source, str):
                a = read_array(source, option=f"{problem.name}: {key}").array
            else:
                try:
                    a = np.asarray(source, dtype=np.float64)
                except (TypeError, ValueError):
                    raise AttnError(f"--problems: {problem.name}: {key} is not a matrix of numbers") from None
            name = label if len(sources) == 1 else f"{label}^{{({h + 1})}}"
            shown.extend(_as_rows(name, a))
    return shown


def _as_rows(name: str, a) -> list[tuple[str, list[list[float]]]]:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    if a.ndim <= 2:
        return [(name, np.atleast_2d(a).tolist())]
    flat = a.reshape(-1, *a.shape[-2:])
    return [(f"{name}[{i}]", m.tolist()) for i, m in enumerate(flat)]


def settings(problem: Problem) -> list[str]:
    """The problem's other options (heads = 2, causal = true, score = "scaled"), as its file writes them."""
    out = []
    for key, value in problem.values.items():
        if key in SHOWN or key in NOT_SETTINGS:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = f'"{os.path.basename(value) if os.path.isabs(value) else value}"'
        else:
            text = str(value)
        out.append(f"{key.replace('_', '-')} = {text}")
    return out


def answer_format(problem: Problem) -> str:
    """How the upload is written: the array asked, as CSV, and to how many decimals."""
    decimals = problem.values.get("decimals")
    rounded = f", rounded to {decimals} decimals" if decimals is not None else ""
    return f"the {problem.what} as CSV, one row per line with the numbers separated by commas{rounded}."
