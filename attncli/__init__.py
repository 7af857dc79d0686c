"""attncli: a command-line attention calculator.

Library use: `from attncli import attention`; see `attncli.core.attention.attention`.
"""

from attncli.version import __version__

__all__ = ["attention", "AttentionResult", "__version__"]


def __getattr__(name: str):  # lazy, so `attncli --help` does not pay for numpy
    if name in ("attention", "AttentionResult"):
        from attncli import core

        return getattr(core, name)
    raise AttributeError(name)
