"""SHA256SUMS for a folder of golden files: what the generator wrote, so a file changed by hand (or by a tool that
rewrites archives) is told apart from one the generator made.

`write_sums(folder)` lists every file of `folder` but the scripts (*.py) and SHA256SUMS itself, in sha256sum's
format (`<hex digest>  <name>`, sorted by name): `cd folder && sha256sum -c SHA256SUMS` checks them. The
generators (tests/golden/generate.py, catalogue/generate.py, long/generate.py) call it after writing, so a
regenerated file updates its sum; tests/test_golden_sums.py checks the folders against their lists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SUMS = "SHA256SUMS"


def golden_files(folder: Path) -> list[Path]:
    """The files of `folder` that a SHA256SUMS lists: all but the scripts and the list (subfolders not)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".py" and p.name != SUMS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sums(folder: Path) -> Path:
    """Write folder/SHA256SUMS for the golden files in it now; returns its path."""
    out = folder / SUMS
    out.write_text("".join(f"{sha256(p)}  {p.name}\n" for p in golden_files(folder)))
    return out


if __name__ == "__main__":  # python tests/golden/sums.py FOLDER...: write the lists for files already there
    import sys

    for name in sys.argv[1:]:
        print(write_sums(Path(name)))
