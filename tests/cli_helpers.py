"""Running the installed `attncli` console script in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def attncli_command() -> list[str]:
    script = Path(sys.executable).parent / "attncli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "attncli"]


def run(args: list[str], *, stdin: bytes | None = None, cwd: Path | None = None,
        check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(attncli_command() + [str(a) for a in args], input=stdin if stdin is not None else b"",
                          capture_output=True, cwd=cwd, timeout=120, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"attncli {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


def run_error(args: list[str], *, stdin: bytes | None = None, cwd: Path | None = None) -> str:
    """Run a command that must fail as a user error: exit 2, one `error:` line, no traceback."""
    proc = run(args, stdin=stdin, cwd=cwd, check=False)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr: {err}"
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, f"more than one line: {err!r}"
    assert "Traceback" not in err
    return err
