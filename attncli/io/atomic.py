"""Atomic file writes: the whole new file appears at once, or nothing changes.

The bytes go to a temporary file in the target's directory, are flushed and fsynced, then
`os.replace`d over the target. On any failure (Ctrl-C, SIGTERM, SIGHUP included) the temporary file is
removed. A target that is one of the inputs (`protect`, and every file this process read: attncli.io.files)
is refused before anything is written. What is not a regular file (/dev/null, a named pipe, a terminal) is
written through in place, never replaced.
`atomic_write` writes bytes; `atomic_file` hands out the temporary file for a writer that needs it
open (a map streamed to disk block by block); `atomic_folder` writes many files into one folder that all
appear at the end, or none (explain's folder of worked solutions).
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

from attncli.io._common import Data, write_data
from attncli.io.source import Src, reason


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
    made: list[str] = []
    try:  # from before the temporary file exists: a signal that arrives while it is made still removes it
        fd = _temporary(parent, os.path.basename(target), src, made)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(made[0], mode)
        os.replace(made[0], target)
    except BaseException as err:
        for tmp in made:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise src.error(f"cannot write '{shown}': {reason(err)}") from err
        raise
    _fsync_dir(parent)


def _temporary(parent: str, base: str, src: Src, made: list[str]) -> int:
    """A new file `.<base>.<random>.tmp` in `parent`, open for writing; its descriptor. Its path is appended to
    `made` before it is created (a name another file already has is taken off again), so a signal handled
    anywhere while it is made (even as os.open returns) lets the caller remove it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        made.append(os.path.join(parent, f".{base}.{os.urandom(5).hex()}.tmp"))
        try:
            return os.open(made[-1], flags, 0o600)
        except OSError as err:
            made.pop()  # another file's name, or none was made: never removed
            if not isinstance(err, FileExistsError):
                raise src.error(f"cannot write in '{parent}': {reason(err)}") from err
    raise src.error(f"cannot write in '{parent}': no free temporary name after 100 tries")


class AtomicFolder:
    """Files written into one folder that appear together: each goes to a temporary file beside its target
    (.NAME.XXXX.tmp, fsynced) and is renamed over it by `commit`; `abort` removes them, and the folder too if it
    was made for them. Use it through `atomic_folder`."""

    def __init__(self, folder: str, protect: Iterable[Path], option: str) -> None:
        self.folder, self.protect, self.src = folder, list(protect), Src(option, folder)
        self.staged: list[tuple[str, str, str, int]] = []  # (temporary file, target, name as shown, mode)
        self.made: str | None = None  # the topmost folder made here, removed on abort
        existing = os.path.abspath(folder)
        while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            what = "is a file" if existing == os.path.abspath(folder) else f"is under '{existing}', a file"
            raise self.src.error(f"'{folder}' {what}; give a folder (made if missing) or a file name")

    def check(self, name: str) -> None:
        """Refuse, before anything is written, a target that is an input, a folder or not a regular file."""
        from attncli.io.files import is_input, kind_of

        shown = os.path.join(self.folder, name)
        if is_input(shown) or any(_same_file(shown, str(guarded)) for guarded in self.protect):
            raise self.src.error(f"refusing to overwrite the input file {shown}; write the output elsewhere")
        try:
            info = os.stat(shown)
        except OSError:
            return
        if not stat.S_ISREG(info.st_mode):
            raise self.src.error(f"'{shown}' is {kind_of(info.st_mode)}; move it away or write elsewhere")

    def write(self, name: str, data: Data) -> None:
        """Write `data` to a temporary file that `commit` renames to FOLDER/name."""
        self.check(name)
        if not os.path.isdir(self.folder):
            self._make_folder()
        shown = os.path.join(self.folder, name)
        target = os.path.realpath(shown)  # write through a symlink, not over it
        parent = os.path.dirname(target)
        made: list[str] = []
        try:
            fd = _temporary(parent, os.path.basename(target), self.src, made)
        finally:
            self.staged += [(tmp, target, shown, _new_file_mode(target)) for tmp in made]  # abort removes them
        try:
            with os.fdopen(fd, "wb") as f:
                write_data(f, data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise self.src.error(f"cannot write '{shown}': {reason(err)}") from err

    def _make_folder(self) -> None:
        top = os.path.abspath(self.folder)
        while not os.path.isdir(os.path.dirname(top)):
            top = os.path.dirname(top)
        try:
            os.makedirs(self.folder)
        except OSError as err:
            raise self.src.error(f"cannot make the folder '{self.folder}': {reason(err)}") from err
        self.made = top

    def commit(self) -> None:
        """Rename every temporary file over its target, after checking again that none is an input (a file read
        after `check`, by a later problem)."""
        for _, _, shown, _ in self.staged:
            self.check(os.path.relpath(shown, self.folder))
        for tmp, target, shown, mode in self.staged:
            try:
                os.chmod(tmp, mode)
                os.replace(tmp, target)
            except OSError as err:
                raise self.src.error(f"cannot write '{shown}': {reason(err)}") from err
        for parent in dict.fromkeys(os.path.dirname(target) for _, target, _, _ in self.staged):
            _fsync_dir(parent)
        self.staged = []

    def abort(self) -> None:
        """Remove the temporary files not yet renamed, and the folder if it was made here (when empty)."""
        for tmp, _, _, _ in self.staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.staged = []
        if self.made is not None:
            folder = os.path.abspath(self.folder)
            while True:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
                if folder == self.made or len(folder) <= len(self.made):
                    break
                folder = os.path.dirname(folder)


@contextlib.contextmanager
def atomic_folder(folder: str, *, protect: Iterable[Path] = (), option: str = "-o/--output"
                  ) -> Iterator[AtomicFolder]:
    """An AtomicFolder for `folder` (made, with its parents, on the first write if missing): every file written
    appears when the block ends; if it raises (Ctrl-C, SIGTERM and SIGHUP too) none does and the temporary files
    are removed. A rename that fails part way (a full disk) leaves the files renamed before it."""
    out = AtomicFolder(folder, protect, option)
    try:
        yield out
        out.commit()
    except BaseException:
        out.abort()
        raise


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
