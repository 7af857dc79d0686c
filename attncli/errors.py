"""The one exception type for user mistakes.

Anything the user can fix (a missing file, a wrong shape, a nonsense option) raises `AttnError`
with a message that names the option, the shapes involved and what to try. The CLI turns it into
one line, `error: <message>`, and exit status 2.
"""


class AttnError(Exception):
    """A user mistake. `str(err)` is the one-line message shown after `error: `."""
