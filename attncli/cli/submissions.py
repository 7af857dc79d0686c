"""Whose answer is which, for `check --problems DIR`.

The class is DIR/roster.csv (what `attncli init --roster` writes: id, file, seed; the students in its order),
or, without it, DIR's <id>.toml files (sorted). An answer names its student by its file name (`ada.csv`,
`ada_weights.csv`, `ada-hw3.npy`: the longest id that fits) or by its folder (`ada/weights.csv`). Ids match
ignoring surrounding blanks and case (an id with `@` always; others when no two ids of the class differ only in
case), and a roster id matches its file name too (`Ann Lee` is Ann_Lee.toml).

A folder given as an answer is that student's submission: the answer file in it is the only one, or the one
named after what is asked (weights.csv). Files inside a folder also given count once, with the folder, and
several files of a student's own folder (`ada/*`) are that folder; the same file given twice counts once. Two
answers naming one student otherwise are refused, naming both (the TA decides which).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from attncli.errors import AttnError
from attncli.record import Frozen

ANSWER_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".json", ".npy", ".npz", ".safetensors")
_SEPARATORS = re.compile(r"[_\-.\s]")
_SHOWN = 3  # answers or files named in one message before "and N more"


class Student(Frozen):
    id: str  # as the roster writes it
    problem: str  # DIR/<file>.toml
    line: int  # its line in DIR/roster.csv (0: found as a .toml file)
    _fields = ("id", "problem", "line")

    def __init__(self, id: str, problem: str, line: int = 0) -> None:  # noqa: A002 - the roster's column
        self._set(id=id, problem=problem, line=line)


class ProblemIndex:
    """The students of DIR and their problem files. `check_files`: every roster line's problem must exist (a
    class run); an autograder (--student) checks only its own student's, and its errors name no one else."""

    def __init__(self, directory: str, *, check_files: bool = True) -> None:
        if not os.path.isdir(directory):
            raise AttnError(f"--problems: '{directory}' is not a folder of problem files (attncli init --roster "
                            "students.csv --out problems/ writes one)")
        self.directory = directory
        roster = os.path.join(directory, "roster.csv")
        self.roster = roster if os.path.isfile(roster) else None
        self.students = self._from_roster(roster, check_files) if self.roster else self._from_files()
        if not self.students:
            raise AttnError(f"--problems: '{directory}' holds no .toml problem files (attncli init --roster "
                            "students.csv --out problems/ writes one per student)")
        exact: dict[str, Student] = {}
        for s in self.students:
            for key in (s.id.strip(), Path(s.problem).name[:-5]):
                exact.setdefault(key, s)
        folded: dict[str, set[Student]] = {}
        for key, s in exact.items():
            folded.setdefault(key.casefold(), set()).add(s)
        self._exact = exact
        self._folded = {k: next(iter(v)) for k, v in folded.items() if len(v) == 1}  # no two ids differing in case

    def __len__(self) -> int:
        return len(self.students)

    def _from_files(self) -> list[Student]:
        return [Student(p.name[:-5], str(p)) for p in sorted(Path(self.directory).iterdir())
                if p.name.endswith(".toml") and p.is_file()]

    def _from_roster(self, path: str, check_files: bool) -> list[Student]:
        import csv
        import io

        where = f"--problems: {path}"
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise AttnError(f"{where} cannot be read ({err.__class__.__name__}); it is the roster `attncli init "
                            "--roster` writes (id,file,seed)") from None
        rows = csv.reader(io.StringIO(text, newline=""))
        header = [c.strip().lower() for c in next(rows, [])]
        if "id" not in header:
            raise AttnError(f"{where} has no 'id' column (its header: {','.join(header)[:80]!r}); it must be the "
                            "roster `attncli init --roster` writes there (id,file,seed): move another file named "
                            "roster.csv out of the folder")
        col_id, col_file = header.index("id"), header.index("file") if "file" in header else None
        from attncli.cli.roster import safe_name

        students = []
        for row in rows:
            if not any(c.strip() for c in row):
                continue
            sid = row[col_id] if col_id < len(row) else ""
            name = row[col_file].strip() if col_file is not None and col_file < len(row) else ""
            name = name or f"{safe_name(sid)}.toml"
            problem = os.path.join(self.directory, name)
            if not sid.strip() or os.path.dirname(name) or not name.endswith(".toml"):
                raise AttnError(f"{where} line {rows.line_num} is not 'id,file.toml,seed'; write the roster again "
                                "with attncli init --roster")
            if check_files and not os.path.isfile(problem):
                raise AttnError(f"{where} line {rows.line_num} names {name}, which is not in {self.directory}; "
                                "write the problems again (attncli init --roster ... --out "
                                f"{self.directory} --force) or remove that line")
            students.append(Student(sid, problem, rows.line_num))
        return students

    def lookup(self, name: str) -> Student | None:
        """The student an id (or problem file name) names, ignoring surrounding blanks and, where the class
        allows it, case."""
        key = name.strip()
        found = self._exact.get(key) or self._folded.get(key.casefold())
        if found is not None and not os.path.isfile(found.problem):
            raise AttnError(f"--problems: the problem file {found.problem} is missing (the roster names it); "
                            "ask your TA")
        return found

    def find(self, answer: str) -> Student | None:
        """The student an answer's file or folder name names, or None."""
        path = Path(answer)
        name = path.name.strip()
        stem = name.rsplit(".", 1)[0].strip() if "." in name else name
        for key in (name, stem):
            if key and (found := self.lookup(key)) is not None:
                return found
        best, size = None, 0
        low = stem.casefold()
        for key, s in self._exact.items():
            fold = key.casefold()
            if len(key) > size and (_names_it(stem, key) or self._folded.get(fold) is s and _names_it(low, fold)):
                best, size = s, len(key)
        if best is not None:
            return best
        return self.lookup(path.parent.name) if path.parent.name else None


