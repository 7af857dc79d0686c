"""NumPy's .npy and .npz files, read without ever unpickling.

The .npy header is checked before any data is read: object dtypes are refused, the shape must be
possible (io/limits.py), the byte count it promises must be there, and the array must fit in the memory
available, so a corrupt or hostile header cannot ask for terabytes. The data is then read once, into the
array's own buffer. An .npz is a zip of .npy members (`name.npy`); each member is read only when asked
for, and only after its declared size and its header's shape were checked: a zip bomb is refused before
anything is decompressed, and a member is never decompressed past what its header declares.
"""

from __future__ import annotations

import ast
import math
import struct
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from attncli.io._common import Blob, Content, Src, did_you_mean, list_names, native
from attncli.io.limits import CHUNK as READ_CHUNK
from attncli.io.limits import check_read, load_bytes, read_into, shape_problem
from attncli.io.sniff import NPY_MAGIC
from attncli.record import Frozen

if TYPE_CHECKING:  # zipfile is imported where an .npz is read: a plain .npy does not load it
    import zipfile

_MAX_HEADER = 1 << 20


def _zip_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged .npz raises: the zip module's errors, and a compressed member's decompressor's."""
    import lzma
    import zipfile
    import zlib

    return (ValueError, OSError, EOFError, TypeError, struct.error, zipfile.BadZipFile, KeyError, OverflowError,
            MemoryError, NotImplementedError, zipfile.LargeZipFile, RuntimeError, zlib.error, lzma.LZMAError)


class _BadNpy(ValueError):
    """Why an .npy header is unusable (a phrase that follows "is not a valid .npy file:")."""


class NpyLayout(Frozen):
    """What an .npy header declares: the data starts at `offset` and holds `shape` of `dtype`."""

    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool
    offset: int
    _fields = ("dtype", "shape", "fortran", "offset")

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...], fortran: bool, offset: int) -> None:
        self._set(dtype=dtype, shape=shape, fortran=fortran, offset=offset)

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    def describe(self) -> str:
        return f"shape {self.shape} of {self.dtype}"


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


def parse_npy_header(head: bytes) -> NpyLayout:
    """The dtype, shape, order and offset of the data, from the first bytes of an .npy file."""
    length, start, encoding = _header_length(head)
    if length > _MAX_HEADER:
        raise _BadNpy(f"the header claims {length} bytes")
    if len(head) < start + length:
        raise _BadNpy("the header is truncated")
    try:
        info: Any = ast.literal_eval(head[start : start + length].decode(encoding))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeError, OverflowError):
        raise _BadNpy("the header is not a Python dict literal (with sizes of at most 4300 digits)") from None
    if not isinstance(info, dict) or set(info) != {"descr", "fortran_order", "shape"}:
        raise _BadNpy("the header needs exactly descr, fortran_order and shape")
    shape = info["shape"]
    if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)):
        raise _BadNpy(f"the shape {_short(shape)} is not a tuple of sizes")
    if not isinstance(info["fortran_order"], bool):
        raise _BadNpy("fortran_order is not True/False")
    try:
        with warnings.catch_warnings():  # old aliases ('a' for 'S') warn before they are refused below
            warnings.simplefilter("ignore")
            dtype = np.lib.format.descr_to_dtype(info["descr"])
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError):
        raise _BadNpy(f"the dtype {_short(info['descr'])} is not understood") from None
    problem = shape_problem(shape, dtype.itemsize)
    if problem:
        raise _BadNpy(problem)
    return NpyLayout(dtype, shape, info["fortran_order"], start + length)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def check_dtype(dtype: np.dtype, src: Src, label: str) -> None:
    """Refuse object arrays (they would need unpickling) and anything that is not numbers."""
    if dtype.hasobject:
        raise src.error(
            f"{label} holds Python objects; object arrays are not supported (never unpickled); "
            "save a numeric array instead"
        )
    if dtype.fields is not None or dtype.kind not in "biufc":
        raise src.error(f"{label} holds {dtype} values; attncli reads numeric arrays only")


