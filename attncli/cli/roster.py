"""A class roster (CSV with a header row) as a list of students: their ids and safe file names.

The id column is found by its name (case and spaces ignored), in tiers: course-system ids first (SID,
Gradescope; UID, PrairieLearn; ID and SIS User ID, Canvas; student_id, id), then logins, then emails. Two
columns in the first tier that matches are ambiguous: the error lists the columns and asks for --id-column.
Ids become file names `<id>.toml`: letters, digits and . _ @ + - are kept, anything else becomes _. An id
that is empty, holds a path separator or a control character, is a duplicate, or whose file name collides
with another's (also ignoring case, as macOS and Windows do) is refused with the row it is on.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from attncli.errors import AttnError

ID_TIERS = (
    ("sid", "student_id", "studentid", "student id", "student number", "uid", "id", "sis user id", "user id",
     "user_id", "userid"),
    ("login", "sis login id", "login id", "username", "user name", "netid"),
    ("email", "e-mail", "email address", "emailaddress"),
)
MAX_ID = 100  # characters of an id: longer ones are not ids
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


@dataclass(frozen=True)
class Student:
    row: int  # the line of the CSV it came from (the header is line 1)
    id: str
    name: str  # the file name without .toml


def _key(column: str) -> str:
    return " ".join(column.strip().lower().replace("_", " ").split()) if column else ""


def id_column(header: list[str], wanted: str | None, label: str) -> int:
    """The index of the id column: `wanted` (--id-column, case-insensitive) or the first tier of ID_TIERS that
    matches exactly one column."""
    shown = ", ".join(repr(c) for c in header)[:300]
    if wanted is not None:
        hits = [i for i, c in enumerate(header) if _key(c) == _key(wanted)]
        if len(hits) != 1:
            how = "no column" if not hits else f"{len(hits)} columns"
            raise AttnError(f"--id-column: {how} named {wanted!r} in {label} (its columns: {shown})")
        return hits[0]
    for tier in ID_TIERS:
        names = {_key(n) for n in tier}
        hits = [i for i, c in enumerate(header) if _key(c) in names]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            both = " and ".join(repr(header[i]) for i in hits)
            raise AttnError(f"--roster: {label} has several id columns ({both}); choose one with --id-column, "
                            f"e.g. --id-column {header[hits[0]]!r} (its columns: {shown})")
    raise AttnError(f"--roster: {label} has no id column (looked for SID, UID, ID, student_id, login, email, ...); "
                    f"its columns: {shown}; name one with --id-column")


def safe_name(student_id: str) -> str:
    """The file name (without .toml) for an id: letters, digits and . _ @ + - kept, anything else _, no leading
    dot."""
    name = _UNSAFE.sub("_", student_id)
    return "_" + name[1:] if name.startswith(".") else name


def parse(data: bytes, label: str, wanted: str | None = None) -> tuple[str, list[Student]]:
    """The id column's name and the students of a roster CSV (UTF-8, a BOM allowed; comma, semicolon or tab
    separated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise AttnError(f"--roster: {label} is not UTF-8 text (byte {err.start}); save it as CSV UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(rows, None)
    if not header or not any(c.strip() for c in header):
        raise AttnError(f"--roster: {label} is empty; it needs a header row (e.g. Name,SID,Email) and a row per "
                        "student")
    col = id_column(header, wanted, label)
    column = header[col].strip()
    students: list[Student] = []
    seen: dict[str, int] = {}  # id -> row
    files: dict[str, tuple[int, str]] = {}  # lower-case file name -> (row, id)
    for row in rows:
        line = rows.line_num
        if not any(c.strip() for c in row):
            continue  # blank lines
        sid = row[col].strip() if col < len(row) else ""
        if not sid and any(c.strip().lower() == "points possible" for c in row):
            continue  # Canvas's gradebook export has a "Points Possible" row under the header
        _check_id(sid, line, column, label)
        if sid in seen:
            raise AttnError(f"--roster: {label} line {line}: {column} {sid!r} is also on line {seen[sid]}; "
                            "every student needs their own id")
        name = safe_name(sid)
        other = files.get(name.lower())
        if other is not None:
            raise AttnError(f"--roster: {label} line {line}: {column} {sid!r} and {other[1]!r} (line {other[0]}) "
                            f"would both be written to {name}.toml; make the ids differ in letters or digits, or "
                            "choose another --id-column")
        seen[sid] = line
        files[name.lower()] = (line, sid)
        students.append(Student(line, sid, name))
    if not students:
        raise AttnError(f"--roster: {label} has a header but no students")
    return column, students


def _check_id(sid: str, line: int, column: str, label: str) -> None:
    where = f"--roster: {label} line {line}: {column}"
    if not sid:
        raise AttnError(f"{where} is empty; give every student an id, or remove the line")
    if "/" in sid or "\\" in sid or sid in (".", ".."):
        raise AttnError(f"{where} {sid[:60]!r} holds a path separator; ids become file names")
    if not sid.isprintable():
        raise AttnError(f"{where} {sid[:60]!r} holds a control character; ids become file names")
    if len(sid) > MAX_ID:
        raise AttnError(f"{where} is {len(sid)} characters long; ids of at most {MAX_ID} become file names")


def roster_csv(rows: list[tuple[str, str, int]]) -> str:
    """problems/roster.csv: id, file, seed, one line per student."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "file", "seed"])
    w.writerows(rows)
    return buf.getvalue()


def write_class(roster: str, out: str, wanted: str | None, course_seed: int, size, force: bool) -> None:
    """`attncli init --roster`: one problem per student in `out`, <id>.toml, and out/roster.csv; nothing is
    written when any of those files exists (unless `force`) or is the roster itself."""
    import os
    import shlex
    import sys

    from attncli.cli.generated import command, problem_text
    from attncli.core.generate import student_seed
    from attncli.io import atomic_write
    from attncli.io._common import Src
    from attncli.io.files import read_input

    if out in ("", "-"):
        raise AttnError(f"--out: give a folder for the problems (made if missing), e.g. --out problems/; got {out!r}")
    column, students = parse(read_input(roster, Src("--roster", roster)), roster, wanted)
    if os.path.exists(out) and not os.path.isdir(out):
        raise AttnError(f"--out: '{out}' is a file; give a folder for the problems (made if missing)")
    targets = [os.path.join(out, f"{s.name}.toml") for s in students] + [os.path.join(out, "roster.csv")]
    if os.path.isdir(out):
        if any(os.path.exists(t) and os.path.samefile(t, roster) for t in targets):
            raise AttnError(f"--out: writing to '{out}' would overwrite the roster {roster}; choose another --out")
        existing = [t for t in targets if os.path.exists(t)]
        if existing and not force:
            names = ", ".join(os.path.basename(t) for t in existing[:3]) + (", ..." if len(existing) > 3 else "")
            raise AttnError(f"--out: '{out}' already holds {len(existing)} of the {len(targets)} files to write "
                            f"({names}); pass --force to overwrite them, or choose another --out")
    os.makedirs(out, exist_ok=True)
    made = (f"Made by:  attncli init --roster {shlex.quote(roster)} --seed {course_seed}{_size_options(size)} "
            f"--out {shlex.quote(out)}")
    rows = []
    for s, target in zip(students, targets, strict=False):
        seed = student_seed(course_seed, s.id)
        origin = [f"Student:  {s.id}  ({column}, line {s.row} of {roster})", made,
                  f"  alone:  {command(size, seed, target)}"]
        atomic_write(target, problem_text(seed, size, target, origin).encode("utf-8"), option="--out")
        rows.append((s.id, os.path.basename(target), seed))
    atomic_write(targets[-1], roster_csv(rows).encode("utf-8"), option="--out")
    print(f"wrote {len(students)} problems to {out} ({size.tokens} tokens, d_model {size.d_model}, d_k {size.d_k}, "
          f"{size.heads} head{'s' if size.heads > 1 else ''}; seeds from {column} and --seed {course_seed}) and "
          f"{targets[-1]}; worked solutions: attncli explain {os.path.join(out, students[0].name + '.toml')}",
          file=sys.stderr)


def _size_options(size) -> str:
    return (f" --tokens {size.tokens} --d-model {size.d_model} --d-k {size.d_k} --d-v {size.d_v} "
            f"--heads {size.heads}{' --causal' if size.causal else ''} --what {size.what} --decimals {size.decimals}")
