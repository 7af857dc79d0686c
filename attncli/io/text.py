"""Delimited text tables: CSV, TSV, semicolon-separated (as spreadsheets in most of Europe write them) and
whitespace-separated numbers.

Rules, the same for every option:
- `#` starts a comment (whole line or trailing); blank lines are skipped.
- The separator comes from the whole file: `;` when every data line has one (a spreadsheet's "CSV" where `,`
  is the decimal mark: `0,33;0,20`; dot decimals `0.33;0.20` read too), else tab in a `.tsv`, else `,` when
  the text has a comma, else tab when it has one (cells pasted from a spreadsheet), else runs of blanks.
  Tab- or blank-separated numbers with decimal commas (`0,33<TAB>0,20`) read when the comma reading fails on
  such a field. A file that mixes `0,5` and `0.5` as decimal marks is refused: which one is meant cannot be
  decided. (A one-column file `0,5` / `0,25` reads as two columns, 0 and 5: nothing in it says otherwise.)
- A first line of names (every field holds a letter and none is a number, `d0,d1,d2`) is a header and skipped;
  a line of numbers (`1;0;1`) is never a header.
- Empty fields past the table's last column are dropped: `1,0,1,` reads as `1,0,1` (a trailing separator on
  every line, or the empty columns a spreadsheet writes); a line of separators only (`,,,`) before or after
  the numbers is a blank line. An empty field inside the table is an error naming its line and column —
  unless the reader asks for empty cells (`empty_cells=True`, as `check` reads answers): they are then NaN
  and marked in `Table.empty`.
- `nan`/`inf`/`-inf` are numbers; every row has the same number of fields. The result is always 2-D float64.

Standard input holding only what could be typed inline (numbers, blanks, commas, `;` between rows) is read as
that inline literal instead (io.inline), so `echo "1 0; 0 1" | attncli compute --x -` works.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from attncli.io.source import Src, shorten

_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+(?:[eE][+-]?\d+)?")
_NOT_DECIMAL_COMMA = re.compile(r"(?<!\d),|,(?!\d)")  # a comma not between two digits
_LETTER = re.compile(r"[^\W\d_]")
_BLANKS = " \r\n\f\v"  # stripped from lines; a tab is kept (in a TSV it separates an empty first field)


_NO_NUMBERS = "'{}' holds no numbers; give a table such as \"1 0\" / \"0 1\" (one row per line)"


class Dialect(NamedTuple):
    delimiter: str | None  # None: runs of blanks
    decimal_comma: bool  # `0,5` is one half


class Table(NamedTuple):
    values: np.ndarray  # (rows, columns) float64; NaN where a cell was empty
    empty: np.ndarray | None  # (rows, columns) bool: the cells that were empty; None when none were


def decode_text(data: bytes, src: Src) -> str:
    """UTF-8 (with or without a byte-order mark), or an error pointing at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise src.error(
            f"'{src.label}' is not UTF-8 text (undecodable byte 0x{data[err.start]:02x} at "
            f"offset {err.start}); if it is a binary array, give it a .npy, .npz or "
            ".safetensors extension"
        ) from err


