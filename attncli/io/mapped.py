"""Arrays read in pieces: a command that summarises a file (inspect) or draws a slice of it (show --layer
--head) reads only the bytes it needs, so a file bigger than memory works.

`open_arrays(source, option)` gives the arrays of a SOURCE, named as `read_arrays` names them; each is a
`Piecewise` with the shape and dtype `read_array` would give, `blocks()` (its values in flat pieces of at
most BLOCK_VALUES, in storage order) and `take(lead)` (the sub-array at leading indices, e.g. (layer,
head)). A regular .npy file, a .safetensors tensor and an uncompressed .npz member are read in place, by
byte ranges (not memory-mapped: an address-space limit counts a mapping whole); a compressed .npz member is
decompressed block by block when the caller only needs blocks (inspect: a zip bomb costs time, not memory);
anything else (text, JSON, standard input) is read as `read_array` reads it, with its memory checks.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from attncli.io._common import Blob, Content, Src, native
from attncli.io.limits import check_read, read_into

BLOCK_VALUES = 2 << 20  # values per block: 16 MB once converted to float64


class Piecewise(Protocol):
    shape: tuple[int, ...]
    dtype: np.dtype

    def blocks(self) -> Iterator[np.ndarray]: ...

    def take(self, lead: tuple[int, ...]) -> np.ndarray: ...


class InMemory:
    """An array already in memory, served like one on disk."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array)
        self.shape, self.dtype = self.array.shape, self.array.dtype

    def blocks(self) -> Iterator[np.ndarray]:
        flat = self.array.ravel(order="K")
        for start in range(0, flat.size, BLOCK_VALUES):
            yield flat[start : start + BLOCK_VALUES]

    def take(self, lead: tuple[int, ...]) -> np.ndarray:
        return self.array[lead]


@dataclass
class OnDisk:
    """An array stored at `offset` of an open file, `stored` values `decode`d into `dtype` ones."""

    file: BinaryIO
    offset: int
    stored: np.dtype
    shape: tuple[int, ...]
    fortran: bool
    decode: Callable[[np.ndarray], np.ndarray]
    dtype: np.dtype
    src: Src
    label: str
    stored_name: str | None = None  # the file's own name for the stored type (safetensors' "BF16")

    def _read(self, start: int, count: int) -> np.ndarray:
        """Values start .. start + count of the flat storage (read in one call, decoded)."""
        self.file.seek(self.offset + start * self.stored.itemsize)
        buf = read_into(self.file, count * self.stored.itemsize, self.src, self.label)
        return self.decode(np.frombuffer(buf, dtype=self.stored, count=count))

    def blocks(self) -> Iterator[np.ndarray]:
        count = math.prod(self.shape)
        for start in range(0, count, BLOCK_VALUES):
            yield self._read(start, min(BLOCK_VALUES, count - start))

    def take(self, lead: tuple[int, ...]) -> np.ndarray:
        inner = self.shape[len(lead) :]
        if self.fortran:  # the sub-array is scattered through the file: read it all (checked)
            count = math.prod(self.shape)
            check_read(count * (self.stored.itemsize + self.dtype.itemsize),
                       f"reading {self.label} (whole: it is stored in Fortran order)", self.src.option)
            return self._read(0, count).reshape(self.shape[::-1]).T[lead]
        size = math.prod(inner)
        start = int(np.ravel_multi_index(lead, self.shape[: len(lead)])) * size if lead else 0
        return self._read(start, size).reshape(inner)


class Inflated:
    """A compressed .npz member: its header read (shape, dtype), its values decompressed block by block by
    `blocks()`; `take` decompresses it whole (after the checks of `read_array`)."""

    def __init__(self, archive: Any, members: dict[str, Any], name: str, src: Src) -> None:
        from attncli.io.npyfmt import member_layout

        self.archive, self.members, self.name, self.src = archive, members, name, src
        self.label = f"'{src.label}:{name}'"
        self.layout = member_layout(archive, members[name], src, self.label)
        self.shape = self.layout.shape
        self.dtype = native(np.empty(0, self.layout.dtype)).dtype

    def blocks(self) -> Iterator[np.ndarray]:
        from attncli.io.npyfmt import member_blocks

        return member_blocks(self.archive, self.members[self.name], self.layout, self.src, self.label, BLOCK_VALUES)

    def take(self, lead: tuple[int, ...]) -> np.ndarray:
        from attncli.io.npyfmt import load_member

        return load_member(self.archive, self.members, self.name, self.src)[lead]


@dataclass
class Arrays:
    """The arrays of a SOURCE: `names` (as `read_arrays` keys them) and `get(name)`; `path` is the file."""

    names: list[str]
    get: Callable[[str], Piecewise]
    path: Path | None
    metadata: dict[str, str] = field(default_factory=dict)  # a safetensors file's __metadata__


