"""What a binary header may declare, and the memory check before its data is read.

A header (.npy, an .npz member, a safetensors entry) is only a promise: its shape may have a hundred
dimensions or sizes of 2**70, and its data may be bigger than the machine. `shape_problem` says what is
wrong with a shape (Python ints, so nothing overflows); `check_read` refuses, before allocating, an array
that would not fit in the memory budget (io.memory; a read under READ_FLOOR never is: the process holds more than
that already, and a tiny ATTNCLI_MEMORY_LIMIT that forces streaming must still read small inputs);
`read_into` reads a byte range into a new buffer in one pass (never twice the size).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, BinaryIO

from attncli.io.memory import RAISE, check_allocation
from attncli.io.source import Src, cut

if TYPE_CHECKING:
    import numpy as np

MAX_RANK = 32  # numpy allows 64; no attention array has more than a handful
_MAX_BYTES = 2**63 - 1  # numpy counts bytes in a signed 64-bit integer
CHUNK = 16 << 20  # bytes read per call when a stream is copied into a buffer
READ_FLOOR = 16 << 20  # reads needing less are never refused


def shape_problem(shape: tuple[int, ...] | list[int], itemsize: int) -> str | None:
    """Why an array of `shape` (each a non-negative int) cannot exist, or None."""
    if len(shape) > MAX_RANK:
        return f"it has {len(shape)} dimensions (attncli reads at most {MAX_RANK})"
    # numpy refuses a shape whose non-zero sizes multiply past 2**63, even when another size is 0
    if math.prod(max(d, 1) for d in shape) * max(itemsize, 1) > _MAX_BYTES:
        return f"its shape {cut(str(list(shape)))} would hold more than 2**63 bytes"
    return None


# Parsing text holds every value as a Python object (a float and its list slot: 32 bytes for "0,"): up to
# ~24 bytes of memory per byte of CSV, JSON or TOML
PARSE_COST = 24
NPY_HINT = "saving the array as .npy (np.save), which reads without parsing"


def check_parse(size: int, src: Src, kind: str, *, cost: int = PARSE_COST, verb: str = "parsing",
                tries: list[str] | None = None) -> None:
    """Refuse, before it is decoded, text of `size` bytes whose parsing takes `cost` bytes of memory per byte
    (CSV and JSON tables, TOML problems, token and label files, tokenizer.json) when that would not fit."""
    check_read(size * cost, f"{verb} '{src.label}' ({megabytes(size)} of {kind})", src.option,
               tries if tries is not None else [NPY_HINT])


def megabytes(size: int) -> str:
    """A byte count as '2.5 MB' or '1,024 MB'."""
    mb = size / 2**20
    return f"{mb:,.0f} MB" if mb >= 1000 else f"{mb:.3g} MB"


def load_bytes(dtype: np.dtype, count: int) -> int:
    """Bytes held while `count` values of `dtype` are read: the stored bytes, plus the copy when they are
    converted (16-bit floats to float32, another byte order to the native one)."""
    stored = count * dtype.itemsize
    if dtype.kind == "f" and dtype.itemsize == 2:
        return stored * 3
    return stored * 2 if not dtype.isnative and dtype.itemsize > 1 else stored


def check_read(need: int, what: str, option: str, tries: list[str] | None = None) -> None:
    """Refuse, before allocating, `need` bytes for `what` ("reading 'x.npy' (shape (4, 5) of float32)")
    when they exceed the memory budget (io.memory); needs under READ_FLOOR always pass."""
    if need < READ_FLOOR:
        return
    check_allocation(need, what, tries or [f"a smaller array for {option}", RAISE], option=option)


def read_into(stream: BinaryIO, count: int, src: Src, what: str, prefix: bytes = b"") -> bytearray:
    """`prefix` and then bytes of `stream` up to `count` in all, in a buffer made once; an error if the
    stream ends first. The stream is never asked for more than `count` bytes."""
    buf = bytearray(count)
    have = prefix[:count]
    buf[: len(have)] = have
    pos = len(have)
    view = memoryview(buf)
    while pos < count:
        got = stream.readinto(view[pos : pos + CHUNK]) if hasattr(stream, "readinto") else None
        if got is None:
            piece = stream.read(min(CHUNK, count - pos))
            got = len(piece)
            view[pos : pos + got] = piece
        if not got:
            raise src.error(f"{what} is truncated: it ends after {pos} of its {count} bytes; re-create the file")
        pos += got
    return buf