def _checked_npy(head: bytes, total: int, src: Src, label: str) -> NpyLayout:
    """Validate an .npy header against the total byte count (the file's, or the member's)."""
    try:
        layout = parse_npy_header(head)
    except _BadNpy as err:
        raise src.error(f"{label} is not a valid .npy file: {err}") from None
    check_dtype(layout.dtype, src, label)
    need = layout.offset + layout.nbytes
    if total < need:
        raise src.error(
            f"{label} is truncated: its header promises {layout.describe()} "
            f"({need} bytes in all) but it has {total} bytes; re-create the file"
        )
    return layout


def check_load(layout: NpyLayout, src: Src, label: str) -> None:
    """Refuse, before reading, an array that would not fit in the memory budget (io.memory)."""
    check_read(load_bytes(layout.dtype, layout.count), f"reading {label} ({layout.describe()})", src.option)


def array_from_buffer(buf: bytearray | np.ndarray, layout: NpyLayout) -> np.ndarray:
    """The array over `buf` (the data only, no copy), in native byte order, float16 upcast."""
    flat = np.frombuffer(buf, dtype=layout.dtype, count=layout.count)
    array = flat.reshape(layout.shape[::-1]).T if layout.fortran else flat.reshape(layout.shape)
    return native(array)


def _full_head(head: bytes, size: int, more: Callable[[int], bytes]) -> bytes:
    """`head` extended to cover the whole header text when the first read was too short."""
    try:
        length, start, _ = _header_length(head)
    except _BadNpy:
        return head  # parse_npy_header will say what is wrong
    end = start + length
    return more(end) if len(head) < end <= min(size, start + _MAX_HEADER) else head


def npy_head(blob: Blob) -> NpyLayout:
    """The checked header of a plain .npy file (from disk or from bytes)."""
    head = blob.read_at(0, min(blob.size, 4096), "the .npy header")
    head = _full_head(head, blob.size, lambda n: blob.read_at(0, n, "the .npy header"))
    return _checked_npy(head, blob.size, blob.src, f"'{blob.src.label}'")


def npy_content(blob: Blob) -> Content:
    """A plain .npy file (from disk or from bytes)."""
    src, label = blob.src, f"'{blob.src.label}'"
    layout = npy_head(blob)
    check_load(layout, src, label)
    with blob.open() as stream:
        stream.seek(layout.offset)
        buf = _read_data(stream, layout.nbytes, src, label)
    return Content(binary=True, plain=array_from_buffer(buf, layout))


def _read_data(stream: BinaryIO, count: int, src: Src, what: str) -> np.ndarray | bytearray:
    """The `count` data bytes of an .npy, read straight into the array's buffer (limits.read_into's checks).
    A numpy buffer rather than a bytearray: numpy asks the kernel for huge pages for big buffers and does not
    zero them first, so a fresh process reads 16 MB in a third of the time (4,096 page faults become 8)."""
    if not hasattr(stream, "readinto"):
        return read_into(stream, count, src, what)
    buf = np.empty(count, dtype=np.uint8)
    view, pos = memoryview(buf), 0
    while pos < count:
        got = stream.readinto(view[pos:pos + READ_CHUNK])
        if not got:
            raise src.error(f"{what} is truncated: it ends after {pos} of its {count} bytes; re-create the file")
        pos += got
    return buf


def _member_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, src: Src, label: str) -> np.ndarray:
    """One .npy member: its declared size, then its header, are checked before its data is decompressed,
    and no more than the header declares is ever decompressed."""
    check_read(info.file_size, f"reading {label} (its zip entry declares {info.file_size} bytes uncompressed)",
               src.option)
    with archive.open(info) as member:
        head = member.read(min(info.file_size, 4096))
        head = _full_head(head, info.file_size, lambda n: head + member.read(n - len(head)))
        layout = _checked_npy(head, info.file_size, src, label)
        check_load(layout, src, label)
        buf = read_into(member, layout.nbytes, src, label, prefix=head[layout.offset :])
    return array_from_buffer(buf, layout)


