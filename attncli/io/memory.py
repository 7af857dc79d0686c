"""How much memory a computation may use: what the machine has free, or what the user allows.

`ATTNCLI_MEMORY_LIMIT` (bytes, or with a K/M/G suffix: `512M`, `2G`) wins; otherwise Linux's
`MemAvailable` from /proc/meminfo; otherwise the free physical pages from `os.sysconf`; otherwise
None (unknown: no check). The check itself is `attncli.core.validate.check_dense_memory`.
"""

from __future__ import annotations

import os

from attncli.errors import AttnError

ENV = "ATTNCLI_MEMORY_LIMIT"
MAX_SIZE = 1024**5  # 1024 TB: more than any machine has; larger values are typos
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4}


def parse_size(text: str, option: str = ENV) -> int:
    """'4000000', '512K', '1.5G', '2GB' -> bytes (powers of 1024)."""
    raw = text.strip().upper()
    number = raw.rstrip("KMGTB")
    unit = raw[len(number):]
    try:
        value = float(number) * _UNITS.get(unit, 0)
    except (ValueError, OverflowError):
        value = -1.0
    if unit not in _UNITS or not 0 <= value <= MAX_SIZE:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise AttnError(f"{option} takes a size in bytes up to 1024T, optionally with a K, M, G or T suffix "
                        f"(e.g. 512M, 2G); got {shown!r}")
    return int(value)


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


def check_allocation(need: int, what: str, tries: list[str] | tuple[str, ...] = (), *, option: str | None = None,
                     limit: int | None = None) -> None:
    """Refuse, before allocating, `need` bytes for `what` when they exceed the memory available.

    The one line names the option (when given), the estimate, the limit and what to try:
    `check_allocation(n * d * 8, f"a {n} × {d} table", ["a shorter --length"], option="--length")`.
    `limit` defaults to `available_memory()` (ATTNCLI_MEMORY_LIMIT, else what the machine has free).
    """
    limit = available_memory() if limit is None else limit
    if limit is None or int(need) <= limit:
        return
    from attncli.core.validate import gigabytes

    head = f"{option}: " if option else ""
    hint = f"; try {', or '.join(tries)}" if tries else f"; set {ENV} higher if the machine has the memory"
    raise AttnError(f"{head}{what} would need about {gigabytes(int(need))} but only {gigabytes(limit)} of memory "
                    f"is available{hint}")
