"""How much memory a computation may still use: the budget every reader and every big request is checked against.

The budget is the least of what applies to this process:

- **the memory available**: Linux's `MemAvailable` (/proc/meminfo), else the free physical pages
  (`os.sysconf`);
- **the address-space limit** (`ulimit -v`, RLIMIT_AS) minus what the process has mapped already (`VmSize` in
  /proc/self/status), and likewise the data limit (`ulimit -d`, RLIMIT_DATA) minus `VmData`: past them an
  allocation fails however much memory the machine has;
- **the cgroup's limit** (containers, CI runners, Slurm jobs): cgroup v2's `memory.max` minus `memory.current`,
  or v1's `memory.limit_in_bytes` minus `memory.usage_in_bytes`, for the process's own cgroup (from
  /proc/self/cgroup) and each cgroup above it; `max` (or v1's huge number) means no limit. Inactive file pages
  (`memory.stat`), which the kernel drops before it runs out, count as free;
- **`ATTNCLI_MEMORY_LIMIT`** (bytes, or with a K/M/G/T suffix: `512M`, `2G`), the user's own cap. It only
  ever lowers the budget: a cap above what the process may use would turn a clear refusal into a crash.

None of them known (not Linux, no limits): None, and nothing is checked. `memory_budget()` says which one
binds, so a refusal says what to raise; `available_memory()` is just the number. The functions that read
/proc and /sys take their paths, so tests can give them fake files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from attncli.errors import AttnError

ENV = "ATTNCLI_MEMORY_LIMIT"
MAX_SIZE = 1024**5  # 1024 TB: more than any machine has; larger values are typos
NO_LIMIT = 1 << 62  # cgroup v1 writes "no limit" as a huge number (2**63 rounded down to a page)
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4}

MEMINFO = "/proc/meminfo"
STATUS = "/proc/self/status"
CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"

# what binds the budget -> (where the number comes from, in "only 0.2 GB of memory is available{where}"; what
# to do about it, as a try ("try a smaller array, or {this}"), and as a sentence ("; {this}")
BOUNDS = {
    "env": ("", f"setting {ENV} higher if the machine has the memory",
            f"set {ENV} higher if the machine has the memory"),
    "available": ("", "closing other programs to free memory", "close other programs to free memory"),
    "address space": (" under the address-space limit (ulimit -v)", "raising the address-space limit (ulimit -v)",
                      "raise the address-space limit (ulimit -v)"),
    "data": (" under the data-size limit (ulimit -d)", "raising the data-size limit (ulimit -d)",
             "raise the data-size limit (ulimit -d)"),
    "cgroup": (" in this cgroup (memory.max: the container's or job's memory)",
               "giving the container or job more memory", "give the container or job more memory"),
}
RAISE = "<raise the budget>"  # in check_allocation's tries: what raises the limit that binds (BOUNDS)


class Budget(NamedTuple):
    """Bytes a computation may still use (None: unknown, no check) and which limit binds (a key of BOUNDS)."""

    limit: int | None
    bound: str = "available"

    @property
    def where(self) -> str:
        """Where the number comes from, for "only 0.2 GB of memory is available{where}"."""
        return BOUNDS[self.bound][0]

    @property
    def trying(self) -> str:
        """What allows more, as a try: "raising the address-space limit (ulimit -v)"."""
        return BOUNDS[self.bound][1]

    @property
    def remedy(self) -> str:
        """What allows more, as a sentence: "raise the address-space limit (ulimit -v)"."""
        return BOUNDS[self.bound][2]


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


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(1 << 20)
    except (OSError, ValueError):
        return None


def _field_kb(text: str | None, name: str) -> int | None:
    """`name:   1234 kB` of /proc/meminfo or /proc/self/status, in bytes."""
    for line in (text or "").splitlines():
        if line.startswith(name + ":"):
            parts = line.split()
            try:
                return int(parts[1]) * 1024 if parts[2:3] == ["kB"] else int(parts[1])
            except (ValueError, IndexError):
                return None
    return None


def meminfo_available(meminfo: str = MEMINFO) -> int | None:
    """`MemAvailable` of /proc/meminfo in bytes, else the free physical pages, else None."""
    found = _field_kb(_read(meminfo), "MemAvailable")
    if found is not None:
        return found
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def rlimit_left(which: str, status: str = STATUS, *, limit: int | None = None) -> int | None:
    """Bytes the process may still map under RLIMIT_AS (`which="AS"`, less VmSize) or RLIMIT_DATA ("DATA", less
    VmData); None when unlimited or unknown. `limit` stands in for the process's own soft limit (tests)."""
    if limit is None:
        try:
            import resource
        except ImportError:  # not on Unix
            return None
        limit = resource.getrlimit(getattr(resource, f"RLIMIT_{which}"))[0]
        if limit == resource.RLIM_INFINITY:
            return None
    if limit < 0:
        return None
    used = _field_kb(_read(status), "VmSize" if which == "AS" else "VmData") or 0
    return max(limit - used, 0)


