"""Writing what a grader deploys: a zip archive with the same bytes on every run, and a folder that appears whole.

`zip_bytes` makes an archive whose bytes depend only on its entries (names in the order given, fixed timestamps,
Unix permissions, one compression level): the same inputs give the same file, so a rebuilt autograder is
byte-identical and a wheel's hash does not change with the clock. `write_zip` writes one atomically (through
attncli.io.atomic); `write_folder` builds a folder next to the target and renames it into place, so an
interrupted build leaves no half-written folder and the previous one stays until the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from attncli.errors import AttnError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
FILE = 0o644
SCRIPT = 0o755

# (path inside the archive or folder, bytes, permission bits)
Entry = tuple[str, bytes, int]


def zip_bytes(entries: Sequence[Entry]) -> bytes:
    """A deflated zip of `entries`, in their order, whose bytes depend on nothing else."""
    import io
    import stat
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix: the permission bits below are read
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def write_zip(path: str, entries: Sequence[Entry], *, force: bool, protect: Iterable[Path] = (),
              option: str = "-o") -> None:
    """Write the archive of `entries` to `path` atomically; an existing file is replaced only with `force`."""
    from attncli.io.atomic import atomic_write

    _refuse_existing(path, force, option)
    atomic_write(path, zip_bytes(entries), protect=protect, option=option)


def write_folder(path: str, entries: Sequence[Entry], *, force: bool, built_by: Sequence[str],
                 option: str = "-o") -> None:
    """Write `entries` (relative paths) as the folder `path`, whole or not at all. An existing folder is replaced
    only with `force`, and only when it is empty or holds every file of `built_by` (a folder this command wrote
    before): --force never deletes a folder of other things."""
    shown = path
    target = os.path.realpath(path)
    parent = os.path.dirname(target)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise AttnError(f"{option}: '{shown}' is a file; give a folder name (it is made), e.g. {option} "
                        "prairielearn/")
    if os.path.isdir(path):
        if not force:
            raise AttnError(f"{option}: '{shown}' exists; pass --force to replace it, or choose another folder")
        if os.listdir(path) and not all(os.path.isfile(os.path.join(path, f)) for f in built_by):
            raise AttnError(f"{option}: '{shown}' holds files this command did not write (it has no "
                            f"{built_by[0]}); --force only replaces a folder it built: choose another folder")
    if not os.path.isdir(parent):
        missing = os.path.dirname(shown.rstrip("/")) or parent
        raise AttnError(f"{option}: the directory '{missing}' does not exist; create it first (mkdir -p {missing}) "
                        "or write elsewhere")
    tmp = old = None
    try:
        try:
            tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
        except OSError as err:
            raise AttnError(f"{option}: cannot write in '{parent}': {err.strerror or err}") from None
        os.chmod(tmp, 0o755)
        for name, data, mode in entries:
            file = os.path.join(tmp, *name.split("/"))
            os.makedirs(os.path.dirname(file), exist_ok=True)
            with open(file, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(file, mode)
        if os.path.isdir(target):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}.", suffix=".old")
            os.rename(target, os.path.join(old, "previous"))
        os.rename(tmp, target)
        tmp = None
    except BaseException as err:
        if old is not None and not os.path.exists(target):  # put the previous folder back
            with contextlib.suppress(OSError):
                os.rename(os.path.join(old, "previous"), target)
        if isinstance(err, OSError):
            raise AttnError(f"{option}: cannot write '{shown}': {err.strerror or err}") from None
        raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


def _refuse_existing(path: str, force: bool, option: str) -> None:
    if path in ("", "-"):
        raise AttnError(f"{option}: give a file name for the archive (e.g. {option} autograder.zip); it is not "
                        "written to standard output")
    if os.path.isdir(path):
        raise AttnError(f"{option}: '{path}' is a directory; give a file name such as "
                        f"{os.path.join(path, 'autograder.zip')}")
    if os.path.lexists(path) and not force:
        raise AttnError(f"{option}: '{path}' exists; pass --force to replace it, or choose another name")
