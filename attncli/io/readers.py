"""`read_array(source)`: the one way every option turns a SOURCE string into an array.

A SOURCE is, in order of precedence:

1. `-` or `-:name`: standard input, format sniffed from its bytes;
2. an existing file: `weights.npy`, `x.csv`, ... (format from the extension, else sniffed);
3. `file:name` where `file` exists: one array of an .npz, .safetensors or JSON object;
4. an inline literal: `"[[1, 0], [0, 1]]"` or `"1 0; 0 1"` or `"0.5"` (io.inline: MATLAB rows are always
   2-D, `"1 0 1"` is 1 × 3 and `"0.5"` is 1 × 1; JSON lists have the shape of their nesting), also one with a
   typo (`"1 O 1; 0 2 0"`), whose message names the token; but text that is plainly a path (a `/`, an extension
   such as .csv) is a missing file, and the message says what helps find it (io.paths).

A pickle (a PyTorch checkpoint, whatever its name) is refused by `file_blob`, which every file read comes
through, and on standard input by its sniffed kind: nothing is ever unpickled.

Standard input holding what could be typed inline reads exactly as that literal (`echo "1 0; 0 1" | attncli
compute --x -`); other text is a table (io.text: comments, a header row), else the sniffed binary format.

Standard input is read once per stream and remembered, so several options can take different
arrays of one piped container (`--wq -:wq --wk -:wk < weights.npz`).
"""

from __future__ import annotations

import os
import stat
import sys
import weakref
from pathlib import Path
from typing import BinaryIO

import numpy as np

from attncli.errors import AttnError
from attncli.io._common import Blob, Content, Loaded, Src, list_names
from attncli.io.files import BINARY_KINDS, open_input, read_capped, read_stdin, sniffed_cost
from attncli.io.inline import looks_inline, parse_inline, parse_rows, reads_as_inline
from attncli.io.limits import PARSE_COST, check_parse
from attncli.io.sniff import kind_from_extension, pickle_refusal, pickled, sniff
from attncli.io.text import decode_text, read_table, spreadsheet_lines
from attncli.record import Frozen

STDIN_LABEL = "standard input"
SNIFF_BYTES = 4096
_stdin_cache: weakref.WeakKeyDictionary[object, bytes] = weakref.WeakKeyDictionary()


class _Where(Frozen):
    """Where a SOURCE points: kind is "stdin", "file" or "inline"."""

    kind: str
    path: Path | None = None
    name: str | None = None
    label: str = ""
    _fields = ("kind", "path", "name", "label")

    def __init__(self, kind: str, path: Path | None = None, name: str | None = None, label: str = "") -> None:
        self._set(kind=kind, path=path, name=name, label=label)


def _directory(folder: str, option: str) -> Exception:
    return Src(option, folder).error(
        f"'{folder}' is a directory, not a file; give a file inside it, e.g. "
        f"{os.path.join(folder, 'weights.npy')}"
    )


def locate(source: str, option: str) -> _Where:
    """Split a SOURCE into stdin / file (+ optional array name) / inline literal.

    Text that names no file is an inline literal when it reads as one: only numbers (`looks_inline`), or mostly
    numbers with a typo to point at (`reads_as_inline`: `"1 O 1; 0 2 0"`), unless it is plainly a path (a `/`,
    or an extension such as .csv), which is then a missing file, said with what helps find it."""
    if source == "-" or source.startswith("-:"):
        return _Where("stdin", name=source[2:] or None, label=STDIN_LABEL)
    if os.path.exists(source):
        if os.path.isdir(source):
            raise _directory(source, option)
        return _Where("file", path=Path(source), label=source)
    head, sep, name = source.rpartition(":")
    if sep and head and os.path.isdir(head):
        raise _directory(head, option)
    if sep and head and os.path.isfile(head):
        return _Where("file", path=Path(head), name=name or None, label=head)
    if looks_inline(source):
        return _Where("inline", label="the inline matrix")
    from attncli.io.paths import looks_like_path, missing_file, near_name

    if looks_like_path(source):
        raise Src(option, source).error(missing_file(source))
    if sep and head and looks_like_path(head):  # `weights.npz:wq` without weights.npz
        raise Src(option, source).error(missing_file(head))
    if reads_as_inline(source):
        return _Where("inline", label="the inline matrix")
    shown = source if len(source) <= 80 else source[:77] + "..."
    raise Src(option, source).error(
        f"no such file '{shown}' (and it is not an inline matrix like \"1 0; 0 1\"){near_name(source)}"
    )