def _cgroup_dirs(cgroup: str, root: str) -> list[str]:
    """The memory cgroup directories of this process, its own first, then each one above it up to `root`'s
    mount: v2 (`0::/path` under root, or root/unified in a hybrid layout) and v1 (`N:...memory...:/path` under
    root/memory). A path that is not there (a container that mounts its own cgroup as the root) is the mount."""
    found = []
    for line in (_read(cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            mounts = [root, os.path.join(root, "unified")]
        elif "memory" in controllers.split(","):
            mounts = [os.path.join(root, "memory")]
        else:
            continue
        for mount in map(os.path.normpath, mounts):
            if not os.path.isdir(mount):
                continue
            here = os.path.normpath(os.path.join(mount, path.lstrip("/")))
            if os.path.commonpath([here, mount]) != mount or not os.path.isdir(here):
                here = mount
            found.append(here)
            while here != mount:
                here = os.path.dirname(here)
                found.append(here)
    return found


def _number(text: str | None) -> int | None:
    try:
        return int((text or "").split()[0])
    except (ValueError, IndexError):
        return None


def _inactive_file(stat_text: str | None, key: str) -> int:
    for line in (stat_text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return _number(value) or 0
    return 0


def cgroup_left(cgroup: str = CGROUP, root: str = CGROUP_ROOT) -> int | None:
    """Bytes this process's cgroups still allow (the least over its own and those above it), or None when none
    of them has a memory limit. Usage counts without the inactive file pages the kernel reclaims first."""
    best = None
    for here in _cgroup_dirs(cgroup, root):
        for limit_file, usage_file, inactive in (("memory.max", "memory.current", "inactive_file"),
                                                 ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                  "total_inactive_file")):
            limit = _number(_read(os.path.join(here, limit_file)))
            if limit is None or limit >= NO_LIMIT:  # "max", missing, or v1's huge number
                continue
            usage = _number(_read(os.path.join(here, usage_file))) or 0
            usage -= min(_inactive_file(_read(os.path.join(here, "memory.stat")), inactive), usage)
            left = max(limit - usage, 0)
            best = left if best is None else min(best, left)
    return best


def memory_budget(env: Mapping[str, str] | None = None) -> Budget:
    """The budget (see the module docstring) and which limit binds. `env` defaults to os.environ."""
    own = (os.environ if env is None else env).get(ENV)
    candidates = [("env", parse_size(own, ENV) if own else None), ("available", meminfo_available()),
                  ("address space", rlimit_left("AS")), ("data", rlimit_left("DATA")), ("cgroup", cgroup_left())]
    known = [(value, bound) for bound, value in candidates if value is not None]
    if not known:
        return Budget(None)
    value, bound = min(known, key=lambda vb: vb[0])  # the first listed wins a tie: the user's own cap
    return Budget(value, bound)


def available_memory() -> int | None:
    """Bytes a computation may still use (see the module docstring), or None when unknown."""
    return memory_budget().limit


def check_allocation(need: int, what: str, tries: list[str] | tuple[str, ...] = (), *, option: str | None = None,
                     limit: int | Budget | None = None) -> None:
    """Refuse, before allocating, `need` bytes for `what` when they exceed the memory budget.

    The one line names the option (when given), the estimate, the budget (and the limit that sets it, when that
    is not ATTNCLI_MEMORY_LIMIT or the memory available) and what to try:
    `check_allocation(n * d * 8, f"a {n} × {d} table", ["a shorter --length"], option="--length")`.
    A try that is RAISE says what raises the limit that binds. `limit` (bytes: `available_memory()` read a moment
    before, or a `Budget`) defaults to `memory_budget()`.
    """
    if isinstance(limit, Budget):
        budget = limit
    else:
        if limit is not None and int(need) <= limit:
            return
        budget = memory_budget()
        if limit is not None:  # the budget as the caller read it a moment ago
            budget = Budget(limit, budget.bound)
    if budget.limit is None or int(need) <= budget.limit:
        return
    from attncli.core.validate import gigabytes

    head = f"{option}: " if option else ""
    tries = [budget.trying if t == RAISE else t for t in tries]
    hint = f"; try {', or '.join(tries)}" if tries else f"; {budget.remedy}"
    raise AttnError(f"{head}{what} would need about {gigabytes(int(need))} but only {gigabytes(budget.limit)} of "
                    f"memory is available{budget.where}{hint}")
