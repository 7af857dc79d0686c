"""Tokenizers: whitespace (default), chars (one token per character, for Chinese or Japanese text
without spaces), or a Hugging Face tokenizer.json through the optional `tokenizers` package."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from attncli.errors import AttnError

BUILTIN = ("whitespace", "chars")
LINES_COST = 8  # bytes of memory per byte of a --tokens/--ids file: its text, lines and tokens
TOKENIZER_COST = 16  # per byte of tokenizer.json: its text and the library's vocabulary and merges


_sink: list = []  # one temporary file that catches the library's writes to descriptor 2, made on first use


@contextlib.contextmanager
def _library_call(what: str) -> Iterator[None]:
    """Around a call into the `tokenizers` library: any failure becomes one `--tokenizer: {what} (reason)`
    line. A malformed file can make its Rust code panic: pyo3 raises PanicException, a BaseException, after
    Rust's panic hook has written to file descriptor 2; so that goes to a temporary file, and is dropped
    when the call fails (the error line says it) or passed on when it succeeds. Ctrl-C, exit and running
    out of memory pass through."""
    import tempfile

    if not _sink:
        import atexit

        _sink.append(tempfile.TemporaryFile())
        atexit.register(_sink[0].close)
    sink = _sink[0].fileno()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink, 2)
    try:
        yield
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit, AttnError):
        raise
    except BaseException as err:  # the library's own exception types, and pyo3's PanicException
        if not isinstance(err, Exception) and type(err).__name__ != "PanicException":
            raise  # a terminating signal (attncli.cli.Terminated) and the like
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        raise AttnError(f"--tokenizer: {what} ({reason})") from None
    else:
        if os.fstat(sink).st_size:  # the call succeeded: what the library printed is the user's to see
            os.lseek(sink, 0, os.SEEK_SET)
            while chunk := os.read(sink, 1 << 16):
                os.write(saved, chunk)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        if os.fstat(sink).st_size:
            os.ftruncate(sink, 0)
            os.lseek(sink, 0, os.SEEK_SET)


@dataclass
class Tokenizer:
    """Splits text into tokens; `ids` is set when the tokenizer has its own vocabulary (tokenizer.json)."""

    name: str
    _hf: object | None = None

    def __call__(self, text: str) -> tuple[list[str], list[int] | None]:
        if self.name == "whitespace":
            return text.split(), None
        if self.name == "chars":
            return [c for c in text if not c.isspace()], None
        with _library_call(f"'{self.name}' failed on the text; the tokenizer.json is inconsistent"):
            enc = self._hf.encode(text, add_special_tokens=False)
            return list(enc.tokens), list(enc.ids)


def load_tokenizer(spec: str = "whitespace") -> Tokenizer:
    """`whitespace`, `chars`, or the path of a tokenizer.json (needs the `text` extra)."""
    if spec in BUILTIN:
        return Tokenizer(spec)
    if not os.path.exists(spec) or os.path.isdir(spec):
        raise AttnError(f"--tokenizer takes whitespace, chars, or the path of a tokenizer.json; "
                        f"'{spec}' is neither (no such file)")
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError:
        raise AttnError("--tokenizer with a tokenizer.json needs the Hugging Face tokenizers package: "
                        "pip install 'attncli[text]'") from None
    from attncli.io._common import Src
    from attncli.io.files import read_input

    # read through the one input opener (remembered, so -o never replaces it; capped; a FIFO announced)
    data = read_input(spec, Src("--tokenizer", spec), cost=TOKENIZER_COST)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttnError(f"--tokenizer: '{spec}' is not UTF-8 text, so not a tokenizer.json") from None
    with _library_call(f"cannot read '{spec}' as a tokenizer.json"):
        return Tokenizer(spec, HFTokenizer.from_str(text))


def read_lines(path: str, option: str) -> list[str]:
    """Non-empty lines of a UTF-8 text file (one sequence per line); '-' is standard input."""
    from attncli.io._common import Src
    from attncli.io.files import read_input, read_stdin

    # the one input opener: capped, remembered (never overwritten by -o), a silent FIFO announced
    data = read_stdin(Src(option, "standard input")) if path == "-" else read_input(path, Src(option, path),
                                                                                       cost=LINES_COST)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AttnError(f"{option}: '{path}' is not UTF-8 text (line {line}); save it as UTF-8") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise AttnError(f"{option}: '{path}' holds no sequences (one per line)")
    return lines


def disambiguate(tokens: list[str]) -> list[str]:
    """Labels for table rows and columns: repeated tokens get #1, #2, ... (`the#1`, `the#2`)."""
    counts: dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        if counts[t] > 1:
            seen[t] = seen.get(t, 0) + 1
            out.append(f"{t}#{seen[t]}")
        else:
            out.append(t)
    return out
