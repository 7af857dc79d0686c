"""attncli's own wheel, made from the installed package: no build tool, no network, the same bytes every time.

A wheel (the binary distribution format, PEP 427; packaging.python.org's "Binary distribution format") is a zip
holding the package's files as they are installed and a `{name}-{version}.dist-info` folder:
    METADATA          name, version, Requires-Python, Requires-Dist (extras included), ... of the installed
                      distribution (importlib.metadata), as Metadata-Version 2.1
    WHEEL             Wheel-Version 1.0, Generator, Root-Is-Purelib true, Tag py3-none-any
    entry_points.txt  the installed entry points (console_scripts: attncli = attncli.cli:main)
    RECORD            every file's path, sha256 (urlsafe base64, no padding) and size; RECORD itself with
                      neither
The package's files are read from where `attncli` was imported (an editable install's source tree or
site-packages), without __pycache__, compiled files or hidden files; the dist-info comes last, as the format
recommends.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from pathlib import Path

from attncli.errors import AttnError
from attncli.io.bundle import FILE, Entry, zip_bytes

DISTRIBUTION = "attncli"
PACKAGE = "attncli"
TAG = "py3-none-any"
# the METADATA fields carried over (all of them defined by Metadata-Version 2.1), in the order they are written
FIELDS = ("Summary", "Home-page", "Author", "Author-email", "Maintainer", "Maintainer-email", "License", "Keywords",
          "Classifier", "Project-URL", "Requires-Python", "Requires-External", "Provides-Extra", "Requires-Dist",
          "Description-Content-Type")


class Wheel:
    """A built wheel: its file name (attncli-0.1.0-py3-none-any.whl) and its bytes."""

    def __init__(self, name: str, data: bytes, version: str) -> None:
        self.name, self.data, self.version = name, data, version


def build_wheel() -> Wheel:
    """The wheel of the attncli that is running, from its files and its installed metadata."""
    import attncli
    from attncli.version import __version__

    dist = _distribution()
    version = dist.version
    if version != __version__:
        raise AttnError(f"the installed attncli distribution is version {version} but the running code is "
                        f"{__version__} ({Path(attncli.__file__).parent}); reinstall it (pip install .) "
                        "before building a grader")
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    info = f"{name}-{version.replace('-', '_')}.dist-info"
    files = package_files(Path(attncli.__file__).resolve().parent)
    meta = [(f"{info}/METADATA", metadata_text(dist).encode("utf-8")),
            (f"{info}/WHEEL", wheel_text(version).encode("utf-8")),
            (f"{info}/entry_points.txt", entry_points_text(dist).encode("utf-8"))]
    entries: list[Entry] = [(path, data, FILE) for path, data in files + meta]
    entries.append((f"{info}/RECORD", record_text(entries, f"{info}/RECORD").encode("utf-8"), FILE))
    return Wheel(f"{name}-{version.replace('-', '_')}-{TAG}.whl", zip_bytes(entries), version)


def _distribution():
    from importlib import metadata

    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise AttnError("attncli is not installed as a distribution (no attncli .dist-info on the path), so its "
                        "wheel cannot be made; install it with pip install . (or pip install -e .)") from None


def package_files(root: Path) -> list[tuple[str, bytes]]:
    """(path in the wheel, bytes) of every file of the package folder `root`, sorted by path."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root.parent)
        if (any(part == "__pycache__" or part.startswith(".") for part in rel.parts)
                or path.suffix in (".pyc", ".pyo") or not path.is_file()):
            continue
        found.append((rel.as_posix(), path.read_bytes()))
    if not any(p == f"{PACKAGE}/__init__.py" for p, _ in found):
        raise AttnError(f"the attncli package folder {root} holds no __init__.py; reinstall attncli")
    return found


def metadata_text(dist) -> str:
    """METADATA: the installed distribution's name, version and FIELDS, then its description."""
    md = dist.metadata
    lines = ["Metadata-Version: 2.1", f"Name: {md['Name']}", f"Version: {dist.version}"]
    for field in FIELDS:
        lines += [f"{field}: {' '.join(str(v).splitlines())}" for v in md.get_all(field) or []]
    description = md.get("Description") or ""
    return "\n".join(lines) + "\n\n" + (description if description.endswith("\n") or not description
                                          else description + "\n")


def wheel_text(version: str) -> str:
    return f"Wheel-Version: 1.0\nGenerator: attncli ({version})\nRoot-Is-Purelib: true\nTag: {TAG}\n"


def entry_points_text(dist) -> str:
    """entry_points.txt in its INI form, from the installed entry points; the console script must be there."""
    groups: dict[str, list[str]] = {}
    for ep in dist.entry_points:
        groups.setdefault(ep.group, []).append(f"{ep.name} = {ep.value}")
    if "attncli" not in {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}:
        raise AttnError("the installed attncli has no console script 'attncli' in its entry points; reinstall it "
                        "(pip install .)")
    return "".join(f"[{group}]\n" + "".join(f"{line}\n" for line in lines) + "\n"
                   for group, lines in sorted(groups.items()))


def record_text(entries: list[Entry], record: str) -> str:
    """RECORD: path, sha256=<urlsafe base64 without padding>, size, for each entry; RECORD itself last, empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for path, data, _ in entries:
        w.writerow([path, f"sha256={record_hash(data)}", len(data)])
    w.writerow([record, "", ""])
    return buf.getvalue()


def record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
