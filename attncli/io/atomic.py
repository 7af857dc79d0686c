"""Atomic file writes: the whole new file appears at once, or nothing changes.

The bytes go to a temporary file in the target's directory, are flushed and fsynced, then
`os.replace`d over the target. On any failure (Ctrl-C, SIGTERM, SIGHUP included) the temporary file is
removed. A target that is one of the inputs (`protect`, and every file this process read: attncli.io.files)
is refused before anything is written. What is not a regular file (/dev/null, a named pipe, a terminal) is
written through in place, never replaced.
`atomic_write` writes bytes; `atomic_file` hands out the temporary file for a writer that needs it
open (a map streamed to disk block by block).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
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
    removed if it raises (Ctrl-C, SIGTERM and SIGHUP too). Inputs (every file this process read, and
    `protect`), directories and missing directories are refused before the file is made. A target that
    exists and is not a regular file (/dev/null, a terminal, a named pipe) is written through, never
    replaced."""
    shown = str(path)
    src = Src(option, shown)
    from attncli.io.files import is_input, kind_of

    if is_input(shown) or any(_same_file(shown, str(guarded)) for guarded in protect):
        raise src.error(
            f"refusing to overwrite the input file {shown}; write the output to another name"
        )
    if os.path.isdir(shown):
        raise src.error(f"'{shown}' is a directory; give a file name such as "
                        f"{os.path.join(shown, 'out.json')}")
    descriptor = descriptor_of(shown)
    if descriptor is not None:  # -o /dev/stdout, /dev/fd/3: write to what the shell opened, where it is
        with _write_descriptor(descriptor, shown, src) as f:
            yield f
        return
    target = os.path.realpath(shown)  # write through a symlink, not over it
    try:
        info = os.stat(target)
    except OSError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISSOCK(info.st_mode):
            raise src.error(f"'{shown}' is {kind_of(info.st_mode)}; give a file name, or - for standard output")
        with _write_through(target, shown, info, src) as f:
            yield f
        return
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        missing = os.path.dirname(shown) or parent
        raise src.error(f"the directory '{missing}' does not exist; create it first "
                        f"(mkdir -p {missing}) or write elsewhere")
    mode = _new_file_mode(target)
    tmp = None
    try:  # from before the temporary file exists: a signal that arrives while it is made still removes it
        fd, tmp = _temporary(parent, os.path.basename(target), src)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as err:
        tmp = tmp or _making.pop(target, None)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise src.error(f"cannot write '{shown}': {reason(err)}") from err
        raise
    _fsync_dir(parent)


_making: dict[str, str] = {}  # target -> the temporary file being made for it (until _temporary returns)


def _temporary(parent: str, base: str, src: Src) -> tuple[int, str]:
    """A new file `.<base>.<random>.tmp` in `parent`, open for writing: (descriptor, path). Its name is in
    `_making` from before it is created until it is returned, so a signal handled anywhere in between (even as
    os.open returns) lets the caller remove it; a name that another file already has is never recorded."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    target = os.path.join(parent, base)
    for _ in range(100):
        path = os.path.join(parent, f".{base}.{os.urandom(5).hex()}.tmp")
        _making[target] = path
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as err:
            _making.pop(target, None)  # another file's name (or none was made): never removed
            if isinstance(err, FileExistsError):
                continue
            raise src.error(f"cannot write in '{parent}': {reason(err)}") from err
        _making.pop(target, None)
        return fd, path
    raise src.error(f"cannot write in '{parent}': no free temporary name after 100 tries")


def descriptor_of(path: str) -> int | None:
    """N when `path` names this process's open file descriptor N (/dev/stdout, /dev/fd/N, /proc/self/fd/N,
    through any symlinks): such a target is written through that descriptor, at its offset and in its
    append mode, never replaced or reopened from the start."""
    pid = str(os.getpid())
    for _ in range(40):
        parts = path.split("/")
        if len(parts) == 4 and parts[0] == "" and parts[3].isdigit() and (
                parts[1:3] == ["dev", "fd"]):
            return int(parts[3])
        if len(parts) == 5 and parts[0] == "" and parts[1] == "proc" and parts[2] in ("self", pid) \
                and parts[3] == "fd" and parts[4].isdigit():
            return int(parts[4])
        if not os.path.islink(path):
            return None
        try:
            link = os.readlink(path)
        except OSError:
            return None
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    return None


@contextlib.contextmanager
def _write_descriptor(fd: int, shown: str, src: Src) -> Iterator[BinaryIO]:
    if fd == 1:  # standard output: the same stream and its failure handling (full disk, closed pipe)
        out = sys.stdout
        if out is None:
            raise src.error("standard output is closed; give a file name")
        out.flush()
        yield out.buffer
        out.buffer.flush()
        return
    try:
        copy = os.dup(fd)
    except OSError as err:
        raise src.error(f"cannot write '{shown}': {reason(err)}") from err
    with _in_place(copy, f"'{shown}'", src) as f:
        yield f


@contextlib.contextmanager
def _write_through(target: str, shown: str, info: os.stat_result, src: Src) -> Iterator[BinaryIO]:
    """Write into what is not a regular file (a device, a named pipe) in place: nothing to rename or remove.
    A named pipe nobody reads yet makes attncli say it is waiting for a reader."""
    from attncli.io.files import kind_of

    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        if stat.S_ISFIFO(info.st_mode):
            try:
                fd = os.open(target, flags | os.O_NONBLOCK)
            except OSError as err:
                if err.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                print(f"attncli: waiting for a reader on '{shown}', {kind_of(info.st_mode)} (Ctrl-C stops)",
                      file=sys.stderr, flush=True)
                fd = os.open(target, flags)
            os.set_blocking(fd, True)
        else:
            fd = os.open(target, flags)
    except OSError as err:
        raise src.error(f"cannot write '{shown}' ({kind_of(info.st_mode)}): {reason(err)}") from err
    with _in_place(fd, f"'{shown}' ({kind_of(info.st_mode)})", src) as f:
        yield f


@contextlib.contextmanager
def _in_place(fd: int, what: str, src: Src) -> Iterator[BinaryIO]:
    """The open descriptor `fd` as a file to write (closed at the end); a failed write names `what`."""
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
    except OSError as err:
        raise src.error(f"cannot write {what}: {reason(err)}") from err


def _fsync_dir(directory: str) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
