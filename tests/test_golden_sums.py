"""The golden files of the core, the catalogue and long sequences are the ones their generators wrote.

Each folder has a SHA256SUMS (sha256sum's format) written by its generator through tests/golden/sums.py, as
tests/golden/models has (tests/test_models_golden.py). A file edited by hand, a file nobody listed and a listed
file that is gone each fail here, naming the file. The sums are recomputed here with hashlib, not with sums.py.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
FOLDERS = {"core": GOLDEN, "catalogue": GOLDEN / "catalogue", "long": GOLDEN / "long"}
GENERATORS = {"core": GOLDEN / "generate.py", "catalogue": GOLDEN / "catalogue" / "generate.py",
              "long": GOLDEN / "long" / "generate.py"}


def problems(folder: Path) -> list[str]:
    """What is wrong with `folder` against its SHA256SUMS: changed, not listed, missing (empty: nothing)."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return [f"{folder}: no SHA256SUMS"]
    listed: dict[str, str] = {}
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        assert sep and len(digest) == 64 and name and "/" not in name, f"{sums}:{number}: not `<sha256>  <name>`"
        listed[name] = digest
    present = {p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".py" and p.name != "SHA256SUMS"}
    found = [f"{name}: not listed in SHA256SUMS" for name in sorted(present - listed.keys())]
    found += [f"{name}: listed in SHA256SUMS but missing" for name in sorted(listed.keys() - present)]
    found += [f"{name}: differs from its SHA256SUMS line (changed since the generator wrote it)"
              for name in sorted(present & listed.keys())
              if hashlib.sha256((folder / name).read_bytes()).hexdigest() != listed[name]]
    return found


@pytest.mark.parametrize("which", FOLDERS)
def test_golden_files_match_their_sums(which: str) -> None:
    folder = FOLDERS[which]
    data = [p for p in folder.iterdir() if p.suffix in (".npz", ".safetensors")]
    assert len(data) >= 8, f"{folder} holds {len(data)} golden files: run its generate.py (needs torch==2.13.0)"
    assert problems(folder) == []


@pytest.mark.parametrize("which", FOLDERS)
def test_the_generator_writes_the_sums(which: str) -> None:
    """Each generator calls write_sums(HERE) in main(), after writing its files."""
    tree = ast.parse(GENERATORS[which].read_text(encoding="utf-8"))
    main = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "main")
    at = [i for i, s in enumerate(main.body) if ast.unparse(s) == "write_sums(HERE)"]
    assert len(at) == 1, "main() must call write_sums(HERE) once, as a statement of its own"
    after = {getattr(c.func, "id", getattr(c.func, "attr", "")) for s in main.body[at[0] + 1:] for c in ast.walk(s)
             if isinstance(c, ast.Call)}
    assert after <= {"print", "sum", "stat", "len"}, f"files written after the sums? {after}"


def test_a_changed_unlisted_or_missing_file_is_named(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(GOLDEN))
    try:
        from sums import write_sums
    finally:
        sys.path.remove(str(GOLDEN))
    (tmp_path / "a.npz").write_bytes(b"a")
    (tmp_path / "b.safetensors").write_bytes(b"b")
    (tmp_path / "generate.py").write_text("# not a golden file\n")
    write_sums(tmp_path)
    assert (tmp_path / "SHA256SUMS").read_text() == (
        f"{hashlib.sha256(b'a').hexdigest()}  a.npz\n{hashlib.sha256(b'b').hexdigest()}  b.safetensors\n")
    assert problems(tmp_path) == []
    (tmp_path / "a.npz").write_bytes(b"A")
    (tmp_path / "c.npz").write_bytes(b"c")
    (tmp_path / "b.safetensors").unlink()
    assert problems(tmp_path) == ["c.npz: not listed in SHA256SUMS", "b.safetensors: listed in SHA256SUMS but missing",
                                  "a.npz: differs from its SHA256SUMS line (changed since the generator wrote it)"]
    write_sums(tmp_path)  # what a generator does after writing: the list follows the files
    assert problems(tmp_path) == []
