"""Inline literals: numbers written on the command line instead of a file.

Two spellings:

- MATLAB rows, `"1 0; 0 1"`: rows are split on `;` and on newlines (a matrix pasted over several lines
  is that matrix), values on blanks and/or commas (`"1,0,1"`, `"1, 0, 1"`). As in MATLAB every such
  literal is a matrix: a single row `"1 0 1"` is one token, 1 × 3; a single number `"0.5"` is 1 × 1;
  `"1; 2; 3"` is a column, 3 × 1. A `;` at the end of a row is allowed; an empty row or an empty value
  between two commas is an error. `"[1 0; 0 1]"` (brackets around MATLAB rows) works too.
- JSON nested lists, `"[[1, 0], [0, 1]]"` (also with `nan`, `inf`, `-inf`): the shape is the nesting,
  so `"[1, 2, 3]"` is a vector (3,) and `"[[1, 2, 3]]"` is 1 × 3.

`true`/`false` count as 1/0; when every value is one of them the array is bool (a mask). Standard input
(`-`) holding such text reads exactly as the same literal would (io.readers).

A literal with a typo (`"1 O 1; 0 2 0"`, a letter O for a zero) still reads as a literal (`reads_as_inline`), so
the message names the token, its row and item, and the likely slip, instead of saying no such file exists.
"""

from __future__ import annotations

import re

import numpy as np

from attncli.io.source import Src

_WORDS = re.compile(r"nan|inf(?:inity)?|true|false|null", re.IGNORECASE)
_NUMBER_CHARS = re.compile(r"[\d\s+\-.eE,;\[\]]*")
_HAS_DIGIT = re.compile(r"\d")
_VALUE_SEPARATORS = re.compile(r"\s*,\s*|\s+")
_JSON_FIXES = (  # compiled (and cached by re) only when a JSON literal is read: MATLAB rows are the common case
    (r"\bnan\b", "NaN"),
    (r"\binf(?:inity)?\b", "Infinity"),
    (r"\btrue\b", "true"),
    (r"\bfalse\b", "false"),
    (r"\bnull\b", "null"),
)
_BOOLS = {"true": 1.0, "false": 0.0}
_NUMBER_TABLE = str.maketrans("", "", "0123456789+-.eE,;[] \t\r\n")


def looks_inline(source: str) -> bool:
    """True if `source` is made only of numbers, signs, separators, brackets and nan/inf/true/false."""
    if not (_HAS_DIGIT.search(source) or _WORDS.search(source)):
        return False
    if not source.translate(_NUMBER_TABLE).strip():  # plain numbers (most text piped in): no regex over it all
        return True
    return _NUMBER_CHARS.fullmatch(_WORDS.sub(" ", source)) is not None


# a decimal number: atomic, so a long run of digits that is not one fails in linear time, not quadratic
NUMBER = r"[+-]?(?>\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TOKENS = re.compile(r"[^\s,;\[\]]+")
_FRACTION = re.compile(rf"{NUMBER}(?:/{NUMBER})?")


def reads_as_inline(source: str) -> bool:
    """True for text that is meant as an inline matrix though not every token is a number: JSON-style brackets
    around something with a digit, `;` (or a newline) between rows of which some token is a number, or two or
    more numbers with one or two other tokens (`"1 O 1"`). A single word (`weights`) is not; the caller tells
    plain paths apart first."""
    text = source.strip()
    tokens = _TOKENS.findall(text)
    numbers = sum(1 for t in tokens if _is_value(t))
    if text.startswith("[") and text.endswith("]"):
        return bool(_HAS_DIGIT.search(text))
    if ";" in text or "\n" in text:
        return numbers >= 1
    if tokens and all(_FRACTION.fullmatch(t) for t in tokens):  # "1/2", "1/2 1/3": fractions typed for numbers
        return True
    return numbers >= 2 and 1 <= len(tokens) - numbers <= 2


def _is_value(token: str) -> bool:
    if token.lower() in _BOOLS or _WORDS.fullmatch(token):
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def typo_hint(token: str) -> str:
    """The slip a token that is not a number most likely is, as advice; else how to write rows."""
    letters = set(token) - set("0123456789+-.eE")
    if letters and letters <= set("Oo") and len(token) <= 12:
        return f"a letter {sorted(letters)[0]} for 0?"
    if letters and letters <= set("lI|") and len(token) <= 12:
        return f"a letter {sorted(letters)[0]} for 1?"
    if letters & set("\u2212\u2013\u2014\ufe63\uff0d"):
        return "a typographic minus (−, –) pasted from a document? type the ASCII hyphen-minus -"
    if "/" in token and all(_is_value(part) for part in token.split("/")):
        return "write fractions as decimals (0.5, not 1/2)"
    if token.count(".") > 1:
        return "a number has at most one decimal point"
    if re.fullmatch(r"[+-]?(?>\d+(?:\.\d*)?|\.\d+)[eE][+-]?", token):
        return "an exponent needs digits after the e (1e-3)"
    return 'write rows like "1 0; 0 1"'


