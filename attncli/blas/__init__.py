"""Which BLAS kernels attncli's matrix products run on, chosen from the CPU before numpy loads.

numpy's wheels bundle OpenBLAS built for many CPUs (DYNAMIC_ARCH). When the library loads it picks one set of
kernels, a *core type*, from the CPU's vendor, family and model; `OPENBLAS_CORETYPE=NAME` set before then makes
it use NAME's kernels instead (it does not check that the CPU has NAME's instructions). attncli overrides the pick
only where `tests/bench_blas.py` measured another core type faster in attncli's shapes (RULES below):

    AMD family 25 (Zen 3/Zen 4) with AVX-512, that is Zen 4:  Haswell's AVX2 kernels, not SkylakeX's AVX-512 ones

and leaves OpenBLAS's choice on every other CPU. The user's setting always wins:

    OPENBLAS_CORETYPE=NAME       OpenBLAS's own variable: attncli leaves it as it is
    ATTNCLI_BLAS_CORETYPE=off    OpenBLAS's own choice on every CPU
    ATTNCLI_BLAS_CORETYPE=NAME   NAME's kernels (e.g. Haswell), when the CPU has NAME's instructions (else an error)

`apply()` runs where the CLI starts (attncli.startup), before numpy is imported: this module imports no numpy and
reads only the first processor's block of /proc/cpuinfo (Linux; elsewhere attncli chooses nothing). A program
using attncli as a library calls `attncli.blas.apply()` before its first `import numpy` for the same kernels
(or `apply(env)` on a child process's environment). `describe()` asks the loaded library which kernels run;
`--debug` prints it, and `python -m attncli.blas` prints what the attncli command runs on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

ENV = "ATTNCLI_BLAS_CORETYPE"
OFF = "off"
CPUINFO = "/proc/cpuinfo"

# The instructions each core type's kernels use, as /proc/cpuinfo names them: a core type is never chosen or
# forced on a CPU that lacks one (OpenBLAS's forced kernels would die of SIGILL). Names as OpenBLAS spells them
# (it compares without case); only the x86-64 ones whose needs are known here can be forced.
_SKYLAKEX = ("avx", "avx2", "fma", "avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512vl")
REQUIRES: dict[str, frozenset[str]] = {
    "Prescott": frozenset({"sse2", "pni"}),  # pni: SSE3
    "Core2": frozenset({"sse2", "pni", "ssse3"}),
    "Nehalem": frozenset({"sse2", "pni", "ssse3", "sse4_1", "sse4_2"}),
    "Sandybridge": frozenset({"avx"}),
    "Haswell": frozenset({"avx", "avx2", "fma"}),
    "Zen": frozenset({"avx", "avx2", "fma"}),
    "SkylakeX": frozenset(_SKYLAKEX),
    "Cooperlake": frozenset(_SKYLAKEX + ("avx512_bf16",)),
    "SapphireRapids": frozenset(_SKYLAKEX + ("avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")),
}


class _Value:
    """A plain value: equal, hashed and printed by its fields. (A dataclass or NamedTuple would cost every start of
    the CLI about 0.5 ms each to build; this module runs before anything else.)"""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class Cpu(_Value):
    """What /proc/cpuinfo says of the first processor. vendor is "" and family None on non-x86 CPUs."""

    __slots__ = ("vendor", "family", "model", "flags")

    def __init__(self, vendor: str, family: int | None, model: int | None, flags: frozenset[str]) -> None:
        self.vendor, self.family, self.model, self.flags = vendor, family, model, flags


class Rule(_Value):
    """On CPUs of `vendor` and one of `families` that have all of `when`, use `core` (if they have its flags)."""

    __slots__ = ("vendor", "families", "when", "core", "why")

    def __init__(self, vendor: str, families: frozenset[int], when: frozenset[str], core: str, why: str) -> None:
        self.vendor, self.families, self.when, self.core, self.why = vendor, families, when, core, why


RULES = (
    Rule("AuthenticAMD", frozenset({25}), frozenset({"avx512f"}), "Haswell",
         "AMD family 25 with AVX-512 (Zen 4), where Haswell's kernels measured faster than SkylakeX's, OpenBLAS's "
         "pick"),
)


class Decision(_Value):
    """What `decide` made of the environment and the CPU.

    coretype: the OPENBLAS_CORETYPE to set, or None to set nothing. source: "user" (OPENBLAS_CORETYPE was set),
    "off" (ATTNCLI_BLAS_CORETYPE=off), "forced" (ATTNCLI_BLAS_CORETYPE=NAME), "attncli" (a rule matched),
    "openblas" (no rule matched), "late" (numpy was loaded before attncli could choose). error: a message for
    the user when ATTNCLI_BLAS_CORETYPE asks for what cannot be done (then nothing is set)."""

    __slots__ = ("coretype", "source", "why", "error")

    def __init__(self, coretype: str | None, source: str, why: str, error: str | None = None) -> None:
        self.coretype, self.source, self.why, self.error = coretype, source, why, error


def parse_cpuinfo(text: str) -> Cpu:
    """The first processor's vendor, family, model and flags from /proc/cpuinfo's text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block ends at a blank line
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    flags = fields.get("flags") or fields.get("features") or ""  # "Features" on ARM
    return Cpu(vendor=fields.get("vendor_id", ""), family=_int(fields.get("cpu family")),
               model=_int(fields.get("model")), flags=frozenset(flags.split()))