def member_layout(archive: zipfile.ZipFile, info: zipfile.ZipInfo, src: Src, label: str) -> NpyLayout:
    """The checked .npy header of a member: only the header is decompressed, whatever the member declares."""
    try:
        with archive.open(info) as member:
            head = member.read(min(info.file_size, 4096))
            head = _full_head(head, info.file_size, lambda n: head + member.read(n - len(head)))
    except _zip_errors() as err:
        raise src.error(f"{label} cannot be read from the zip archive: {err}") from None
    return _checked_npy(head, info.file_size, src, label)


def member_blocks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, layout: NpyLayout, src: Src, label: str,
                  block_values: int) -> Iterator[np.ndarray]:
    """The values of a member in storage order, decompressed `block_values` at a time (native byte order, float16
    upcast): memory of one block, whatever the member's size (inspect of a zip bomb)."""
    try:
        with archive.open(info) as member:
            read_into(member, layout.offset, src, label)  # the header, again
            for start in range(0, layout.count, block_values):
                count = min(block_values, layout.count - start)
                buf = read_into(member, count * layout.dtype.itemsize, src, label)
                yield native(np.frombuffer(buf, dtype=layout.dtype, count=count))
    except _zip_errors() as err:
        raise src.error(f"{label} cannot be read from the zip archive: {err}") from None


def _no_array(name: str, names: list[str], src: Src) -> Exception:
    return src.error(f"no array '{name}' in {src.label}; it holds: {list_names(names) or 'nothing'}"
                     f"{did_you_mean(name, names) if len(names) <= 10_000 else ''}")


def npz_members(blob: Blob) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The open archive and its .npy members by name (without the extension), in archive order."""
    import zipfile

    src = blob.src
    try:
        archive = zipfile.ZipFile(blob.path if blob.path is not None else blob.open())
        members = {i.filename[:-4]: i for i in archive.infolist() if i.filename.endswith(".npy")}
    except _zip_errors() as err:
        raise src.error(f"'{src.label}' is not a valid .npz (zip) file: {err}") from None
    if not members:
        from attncli.io.sniff import pickle_refusal, zip_holds_pickle

        if zip_holds_pickle(archive.namelist()):  # a PyTorch archive whose data.pkl is not its first entry
            archive.close()
            raise src.error(pickle_refusal(src.label))
    return archive, members


def load_member(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str, src: Src) -> np.ndarray:
    """The array of member `name` (see `npz_members`), or a one-line error."""
    if name not in members:
        raise _no_array(name, list(members), src)
    label = f"'{src.label}:{name}'"
    try:
        return _member_array(archive, members[name], src, label)
    except _zip_errors() as err:
        raise src.error(f"{label} cannot be read from the zip archive: {err}") from None


def npz_content(blob: Blob) -> Content:
    """An .npz archive: names are the members ending in .npy, without the extension. The archive is
    opened once (its directory read once), whatever the number of members read."""
    archive, members = npz_members(blob)
    return Content(binary=True, names=list(members),
                   load=lambda name: load_member(archive, members, name, blob.src))


def stored_member(blob: Blob, info: zipfile.ZipInfo, name: str) -> tuple[NpyLayout, int] | None:
    """(its header, where its data starts in the file) for an uncompressed, unencrypted member, whose
    values can be read in place; None for any other member (it is decompressed instead)."""
    import zipfile

    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1 or info.compress_size != info.file_size:
        return None
    src, label = blob.src, f"'{blob.src.label}:{name}'"
    local = blob.read_at(info.header_offset, 30, f"the zip entry of {label}")
    if local[:4] != b"PK\x03\x04":
        raise src.error(f"{label} cannot be read from the zip archive: its local header is damaged")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > blob.size:
        raise src.error(f"{label} is truncated: the archive ends inside it; re-create the file")

    def at(n: int) -> bytes:
        return blob.read_at(start, n, f"the .npy header of {label}")

    head = at(min(info.file_size, 4096))
    head = _full_head(head, info.file_size, at)
    layout = _checked_npy(head, info.file_size, src, label)
    return layout, start + layout.offset
