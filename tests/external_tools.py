"""Programs some tests need that pip does not install: pdflatex (Debian's texlive-latex-base) and chromium.

`require(program)` gives the program's path. Without it a test says it skipped, naming the package; but under
ATTNCLI_CI=1 (.ci/run exports it, after installing both) a missing program is a failure: CI cannot pass by
skipping the tests that compile LaTeX or load a page in a browser.
"""

from __future__ import annotations

import os
import shutil

import pytest

PACKAGES = {"pdflatex": "texlive-latex-base", "chromium": "chromium"}


def in_ci() -> bool:
    return os.environ.get("ATTNCLI_CI") == "1"


def require(program: str) -> str:
    """The path of `program`; else skip (fail under ATTNCLI_CI=1) saying which package provides it."""
    path = shutil.which(program)
    if path is not None:
        return path
    why = f"{program} is not installed (Debian's {PACKAGES.get(program, program)})"
    if in_ci():
        pytest.fail(f"{why}, and ATTNCLI_CI=1 says this run must not skip it (.ci/run installs it as root)")
    pytest.skip(why)
