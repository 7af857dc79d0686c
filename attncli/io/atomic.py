"""Atomic file writes: the whole new file appears at once, or nothing changes.

The bytes go to a temporary file in the target's directory, are flushed and fsynced, then
`os.replace`d over the target. On any failure (Ctrl-C included) the temporary file is removed.
A target that is one of the inputs (`protect`) is refused before anything is written.
`atomic_write` writes bytes; `atomic_file` hands out the temporary file for a writer that needs it
open (a map streamed to disk block by block).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from attncli.io._common import Data, Src, reason, write_data


def _same_file(a: str, b: str) -> bool:
    """True if two paths name one file (same real path, or same inode via a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _new_file_mode(target: str) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | Path, data: Data, *, protect: Iterable[Path] = (), option: str = "-o/--output") -> None:
    """Write `data` (bytes, pieces written one after another, or a function writing to the file) to `path`
    atomically; refuse to overwrite any path in `protect` (the inputs)."""
    with atomic_file(path, protect=protect, option=option) as f:
        write_data(f, data)


@contextlib.contextmanager
def atomic_file(path: str | Path, *, protect: Iterable[Path] = (), option: str = "-o/--output"
                ) -> Iterator[BinaryIO]:
    """A temporary file next to `path`, open for writing: renamed over `path` (fsynced) when the block ends,
    removed if it raises (Ctrl-C included). Inputs (`protect`), directories and missing directories are
    refused before the file is made."""
    shown = str(path)
    src = Src(option, shown)
    for guarded in protect:
        if _same_file(shown, str(guarded)):
            raise src.error(
                f"refusing to overwrite the input file {shown}; write the output to another name"
            )
    if os.path.isdir(shown):
        raise src.error(f"'{shown}' is a directory; give a file name such as "
                        f"{os.path.join(shown, 'out.json')}")
    target = os.path.realpath(shown)  # write through a symlink, not over it
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        missing = os.path.dirname(shown) or parent
        raise src.error(f"the directory '{missing}' does not exist; create it first "
                        f"(mkdir -p {missing}) or write elsewhere")
    mode = _new_file_mode(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(target) + ".",
                                   suffix=".tmp")
    except OSError as err:
        raise src.error(f"cannot write in '{parent}': {reason(err)}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise src.error(f"cannot write '{shown}': {reason(err)}") from err
        raise
    _fsync_dir(parent)


def _fsync_dir(directory: str) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