def parse_inline(source: str, src: Src, *, what: str | None = None) -> np.ndarray:
    """Parse an inline literal (JSON lists or MATLAB rows) into float64 (or bool) numbers.

    `what` names the text in messages (default: "the inline matrix '...'"; standard input passes its own)."""
    text = source.strip()
    what = what or f"the inline matrix {shown(text)}"
    if text.startswith("["):
        import json  # only JSON literals need the parser (and jsonfmt), MATLAB rows do not

        from attncli.io.jsonfmt import json_to_array

        fixed = text
        for pattern, word in _JSON_FIXES:
            fixed = re.sub(pattern, word, fixed, flags=re.IGNORECASE)
        try:
            obj = json.loads(fixed)
        except (ValueError, RecursionError) as err:
            inner = text[1:-1] if text.endswith("]") else None
            if inner is not None and "[" not in inner and "]" not in inner:
                return parse_rows(inner, src, what=what)
            bad = _json_bad_token(text)
            if bad is not None:
                token, where = bad
                raise src.error(f"cannot read {what}: {shown(token, 30)} at {where} is not a number — "
                                f"{typo_hint(token)}") from None
            detail = (err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
                      if isinstance(err, RecursionError) else "an integer has more than 4300 digits")
            raise src.error(
                f"cannot read {what}: {detail}; write JSON lists like "
                '"[[1, 0], [0, 1]]" or MATLAB rows like "1 0; 0 1"'
            ) from None
        return json_to_array(obj, src, what)
    return parse_rows(text, src, what=what)


def _json_bad_token(text: str) -> tuple[str, str] | None:
    """The first token of a JSON-style literal that is not a number, and where it is (`[0][1]`), or None."""
    index: list[int] = []
    for match in re.finditer(r"[\[\],]|[^\s\[\],]+", text):
        piece = match.group()
        if piece == "[":
            index.append(0)
        elif piece == "]":
            if index:
                index.pop()
        elif piece == ",":
            if index:
                index[-1] += 1
        elif not _is_value(piece):
            return piece, "".join(f"[{i}]" for i in index) or "the top level"
    return None


def shown(text: str, limit: int = 60) -> str:
    """A literal echoed in a message: repr'd, cut to `limit` characters with "..." and its length."""
    quoted = repr(text)
    return quoted if len(quoted) <= limit else f"{quoted[: limit - 4]}...' ({len(text):,} characters)"


def _token(token: str, row: int, item: int, what: str, src: Src) -> float:
    low = token.lower()
    if low in _BOOLS:
        return _BOOLS[low]
    try:
        return float(token)
    except ValueError:
        raise src.error(
            f"cannot read {what}: {shown(token, 30)} at row {row}, item {item} is not a number — {typo_hint(token)}"
        ) from None


def _pieces(text: str) -> list[str]:
    """The rows of MATLAB text: split on newlines and `;`; blank lines and a `;` ending a line are skipped,
    an empty row between two `;` is kept (and refused by the caller)."""
    rows: list[str] = []
    for line in text.splitlines():
        parts = line.split(";")
        if not parts[-1].strip():
            parts.pop()  # a blank line, or a trailing ';'
        rows.extend(parts)
    return rows


def _values(piece: str) -> list[str]:
    """The values of one row: separated by blanks and/or one comma; a comma may end the row."""
    if "," not in piece:
        return piece.split() or [""]
    tokens = _VALUE_SEPARATORS.split(piece.strip())
    if len(tokens) > 1 and tokens[-1] == "" and piece.rstrip().endswith(","):
        tokens.pop()
    return tokens


def parse_rows(text: str, src: Src, *, what: str | None = None) -> np.ndarray:
    """MATLAB rows: `;` or a newline between rows, blanks/commas between values. Always 2-D
    (rows, columns), as MATLAB reads it: `"1 0 1"` is 1 × 3 and `"0.5"` is 1 × 1."""
    what = what or f"the inline matrix {shown(text.strip())}"
    pieces = _pieces(text)
    if not pieces:
        raise src.error(f"cannot read {what}: it holds no numbers; write rows like \"1 0; 0 1\"")
    rows: list[list[float]] = []
    all_bool = True
    for r, piece in enumerate(pieces, 1):
        tokens = _values(piece)
        if tokens == [""]:
            raise src.error(f"cannot read {what}: row {r} is empty; write rows like \"1 0; 0 1\"")
        if "" in tokens:
            item = tokens.index("") + 1
            raise src.error(f"cannot read {what}: row {r}, item {item} is empty (two commas in a row?); "
                            'write rows like "1, 0; 0, 1"')
        try:
            values = [float(t) for t in tokens]  # the common case: plain numbers
            all_bool = False
        except ValueError:
            all_bool = all_bool and all(t.lower() in _BOOLS for t in tokens)
            values = [_token(t, r, i, what, src) for i, t in enumerate(tokens, 1)]
        rows.append(values)
        if len(values) != len(rows[0]):
            raise src.error(
                f"cannot read {what}: row {r} has {_count(len(values))} but "
                f"row 1 has {_count(len(rows[0]))}; every row needs the same number of values"
            )
    return np.array(rows, dtype=bool if all_bool else np.float64)  # (rows, columns)


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"
