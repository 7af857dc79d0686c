"""Every example a `--help` shows runs as written, and every sample a help text cites exists.

The examples are the lines under "Examples:" in each command's epilog (the commands `attncli --help` lists).
Each line is a shell command (it may pipe into `jq`, or start with `echo ... |`); it runs in a temporary folder
where `samples` links to the repository's samples, as tests/test_readme.py runs the README's commands. A line
ending with `# exit N` must exit N (exit 1: a check that fails; exit 2: one `error:` line); any other, 0.
Option help texts give illustrative fragments ("e.g. --q q.npy"); those that name a path under samples/ must
name one that exists.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = re.compile(r"samples/[\w./*-]*\w")


def _commands() -> dict:
    import typer

    from attncli.cli import load_commands

    group = typer.main.get_command(load_commands())
    found = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        found[name] = command
        for sub, subcommand in getattr(command, "commands", {}).items():  # a group's commands: attncli grader ...
            found[f"{name} {sub}"] = subcommand
    return found


COMMANDS = _commands()


def _examples() -> list[tuple[str, str]]:
    found = []
    for name, command in COMMANDS.items():
        _, _, rest = (command.epilog or "").partition("Examples:")
        found.extend((name, line.strip()) for line in rest.splitlines() if line.strip())
    return found


EXAMPLES = _examples()
def test_every_command_has_examples_that_are_commands():
    named = {name for name, _ in EXAMPLES}
    assert named == set(COMMANDS), f"commands without examples: {sorted(set(COMMANDS) - named)}"
    for name, line in EXAMPLES:
        assert f"attncli {name}" in line, f"{name}'s example does not run {name}: {line}"


@pytest.mark.parametrize(("name", "line"), EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXAMPLES)])
def test_help_example_runs(name: str, line: str, tmp_path: Path):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    m = re.search(r"#\s*exit (\d+)\s*$", line)
    expected = int(m.group(1)) if m else 0
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == expected, f"{line}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    if expected == 2:
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr


def _cited() -> list[tuple[str, str, str]]:
    """(command, where, path) for each samples/ path in a command's help, epilog or option help."""
    out = []
    for name, command in COMMANDS.items():
        texts = [("help", command.help or ""), ("epilog", command.epilog or "")]
        texts += [(f"--{p.name.replace('_', '-')}", getattr(p, "help", None) or "") for p in command.params]
        for where, text in texts:
            out.extend((name, where, path) for path in SAMPLE_PATH.findall(text))
    return out


CITED = _cited()


def test_helps_cite_samples():
    assert len(CITED) >= 10


@pytest.mark.parametrize(("name", "where", "path"), CITED)
def test_cited_sample_exists(name: str, where: str, path: str):
    pattern = path.split(":", 1)[0]  # file.npz:name names an array of the file
    if "*" in pattern:
        assert list(ROOT.glob(pattern)), f"attncli {name} {where} cites {path}, which matches no file"
    else:
        assert (ROOT / pattern).exists(), f"attncli {name} {where} cites {path}, which does not exist"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_runs(name: str):
    proc = subprocess.run([sys.executable, "-m", "attncli", *name.split(), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Examples:" in proc.stdout
