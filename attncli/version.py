"""attncli's version: one module that imports nothing, for `--version`, the meta of written files and the grader's
wheel (`attncli.__version__` re-exports it). pyproject.toml's version must be the same."""

__version__ = "0.1.0"
