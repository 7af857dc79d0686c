"""The tests that need pdflatex or chromium cannot pass in CI by skipping (tests/external_tools.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from external_tools import require

ROOT = Path(__file__).parent.parent
MISSING = "attncli-test-no-such-program"


def test_a_missing_program_skips_saying_which_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTNCLI_CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} is not installed"):
        require(MISSING)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.skip.Exception, match=r"pdflatex is not installed \(Debian's texlive-latex-base\)"):
        require("pdflatex")


def test_under_ci_a_missing_program_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTNCLI_CI", "1")
    monkeypatch.setenv("PATH", "/nonexistent")
    for program in ("pdflatex", "chromium"):
        with pytest.raises(pytest.fail.Exception, match=f"{program} is not installed.*ATTNCLI_CI=1"):
            require(program)


def test_ci_installs_the_programs_and_says_it_is_ci() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "export ATTNCLI_CI=1" in script
    assert "apt-get install" in script and "texlive-latex-base" in script and "chromium" in script


def test_every_use_of_the_programs_goes_through_require() -> None:
    """No test looks for pdflatex or chromium another way (a `shutil.which` and an `if`: a silent pass) or runs
    them by name (not knowing whether they are there)."""
    other_way = re.compile(r"""which\(\s*["'](pdflatex|chromium)["']|\[\s*["'](pdflatex|chromium)["']\s*,""")
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        found = other_way.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found.group(0)}: use external_tools.require"