def read_cpu(path: str = CPUINFO) -> Cpu | None:
    """The first processor of /proc/cpuinfo, or None where there is none (not Linux, or unreadable). Reads only
    up to the first blank line: a machine with hundreds of cores has a long file."""
    lines: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip() and lines:
                    break
                lines.append(line)
    except OSError:
        return None
    return parse_cpuinfo("".join(lines)) if lines else None


def choose(cpu: Cpu | None) -> tuple[str, str] | None:
    """(core type, why) for a CPU where a rule measured a faster core type than OpenBLAS's own; else None."""
    if cpu is None:
        return None
    for rule in RULES:
        if (cpu.vendor == rule.vendor and cpu.family in rule.families and rule.when <= cpu.flags
                and REQUIRES[rule.core] <= cpu.flags):
            return rule.core, rule.why
    return None


def decide(environ: Mapping[str, str], cpu: Cpu | None | str = "read") -> Decision:
    """What to do, from the environment and the CPU (`cpu` is read from /proc/cpuinfo only when needed)."""
    if environ.get("OPENBLAS_CORETYPE"):
        return Decision(None, "user", "OPENBLAS_CORETYPE was set")
    asked = environ.get(ENV, "").strip()
    if asked.lower() == OFF:
        return Decision(None, "off", f"{ENV}={OFF}")
    cpu_ = read_cpu() if cpu == "read" else cpu
    assert not isinstance(cpu_, str)
    if asked:
        return _forced(asked, cpu_)
    chosen = choose(cpu_)
    if chosen is None:
        return Decision(None, "openblas", "no rule of attncli's matches this CPU")
    return Decision(chosen[0], "attncli", chosen[1])


def _forced(asked: str, cpu: Cpu | None) -> Decision:
    name = next((n for n in REQUIRES if n.lower() == asked.lower()), None)
    if name is None:
        return Decision(None, "forced", "", f"{ENV}={asked} is not a core type attncli knows; use one of "
                        f"{', '.join(REQUIRES)}, or {OFF} (or set OPENBLAS_CORETYPE yourself)")
    if cpu is None:
        return Decision(None, "forced", "", f"{ENV}={name}: this system has no {CPUINFO} to check the CPU's "
                        f"instructions against; set OPENBLAS_CORETYPE={name} yourself if the CPU has "
                        f"{', '.join(sorted(REQUIRES[name]))}")
    missing = sorted(REQUIRES[name] - cpu.flags)
    if missing:
        return Decision(None, "forced", "", f"{ENV}={name} needs instructions this CPU lacks "
                        f"({', '.join(missing)}); choose another core type or {OFF}")
    return Decision(name, "forced", f"{ENV}={name}")


_applied: Decision | None = None


def apply(environ: MutableMapping[str, str] = os.environ, cpu: Cpu | None | str = "read") -> Decision:
    """Decide and set OPENBLAS_CORETYPE in `environ`: this process's environment before numpy loads (too late
    once it has: nothing is set then), or a child process's, e.g. `apply(env); subprocess.run(..., env=env)`.
    The decision for this process is kept for `describe()`; its error, if any, is the caller's to report."""
    global _applied
    mine = environ is os.environ
    if mine and "numpy" in sys.modules:
        decision = Decision(None, "late", "numpy was loaded before attncli could choose")
    else:
        decision = decide(environ, cpu)
        if decision.coretype is not None:
            environ["OPENBLAS_CORETYPE"] = decision.coretype
    if mine:
        _applied = decision
    return decision


