"""NumPy's .npy and .npz files, read without ever unpickling.

The .npy header is checked before numpy reads the data: object dtypes are refused, and the byte
count the header promises must be there, so a corrupt header cannot ask for terabytes. An .npz is a
zip of .npy members (`name.npy`); each member is read only when asked for.
"""

from __future__ import annotations

import ast
import io
import lzma
import math
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from attncli.io._common import Blob, Content, Src, did_you_mean, list_names, native
from attncli.io.sniff import NPY_MAGIC

_MAX_HEADER = 1 << 20
_LOAD_ERRORS = (ValueError, OSError, EOFError, TypeError, struct.error, zipfile.BadZipFile,
                KeyError, OverflowError, MemoryError, NotImplementedError)
# a damaged compressed member fails inside the decompressor, with the decompressor's own error type
_ZIP_ERRORS = _LOAD_ERRORS + (zipfile.LargeZipFile, RuntimeError, zlib.error, lzma.LZMAError)


class _BadNpy(ValueError):
    """Why an .npy header is unusable (a phrase that follows "is not a valid .npy file:")."""


def _header_length(head: bytes) -> tuple[int, int, str]:
    """(header text length, offset of the header text, its encoding) from the fixed prefix."""
    if not head.startswith(NPY_MAGIC):
        raise _BadNpy("it does not start with the .npy magic bytes")
    if len(head) < 10:
        raise _BadNpy("the header is truncated")
    major, minor = head[6], head[7]
    if major == 1:
        return struct.unpack("<H", head[8:10])[0], 10, "latin1"
    if major in (2, 3) and len(head) >= 12:
        return struct.unpack("<I", head[8:12])[0], 12, "latin1" if major == 2 else "utf-8"
    if major in (2, 3):
        raise _BadNpy("the header is truncated")
    raise _BadNpy(f"unknown format version {major}.{minor}")


def parse_npy_header(head: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, offset of the data) from the first bytes of an .npy file."""
    length, start, encoding = _header_length(head)
    if length > _MAX_HEADER:
        raise _BadNpy(f"the header claims {length} bytes")
    if len(head) < start + length:
        raise _BadNpy("the header is truncated")
    try:
        info: Any = ast.literal_eval(head[start : start + length].decode(encoding))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeError):
        raise _BadNpy("the header is not a Python dict literal") from None
    if not isinstance(info, dict) or set(info) != {"descr", "fortran_order", "shape"}:
        raise _BadNpy("the header needs exactly descr, fortran_order and shape")
    shape = info["shape"]
    if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)):
        raise _BadNpy(f"the shape {shape!r} is not a tuple of sizes")
    if not isinstance(info["fortran_order"], bool):
        raise _BadNpy("fortran_order is not True/False")
    try:
        with warnings.catch_warnings():  # old aliases ('a' for 'S') warn before they are refused below
            warnings.simplefilter("ignore")
            dtype = np.lib.format.descr_to_dtype(info["descr"])
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError):
        raise _BadNpy(f"the dtype {info['descr']!r} is not understood") from None
    return dtype, shape, start + length


def check_dtype(dtype: np.dtype, src: Src, label: str) -> None:
    """Refuse object arrays (they would need unpickling) and anything that is not numbers."""
    if dtype.hasobject:
        raise src.error(
            f"{label} holds Python objects; object arrays are not supported (never unpickled); "
            "save a numeric array instead"
        )
    if dtype.fields is not None or dtype.kind not in "biufc":
        raise src.error(f"{label} holds {dtype} values; attncli reads numeric arrays only")


def _checked_npy(head: bytes, total: int, src: Src, label: str) -> int:
    """Validate an .npy header against the total byte count; return the bytes it needs."""
    try:
        dtype, shape, offset = parse_npy_header(head)
    except _BadNpy as err:
        raise src.error(f"{label} is not a valid .npy file: {err}") from None
    check_dtype(dtype, src, label)
    need = offset + math.prod(shape) * dtype.itemsize
    if total < need:
        raise src.error(
            f"{label} is truncated: its header promises shape {shape} of {dtype} "
            f"({need} bytes in all) but it has {total} bytes; re-create the file"
        )
    return need


def _np_load(stream: BinaryIO, src: Src, label: str) -> np.ndarray:
    try:
        array = np.load(stream, allow_pickle=False)
    except _LOAD_ERRORS as err:
        raise src.error(f"{label} is not a valid .npy file: {err}") from None
    if not isinstance(array, np.ndarray):
        raise src.error(f"{label} is not a single .npy array")
    return native(array)


def _full_head(head: bytes, size: int, more: Callable[[int], bytes]) -> bytes:
    """`head` extended to cover the whole header text when the first read was too short."""
    try:
        length, start, _ = _header_length(head)
    except _BadNpy:
        return head  # parse_npy_header will say what is wrong
    end = start + length
    return more(end) if len(head) < end <= min(size, start + _MAX_HEADER) else head


def npy_content(blob: Blob) -> Content:
    """A plain .npy file (from disk or from bytes)."""
    src, label = blob.src, f"'{blob.src.label}'"
    head = blob.read_at(0, min(blob.size, 4096), "the .npy header")
    head = _full_head(head, blob.size, lambda n: blob.read_at(0, n, "the .npy header"))
    _checked_npy(head, blob.size, src, label)
    with blob.open() as stream:
        return Content(binary=True, plain=_np_load(stream, src, label))


def _member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, src: Src, label: str) -> bytes:
    """The bytes of one .npy member, after its header was checked against the member size."""
    with archive.open(info) as member:
        head = member.read(min(info.file_size, 4096))
        head = _full_head(head, info.file_size, lambda n: head + member.read(n - len(head)))
        need = _checked_npy(head, info.file_size, src, label)
        return head + member.read(need - len(head))


def npz_content(blob: Blob) -> Content:
    """An .npz archive: names are the members ending in .npy, without the extension."""
    src = blob.src
    try:
        with blob.open() as stream, zipfile.ZipFile(stream) as archive:
            names = [i.filename[:-4] for i in archive.infolist() if i.filename.endswith(".npy")]
    except _ZIP_ERRORS as err:
        raise src.error(f"'{src.label}' is not a valid .npz (zip) file: {err}") from None

    def load(name: str) -> np.ndarray:
        if name not in names:
            raise src.error(
                f"no array '{name}' in {src.label}; it holds: {list_names(names) or 'nothing'}"
                f"{did_you_mean(name, names)}"
            )
        label = f"'{src.label}:{name}'"
        try:
            with blob.open() as stream, zipfile.ZipFile(stream) as archive:
                data = _member_bytes(archive, archive.getinfo(name + ".npy"), src, label)
        except _ZIP_ERRORS as err:
            raise src.error(f"{label} cannot be read from the zip archive: {err}") from None
        return _np_load(io.BytesIO(data), src, label)

    return Content(binary=True, names=names, load=load)
