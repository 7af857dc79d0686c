"""The one exception type for user mistakes.

Anything the user can fix (a missing file, a wrong shape, a nonsense value) raises `AttnError` with a message
that names what was wrong, the shapes involved and what to try. The CLI turns it into one line,
`error: <message>`, and exit status 2.

The library (core/, models/, text/) does not know the command line: its messages name the *parameter* the caller
passed, written `‹name›` (or `‹name=value›` for a setting to try), e.g. ``AttnError(f"{param('wq')} must be
d_model × d_k")``. `str(err)` shows it as a library caller knows it (``wq must be ...``, ``empty_rows=nan``);
the CLI shows the same message with its options (``--wq must be ...``, ``--empty-rows nan``), from one table
(`attncli/cli/params.py`). A name the table does not have keeps its library form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PARAM = re.compile(r"‹([A-Za-z_][\w.]*)(?:=([^›]*))?›")


def param(name: str, value: object = None) -> str:
    """`name` (a parameter, or `spec.field`) as it goes into a message: ‹name›, or ‹name=value›."""
    return f"‹{name}›" if value is None else f"‹{name}={value}›"


class AttnError(Exception):
    """A user mistake. `str(err)` is the one-line message with parameters by name; `err.text(options)` the same
    message with each parameter the `options` table knows written as its option (what the CLI shows)."""

    def __str__(self) -> str:
        return self.text()

    def text(self, options: Mapping[str, str] | None = None) -> str:
        message = str(self.args[0]) if self.args else ""

        def name(m: re.Match[str]) -> str:
            key, value = m.group(1), m.group(2)
            option = None if options is None else options.get(key)
            if option is None:
                return key if value is None else f"{key}={value}"
            return option if value is None else f"{option} {value}"

        return _PARAM.sub(name, message)
