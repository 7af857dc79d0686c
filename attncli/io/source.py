"""What is being read, named in messages: `Src` (the option and a label for the thing read) and the helpers
that keep an echoed name or value on one short line.

Numpy-free and importing nothing else of io, so every reader and `io.files` (imported at start-up) can use
it without closing an import circle.
"""

from __future__ import annotations

from attncli.errors import AttnError
from attncli.record import Frozen

MAX_LISTED = 20  # names shown in an error before "... and N more"


class Src(Frozen):
    """The option being read and a label for the thing read (a file name, "standard input")."""

    option: str
    label: str
    _fields = ("option", "label")

    def __init__(self, option: str, label: str) -> None:
        self._set(option=option, label=label)

    def error(self, message: str) -> AttnError:
        """An `AttnError` whose one line starts with the option name."""
        return AttnError(f"{self.option}: {one_line(message)}")


def reason(err: OSError) -> str:
    """The human part of an OSError ("Permission denied"), without errno noise."""
    return err.strerror or str(err) or type(err).__name__


def one_line(text: str) -> str:
    """Collapse newlines so a message stays on one line."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def cut(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters with "..." (for shapes and values echoed in a message)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(value: str, limit: int = 60) -> str:
    """A value echoed in a message: quoted, control characters escaped, cut to `limit` characters."""
    shown = repr(value) if not value.isprintable() else f"'{value}'"
    if len(shown) > limit:
        shown = shown[: limit - 5] + "...' (" + f"{len(value):,} characters)"
    return shown


def show_name(name: str) -> str:
    """A name as it appears in a message: quoted with repr only if it has odd characters."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def list_names(names: list[str]) -> str:
    """`a, b, c` with at most MAX_LISTED names, then `... and N more`."""
    shown = ", ".join(show_name(n) for n in names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        shown += f", ... and {len(names) - MAX_LISTED} more"
    return shown


def did_you_mean(name: str, names: list[str]) -> str:
    """`; did you mean 'x'?` when a close name exists, else an empty string."""
    import difflib  # only when a name is missing

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