def _names_it(stem: str, key: str) -> bool:
    """`stem` is `key` followed by a separator and more (ada_weights, ada-hw3 for ada)."""
    return stem.startswith(key) and _SEPARATORS.fullmatch(stem[len(key):len(key) + 1] or "x") is not None


def gather(answers: list[str]) -> list[str]:
    """The answers as given, each once: the same file given twice, or a file inside a folder also given, counts
    once (the folder is the submission)."""
    folders = [os.path.realpath(a) for a in answers if os.path.isdir(a)]
    out, seen = [], set()
    for a in answers:
        real = os.path.realpath(a) if os.path.exists(a) else a
        inside = os.path.isfile(a) and any(os.path.commonpath([real, f]) == f for f in folders)
        if real not in seen and not inside:
            seen.add(real)
            out.append(a)
    return out


def assign(index: ProblemIndex, answers: list[str]) -> tuple[dict[str, str], list[str]]:
    """{student id: answer} and the answers that name no student; two answers naming one student are an error
    that names them (nothing is graded: which one counts is the TA's call)."""
    mine: dict[str, list[str]] = {}
    unmatched = []
    for a in answers:
        s = index.find(a)
        if s is None:
            unmatched.append(a)
        else:
            mine.setdefault(s.id, []).append(a)
    for sid, paths in mine.items():
        parents = {os.path.dirname(os.path.realpath(p)) for p in paths}
        if len(paths) > 1 and len(parents) == 1 and all(os.path.isfile(p) for p in paths):
            folder = os.path.dirname(paths[0]) or "."
            found = index.lookup(os.path.basename(os.path.realpath(folder)))
            if found is not None and found.id == sid:
                mine[sid] = [folder]  # files of the student's own folder: that folder is the submission
    doubled = {sid: paths for sid, paths in mine.items() if len(paths) > 1}
    if doubled:
        shown = "; ".join(f"{sid!r}: {' and '.join(paths)}" for sid, paths in list(doubled.items())[:_SHOWN])
        more = f"; and {len(doubled) - _SHOWN} more students" if len(doubled) > _SHOWN else ""
        many = len(doubled) > 1
        raise AttnError(f"ANSWER: {len(doubled)} student{'s have' if many else ' has'} several answers "
                        f"({shown}{more}); give one answer per student (move the others out of the list, or grade "
                        "them in a run of their own) — nothing was graded")
    return {sid: paths[0] for sid, paths in mine.items()}, unmatched


def answer_file(folder: str, what: str) -> str:
    """The answer in a student's folder: its only answer file, or the one named after what is asked
    (weights.csv); else an error naming the candidates."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError as err:
        why = err.strerror or err.__class__.__name__
        raise AttnError(f"ANSWER: cannot read the folder {folder} ({why})") from None
    files = [p for p in entries if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in ANSWER_SUFFIXES]
    if len(files) == 1:
        return str(files[0])
    named = [p for p in files if what and p.stem.strip().casefold() == what.casefold()]
    if len(named) == 1:
        return str(named[0])
    asked = f"{what}.csv" if what else "answer.csv"
    if not files:
        held = [p.name for p in entries if not p.name.startswith(".")]
        return_hint = f" (it holds {_names(held)})" if held else " (it is empty)"
        raise AttnError(f"ANSWER: the folder {folder} holds no answer file{return_hint}; hand in {asked} "
                        f"({', '.join(ANSWER_SUFFIXES[:4])}, ... are read)")
    raise AttnError(f"ANSWER: the folder {folder} holds {len(files)} answer files ({_names([p.name for p in files])}); "
                    f"keep one, or name the one to grade {asked}")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