def _read_stdin(stdin: BinaryIO | None, src: Src) -> bytes | bytearray:
    """All of standard input as bytes (capped), read once per stream and remembered."""
    stream = stdin if stdin is not None else sys.stdin
    try:
        data = _stdin_cache[stream]
    except (KeyError, TypeError):
        data = read_stdin(src, stdin)
        try:
            _stdin_cache[stream] = data
        except TypeError:
            pass  # a stream without weak references is simply not remembered
    if not data:
        raise src.error("standard input is empty; pipe a file in, e.g. `< weights.npy`")
    return data


def file_blob(src: Src, path: Path) -> Blob:
    """A regular file is read by byte ranges; a pipe (`<(cmd)`), a device or a /proc file (size 0) is
    read whole, once (with the stream cap), as standard input is. Either way it is remembered as an input.
    A pickle is refused here, whatever the file is called (every file any reader opens comes through here)."""
    f, info = open_input(path, src)
    with f:
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            try:
                head = f.read(SNIFF_BYTES)
            except OSError:
                head = b""  # the reader meets (and reports) the same error
            refuse_pickle(head, info.st_size, src)
            return Blob(src, path=path)
        kind = kind_from_extension(path)  # text is parsed: refused as soon as parsing what came could not fit
        data = read_capped(f, src, cost=sniffed_cost if kind is None else 1 if kind in BINARY_KINDS else PARSE_COST)
    refuse_pickle(data[:SNIFF_BYTES], len(data), src)
    return Blob(src, data=data)


def refuse_pickle(head: bytes, size: int, src: Src) -> None:
    """The one refusal of a pickle (io.sniff says what it is and what to do): nothing is ever unpickled."""
    if sniff(head, size) == "pickle":
        raise src.error(pickle_refusal(src.label, pickled(head) or ""))


def _content(kind: str, blob: Blob, empty_cells: bool = False) -> Content:
    """Hand a blob to the reader for `kind` (`empty_cells`: a text table's empty cells are NaN, marked)."""
    if kind == "pickle":
        refuse_pickle(blob.read_at(0, min(blob.size, SNIFF_BYTES)), blob.size, blob.src)
    if blob.size == 0 and kind in ("npy", "npz", "safetensors"):
        raise blob.src.error(f"'{blob.src.label}' is empty (0 bytes); re-create the {kind} file")
    # each format's reader is imported when a file of that format is read
    if kind == "npy":
        from attncli.io.npyfmt import npy_content

        return npy_content(blob)
    if kind == "npz":
        from attncli.io.npyfmt import npz_content

        return npz_content(blob)
    if kind == "safetensors":
        from attncli.io.safetensors_format import safetensors_content

        return safetensors_content(blob)
    if kind == "json":
        from attncli.io.jsonfmt import json_content

        check_parse(blob.size, blob.src, "JSON")  # before the bytes are read: they count too
        return json_content(decode_text(blob.read_all(), blob.src), blob.src)
    check_parse(blob.size, blob.src, "text")
    table = read_table(decode_text(blob.read_all(), blob.src), kind, blob.src, empty_cells=empty_cells)
    return Content(binary=False, plain=table.values, empty=table.empty)


