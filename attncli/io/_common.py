"""Shared pieces of the readers (the `Loaded` result, where bytes come from, what a file holds) and of
the writers (`Data`, what an encoder hands over, and `write_data`).

`Src` (io.source) carries the option name so every message can start with it; `Blob` reads byte ranges from a
file (opened per read, so a named tensor never loads its neighbours) or from bytes already in
memory (standard input); `Content` is what a format reader found: one plain array, or named ones
that load on demand.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from attncli.io.source import (  # noqa: F401 - the readers take them from here too
    MAX_LISTED,
    Src,
    cut,
    did_you_mean,
    list_names,
    one_line,
    reason,
    shorten,
    show_name,
)
from attncli.record import Frozen, Record

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


class BytesReader(io.RawIOBase):
    """A seekable binary stream over bytes already in memory, without a copy (io.BytesIO copies a bytearray, such
    as standard input read by io.files.read_capped: a second copy of the whole input)."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        piece = self.view[self.pos : self.pos + len(buffer)]
        buffer[: len(piece)] = piece
        self.pos += len(piece)
        return len(piece)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(self.view)}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def tell(self) -> int:
        return self.pos


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
            return io.BufferedReader(BytesReader(self.data))  # type: ignore[return-value]
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
