"""Shared pieces of the readers (the `Loaded` result, where bytes come from, what a file holds) and of
the writers (`Data`, what an encoder hands over, and `write_data`).

`Src` carries the option name so every message can start with it; `Blob` reads byte ranges from a
file (opened per read, so a named tensor never loads its neighbours) or from bytes already in
memory (standard input); `Content` is what a format reader found: one plain array, or named ones
that load on demand.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from attncli.errors import AttnError
from attncli.io.files import reason  # noqa: F401 - the readers take it from here
from attncli.record import Frozen, Record

MAX_LISTED = 20  # names shown in an error before "... and N more"

# What an encoder gives a writer: the bytes, pieces written one after another (an array's own memory,
# not copied), or a function that writes to the stream itself (a zip archive)
Data = bytes | list[bytes | memoryview] | Callable[[BinaryIO], None]


def write_data(stream: BinaryIO, data: Data) -> None:
    if callable(data):
        data(stream)
    else:
        for piece in [data] if isinstance(data, (bytes, bytearray)) else data:
            stream.write(piece)


class Loaded(Frozen):
    """One array and where it came from.

    `binary` is True for .npy/.npz/.safetensors (dtype kept as stored, except 16- and 8-bit floats,
    which are upcast to float32) and False for text, JSON and inline literals (float64, or bool
    when every value was true/false).
    """

    array: np.ndarray
    source: str  # the SOURCE string as the user wrote it
    path: Path | None  # resolved file path; None for inline literals and stdin
    binary: bool
    name: str | None  # array name inside a container, if any
    empty: np.ndarray | None  # read_array(..., empty_cells=True): the cells a text table left empty (NaN)
    _fields = ("array", "source", "path", "binary", "name", "empty")

    def __init__(self, array: np.ndarray, source: str, path: Path | None, binary: bool, name: str | None,
                 empty: np.ndarray | None = None) -> None:
        self._set(array=array, source=source, path=path, binary=binary, name=name, empty=empty)


class Src(Frozen):
    """The option being read and a label for the thing read (a file name, "standard input")."""

    option: str
    label: str
    _fields = ("option", "label")

    def __init__(self, option: str, label: str) -> None:
        self._set(option=option, label=label)

    def error(self, message: str) -> AttnError:
        """An `AttnError` whose one line starts with the option name."""
        return AttnError(f"{self.option}: {one_line(message)}")


def one_line(text: str) -> str:
    """Collapse newlines so a message stays on one line."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def cut(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters with "..." (for shapes and values echoed in a message)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(value: str, limit: int = 60) -> str:
    """A value echoed in a message: quoted, control characters escaped, cut to `limit` characters."""
    shown = repr(value) if not value.isprintable() else f"'{value}'"
    if len(shown) > limit:
        shown = shown[: limit - 5] + "...' (" + f"{len(value):,} characters)"
    return shown


def show_name(name: str) -> str:
    """A name as it appears in a message: quoted with repr only if it has odd characters."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def list_names(names: list[str]) -> str:
    """`a, b, c` with at most MAX_LISTED names, then `... and N more`."""
    shown = ", ".join(show_name(n) for n in names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        shown += f", ... and {len(names) - MAX_LISTED} more"
    return shown


def did_you_mean(name: str, names: list[str]) -> str:
    """` (did you mean 'x'?)` when a close name exists, else an empty string."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Blob:
    """Bytes to read: a file on disk (read by ranges) or bytes already in memory."""

    def __init__(self, src: Src, *, path: Path | None = None, data: bytes | None = None) -> None:
        self.src = src
        self.path = path
        self.data = data
        if data is not None:
            self.size = len(data)
        else:
            assert path is not None
            try:
                self.size = os.path.getsize(path)
            except OSError as err:
                raise src.error(f"cannot read '{src.label}': {reason(err)}") from err

    def read_at(self, offset: int, count: int, what: str = "data") -> bytes:
        """Exactly `count` bytes from `offset`, or an error saying the file is truncated."""
        if self.data is not None:
            chunk = self.data[offset : offset + count]
        else:
            try:
                with open(self.path, "rb") as f:  # type: ignore[arg-type]
                    f.seek(offset)
                    chunk = f.read(count)
            except OSError as err:
                raise self.src.error(f"cannot read '{self.src.label}': {reason(err)}") from err
        if len(chunk) != count:
            raise self.src.error(
                f"'{self.src.label}' is truncated: {what} needs {count} bytes at offset {offset} "
                f"but only {len(chunk)} are there; re-create or re-download the file"
            )
        return chunk

    def read_all(self) -> bytes:
        """All the bytes."""
        if self.data is not None:
            return self.data
        return self.read_at(0, self.size)

    def open(self) -> BinaryIO:
        """A readable binary stream over the bytes (the caller closes it)."""
        if self.data is not None:
            return io.BytesIO(self.data)
        try:
            return open(self.path, "rb")  # type: ignore[arg-type]
        except OSError as err:
            raise self.src.error(f"cannot read '{self.src.label}': {reason(err)}") from err


class Content(Record):
    """What a source holds: one plain array, or named arrays loaded on demand by `load`."""

    binary: bool
    plain: np.ndarray | None
    names: list[str]
    load: Callable[[str], np.ndarray] | None
    empty: np.ndarray | None  # a text table's empty cells, when the reader asked for them
    _fields = ("binary", "plain", "names", "load", "empty")

    def __init__(self, binary: bool, plain: np.ndarray | None = None, names: list[str] | None = None,
                 load: Callable[[str], np.ndarray] | None = None, empty: np.ndarray | None = None) -> None:
        self.binary, self.plain, self.names, self.load = binary, plain, [] if names is None else names, load
        self.empty = empty




def native(array: np.ndarray) -> np.ndarray:
    """Native byte order, and 16-bit floats upcast to float32 (numpy's float16 math is slow)."""
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array
