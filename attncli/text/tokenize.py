"""Tokenizers: whitespace (default), chars (one token per character, for Chinese or Japanese text
without spaces), or a Hugging Face tokenizer.json through the optional `tokenizers` package."""

from __future__ import annotations

import os
from dataclasses import dataclass

from attncli.errors import AttnError

BUILTIN = ("whitespace", "chars")


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
        enc = self._hf.encode(text, add_special_tokens=False)
        return list(enc.tokens), list(enc.ids)


def load_tokenizer(spec: str = "whitespace") -> Tokenizer:
    """`whitespace`, `chars`, or the path of a tokenizer.json (needs the `text` extra)."""
    if spec in BUILTIN:
        return Tokenizer(spec)
    if not os.path.isfile(spec):
        raise AttnError(f"--tokenizer takes whitespace, chars, or the path of a tokenizer.json; "
                        f"'{spec}' is neither (no such file)")
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError:
        raise AttnError("--tokenizer with a tokenizer.json needs the Hugging Face tokenizers package: "
                        "pip install 'attncli[text]'") from None
    try:
        return Tokenizer(spec, HFTokenizer.from_file(spec))
    except Exception as err:  # the library raises its own exception types for a bad file
        raise AttnError(f"--tokenizer: cannot read '{spec}' as a tokenizer.json ({str(err).splitlines()[0]})") from None


def read_lines(path: str, option: str) -> list[str]:
    """Non-empty lines of a UTF-8 text file (one sequence per line); '-' is standard input."""
    import sys

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except FileNotFoundError:
        raise AttnError(f"{option}: no such file '{path}'") from None
    except IsADirectoryError:
        raise AttnError(f"{option}: '{path}' is a directory, not a file") from None
    except OSError as err:
        raise AttnError(f"{option}: cannot read '{path}': {err.strerror or err}") from None
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
