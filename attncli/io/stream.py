"""A map too big for memory, written to an .npy file one block of query rows at a time.

`attention(stream_maps=...)` gives the kernel an `NpyBlocks` where it would allocate the map: each block of
query rows, (B, H, rows, n_k) in canonical rows layout, goes straight to its place in the file, so memory
holds a few blocks and never the map. The file is the one `np.save` writes for the array `export` gives
(same header and shape, C order): in rows layout each (batch, head)'s rows are one contiguous run per
block; in cols layout (the map transposed: keys × queries) blocks are gathered into panels of query
columns, and each key's segment of a panel is written where it goes.

Positional writes (os.pwrite), not np.lib.format.open_memmap: pages written through a mapping count in
the process's resident memory until the kernel reclaims them (a 400 MB map showed 406 MB peak RSS), and
a full disk under a mapping is a SIGBUS rather than an error. Written bytes go to the page cache, which
is not the process's memory, and a full disk is ENOSPC: one error line and no file.

`MapFile` is the atomic part: a temporary file next to the target, checked for disk space before the
first block, renamed into place when the computation ends, removed if it fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from attncli.core.validate import gigabytes
from attncli.errors import AttnError

OPTION = "-o/--output"
PANEL_BYTES = (16 * 2**20, 256 * 2**20)  # cols layout: a panel of query columns, min and max


class NpyBlocks:
    """The .npy file of one (B, H, n_q, n_k) map, filled by `blocks[:, :, i0:i1] = block`, from any thread.

    `shape` is the user's (size-1 axes dropped, the last two swapped when `cols`); the bytes are the same
    as for (B, H, n_q, n_k), or (B, H, n_k, n_q) in cols layout.
    """

    def __init__(self, f: BinaryIO, shape: tuple[int, ...], dtype: np.dtype, blocks: tuple[int, int, int, int],
                 cols: bool, panel_bytes: int = PANEL_BYTES[0]) -> None:
        B, H, n_q, n_k = blocks
        if math.prod(shape) != B * H * n_q * n_k:
            raise ValueError(f"a {shape} file cannot hold {blocks} maps")
        from attncli.io.writers import npy_header  # the writers, like the file, only when a map is streamed

        self.fd, self.dtype, self.blocks, self.cols = f.fileno(), np.dtype(dtype), blocks, cols
        header = npy_header(shape, self.dtype)
        self.data = len(header)  # offset of the first number
        _pwrite(self.fd, memoryview(header), 0)
        os.ftruncate(self.fd, self.data + B * H * n_q * n_k * self.dtype.itemsize)
        column = B * H * n_k * self.dtype.itemsize  # bytes of one query column of every (batch, head)
        self.width = int(min(n_q, max(1, panel_bytes // column)))  # query columns per panel (cols layout)
        self._panels: dict[int, tuple[np.ndarray, list[int]]] = {}  # panel -> (B, H, n_k, width), [filled]
        self._lock = threading.Lock()
        self.rows_written = 0

    def __setitem__(self, key: Any, block: np.ndarray) -> None:
        """`blocks[:, :, i0:i1] = block`: the rows i0..i1 of every (batch, head), (B, H, rows, n_k)."""
        i0, i1 = _query_rows(key, self.blocks[2])
        block = np.ascontiguousarray(block, dtype=self.dtype)
        B, H, n_q, n_k = self.blocks
        if block.shape != (B, H, i1 - i0, n_k):
            raise ValueError(f"a block of rows {i0}..{i1} must be {(B, H, i1 - i0, n_k)}; got {block.shape}")
        if self.cols:
            self._gather(i0, i1, block)
        else:
            item = self.dtype.itemsize
            for b in range(B):
                for h in range(H):  # rows i0..i1 of one (batch, head): one contiguous run in the file
                    at = self.data + ((b * H + h) * n_q + i0) * n_k * item
                    _pwrite(self.fd, memoryview(block[b, h]).cast("B"), at)
        with self._lock:
            self.rows_written += i1 - i0

    def _gather(self, i0: int, i1: int, block: np.ndarray) -> None:
        """Cols layout: copy the block's columns into their panels; write each panel once it is full."""
        B, H, n_q, n_k = self.blocks
        full = []
        with self._lock:
            for p in range(i0 // self.width, (i1 - 1) // self.width + 1):
                p0, p1 = p * self.width, min(n_q, (p + 1) * self.width)
                c0, c1 = max(i0, p0), min(i1, p1)
                if p not in self._panels:
                    self._panels[p] = (np.empty((B, H, n_k, p1 - p0), dtype=self.dtype), [0])
                panel, filled = self._panels[p]
                panel[:, :, :, c0 - p0:c1 - p0] = np.swapaxes(block[:, :, c0 - i0:c1 - i0], -1, -2)
                filled[0] += c1 - c0
                if filled[0] == p1 - p0:
                    full.append((p0, self._panels.pop(p)[0]))
        for p0, panel in full:  # outside the lock: other threads keep gathering
            self._write_panel(p0, panel)

    def _write_panel(self, p0: int, panel: np.ndarray) -> None:
        """Columns p0.. of every key row: (B, H, n_k, width) -> one segment per (batch, head, key)."""
        B, H, n_q, n_k = self.blocks
        item = self.dtype.itemsize
        seg = panel.shape[3] * item
        if seg == n_q * item:  # the panel is every column: one run
            _pwrite(self.fd, memoryview(panel).cast("B"), self.data)
            return
        for b in range(B):
            for h in range(H):
                raw = memoryview(panel[b, h]).cast("B")
                base = self.data + ((b * H + h) * n_k * n_q + p0) * item
                for j in range(n_k):
                    _pwrite(self.fd, raw[j * seg:(j + 1) * seg], base + j * n_q * item)

    def finish(self) -> None:
        """Every query row must have arrived (a missing block would leave zeros in the file)."""
        if self.rows_written != self.blocks[2] or self._panels:
            raise RuntimeError(f"the streamed map got {self.rows_written} of {self.blocks[2]} query rows")


class MapFile:
    """Where attention(stream_maps=...) puts a map that does not fit in memory: one .npy file at `path`.

        with MapFile("weights.npy", protect=inputs) as out:
            attention(..., need=["weights"], stream_maps=lambda name, **how: out.open(name, layout=layout, **how))

    `open` makes the temporary file (refusing inputs, directories, and a disk without room for it) and
    returns its NpyBlocks; leaving the block renames it over `path`, an exception (Ctrl-C too) removes it.
    """

    def __init__(self, path: str | Path, *, protect: list[Path] | tuple[Path, ...] = (), option: str = OPTION,
                 memory_limit: int | None = None) -> None:
        self.path, self.protect, self.option = str(path), protect, option
        low, high = PANEL_BYTES
        self.panel_bytes = high if memory_limit is None else int(min(high, max(low, memory_limit // 8)))
        self.blocks: NpyBlocks | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> MapFile:
        return self

    def __exit__(self, kind: Any, err: Any, tb: Any) -> bool:
        if kind is None and self.blocks is not None:
            try:
                self.blocks.finish()
            except BaseException as failed:  # remove the file, then report
                self._stack.__exit__(type(failed), failed, failed.__traceback__)
                raise
        return bool(self._stack.__exit__(kind, err, tb))

    def open(self, name: str, *, shape: tuple[int, ...], dtype: np.dtype, blocks: tuple[int, int, int, int],
             layout: str) -> NpyBlocks:
        from attncli.io.atomic import atomic_file  # compute enters a MapFile every run; most never open it
        from attncli.io.writers import npy_header

        if self.blocks is not None:
            raise AttnError(f"{self.option}: an .npy file holds one array; stream one map at a time")
        from attncli.io.atomic import descriptor_of

        if descriptor_of(self.path) is not None:
            raise AttnError(f"{self.option}: a map streamed to disk is written in blocks at their places in a file "
                            f"of its own; give a file name rather than '{self.path}', or --show output alone")
        with contextlib.suppress(OSError):  # pwrite puts each block in its place: a device or a pipe cannot
            info = os.stat(self.path)
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                from attncli.io.files import kind_of

                raise AttnError(f"{self.option}: '{self.path}' is {kind_of(info.st_mode)}, and a map streamed to "
                                f"disk is written in blocks at their places in a regular file; give a file name, "
                                f"or --show output alone")
        f = self._stack.enter_context(atomic_file(self.path, protect=self.protect, option=self.option))
        need = len(npy_header(shape, dtype)) + math.prod(shape) * np.dtype(dtype).itemsize
        directory = os.path.dirname(os.path.realpath(self.path))
        free = shutil.disk_usage(directory).free
        if free < need:
            B, H, n_q, n_k = blocks
            dims = f"batch {B} × heads {H} × {n_q} queries × {n_k} keys × {np.dtype(dtype).itemsize} bytes"
            tries = ["write it to a disk with room", "fewer tokens"]
            if np.dtype(dtype).itemsize > 4:
                tries.append("--dtype float32 (half the size)")
            raise AttnError(f"{self.option}: the {name} map needs about {gigabytes(need)} on disk ({dims}) but "
                            f"only {gigabytes(free)} is free in '{directory}'; try {', or '.join(tries)}")
        self.blocks = NpyBlocks(f, shape, dtype, blocks, layout == "cols", self.panel_bytes)
        return self.blocks


def _query_rows(key: Any, n_q: int) -> tuple[int, int]:
    """(i0, i1) from the kernel's `[:, :, i0:i1]`."""
    if (isinstance(key, tuple) and len(key) == 3 and key[0] == slice(None) and key[1] == slice(None)
            and isinstance(key[2], slice) and key[2].step in (None, 1)):
        i0, i1, _ = key[2].indices(n_q)
        if i0 < i1:
            return i0, i1
    raise TypeError(f"a streamed map takes blocks of query rows, [:, :, i0:i1]; got {key!r}")


_seek_lock = threading.Lock()


def _pwrite(fd: int, data: memoryview, offset: int) -> None:
    """Write all of `data` at `offset` (os.pwrite may write less than asked; Windows has no pwrite)."""
    while len(data):
        if hasattr(os, "pwrite"):
            n = os.pwrite(fd, data, offset)
        else:  # pragma: no cover - Windows
            with _seek_lock:
                os.lseek(fd, offset, os.SEEK_SET)
                n = os.write(fd, data)
        if n <= 0:
            raise OSError(28, "No space left on device")
        data, offset = data[n:], offset + n
