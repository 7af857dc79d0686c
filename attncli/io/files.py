"""Where attncli meets the file system: every input it opens, every stream it reads or writes.

Three promises live here, each in one place:

- **Inputs are never overwritten.** Every file any option reads is opened through `open_input` (or noted by
  `note_input`), which remembers its (device, inode). `is_input(path)` asks whether a path, through any
  symlink or hard link, is one of them; the writers refuse such targets. Standard input counts when it is a
  file (`attncli compute --x - -o x.npy < x.npy`).
- **Reading is bounded.** A stream without a size (a pipe, `/dev/zero`, a FIFO) is read in chunks into one
  buffer, and refused as soon as it passes half the memory budget (io.memory: the least of the memory
  available, `ulimit -v`, the cgroup's limit and ATTNCLI_MEMORY_LIMIT), or, when it is text, as soon as parsing
  what came so far (PARSE_COST bytes of memory per byte) would not fit. A regular file is checked by its size
  before it is read. A named pipe nobody writes to makes attncli say what it is waiting for instead of hanging
  silently.
- **Standard output failures are errors.** `guard_standard_streams` (called once by the CLI) gives closed
  descriptors a harmless placeholder, makes a write to a full disk an `AttnError` (exit 2) rather than a silent
  partial file, makes a closed pipe `StdoutClosed` (exit 141), and lets text that the terminal's encoding
  cannot show come out as escapes.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from attncli.errors import AttnError
from attncli.io.source import Src, reason  # noqa: F401 - reason: the writers take it from here

if TYPE_CHECKING:  # the CLI imports this module at start-up: what reads a stream is imported when one is read
    from attncli.io.memory import Budget

# (st_dev, st_ino) of every file read by this process
_inputs: set[tuple[int, int]] = set()
WAIT_NOTICE_SECONDS = 1.0  # how long a pipe may stay silent before attncli says it is waiting
CHUNK = 1 << 20
STREAM_SHARE = 2  # a stream may take at most 1/STREAM_SHARE of the memory budget (the rest reads it)
SNIFF_BYTES = 4096  # what a stream's first bytes must cover to say what it holds
BINARY_KINDS = ("npy", "npz", "safetensors")


# ---------------------------------------------------------------- the inputs


def note_input(info: os.stat_result) -> None:
    """Remember a file that was read, so no output replaces it."""
    if stat.S_ISREG(info.st_mode):
        _inputs.add((info.st_dev, info.st_ino))


def note_input_path(path: str | os.PathLike) -> None:
    """Remember the file at `path` (followed through symlinks) as an input, if it is one."""
    with contextlib.suppress(OSError, ValueError):
        note_input(os.stat(path))


def is_input(path: str | os.PathLike) -> bool:
    """True if `path` (through symlinks and hard links) is a file this process has read."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) in _inputs


def forget_inputs() -> None:
    """Start a new run (the CLI calls it first, so one process running main() twice starts clean)."""
    _inputs.clear()


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


# ---------------------------------------------------------------- reading


def stream_limit(budget: Budget | None = None) -> int | None:
    """The most bytes attncli takes from a stream without a size (None: unknown memory, no cap)."""
    from attncli.io.memory import memory_budget

    budget = memory_budget() if budget is None else budget
    return None if budget.limit is None else budget.limit // STREAM_SHARE


def sniffed_cost(head: bytes) -> int:
    """Bytes of memory per byte that reading a stream starting with `head` takes: 1 for .npy, .npz and safetensors
    (read as they are), PARSE_COST for anything else (text and JSON are parsed)."""
    from attncli.io.limits import PARSE_COST
    from attncli.io.sniff import sniff

    return 1 if sniff(head) in BINARY_KINDS else PARSE_COST


