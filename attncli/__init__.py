"""attncli: a command-line attention calculator, and a small library under it.

Library use: `from attncli import attend, project, attention, Spec, Plan` (see attncli/core/__init__.py and the
README's Library section).
"""

from attncli.version import __version__

PUBLIC = ("attend", "project", "attention", "AttentionResult", "Spec", "Plan", "Rope", "Graph", "Window2d")
__all__ = [*PUBLIC, "__version__"]


def __getattr__(name: str):  # lazy, so `attncli --help` does not pay for numpy
    if name in PUBLIC:
        from attncli import core

        return getattr(core, name)
    raise AttributeError(name)
