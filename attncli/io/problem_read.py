"""Reading a PROBLEM.toml safely: whatever the file holds, the answer is its data or one line of error.

tomllib reads any size of integer and any depth of dotted keys, and parsing `a.a.a...a = 1` 20,000 deep is
quadratic (2.4 GB for 40 KB), so keys are checked for depth before tomllib sees them and integers for TOML's 64-bit
range after; a file too big to parse is refused before it is read whole; what tomllib raises on hostile input is
one line. What the keys mean is cli/problem.py's business.
"""

from __future__ import annotations

import os
from typing import Any

from attncli.errors import AttnError
from attncli.io.source import Src, cut

INT64 = 2**63


MAX_KEY_DEPTH = 16  # problem files use two levels ([inputs] x = ...); tomllib's cost grows as depth²


def _check_key_depth(raw: bytes, path: str) -> None:
    """Refuse, before tomllib sees it, a dotted key or [table.header] nested deeper than MAX_KEY_DEPTH: parsing
    `a.a.a...a = 1` 20,000 deep takes 2.4 GB and seconds (quadratic), for a file of 40 KB."""
    for lineno, line in enumerate(raw.splitlines(), start=1):
        text = line.strip()
        key = text.strip(b"[]") if text.startswith(b"[") else text.split(b"=", 1)[0] if b"=" in text else b""
        depth = key.count(b".") + 1  # a dot inside a quoted key counts too: a stricter bound, never a looser one
        if depth > MAX_KEY_DEPTH and not text.startswith(b"#"):
            raise AttnError(f"PROBLEM: '{path}' line {lineno} has a key nested {depth} levels deep; problem files "
                            f"use at most {MAX_KEY_DEPTH} ([inputs] x = ..., [options] heads = 2)")


def read_problem_toml(path: str) -> dict[str, Any]:
    """The parsed file; anything wrong with it (including what tomllib raises on hostile input) is one line."""
    import tomllib

    from attncli.io.files import read_input
    from attncli.io.limits import check_parse

    if not os.path.lexists(path):
        from attncli.io.paths import missing_file, shown_path

        detail = missing_file(path, listing=False)  # a missing folder, or a near name: what to fix
        if detail == f"no such file '{shown_path(path)}'":
            detail += f" (attncli init {shown_path(path)} writes a template)"
        raise AttnError(f"PROBLEM: {detail}")
    if os.path.isdir(path):
        raise AttnError(f"PROBLEM: '{path}' is a directory, not a problem file")
    try:
        # the one input opener: remembered (never overwritten by -o), a FIFO without a writer announced
        raw = read_input(path, Src("PROBLEM", path))
        check_parse(len(raw), Src("PROBLEM", path), "TOML",
                    tries=["a smaller problem file, with big inputs in .npy files it names"])
        _check_key_depth(raw, path)
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise AttnError(f"PROBLEM: '{path}' is not valid TOML: {err}") from None
    except RecursionError:
        raise AttnError(f"PROBLEM: '{path}' nests arrays or tables too deeply to read; write big inputs in "
                        ".npy files the problem names") from None
    except ValueError as err:
        if "digits" in str(err):  # Python's limit on the digits of an int
            raise AttnError(f"PROBLEM: '{path}' holds an integer of more than 4300 digits; TOML integers are "
                            "64-bit") from None
        raise AttnError(f"PROBLEM: '{path}' is not valid TOML: {cut(str(err))}") from None
    except (MemoryError, OverflowError, TypeError, IndexError, KeyError) as err:  # tomllib on odd input
        raise AttnError(f"PROBLEM: '{path}' cannot be read as TOML ({type(err).__name__}: "
                        f"{cut(str(err))})") from None
    _check_ints(data, path)
    return data


def _check_ints(data: dict[str, Any], path: str) -> None:
    """Refuse integers outside TOML's 64-bit range (tomllib reads any size), naming the key."""
    stack: list[tuple[str, Any]] = [(k, v) for k, v in data.items()]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((k, v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)
        elif type(value) is int and not -INT64 <= value < INT64:
            raise AttnError(f"PROBLEM: '{path}' key {shown(key)} holds an integer outside the 64-bit range TOML "
                            f"allows ({cut(str(value), 30)})")


def shown(value: Any) -> str:
    """A key or value echoed in a message: on one line (repr), cut to about 60 characters."""
    return cut(repr(value))
