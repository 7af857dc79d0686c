"""Tokenizers: whitespace (default), chars (one token per character, for Chinese or Japanese text
without spaces), or a Hugging Face tokenizer.json through the optional `tokenizers` package; and a file of
sequences (one per line) as its lines.

Strings and bytes in, values out: the caller reads the files (attncli.io) and hands over their bytes. Errors name
the parameter (`‹tokenizer›`, `‹tokens›`, ...; see attncli/errors.py)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from attncli.errors import AttnError, param

BUILTIN = ("whitespace", "chars")
LINES_COST = 8  # bytes of memory per byte of a file of sequences: its text, lines and tokens
TOKENIZER_COST = 16  # per byte of tokenizer.json: its text and the library's vocabulary and merges


_sink: list = []  # one temporary file that catches the library's writes to descriptor 2, made on first use


@contextlib.contextmanager
def library_call(what: str) -> Iterator[None]:
    """Around a call into the `tokenizers` library: any failure becomes one `‹tokenizer›: {what} (reason)`
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
        raise AttnError(f"{param('tokenizer')}: {what} ({reason})") from None
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
        with library_call(f"'{self.name}' failed on the text; the tokenizer.json is inconsistent"):
            enc = self._hf.encode(text, add_special_tokens=False)
            return list(enc.tokens), list(enc.ids)


def require_tokenizers() -> None:
    """Refuse, naming the package to install, when the optional `tokenizers` package is missing."""
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise AttnError(f"{param('tokenizer')} with a tokenizer.json needs the Hugging Face tokenizers package: "
                        "pip install 'attncli[text]'") from None


def tokenizer_from_json(data: bytes, name: str) -> Tokenizer:
    """The tokenizer a Hugging Face tokenizer.json describes (its bytes; `name`, e.g. its path, says which in
    messages and is the tokenizer's name). Needs the `text` extra.

    The file's own `padding` and `truncation` settings are switched off (sentence-transformers checkpoints ship
    `{"strategy": {"Fixed": 24}}` or `{"max_length": 16}`): transformers' tokenizer call pads and truncates only
    when asked (`padding=`, `truncation=`), so a text gives its own tokens, all of them, and nothing more."""
    require_tokenizers()
    from tokenizers import Tokenizer as HFTokenizer

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttnError(f"{param('tokenizer')}: '{name}' is not UTF-8 text, so not a tokenizer.json") from None
    with library_call(f"cannot read '{name}' as a tokenizer.json"):
        tok = HFTokenizer.from_str(text)
        tok.no_padding()  # as transformers encodes by default (no padding=, no truncation=)
        tok.no_truncation()
        return Tokenizer(name, tok)


def sequence_lines(data: bytes, source: str, name: str) -> list[str]:
    """The sequences of a UTF-8 text (one per line; blank lines and # comments skipped), from `source`, the value
    of parameter `name` (both for messages)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AttnError(f"{param(name)}: '{source}' is not UTF-8 text (line {line}); save it as UTF-8") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise AttnError(f"{param(name)}: '{source}' holds no sequences (one per line)")
    return lines


def parse_ids(lines: list[str], name: str = "ids") -> list[list[int]]:
    """Token ids, one sequence per line, separated by blanks or commas: "5 9 12" -> [5, 9, 12]."""
    seqs = []
    for n, line in enumerate(lines, start=1):
        try:
            seqs.append([int(t) for t in line.replace(",", " ").split()])
        except ValueError:
            raise AttnError(f"{param(name)} line {n}: ids must be integers; got {line!r}") from None
    return seqs


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
