"""attncli: a command-line attention calculator.

Library use: `from attncli import attention`; see `attncli.core.attention.attention`.
"""

__version__ = "0.1.0"

__all__ = ["attend", "attention", "AttentionResult", "Spec", "Plan", "Rope", "Graph", "Window2d", "__version__"]


def __getattr__(name: str):  # lazy, so `attncli --help` does not pay for numpy
    if name in ("attention", "AttentionResult"):
        from attncli import core

        return getattr(core, name)
    if name == "attend":
        from attncli.core.attend import attend

        return attend
    if name in ("Spec", "Plan", "Rope", "Graph", "Window2d"):
        from attncli.core import spec

        return getattr(spec, name)
    raise AttributeError(name)
