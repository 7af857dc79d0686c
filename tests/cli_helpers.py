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


def interrupt(args: list, ready, *, delay: float = 0.0, env: dict | None = None) -> bytes | None:
    """Run attncli as a terminal would (default SIGINT), press Ctrl-C once `ready(pid)` holds (and `delay`
    seconds more), and check it exits 130 with the one line "interrupted". Returns None if it finished first."""
    import signal
    import time

    proc = subprocess.Popen(attncli_command() + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not ready(proc.pid):
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        return None
    assert proc.returncode == 130, err
    assert err.decode() == "interrupted\n"
    return err


def run_capped(args: list, *, limit_mb: int, env: dict | None = None, stdin=None, timeout: float = 120,
               **kw) -> subprocess.CompletedProcess:
    """Run attncli with its address space capped at `limit_mb` MiB (RLIMIT_AS in the child): a reader or
    generator that allocated past the cap would die with MemoryError (exit 2 "out of memory") or be killed,
    so a test can assert that a refusal came from the estimate, before any allocation. `env` adds to
    os.environ (e.g. {"ATTNCLI_MEMORY_LIMIT": "64M"}). A bare attncli run fits in 150 MiB of address space.
    `stdin` may be bytes or an open file."""
    import os
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))

    full_env = {**os.environ, **(env or {})}
    feed = {"input": stdin if stdin is not None else b""} if not hasattr(stdin, "fileno") else {"stdin": stdin}
    return subprocess.run(attncli_command() + [str(a) for a in args], capture_output=True, env=full_env,
                          preexec_fn=cap, timeout=timeout, **feed, **kw)