def _content_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line without comment and surrounding blanks) for non-empty lines."""
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip(_BLANKS)
        if line.strip():
            out.append((lineno, line))
    return out


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [f.strip() for f in line.split(delimiter)]


def _is_number(token: str, dialect: Dialect | None = None) -> bool:
    try:
        float(token)
    except ValueError:
        return dialect is not None and dialect.decimal_comma and _DECIMAL_COMMA.fullmatch(token) is not None
    return True


def _is_header(fields: list[str], dialect: Dialect) -> bool:
    """A line of names: no field is a number, every field holds a letter (an empty field aside)."""
    named = [f for f in fields if f]
    return bool(named) and all(_LETTER.search(f) and not _is_number(f, dialect) for f in named)


def dialect(lines: list[str], kind: str) -> Dialect:
    """The reading of a file's content lines: `;` when every data line has one, else by `kind`: tsv is tab-
    separated; txt comma- or blank-separated; csv and text (sniffed) comma-, else tab-, else blank-separated
    (a .csv holding no comma at all is cells pasted from a spreadsheet, or typed with spaces)."""
    if lines and all(";" in line for line in lines[1:]) and (
            ";" in lines[0] or len(lines) > 1 and _is_header(lines[0].replace(",", " ").split(), Dialect(None, False))):
        data = lines[1:] if ";" not in lines[0] else lines  # a header of names may be written otherwise
        return Dialect(";", any("," in line for line in data))
    if kind == "tsv":
        return Dialect("\t", False)
    comma = any("," in line for line in lines)
    if kind == "txt":
        return Dialect("," if comma else None, False)
    return Dialect("," if comma else "\t" if any("\t" in line for line in lines) else None, False)


def spreadsheet_lines(text: str) -> bool:
    """Several lines, each with `;` between values and `,` only between digits (`0,33;0,20`): what a European
    spreadsheet writes. Standard input such as this is a table, not MATLAB rows (`;`) of values (`,`)."""
    lines = [line for _, line in _content_lines(text)]
    return len(lines) > 1 and all(";" in line for line in lines) and any("," in line for line in lines) \
        and not any(_NOT_DECIMAL_COMMA.search(line) for line in lines)


def decimal_comma_dialect(lines: list[str], first: Dialect) -> Dialect | None:
    """When `first` fails: tab- or blank-separated numbers with decimal commas (`0,33<TAB>0,20`), if every comma
    stands between two digits; else None."""
    if first.delimiter == ";" or not any("," in line for line in lines) \
            or any(_NOT_DECIMAL_COMMA.search(line) for line in lines):
        return None
    other = Dialect("\t" if any("\t" in line for line in lines) else None, True)
    return other if other != first else None


def read_table(text: str, kind: str, src: Src, *, empty_cells: bool = False) -> Table:
    """Read a text table by the rules above. `kind` is csv, tsv, txt or text (sniffed). With `empty_cells`,
    empty fields inside the table are NaN and marked in `Table.empty` instead of an error."""
    lines = _content_lines(text)
    if not lines:
        raise src.error(_NO_NUMBERS.format(src.label))
    first = dialect([line for _, line in lines], kind)
    try:
        return _read(lines, first, src, empty_cells)
    except _Unread as err:
        other = decimal_comma_dialect([line for _, line in lines], first) if err.retry else None
        if other is not None:  # a field such as '33 0', '5<TAB>0' or '0,5': decimal commas between blanks or tabs
            try:
                return _read(lines, other, src, empty_cells)
            except _Unread:
                pass
        raise src.error(err.message) from None


class _Unread(Exception):
    """This reading of the file fails (another may not): the message, without the option."""

    def __init__(self, message: str, retry: bool = False) -> None:
        self.message = message
        self.retry = retry  # the field that is not a number holds blanks or tabs, or is one with a decimal comma


def _read(lines: list[tuple[int, str]], dialect: Dialect, src: Src, empty_cells: bool) -> Table:
    """One pass: each line's values (NaN for an empty field, noted), then the table's width decides which empty
    fields are trailing separators (dropped) and which are empty cells."""
    rows: list[list[float]] = []
    linenos: list[int] = []
    empty: list[tuple[int, int]] = []  # (row, column) of empty fields
    blank: set[int] = set()  # rows of separators only (`,,,`: a spreadsheet's empty row)
    width = 0
    marks: dict[str, tuple[int, str]] = {}  # decimal mark -> (line, field) where first seen
    for i, (lineno, line) in enumerate(lines):
        fields = _split(line, dialect.delimiter)
        if i == 0 and _is_header(fields, dialect):
            continue
        try:
            row = [float(f) for f in fields]  # the common case: plain numbers
        except ValueError:
            row = []
            for c, f in enumerate(fields):
                if f == "":
                    empty.append((len(rows), c))
                    row.append(np.nan)
                else:
                    row.append(_value(f, dialect, lineno, c, src))
            used = _last_value(fields)
            width = max(width, used)
            if not used:
                blank.add(len(rows))
        else:
            width = max(width, len(row))
        if dialect.decimal_comma:
            _note_marks(fields, lineno, marks)
        rows.append(row)
        linenos.append(lineno)
    lo, hi = 0, len(rows)
    while lo < hi and lo in blank:
        lo += 1
    while hi > lo and hi - 1 in blank:
        hi -= 1
    if lo == hi:
        raise _Unread(_NO_NUMBERS.format(src.label))
    ref = next(linenos[r] for r in range(lo, hi) if len(rows[r]) >= width)
    inside = [(r, c) for r, c in empty if lo <= r < hi and c < width]
    for r in range(lo, hi):
        if r in blank and len(rows[r]) < width:  # a row of empty cells, however many separators it has
            inside += [(r, c) for c in range(len(rows[r]), width)]
            rows[r] = [np.nan] * width
        n = len(rows[r])
        if n > width:
            del rows[r][width:]  # empty fields past the last column: trailing separators
        elif n < width:
            raise _Unread(f"{src.label}, line {linenos[r]} has {_count(n)} but line {ref} has {_count(width)}; "
                          "every row needs the same number of columns")
    if inside and not empty_cells:
        r, c = min(inside)
        raise _Unread(f"{src.label}, line {linenos[r]}, column {c + 1}: is empty; write numbers only (nan and inf "
                      "are allowed; '#' starts a comment)")
    if len(marks) == 2:
        (l1, f1), (l2, f2) = marks[","], marks["."]
        raise _Unread(f"{src.label} writes numbers with both decimal marks ({shorten(f1)} on line {l1}, "
                      f"{shorten(f2)} on line {l2}), so which one is meant cannot be decided; use one mark "
                      "throughout (save the file again from the spreadsheet)")
    table = np.array(rows[lo:hi], dtype=np.float64)  # (rows, columns)
    mask = None
    if inside:
        mask = np.zeros(table.shape, dtype=bool)
        mask[tuple(np.array([(r - lo, c) for r, c in inside]).T)] = True
    return Table(table, mask)


def _last_value(fields: list[str]) -> int:
    """The number of fields up to the last non-empty one."""
    for i in range(len(fields) - 1, -1, -1):
        if fields[i]:
            return i + 1
    return 0


def _note_marks(fields: list[str], lineno: int, marks: dict[str, tuple[int, str]]) -> None:
    for f in fields:
        for mark in ",.":
            if mark in f and mark not in marks:
                marks[mark] = (lineno, f)


def _value(field: str, dialect: Dialect, lineno: int, col: int, src: Src) -> float:
    if dialect.decimal_comma and _DECIMAL_COMMA.fullmatch(field):
        return float(field.replace(",", "."))
    try:
        return float(field)
    except ValueError:
        pass
    hint = ""
    digits = field.replace(",", "").replace(".", "").lstrip("+-")
    if digits.isdigit() and ("," in field and "." in field or field.count(",") > 1 or field.count(".") > 1):
        hint = "; write numbers without thousands separators"
    elif dialect.delimiter == ";":
        hint = ("; ';' separates the values of this file (as a spreadsheet writes them, with ',' as the decimal "
                "mark); if ';' separates rows, as in an inline matrix, write one row per line")
    elif ";" in field:
        hint = ("; ';' separates rows only in inline matrices and on standard input: in a file, write one row per "
                "line")
    raise _Unread(f"{src.label}, line {lineno}, column {col + 1}: {shorten(field)} is not a number; write numbers "
                  f"only (nan and inf are allowed; '#' starts a comment){hint}",
                  retry=len(field.split()) > 1 or _DECIMAL_COMMA.fullmatch(field) is not None)


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"