def describe() -> dict[str, object]:
    """The BLAS numpy runs on, asked of the loaded library: {"library", "core", "threads", "chosen_by", "why",
    "asked", "path"}. core is OpenBLAS's own name for the kernels it loaded (None for another BLAS); chosen_by
    is "attncli", "ATTNCLI_BLAS_CORETYPE", "OPENBLAS_CORETYPE" or "OpenBLAS"; asked is OPENBLAS_CORETYPE when
    the library runs other kernels than it names (else ""). Imports numpy."""
    import numpy as np

    info: dict[str, object] = {"library": _numpy_blas_name(np), "core": None, "threads": None, "path": None}
    lib = _openblas()
    if lib is not None:
        info["path"] = lib._name
        config = _call(lib, "get_config")
        if config:
            info["library"] = " ".join(config.split()[:2])  # "OpenBLAS 0.3.31.188.0"
        info["core"] = _call(lib, "get_corename")
        info["threads"] = _call(lib, "get_num_threads", int)
    source = _applied.source if _applied is not None else "late"
    if source == "late":  # attncli did not choose in this process
        source = "user" if os.environ.get("OPENBLAS_CORETYPE") else "openblas"
    info["chosen_by"] = {"user": "OPENBLAS_CORETYPE", "forced": ENV, "attncli": "attncli"}.get(source, "OpenBLAS")
    info["why"] = _applied.why if source == "attncli" and _applied is not None else ""
    asked = os.environ.get("OPENBLAS_CORETYPE", "")
    core = info["core"]
    # a build without the asked kernels runs others (numpy's wheel runs Haswell's for Zen), and a build without
    # DYNAMIC_ARCH ignores the variable: say what was asked too
    info["asked"] = asked if asked and isinstance(core, str) and core.lower() != asked.lower() else ""
    return info


def describe_line(info: Mapping[str, object] | None = None) -> str:
    """describe() as one line, e.g. `OpenBLAS 0.3.31, core type Haswell (chosen by attncli: ...), 1 thread`."""
    info = describe() if info is None else info
    text = str(info["library"])
    if info["core"]:
        by = info["chosen_by"]
        text += f", core type {info['core']} " + (
            "(OpenBLAS's own choice)" if by == "OpenBLAS" else
            f"(chosen by attncli for {info['why']}; {ENV}={OFF} leaves OpenBLAS's)" if by == "attncli" else
            f"(chosen by {by})")
        if info.get("asked"):
            text += f" [OPENBLAS_CORETYPE={info['asked']}; this OpenBLAS runs {info['core']}'s kernels for it]"
    if info["threads"]:
        text += f", {info['threads']} thread{'s' if info['threads'] != 1 else ''}"
    return text


def _numpy_blas_name(np: object) -> str:
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]  # type: ignore[attr-defined]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (AttributeError, KeyError, TypeError):  # numpy < 1.25 has no CONFIG
        return "unknown BLAS"


def _openblas():  # -> ctypes.CDLL | None
    """The OpenBLAS this process has loaded, opened without loading another copy."""
    import ctypes

    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 0) or ctypes.DEFAULT_MODE
    for path in _loaded_libraries():
        if "openblas" in os.path.basename(path).lower():
            try:
                return ctypes.CDLL(path, mode=mode)
            except OSError:
                continue
    return None


def _loaded_libraries() -> list[str]:
    """Shared libraries mapped into this process (Linux), else those numpy's wheel bundles next to it."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            rows = [line.split(None, 5) for line in f]  # address perms offset device inode [path]
        return list(dict.fromkeys(r[5].strip() for r in rows if len(r) == 6 and ".so" in r[5]))
    except OSError:
        pass
    import glob

    import numpy as np

    root = os.path.dirname(np.__file__)
    return sorted(glob.glob(os.path.join(root, ".dylibs", "*")) + glob.glob(os.path.join(root + ".libs", "*")))


def _call(lib: object, what: str, kind: type = str) -> object:
    """lib's openblas_<what>() under any of the names OpenBLAS builds give it (scipy-openblas, 64-bit ints)."""
    import ctypes

    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", "_64", ""):
            fn = getattr(lib, f"{prefix}_{what}{suffix}", None)
            if fn is None:
                continue
            fn.restype = ctypes.c_char_p if kind is str else ctypes.c_int
            value = fn()
            return value.decode(errors="replace") if isinstance(value, bytes) else value
    return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None

