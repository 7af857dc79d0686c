"""Every `attncli` command the README shows runs as written (sqlite-utils' habit: docs that are tested).

Commands come from ```sh blocks and from `inline code` in tables; a block's command may start with environment
settings (`ATTNCLI_MEMORY_LIMIT=16M attncli ...`). A command whose line ends with `# exit N` must exit N (exit 2
with one `error:` line); every other must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "samples" / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    cmds: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("pip install . && "):
                line = line[len("pip install . && "):]
            if re.match(r"(?:[A-Z_]+=\S+ )*attncli ", line):
                cmds.append(line)
    for cell in re.findall(r"`(attncli [^`]+)`", README):
        placeholder = any(t in cell for t in ("...", "SOURCE", "FILE", "[mask options]", "[--", "|rope|"))
        if not placeholder and " -" in cell and cell not in cmds:
            cmds.append(cell.replace("\\|", "|"))
    return cmds


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("cmd", COMMANDS)
def test_readme_command_runs(cmd: str, tmp_path: Path):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    m = re.search(r"#\s*exit (\d+)\s*$", cmd)
    expected = int(m.group(1)) if m else 0
    line = cmd[: m.start()].rstrip() if m else cmd
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == expected, f"{cmd}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    if expected == 2:
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
