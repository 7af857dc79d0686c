"""Delimited text tables: CSV, TSV and whitespace-separated numbers.

Rules: `#` starts a comment (whole line or trailing), blank lines are skipped, a first row whose
every field is non-numeric is a header and skipped, `nan`/`inf`/`-inf` are numbers, every row has
the same number of fields. The result is always 2-D float64: (rows, columns).

Files are read by these rules; standard input holding only what could be typed inline (numbers, blanks,
commas, `;` between rows) is read as that inline literal instead (io.inline), so `echo "1 0; 0 1" | attncli
compute --x -` works, and a file with `;` gets a message saying to put rows on lines.
"""

from __future__ import annotations

import numpy as np

from attncli.io._common import Src, shorten


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
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append((lineno, line))
    return out


def sniff_delimiter(text: str) -> str | None:
    """`,` if the data (comments aside) has a comma, else tab if it has a tab, else None (blanks)."""
    lines = [line for _, line in _content_lines(text)]
    if any("," in line for line in lines):
        return ","
    if any("\t" in line for line in lines):
        return "\t"
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [f.strip() for f in line.split(delimiter)]


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_text(text: str, delimiter: str | None, src: Src) -> np.ndarray:
    """Parse a text table into a 2-D float64 array; `delimiter` None means runs of blanks."""
    rows: list[list[float]] = []
    width = 0
    first_line = 0
    first_row_seen = False
    for lineno, line in _content_lines(text):
        fields = _split(line, delimiter)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not first_row_seen and not any(_is_number(f) for f in fields):
                first_row_seen = True  # a header row: every field is a name
                continue
            col = next(i for i, f in enumerate(fields) if not _is_number(f))
            bad = fields[col]
            what = "is empty" if bad == "" else f"{shorten(bad)} is not a number"
            hint = ("; ';' separates rows only in inline matrices and on standard input: in a file, write one row "
                    "per line" if ";" in bad else "")
            raise src.error(
                f"{src.label}, line {lineno}, column {col + 1}: {what}; write numbers only "
                f"(nan and inf are allowed; '#' starts a comment){hint}"
            ) from None
        first_row_seen = True
        if not rows:
            width, first_line = len(values), lineno
        elif len(values) != width:
            raise src.error(
                f"{src.label}, line {lineno} has {_count(len(values))} but line {first_line} has "
                f"{_count(width)}; every row needs the same number of columns"
            )
        rows.append(values)
    if not rows:
        raise src.error(
            f"'{src.label}' holds no numbers; give a table such as \"1 0\" / \"0 1\" "
            "(one row per line)"
        )
    return np.array(rows, dtype=np.float64)  # (rows, columns)


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"
