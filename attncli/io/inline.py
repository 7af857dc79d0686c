"""Inline literals: numbers written on the command line instead of a file.

Two spellings:

- JSON nested lists, `"[[1, 0], [0, 1]]"` (also with `nan`, `inf`, `-inf`);
- MATLAB rows, `"1 0; 0 1"`: rows split on `;`, values on blanks and/or commas. Without `;` the
  literal is 1-D (`"1 2 3"` has shape (3,)); with `;` it is 2-D (`"1 2 3;"` has shape (1, 3));
  a single number (`"0.5"`) is 0-d. `"[1 0; 0 1]"` (brackets around MATLAB rows) works too.

`true`/`false` count as 1/0; when every value is one of them the array is bool (a mask).
"""

from __future__ import annotations

import re

import numpy as np

from attncli.io._common import Src

_WORDS = re.compile(r"nan|inf(?:inity)?|true|false|null", re.IGNORECASE)
_NUMBER_CHARS = re.compile(r"[\d\s+\-.eE,;\[\]]*")
_HAS_DIGIT = re.compile(r"\d")
_SEPARATORS = re.compile(r"[\s,]+")
_JSON_FIXES = (
    (re.compile(r"\bnan\b", re.IGNORECASE), "NaN"),
    (re.compile(r"\binf(?:inity)?\b", re.IGNORECASE), "Infinity"),
    (re.compile(r"\btrue\b", re.IGNORECASE), "true"),
    (re.compile(r"\bfalse\b", re.IGNORECASE), "false"),
    (re.compile(r"\bnull\b", re.IGNORECASE), "null"),
)
_BOOLS = {"true": 1.0, "false": 0.0}


def looks_inline(source: str) -> bool:
    """True if `source` is made only of numbers, signs, separators, brackets and nan/inf/true/false."""
    if not (_HAS_DIGIT.search(source) or _WORDS.search(source)):
        return False
    return _NUMBER_CHARS.fullmatch(_WORDS.sub(" ", source)) is not None


def parse_inline(source: str, src: Src) -> np.ndarray:
    """Parse an inline literal (JSON lists or MATLAB rows) into float64 (or bool) numbers."""
    text = source.strip()
    if text.startswith("["):
        import json  # only JSON literals need the parser (and jsonfmt), MATLAB rows do not

        from attncli.io.jsonfmt import json_to_array

        fixed = text
        for pattern, word in _JSON_FIXES:
            fixed = pattern.sub(word, fixed)
        try:
            obj = json.loads(fixed)
        except (ValueError, RecursionError) as err:
            inner = text[1:-1] if text.endswith("]") else None
            if inner is not None and "[" not in inner and "]" not in inner:
                return _parse_rows(inner, src, bracketed=True)
            detail = (err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
                      if isinstance(err, RecursionError) else "an integer has more than 4300 digits")
            raise src.error(
                f"cannot read the inline matrix {shown(text)}: {detail}; write JSON lists like "
                '"[[1, 0], [0, 1]]" or MATLAB rows like "1 0; 0 1"'
            ) from None
        return json_to_array(obj, src, f"the inline matrix {shown(text)}")
    return _parse_rows(text, src, bracketed=False)


def shown(text: str, limit: int = 60) -> str:
    """A literal echoed in a message: repr'd, cut to `limit` characters with "..." and its length."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else f"{quoted[: limit - 4]}...' ({len(text):,} characters)"


def _token(token: str, row: int, item: int, text: str, src: Src) -> float:
    low = token.lower()
    if low in _BOOLS:
        return _BOOLS[low]
    try:
        return float(token)
    except ValueError:
        raise src.error(
            f"cannot read the inline matrix {shown(text)}: {shown(token, 30)} (row {row}, item {item}) is not "
            'a number; write rows like "1 0; 0 1"'
        ) from None


def _parse_rows(text: str, src: Src, *, bracketed: bool) -> np.ndarray:
    """MATLAB rows: `;` between rows, blanks/commas between values."""
    two_d = ";" in text
    pieces = text.split(";")
    if two_d and not pieces[-1].strip():
        pieces.pop()  # a trailing ';' is allowed
    rows: list[list[float]] = []
    all_bool = True
    for r, piece in enumerate(pieces, 1):
        tokens = [t for t in _SEPARATORS.split(piece.strip()) if t]
        if not tokens:
            raise src.error(
                f"cannot read the inline matrix {shown(text)}: row {r} is empty; "
                'write rows like "1 0; 0 1"'
            )
        all_bool = all_bool and all(t.lower() in _BOOLS for t in tokens)
        rows.append([_token(t, r, i, text, src) for i, t in enumerate(tokens, 1)])
        if len(rows[-1]) != len(rows[0]):
            raise src.error(
                f"cannot read the inline matrix {shown(text)}: row {r} has {_count(len(rows[-1]))} but "
                f"row 1 has {_count(len(rows[0]))}; every row needs the same number of values"
            )
    dtype = bool if all_bool else np.float64
    array = np.array(rows, dtype=dtype)  # (rows, columns)
    if two_d:
        return array
    if not bracketed and len(rows[0]) == 1 and _SEPARATORS.search(text) is None:
        return array.reshape(())  # a scalar such as "0.5"
    return array.reshape(-1)  # "1 2 3" -> (3,)


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"
