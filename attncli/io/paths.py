"""What a SOURCE that names no file was meant to be, and what to say about it.

`looks_like_path` tells a file name from an inline literal: a `/` or `\\`, or an extension attncli reads, in text
that is not a literal (no `;`, not several numbers). `missing_file` is the message for a path that is not there,
pointing at the mistake: the first folder of the path that does not exist ("there is no folder 'data'"), a file
where a folder should be, or what the folder holds (hidden files are never listed; long lists are cut) with
the name that differs only in case or extension ("did you mean 'Weights.CSV'?"). Only the error paths import this.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from attncli.io.inline import NUMBER
from attncli.io.sniff import EXTENSION_KINDS, PICKLE_EXTENSIONS

# extensions that say "this is a file name" (what attncli reads, problem files, and pickles it names as such)
PATH_EXTENSIONS = frozenset(EXTENSION_KINDS) | frozenset(PICKLE_EXTENSIONS) | {".toml"}
LISTED = 5  # names shown from a folder before "... and N more"
MAX_SCANNED = 10_000  # entries of a folder looked at for a listing (a huge folder is counted as "more than")
# a number, or a fraction typed for one (1/2): never a path, though it has a slash
_NUMBER = re.compile(rf"{NUMBER}(?:/{NUMBER})?")


def looks_like_path(text: str) -> bool:
    """True for text that is plainly a file name: a `/` or `\\`, or ends in a known extension, and is not a literal
    (no `;` or newline between rows, not numbers or fractions only, not two or more numbers separated by blanks:
    `"1/2"` and `"1/2 1 x"` are matrices with a typo)."""
    if ";" in text or "\n" in text or not text.strip():
        return False
    if "/" not in text and "\\" not in text and os.path.splitext(text.rstrip())[1].lower() not in PATH_EXTENSIONS:
        return False
    tokens = text.split()
    numbers = sum(1 for token in tokens if _NUMBER.fullmatch(token))
    return numbers < 2 and numbers < len(tokens)


def missing_file(path: str, *, listing: bool = True, quoted: bool = True, private: bool = False) -> str:
    """`no such file 'PATH'` and what helps: the missing folder, or (with `listing`) what the folder holds, and a
    name that differs in case or extension. `private`: no name found in a folder is said (a class's answers folder
    holds other students' files), only which part of the path is missing."""
    head = f"no such file '{shown_path(path)}'" if quoted else f"no such file {shown_path(path)}"
    try:
        target = Path(path)
        ancestors = list(reversed(target.parents))
    except (ValueError, OSError):
        return head
    for folder in ancestors[1:] if not target.is_absolute() else ancestors:
        if os.path.isdir(folder):
            continue
        if os.path.lexists(folder):
            hint = ""
            if folder.suffix.lower() in (".npz", ".safetensors", ".json"):
                inner = os.path.relpath(target, folder)
                hint = f"; to pick an array inside it write {shown_path(f'{folder}:{inner}')}"
            return f"{head}: '{shown_path(str(folder))}' is a file, not a folder{hint}"
        near = "" if private else _near(folder.name, _entries(folder.parent, folders=True))
        return f"{head}: there is no folder '{shown_path(str(folder))}'{near}"
    folder = target.parent
    if private:
        return head
    names = _entries(folder, folders=False)
    where = "the current folder" if str(folder) in ("", ".") else shown_path(str(folder))
    said = f" ({_holding(where, folder)})" if listing else ""
    return f"{head}{said}{_near(target.name, names)}"


def shown_path(path: str, limit: int = 160) -> str:
    """A path echoed in a message: a long one keeps its start and its end (the file name); odd characters
    escaped."""
    if not path.isprintable():
        path = repr(path)[1:-1]
    return path if len(path) <= limit else f"{path[: limit // 3]}...{path[3 - limit * 2 // 3:]}"


def near_name(path: str) -> str:
    """`; did you mean 'x.csv'?` for a missing file whose folder holds a name differing in case or extension, or
    close to it; else an empty string."""
    try:
        target = Path(path)
        return _near(target.name, _entries(target.parent, folders=False))
    except (ValueError, OSError):
        return ""


def _entries(folder: Path, *, folders: bool) -> list[str]:
    """The names of the files (or the folders) in `folder`, hidden ones left out; [] when it cannot be read."""
    names: list[str] = []
    try:
        with os.scandir(folder if str(folder) else ".") as found:
            for i, entry in enumerate(found):
                if i >= MAX_SCANNED:
                    break
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir() == folders:
                        names.append(entry.name)
                except OSError:
                    continue
    except (OSError, ValueError):
        return []
    return sorted(names, key=lambda n: (n.casefold(), n))


def _holding(where: str, folder: Path) -> str:
    """`WHERE holds 3 files: a, b, c` (cut to LISTED names), `WHERE is empty`, or what else it holds."""
    files = _entries(folder, folders=False)
    if not files:
        subfolders = _entries(folder, folders=True)
        if subfolders:
            return f"{where} holds no files, only {_count(len(subfolders), 'folder')}: {_listed(subfolders, '/')}"
        return f"{where} is empty"
    return f"{where} holds {_count(len(files), 'file')}: {_listed(files)}"


def _listed(names: list[str], suffix: str = "") -> str:
    shown = ", ".join(_printable(n) + suffix for n in names[:LISTED])
    more = len(names) - LISTED
    return shown + (f", ... and {more:,} more" if more > 0 else "")


def _count(n: int, what: str) -> str:
    return f"{'more than ' if n >= MAX_SCANNED else ''}{n:,} {what}{'' if n == 1 else 's'}"


def _printable(name: str) -> str:
    return name if name.isprintable() and len(name) <= 60 else repr(name)[:60]


def _near(name: str, names: list[str]) -> str:
    """`; did you mean 'X'?` naming a file that differs from `name` only in case, only in extension, or little."""
    if not name or not names:
        return ""
    folded = name.casefold()
    same_case = [n for n in names if n.casefold() == folded and n != name]
    if same_case:
        return f"; did you mean {_quoted(same_case[0])}? (names are case-sensitive)"
    stem = os.path.splitext(name)[0].casefold()
    other_ext = [n for n in names if os.path.splitext(n)[0].casefold() == stem and n != name]
    if stem and other_ext:
        return f"; did you mean {_quoted(other_ext[0])}?"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f"; did you mean {_quoted(close[0])}?" if close else ""


def _quoted(name: str) -> str:
    return f"'{name}'" if name.isprintable() else repr(name)
