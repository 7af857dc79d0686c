"""How much memory a computation may use: what the machine has free, or what the user allows.

`ATTNCLI_MEMORY_LIMIT` (bytes, or with a K/M/G suffix: `512M`, `2G`) wins; otherwise Linux's
`MemAvailable` from /proc/meminfo; otherwise the free physical pages from `os.sysconf`; otherwise
None (unknown: no check). The check itself is `attncli.core.validate.check_dense_memory`.
"""

from __future__ import annotations

import os

from attncli.errors import AttnError

ENV = "ATTNCLI_MEMORY_LIMIT"
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4}


def parse_size(text: str, option: str = ENV) -> int:
    """'4000000', '512K', '1.5G', '2GB' -> bytes (powers of 1024)."""
    raw = text.strip().upper()
    number = raw.rstrip("KMGTB")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or not 0 <= value < float("inf"):
        raise AttnError(f"{option} takes a size in bytes, optionally with a K, M or G suffix (e.g. 512M, 2G); "
                        f"got {text!r}")
    return int(value * _UNITS[unit])


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    parts = line.split()
                    return int(parts[1]) * 1024 if parts[2:3] == ["kB"] else int(parts[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> int | None:
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def available_memory() -> int | None:
    """Bytes a computation may use (see the module docstring), or None when unknown."""
    limit = os.environ.get(ENV)
    if limit:
        return parse_size(limit, ENV)
    return _meminfo_available() or _sysconf_available()