def _stdin_text(data: bytes, kind: str, src: Src) -> Content | None:
    """Standard input holding what could be typed inline ("1 0; 0 1", rows on lines, "[1 2; 3 4]") reads as
    that inline literal would, semicolons included; None for anything else (a table with a header or
    comments, lines of semicolon-separated decimal commas, a JSON object, binary data), which the format's own
    reader takes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not looks_inline(text) or spreadsheet_lines(text):
        return None  # lines of 0,33;0,20 are a spreadsheet's table (io.text), not MATLAB rows of 0 and 33
    check_parse(len(data), src, "text")
    if kind == "text":
        return Content(binary=False, plain=parse_rows(text, src, what=STDIN_LABEL))
    try:  # JSON first (its messages name the line and column); then MATLAB rows in brackets, or nan/inf
        return _content(kind, Blob(src, data=data))
    except AttnError as err:
        try:
            return Content(binary=False, plain=parse_inline(text, src, what=STDIN_LABEL))
        except AttnError:
            raise err from None


def _open(where: _Where, option: str, stdin: BinaryIO | None, empty_cells: bool = False) -> Content:
    src = Src(option, where.label)
    if where.kind == "stdin":
        data = _read_stdin(stdin, src)
        kind = sniff(data)
        typed = _stdin_text(data, kind, src) if kind in ("text", "json") else None
        return typed if typed is not None else _content(kind, Blob(src, data=data), empty_cells)
    assert where.path is not None
    kind = kind_from_extension(where.path)
    blob = file_blob(src, where.path)
    if kind is None:  # the first bytes say which format, without reading a big file whole
        head = blob.data if blob.data is not None else blob.read_at(0, min(blob.size, SNIFF_BYTES))
        kind = sniff(head, blob.size)
    return _content(kind, blob, empty_cells)


def _with_name(where: _Where, name: str) -> str:
    return "-:" + name if where.kind == "stdin" else f"{where.label}:{name}"


def pick_name(content: Content, where: _Where, option: str) -> str:
    """The array name to load from a container: the one asked for, or the only one."""
    if where.name is not None:
        return where.name
    src = Src(option, where.label)
    if not content.names:
        raise src.error(f"'{where.label}' holds no arrays")
    if len(content.names) > 1:
        raise src.error(
            f"'{where.label}' holds {len(content.names)} arrays; pick one as "
            f"{_with_name(where, 'NAME')}, one of: {list_names(content.names)}"
        )
    return content.names[0]


def no_name_here(where: _Where, option: str) -> None:
    if where.name is not None:
        raise Src(option, where.label).error(
            f"'{where.label}' holds a single unnamed array, so ':{where.name}' does not apply; "
            f"drop the ':{where.name}'"
        )


def _loaded(array: np.ndarray, source: str, where: _Where, binary: bool,
            name: str | None, empty: np.ndarray | None = None) -> Loaded:
    path = where.path.resolve() if where.path is not None else None
    return Loaded(array=array, source=source, path=path, binary=binary, name=name, empty=empty)


def read_array(source: str, *, option: str = "SOURCE", stdin: BinaryIO | None = None,
               empty_cells: bool = False) -> Loaded:
    """Read one array from a SOURCE (file, `file:name`, `-`, `-:name` or an inline literal).

    `option` names the command-line option in error messages (e.g. "--wq"); `stdin` defaults
    to `sys.stdin.buffer`. Every user mistake raises `AttnError` with a one-line message.
    `empty_cells`: an empty cell of a text table (`0.2,,0.5`) is NaN, marked in `Loaded.empty`,
    instead of an error (how `check` reads answers).
    """
    where = locate(source, option)
    if where.kind == "inline":
        array = parse_inline(source, Src(option, where.label))
        return Loaded(array=array, source=source, path=None, binary=False, name=None)
    content = _open(where, option, stdin, empty_cells)
    if content.plain is not None:
        no_name_here(where, option)
        return _loaded(content.plain, source, where, content.binary, None, content.empty)
    name = pick_name(content, where, option)
    assert content.load is not None
    return _loaded(content.load(name), source, where, content.binary, name)


def read_arrays(source: str, *, option: str = "SOURCE",
                stdin: BinaryIO | None = None) -> dict[str, Loaded]:
    """Read every array of a SOURCE, keyed by name (file order).

    Containers (.npz, .safetensors, a JSON object) give their names; `file:name` gives just that
    one; a single-array file is keyed by its stem (`x.csv` -> "x"); inline literals and plain
    arrays on standard input are keyed "value".
    """
    where = locate(source, option)
    if where.kind == "inline":
        return {"value": read_array(source, option=option, stdin=stdin)}
    content = _open(where, option, stdin)
    if content.plain is not None:
        no_name_here(where, option)
        key = where.path.stem if where.path is not None else "value"
        return {key: _loaded(content.plain, source, where, content.binary, None)}
    assert content.load is not None
    names = [where.name] if where.name is not None else content.names
    return {n: _loaded(content.load(n), source, where, content.binary, n) for n in names}
