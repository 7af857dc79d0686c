"""Every `attncli` command the README shows runs as written (sqlite-utils' habit: docs that are tested).

Commands come from ```sh blocks and from `inline code` in tables; a block's command may start with environment
settings (`ATTNCLI_MEMORY_LIMIT=16M attncli ...`). A command whose line ends with `# exit N` must exit N (exit 2
with one `error:` line); every other must exit 0.

Outputs the README shows are the real ones: a block indented by 4 spaces right after a ```sh block is the output
of that block's last command (an attncli command, or `cat FILE` of a file the block's commands wrote). The
block's commands run in order, and each shown line (except a line `...`, which stands for lines left out) must
appear in what the last one prints, in the same order: blanks are normalised and numbers compared as numbers, to
the precision shown (`0.00484` is anything that rounds to it).

Commands run as a user's shell runs them, without `pipefail`: the status of a pipeline is its last command's, so a
README line that means attncli's status in a pipeline says `${PIPESTATUS[0]}`. An error message quoted in prose
(`error: ...` in backticks, `...` standing for words left out) must be what one of the README's `# exit 2`
commands prints. The README, samples/README.md and docs/*.md are read alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "samples" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)


def readme_commands() -> list[str]:
    cmds: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("pip install . && "):
                line = line[len("pip install . && "):]
            if re.match(r"(?:[A-Z_]+=\S+ )*attncli ", line):
                cmds.append(line)
    in_blocks = {re.sub(r"\s*#\s*exit \d+\s*$", "", c) for c in cmds}
    for cell in re.findall(r"`(attncli [^`]+)`", README):
        placeholder = any(t in cell for t in ("...", "SOURCE", "FILE", "COMMAND", "[mask options]", "[--", "|rope|"))
        if not placeholder and " -" in cell and cell not in in_blocks:
            cmds.append(cell.replace("\\|", "|"))
    return cmds


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) >= 20


def run_shown(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README command in `cwd` (where `samples` links to the samples) and check its exit status."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    m = re.search(r"#\s*exit (\d+)\s*$", cmd)
    expected = int(m.group(1)) if m else 0
    line = cmd[: m.start()].rstrip() if m else cmd
    proc = subprocess.run(["bash", "-c", line], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == expected, f"{cmd}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    if expected == 2:
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc


def link_inputs(cwd: Path) -> None:
    """What a README command may read, as a clone of the repository has it: samples/, and the golden checkpoints
    of tests/golden (tiny random models of every family, which the README's family table runs)."""
    (cwd / "samples").symlink_to(ROOT / "samples")
    (cwd / "tests").mkdir()
    (cwd / "tests" / "golden").symlink_to(ROOT / "tests" / "golden")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_readme_command_runs(cmd: str, tmp_path: Path):
    link_inputs(tmp_path)
    run_shown(cmd, tmp_path)


# ---------------------------------------------------------------- shown outputs

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def shown_outputs() -> list[tuple[list[str], list[str]]]:
    """(the commands of a ```sh block, the lines of the 4-space indented block right after it)."""
    found = []
    lines = README.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        cmds = [c.strip() for c in lines[i + 1:end] if re.match(r"(?:[A-Z_]+=\S+ )*attncli |cat [\w./-]+$", c.strip())]
        k = end + 1
        while k < len(lines) and not lines[k].strip():
            k += 1
        shown = []
        while k < len(lines) and (lines[k].startswith("    ") or not lines[k].strip()):
            shown.append(lines[k][4:])
            k += 1
        shown = [s for s in shown if s.strip()]
        if shown and cmds:
            found.append((cmds, shown))
        i = end + 1
    return found


SHOWN = shown_outputs()


def line_pattern(shown: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex finding `shown` in an output line (blanks normalised, each number a group) and its numbers."""
    parts, numbers, at = [], [], 0
    for m in NUMBER.finditer(shown):
        parts.append(_text(shown[at:m.start()]))
        parts.append(r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])")
        numbers.append(m.group())
        at = m.end()
    parts.append(_text(shown[at:]))
    return re.compile("".join(parts).strip()), numbers


def _text(text: str) -> str:
    if "..." in text:  # words left out (in a quoted message)
        return ".*?".join(_text(part) for part in text.split("..."))
    return r"\s+".join(re.escape(word) for word in text.split(" ")) if text.strip() else (r"\s*" if text else "")


def same_number(shown: str, actual: str) -> bool:
    """`actual` rounds to `shown` at the precision `shown` is written with (0.00484: ±0.000005)."""
    tolerance = Decimal(5).scaleb(Decimal(shown).as_tuple().exponent - 1)  # half a unit in the last place
    return abs(Decimal(actual) - Decimal(shown)) <= tolerance * (1 + Decimal("1e-9"))


def find_in_order(shown: list[str], output: str) -> str | None:
    """None if every shown line (but `...`) matches an output line after the previous match; else what is missing."""
    out = [" ".join(line.split()) for line in output.splitlines()]
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        pattern, numbers = line_pattern(" ".join(line.split()))
        for i in range(at, len(out)):
            m = pattern.search(out[i])
            if m and all(same_number(n, got) for n, got in zip(numbers, m.groups(), strict=True)):
                at = i + 1
                break
        else:
            return line
    return None


def test_readme_shows_outputs():
    assert SHOWN, "the README shows no outputs (an indented block right after a ```sh block)"


@pytest.mark.parametrize(("cmds", "shown"), SHOWN, ids=[c[-1][:60] for c, _ in SHOWN])
def test_readme_shown_output_is_real(cmds: list[str], shown: list[str], tmp_path: Path):
    link_inputs(tmp_path)
    for cmd in cmds[:-1]:
        run_shown(cmd, tmp_path)
    proc = run_shown(cmds[-1], tmp_path)
    output = proc.stdout + "\n" + proc.stderr
    missing = find_in_order(shown, output)
    assert missing is None, (f"{cmds[-1]}\nthe README shows\n    {missing}\nwhich is not in the output:\n"
                             f"{output[-3000:]}")


@pytest.mark.parametrize(("shown", "output", "found"), [
    (["max |error| 0.00484, within ±0.005"], "x max |error| 0.0048372, within ±0.005 y", True),
    (["max |error| 0.00484"], "max |error| 0.00491", False),
    (["15 of 16 cells"], "15  of 16   cells", True),
    (["15 of 16 cells"], "14 of 16 cells", False),
    (["a 1.5", "...", "b 2"], "a 1.5\nc\nb 2.04", True),
    (["b 2", "a 1.5"], "a 1.5\nb 2", False),  # order matters
    (["0.1771"], "10.1771", False),  # a number is never part of a longer one
    (["1e-05"], "1.2e-05", True),
    (["4×4 array"], "4×4 array", True),
])
def test_find_in_order(shown: list[str], output: str, found: bool):
    assert (find_in_order(shown, output) is None) is found


# ---------------------------------------------------------------- messages quoted in prose

TEMPLATES = {"error: ...", "error: internal error (...)"}  # the form of every message, not a message


def quoted_errors() -> list[str]:
    found = []
    for m in re.finditer(r"`(error: [^`]+)`", README):
        quote = " ".join(m.group(1).split())
        if quote not in TEMPLATES and quote not in found:
            found.append(quote)
    return found


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> str:
    """What every `# exit 2` command of the README prints on stderr, one line each."""
    cwd = tmp_path_factory.mktemp("refusals")
    link_inputs(cwd)
    lines = []
    for cmd in COMMANDS:
        if re.search(r"#\s*exit 2\s*$", cmd):
            lines.append(run_shown(cmd, cwd).stderr.strip())
    return "\n".join(lines)


def test_the_readme_quotes_errors():
    assert len(quoted_errors()) >= 4


@pytest.mark.parametrize("quote", quoted_errors(), ids=lambda q: q[:60])
def test_an_error_quoted_in_prose_is_what_a_command_prints(quote: str, refusals: str):
    assert find_in_order([quote], refusals) is None, (
        f"the README quotes\n    {quote}\nbut no `# exit 2` command of the README prints it; they print:\n"
        f"{refusals[-3000:]}")


@pytest.mark.parametrize(("shown", "output", "found"), [
    (["error: the maps would need about 0.034 GB (...) but only"], "error: the maps would need about 0.034 GB "
     "(batch 1) but only 0.016 GB", True),
    (["error: the maps would need about 0.067 GB (...) but"], "error: the maps would need about 0.034 GB (b) but",
     False),
    (["error: ... refusing to overwrite"], "error: -o: x.npy: refusing to overwrite the input", True),
])
def test_left_out_words(shown: list[str], output: str, found: bool):
    assert (find_in_order(shown, output) is None) is found


# ---------------------------------------------------------------- links

def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, blanks as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_lead_somewhere(doc: Path):
    """Every link to a file of the repository names one that exists, and every #anchor a heading there."""
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        where = (doc.parent / path).resolve() if path else doc
        assert where.exists(), f"{doc.name} links to {target}, which does not exist"
        if anchor and where.suffix == ".md":
            headings = {_anchor(h) for h in re.findall(r"^#+ (.*)$", where.read_text(encoding="utf-8"), re.M)}
            assert anchor in headings, f"{doc.name} links to {target}: no such heading in {where.name}"



LIBRARY = re.search(r"\n## Library\n(.*?)\n## ", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", LIBRARY.group(1) if LIBRARY else "", flags=re.S)
SHAPE_SHOWN = re.compile(r"^(\S.*?)\s+#\s+(\([\d, ]*\))")  # `res.weights.shape   # (2, 8, 5, 5): ...`


def test_readme_library_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 4


@pytest.mark.parametrize("code", [pytest.param(c, id=f"block{i}") for i, c in enumerate(PYTHON_BLOCKS)])
def test_readme_library_python_runs(code: str, tmp_path: Path):
    """Every ```python block of the README's Library section runs as written (a fresh interpreter, an empty folder);
    a line `expression   # (shape)` must give that tuple, and `print(...)   # text` must print that text."""
    lines = []
    for line in code.splitlines():
        shape = SHAPE_SHOWN.match(line)
        lines.append(f"assert tuple({shape.group(1)}) == {shape.group(2)}, {shape.group(1)!r}" if shape else line)
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in code.splitlines():
        shown = re.match(r"\s*print\((.*)\)\s+#\s+(.*)$", line)
        if shown:
            assert shown.group(2).strip() in proc.stdout, (line, proc.stdout)