@contextmanager
def open_arrays(source: str, option: str = "SOURCE", *, single: bool = False,
                inflate_by_blocks: bool = False) -> Iterator[Arrays]:
    """The arrays of SOURCE, read in pieces where the format allows. With `single`, exactly one array is
    picked as `read_array` picks it (a `file:name`, or a container's only array) and named first. With
    `inflate_by_blocks`, a compressed .npz member is an `Inflated` (its header read, its values decompressed
    block by block) instead of being decompressed whole: what a summary by blocks needs (inspect)."""
    from attncli.io import readers

    where = readers.locate(source, option)
    lazy = _lazy(where, option, inflate_by_blocks) if where.kind == "file" else None
    if lazy is None:  # in memory anyway: read as usual
        if single:
            loaded = readers.read_array(source, option=option)
            found = {loaded.name or "value": loaded}
        else:
            found = readers.read_arrays(source, option=option)
        path = next((loaded.path for loaded in found.values()), None)
        yield Arrays(list(found), lambda n: InMemory(found[n].array), path)
        return
    names, get, file, path = lazy
    meta = getattr(get, "metadata", {})
    try:
        if names is None:  # a plain array
            readers.no_name_here(where, option)
            key = where.path.stem if where.path is not None else "value"
            yield Arrays([key], lambda _: get(None), path, meta)
        elif where.name is not None:
            yield Arrays([where.name], get, path, meta)
        elif single:
            yield Arrays([readers.pick_name(Content(binary=True, names=names), where, option)], get, path, meta)
        else:
            yield Arrays(names, get, path, meta)
    finally:
        file.close()


def _lazy(where: Any, option: str,
          inflate_by_blocks: bool = False) -> tuple[list[str] | None, Callable, BinaryIO, Path] | None:
    """(names or None for a plain array, get(name), the open file, its path) for a regular binary file."""
    from attncli.io import readers
    from attncli.io.sniff import kind_from_extension

    path = where.path
    kind = kind_from_extension(path)
    try:
        info = os.stat(path)
    except OSError:
        return None  # read_arrays says why
    if kind not in ("npy", "npz", "safetensors") or not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return None
    src = Src(option, where.label)
    blob = readers.file_blob(src, path)  # remembered as an input
    if blob.path is None:
        return None
    file = blob.open()
    try:
        if kind == "npz":
            names, get = _npz(blob, file, inflate_by_blocks)
        else:
            names, get = {"npy": _npy, "safetensors": _safetensors}[kind](blob, file)
    except BaseException:
        file.close()
        raise
    return names, get, file, path.resolve()


def _npy(blob: Blob, file: BinaryIO) -> tuple[None, Callable]:
    from attncli.io.npyfmt import npy_head

    layout = npy_head(blob)
    dtype = native(np.empty(0, layout.dtype)).dtype
    array = OnDisk(file, layout.offset, layout.dtype, layout.shape, layout.fortran, native, dtype, blob.src,
                   f"'{blob.src.label}'")
    return None, lambda _: array


def _npz(blob: Blob, file: BinaryIO, inflate_by_blocks: bool = False) -> tuple[list[str], Callable]:
    from attncli.io.npyfmt import load_member, npz_members, stored_member

    archive, members = npz_members(blob)

    def get(name: str) -> Piecewise:
        stored = stored_member(blob, members[name], name) if name in members else None
        if stored is None and inflate_by_blocks and name in members:
            return Inflated(archive, members, name, blob.src)
        if stored is None:  # compressed: decompressed whole, after its checks
            return InMemory(load_member(archive, members, name, blob.src))
        layout, start = stored
        return OnDisk(file, start, layout.dtype, layout.shape, layout.fortran, native,
                      native(np.empty(0, layout.dtype)).dtype, blob.src, f"'{blob.src.label}:{name}'")

    return list(members), get


def _safetensors(blob: Blob, file: BinaryIO) -> tuple[list[str], Callable]:
    from attncli.io.safetensors_format import DTYPES, decode, decoded_dtype, read_header, tensor_entry, tensor_names

    header, data_start = read_header(blob)
    names = tensor_names(header)
    decoders = {d: (np.dtype(DTYPES[d][1]), decoded_dtype(d), lambda raw, d=d: decode(raw, d)) for d in DTYPES}

    def get(name: str) -> Piecewise:
        entry = tensor_entry(header, names, name, blob.src)
        stored, dtype, decode = decoders[entry["dtype"]]
        return OnDisk(file, data_start + entry["data_offsets"][0], stored, tuple(entry["shape"]), False, decode,
                      dtype, blob.src, f"'{blob.src.label}:{name}'", entry["dtype"])

    meta = header.get("__metadata__")
    get.metadata = {str(k): v if isinstance(v, str) else str(v) for k, v in meta.items()} \
        if isinstance(meta, dict) else {}  # type: ignore[attr-defined]
    return names, get