def _wait_for_data(fd: int, label: str) -> None:
    """Block until a pipe has data or its writers are gone; say so on stderr if that takes a while."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    if poller.poll(int(WAIT_NOTICE_SECONDS * 1000)):
        return
    print(f"attncli: waiting for data on '{label}', a pipe nothing has written to yet (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    while not poller.poll(1000):
        pass


def open_input(path: str | os.PathLike, src: Src) -> tuple[BinaryIO, os.stat_result]:
    """Open a file to read (remembered as an input) and its status. Directories and sockets are refused;
    a pipe is opened without blocking and waited on with a notice, so a FIFO without a writer never hangs
    silently."""
    label = src.label
    try:
        info = os.stat(path)
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise src.error(f"no such file '{label}'") from None
        raise src.error(f"cannot read '{label}': {reason(err)}") from None
    if stat.S_ISDIR(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        raise src.error(f"'{label}' is {kind_of(info.st_mode)}, not a file; give a file to read")
    fifo = stat.S_ISFIFO(info.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_NONBLOCK if fifo else 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise src.error(f"cannot read '{label}': {reason(err)}") from None
    try:
        if fifo:
            _wait_for_data(fd, label)
            os.set_blocking(fd, True)
        info = os.fstat(fd)
        note_input(info)
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def read_capped(stream: BinaryIO, src: Src, limit: int | None = None, *,
                cost: int | Callable[[bytes], int] = 1) -> bytearray:
    """All the bytes of a stream without a known size, read in chunks into one buffer (never a second copy).

    Refused as soon as it passes `limit` (default `stream_limit()`: half the memory budget), or, when reading it
    takes `cost` bytes of memory per byte (parsing: a number, or a function of the first SNIFF_BYTES that says
    it, `sniffed_cost`), as soon as what came so far times `cost` passes the budget. So neither `/dev/zero` nor a
    2 GB line on a pipe is held past what the process may use."""
    from attncli.io.memory import memory_budget

    budget = memory_budget()
    cap = stream_limit(budget) if limit is None else limit
    cap = 1 << 62 if cap is None else cap
    per_byte = cost if isinstance(cost, int) else None
    buf = bytearray()
    while True:
        try:
            piece = stream.read(min(CHUNK, cap + 1 - len(buf)))
        except OSError as err:
            raise src.error(f"cannot read '{src.label}': {reason(err)}") from None
        if isinstance(piece, str):
            piece = piece.encode("utf-8")
        buf += piece
        if per_byte is None and (len(buf) >= SNIFF_BYTES or not piece):
            per_byte = cost(bytes(buf[:SNIFF_BYTES]))  # type: ignore[operator]
        if not piece:
            return buf
        if len(buf) > cap:
            raise src.error(_endless(src, cap, budget))
        if per_byte is not None and per_byte > 1 and budget.limit is not None and len(buf) * per_byte > budget.limit:
            raise src.error(_endless(src, len(buf), budget, per_byte))


def _endless(src: Src, cap: int, budget: Budget, per_byte: int = 1) -> str:
    """Why a stream that went past `cap` bytes is refused: the stream cap, or (text) what parsing it would take."""
    from attncli.core.validate import gigabytes
    from attncli.io.limits import megabytes
    from attncli.io.memory import ENV

    remedy = f"raise {ENV} if the machine has the memory" if budget.bound == "env" else budget.remedy
    if per_byte > 1:
        return (f"'{src.label}' gave more than {megabytes(cap)} of text without ending, and parsing text takes "
                f"about {per_byte} bytes of memory per byte: more than the {gigabytes(budget.limit or 0)} of memory "
                f"available{budget.where}; save the data to a file as .npy (np.save), which reads without parsing, "
                f"or {remedy}")
    return (f"'{src.label}' gave more than {gigabytes(cap)} without ending, the most attncli holds from a stream: half "
            f"the memory available{budget.where}; save the data to a file (.npy reads without parsing), or {remedy}")


def read_input(path: str | os.PathLike, src: Src, *, limit: int | None = None, cost: int = 1) -> bytearray:
    """All the bytes of a file (regular, pipe or device), remembered as an input. A regular file is refused
    before reading when it is larger than `limit` (default: the stream cap), or when `cost` bytes of memory per
    byte (what parsing it takes) would not fit; a stream is checked as it is read (`read_capped`)."""
    f, info = open_input(path, src)
    with f:
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            cap = stream_limit() if limit is None else limit
            if cap is not None and info.st_size > cap:
                from attncli.core.validate import gigabytes

                raise src.error(f"'{src.label}' is {gigabytes(info.st_size)}, more than the {gigabytes(cap)} "
                                "attncli reads of a file like this; give a smaller file")
            _check_cost(info.st_size, cost, src)
        data = read_capped(f, src, limit, cost=cost)
    _check_cost(len(data), cost, src)
    return data


def _check_cost(size: int, cost: int, src: Src) -> None:
    if cost > 1:
        from attncli.io.limits import check_parse

        check_parse(size, src, "text", cost=cost, verb="reading", tries=["a smaller file"])


def read_stdin(src: Src, stream: BinaryIO | None = None, *,
               cost: int | Callable[[bytes], int] = sniffed_cost) -> bytearray:
    """All of standard input (capped, and refused once parsing it could not fit: see `read_capped`), remembering
    it as an input when it is a file (`< x.npy`)."""
    stream = stream if stream is not None else _stdin_buffer(src)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        note_input(os.fstat(stream.fileno()))
    return read_capped(stream, src, cost=cost)


def _stdin_buffer(src: Src) -> BinaryIO:
    if sys.stdin is None or getattr(sys.stdin, "closed_at_start", False):
        raise src.error("standard input is closed; pipe or redirect a file into attncli (< file), or give a "
                        "file name instead of '-'")
    return sys.stdin.buffer


# ---------------------------------------------------------------- standard streams


class _Closed(io.RawIOBase):
    """Stands in for a standard stream that was closed when attncli started (`>&-`, `<&-`)."""

    closed_at_start = True

    def __init__(self, which: str, fd: int) -> None:
        self.which, self.fd = which, fd

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> _Closed:
        return self

    def _refuse(self, *_: object) -> int:
        if self.which == "stdout":
            raise AttnError("standard output is closed; write to a file with -o FILE, or let attncli write to a "
                            "pipe or a redirect")
        raise AttnError("standard input is closed; pipe or redirect a file into attncli (< file)")

    write = read = readinto = readall = _refuse

    def flush(self) -> None:
        return None


class StdoutClosed(BaseException):
    """The reader of standard output went away (`| head`). Not an OSError, so that nothing between the write
    and the CLI's main (click catches EPIPE and exits 1) mistakes it for something else: main exits 141."""


class _StdoutRaw(io.RawIOBase):
    """File descriptor 1, where a failed write is an AttnError (exit 2) and a closed pipe StdoutClosed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.failed = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:  # type: ignore[override]
        try:
            return os.write(self.fd, data)
        except BrokenPipeError:
            self.failed = True
            raise StdoutClosed() from None
        except OSError as err:
            self.failed = True
            raise AttnError(f"cannot write to standard output: {reason(err)}; the output is incomplete. Free "
                            "some space or write elsewhere (-o FILE)") from None


def guard_standard_streams() -> None:
    """Called once by the CLI before anything is read or written: see the module docstring."""
    for fd, which, flags in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:  # closed at start: hold the number with /dev/null so no file we open lands on it
            null = os.open(os.devnull, flags)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            if which == "stdin":
                sys.stdin = _Closed("stdin", 0)  # type: ignore[assignment]
            elif which == "stdout":
                sys.stdout = _Closed("stdout", 1)  # type: ignore[assignment]
            else:
                sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    if sys.stdout is not None and sys.stdout is sys.__stdout__ and not isinstance(sys.stdout, _Closed):
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        tty = os.isatty(1)
        buffered = io.BufferedWriter(_StdoutRaw(1), buffer_size=CHUNK)
        sys.stdout = io.TextIOWrapper(buffered, encoding=encoding, errors="backslashreplace",
                                      line_buffering=tty, write_through=False)
    err = sys.stderr
    if err is not None and err is sys.__stderr__ and hasattr(err, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):
            err.reconfigure(errors="backslashreplace")


def stdout_failed() -> bool:
    """True once a write to the guarded standard output has failed (full disk, closed pipe)."""
    return bool(getattr(getattr(getattr(sys.stdout, "buffer", None), "raw", None), "failed", False))


def silence_stdout() -> None:
    """After standard output failed: point it at /dev/null so the exit-time flush cannot fail again (only when
    guard_standard_streams owns standard output: a test runner's captured stream is left alone)."""
    if not isinstance(getattr(getattr(sys.stdout, "buffer", None), "raw", None), _StdoutRaw):
        return
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
