"""Fuzzing attncli, part 3: the oracle (issues #8 and #12) and running a case.

Whatever a file or a command line holds, attncli either answers (exit 0; `check` also 1) or says what
is wrong on one `error: ...` line with exit 2. Never a traceback, never exit 70 ("internal error", a
bug), never a file left behind after a failure, never a changed input file, never a stray temporary
file (`Crash`), and never a silently wrong number: NaN/inf in the weights, heads, output (or q, k, v,
pe, x) of finite inputs (`WrongNumber`). Readers (`read_case`) must give a numeric `Loaded` array or
raise an `AttnError` with a one-line message starting with the option. (Run in this process, the other
exit codes cannot happen: 130 Ctrl-C, 141 a closed pipe, 128+N a signal.)

Issue #12 adds, for every case: the error line is at most about 1,000 characters (`MESSAGE_MAX`); stderr,
and stdout in the formats a person reads (table, heatmap, markdown, latex, html, json), hold no raw
control or format character but newline (`unsafe`: Cc, Cf, Cs, Zl, Zp; tabs only in TSV, and CSV/TSV
and binary formats keep the original strings); every file present before the run is afterwards the same
bytes, the same inode, the same symlink. And per case: `refuse` (an input named by -o/--report: exit 2,
"refusing to overwrite"), `strings` (JSON holds the original strings), `bounded` (under a memory limit,
with an address-space guard: "out of memory" or a peak beyond the limit means something was allocated
before it was checked).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fuzz_cli import DIR, Case

from attncli.errors import AttnError


def read_case(path: str, source_suffix: str, stdin: bytes | None) -> None:
    """Read `path` (+ `:name`) or stdin with both readers; fail unless a numeric array or a one-line AttnError."""
    from attncli.io import Loaded, read_array, read_arrays

    source = "-" + source_suffix if stdin is not None else path + source_suffix
    for reader in (read_array, read_arrays):
        stream = io.BytesIO(stdin) if stdin is not None else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = reader(source, option="--x", stdin=stream)
        except AttnError as err:
            message = str(err)
            assert "\n" not in message and message.startswith("--x: "), f"bad message {message!r}"
            continue
        loaded = got.values() if isinstance(got, dict) else [got]
        for item in loaded:
            assert isinstance(item, Loaded) and isinstance(item.array, np.ndarray)
            assert item.array.dtype.kind in "biufc", item.array.dtype


@dataclass
class Outcome:
    code: int
    stdout: bytes
    stderr: str
    warnings: list[str]


def run_main(argv: list[str], stdin: bytes = b"", env: dict[str, str] | None = None,
             stdin_file: str | None = None) -> Outcome:
    """Run `attncli.cli.main(argv)` in this process with its own stdin/stdout/stderr; exceptions escape.
    stdout escapes what UTF-8 cannot encode, as the CLI's own standard output does; `stdin_file` opens
    a file as standard input (`< file`), else `stdin` is fed from memory."""
    from attncli.cli import main

    out, err = io.BytesIO(), io.StringIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="backslashreplace", write_through=True)
    fake_in = open(stdin_file, encoding="utf-8") if stdin_file else io.TextIOWrapper(io.BytesIO(stdin),  # noqa: SIM115
                                                                                      encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    code = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.stdin, sys.stdout, sys.stderr = fake_in, stdout, err
        os.environ.update(env or {})
        try:
            main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
            fake_in.close()
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    with contextlib.suppress(ValueError):
        stdout.flush()
    return Outcome(code, out.getvalue(), err.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught])


def _snapshot(folder: Path) -> dict[str, bytes]:
    """name -> bytes of every file (through symlinks to files; symlinked directories are not entered)."""
    found = {}
    for top, _, names in os.walk(folder):
        for name in names:
            path = Path(top) / name
            if path.is_file():
                found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def _identities(folder: Path) -> dict[str, tuple]:
    """name -> what it is: a symlink and its target, or a file's inode (a hard link shares it)."""
    found = {}
    for top, dirs, names in os.walk(folder):
        for name in names + dirs:
            path = Path(top) / name
            key = str(path.relative_to(folder))
            found[key] = ("symlink", os.readlink(path)) if path.is_symlink() else ("inode", path.lstat().st_ino)
    return found


MESSAGE_MAX = 1100  # the CLI cuts error lines to 1,000 characters (plus the "... (N characters cut) ..." note)
_KEPT = {"\n", "\u200c", "\u200d"}  # newline ends lines; zero-width (non-)joiners are parts of words and emoji


def unsafe(text: str, allowed: str = "") -> list[str]:
    """The characters of `text` a terminal would act on or that reorder what follows (categories Cc, Cf, Cs,
    Zl, Zp), but newline, ZWJ/ZWNJ and `allowed`."""
    return sorted({c for c in text if c not in _KEPT and c not in allowed
                   and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")})


def printable(text: str) -> str:
    """`text` with unsafe characters spelled out, for the fuzzer's own reports."""
    return "".join(repr(c)[1:-1] if unsafe(c) or c == "\n" else c for c in text)


class Crash(AssertionError):
    """A traceback, exit 70, a malformed error, a leftover or clobbered file: always a bug."""


class WrongNumber(AssertionError):
    """NaN or inf in a result of finite inputs: a silently wrong number."""


def check_outcome(case: Case, outcome: Outcome, before: dict[str, bytes], after: dict[str, bytes],
                  identities: tuple[dict, dict] | None = None, peak: int | None = None) -> None:
    """Raise Crash or WrongNumber (saying what went wrong) unless the outcome is a result or one clean error.
    `identities` (before, after) of every name; `peak` the bytes the run added to the process's peak memory."""
    shown = f"attncli {case.shown()}"
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]

    def crash_unless(ok: bool, why: str) -> None:
        if not ok:
            raise Crash(f"{shown}: {why}")

    crash_unless("Traceback" not in outcome.stderr, f"traceback:\n{outcome.stderr}")
    crash_unless(outcome.code != 70 and "internal error" not in outcome.stderr, printable(outcome.stderr.strip()))
    crash_unless(not outcome.warnings, f"Python warnings: {outcome.warnings}")
    for name, data in before.items():
        crash_unless(after.get(name) == data, f"the input file {printable(name)} was changed or removed")
    if identities is not None:
        for name, what in identities[0].items():
            crash_unless(identities[1].get(name) == what, f"{printable(name)} was replaced: {what} became "
                                                          f"{identities[1].get(name)}")
    leftovers = [n for n in after if n not in before and n.endswith(".tmp")]
    crash_unless(not leftovers, f"temporary files left: {leftovers}")
    for line in lines:
        crash_unless(not unsafe(line), f"raw control characters {unsafe(line)} on stderr: {printable(line)[:300]}")
    if case.bounded:
        crash_unless("out of memory" not in outcome.stderr, "ran out of memory under ATTNCLI_MEMORY_LIMIT="
                     f"{case.env.get('ATTNCLI_MEMORY_LIMIT')}: allocated before checking: {outcome.stderr.strip()}")
        budget = 2 * _limit_bytes(case.env) + (256 << 20)
        crash_unless(peak is None or peak <= budget, f"peak memory grew by {peak / 2**20:.0f} MB under "
                     f"ATTNCLI_MEMORY_LIMIT={case.env.get('ATTNCLI_MEMORY_LIMIT')} (exit {outcome.code})")
    if case.refuse is not None:
        crash_unless(outcome.code == 2 and "refusing to overwrite" in outcome.stderr,
                     f"-o/--report names the input '{case.refuse}': exit {outcome.code}, {printable(outcome.stderr)}")
    if outcome.code == 0 or (outcome.code == 1 and case.argv[0] == "check"):  # check: 1 = a wrong answer
        crash_unless(all(line.startswith("warning: ") for line in lines), f"stderr on success: {lines}")
        created = [n for n in after if n not in before]
        written = after.get(created[0]) if created else None
        _check_terminal(case, outcome, created[0] if created else None, written, shown)
        _check_strings(case, outcome, written, shown)
        _check_numbers(case, outcome, written, shown)
        return
    crash_unless(outcome.code == 2, f"exit {outcome.code}: {outcome.stderr.strip()}")
    errors = [line for line in lines if not line.startswith("warning: ")]
    crash_unless(len(errors) == 1 and errors[0].startswith("error: "), f"not one error line: {lines}")
    crash_unless(len(errors[0]) <= MESSAGE_MAX, f"an error line of {len(errors[0]):,} characters: "
                                                f"{printable(errors[0][:200])}...")
    created = [n for n in after if n not in before]
    crash_unless(not created, f"failed but left files: {created}")


BINARY = ("npy", "npz", "safetensors", "png", "pdf")
MACHINE = ("csv", "tsv")  # keep the original strings, control characters included (render/safe.py)
READ_BY_PEOPLE = (".txt", ".md", ".tex", ".html", ".htm")  # files -o renders as for the terminal


def _format_of(argv: list[str]) -> str:
    out = _value_after(argv, "-o")
    return _value_after(argv, "--format") or _value_after(argv, "-f") or (
        out.rsplit(".", 1)[-1].lower() if out and "." in out else "table")


def _check_terminal(case: Case, outcome: Outcome, created: str | None, written: bytes | None, shown: str) -> None:
    """What a person reads holds no raw control characters: stdout in every text format but CSV/TSV, and
    files rendered as for the terminal (.txt .md .tex .html)."""
    fmt = _format_of(case.argv)
    texts = []
    if fmt not in BINARY + MACHINE and outcome.stdout:
        texts.append(("stdout", outcome.stdout))
    if created is not None and written is not None and created.lower().endswith(READ_BY_PEOPLE):
        texts.append((created, written))
    for where, data in texts:
        text = data.decode("utf-8", errors="surrogateescape")
        bad = unsafe(text)
        if bad:
            at = min(text.index(c) for c in bad)
            raise Crash(f"{shown}: raw control characters {bad} in {printable(where)} ({fmt}): "
                        f"...{printable(text[max(0, at - 80):at + 40])}...")


def _dig(doc, path: str):
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc.get(part) if isinstance(doc, dict) else None
    return doc


def _check_strings(case: Case, outcome: Outcome, written: bytes | None, shown: str) -> None:
    """JSON keeps the strings of the data exactly (tokens, labels), whatever they hold."""
    if not case.strings or _format_of(case.argv) != "json":
        return
    doc = json.loads(written if written is not None else outcome.stdout)
    for path, want in case.strings.items():
        got = _dig(doc, path)
        if got != want:
            raise Crash(f"{shown}: JSON {path} holds {printable(repr(got))[:300]}, not the original "
                        f"{printable(repr(want))[:300]}")


def _limit_bytes(env: dict[str, str]) -> int:
    """ATTNCLI_MEMORY_LIMIT in bytes; 256M for values attncli refuses or that allow more than a machine has."""
    text = env.get("ATTNCLI_MEMORY_LIMIT", "256M").strip().upper().rstrip("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except (ValueError, OverflowError):
        return 256 << 20
    return int(value) if 0 <= value <= 2**34 else 256 << 20


CHECKED = ("weights", "heads", "output", "q", "k", "v", "pe", "x")  # never NaN/inf for finite inputs
NONFINITE_WORD = re.compile(r"(?<![\w.])-?(nan|inf)(?![\w])")


def _value_after(argv: list[str], option: str) -> str | None:
    return argv[argv.index(option) + 1] if option in argv[:-1] else None


def _results(argv: list[str], data: bytes) -> dict[str, np.ndarray | str]:
    """The arrays a successful command printed or wrote (a rendered table is returned as its text)."""
    out = _value_after(argv, "-o")
    fmt = _value_after(argv, "--format") or (out.rsplit(".", 1)[-1] if out else "table")
    show = _value_after(argv, "--show")
    names = ("x,q,k,v,qk,scores,weights,heads,concat,output" if show == "all" else show or "weights,output").split(",")
    if argv[0] == "compute" and fmt == "npy" and show is None:
        names = ["output"]
    if argv[0] != "compute":
        names = {"pe": ["pe"], "embed": ["x"]}.get(argv[0], [argv[0]])
    if fmt == "json":
        doc = json.loads(data)
        return {k: np.array(v, dtype=object) for k, v in doc.items() if k != "meta"}
    if fmt == "npy":
        return {names[0]: np.load(io.BytesIO(data))}
    if fmt == "npz":
        with np.load(io.BytesIO(data)) as z:
            return {k: z[k] for k in z.files}
    if fmt == "safetensors":
        from safetensors.numpy import load

        return dict(load(data))
    if fmt in ("csv", "tsv"):
        found: dict[str, list[str]] = {}
        name = names[0]
        for line in data.decode().splitlines():
            if line.startswith("# "):
                name = line[2:].split("[")[0]
            elif line:
                found.setdefault(name, []).extend(line.split("," if fmt == "csv" else "\t"))
        return {k: np.array([float(x) for x in v]) for k, v in found.items()}
    text = data.decode(errors="replace")
    return {"table": text} if set(names) <= set(CHECKED) else {}


def _check_numbers(case: Case, outcome: Outcome, written: bytes | None, shown: str) -> None:
    """A result of finite inputs holds finite weights, heads, output, ... (unless NaN was asked for)."""
    argv = case.argv
    if argv[0] not in ("compute", "pe", "embed") or "--allow-nonfinite" in argv:
        return
    if argv[0] == "embed" and ("--vocab" in argv or "--ids" in argv):
        return  # embed copies rows of the user's table as they are, NaN included
    if _value_after(argv, "--empty-rows") == "nan" or _value_after(argv, "--normalize") == "none":
        return
    data = written if written is not None else outcome.stdout
    for name, value in _results(argv, data).items():
        if isinstance(value, str):
            if NONFINITE_WORD.search(value):
                raise WrongNumber(f"{shown}: the table shows NaN/inf for finite inputs:\n{value[:2000]}")
            continue
        if name not in CHECKED:
            continue
        flat = value.reshape(-1)
        if flat.dtype == object:
            bad = any(v is None for v in flat)
        else:
            bad = flat.dtype.kind == "f" and not np.isfinite(flat).all()
        if bad:
            raise WrongNumber(f"{shown}: {name} holds NaN/inf for finite inputs")


def _status_bytes(field: str) -> int | None:
    """A size from /proc/self/status (VmSize, VmRSS, VmHWM), or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


GUARD_HEADROOM = 3 << 30  # address space a bounded case may add: a blow-up fails (MemoryError) instead of the machine


@contextlib.contextmanager
def bounded_memory(env: dict[str, str]):
    """Around a bounded case: its environment (ATTNCLI_MEMORY_LIMIT) set, the address space capped at what the
    process has + GUARD_HEADROOM, the peak resident size reset; yields a dict that gets "peak", the bytes the
    run added to the peak (None where Linux's clear_refs/VmHWM are unavailable)."""
    import resource

    saved_env = {k: os.environ.get(k) for k in env}
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = _status_bytes("VmSize")
    box: dict[str, int | None] = {"peak": None}
    capped = False
    if size is not None:
        cap = size + GUARD_HEADROOM if hard == resource.RLIM_INFINITY else min(size + GUARD_HEADROOM, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            capped = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current resident size
        start = _status_bytes("VmRSS")
    except OSError:
        start = None
    os.environ.update(env)
    try:
        yield box
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if capped:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        high = _status_bytes("VmHWM")
        if start is not None and high is not None:
            box["peak"] = max(0, high - start)


SLOW_SECONDS = 120  # a case that runs longer is reported: something is not bounded in time


def make_links(folder: Path, links: dict[str, str]) -> None:
    for name, spec in links.items():
        how, target = spec.split(":", 1)
        path, to = folder / name, (folder / target if target != "." else folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        if how == "symlink":
            path.symlink_to(to)
        else:
            os.link(to, path)


def run_case(case: Case) -> Outcome:
    """Write the case's files (and links) into a fresh directory, run it, and check the oracle."""
    folder = Path(tempfile.mkdtemp(prefix="attncli-fuzz-"))
    try:
        for name, data in case.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        make_links(folder, case.links)
        prefix = str(folder) + os.sep
        shown = dataclasses.replace(case, argv=[a.replace(DIR, prefix) for a in case.argv])
        before, identities = _snapshot(folder), _identities(folder)
        stdin_file = str(folder / case.stdin_file) if case.stdin_file else None
        start, cwd = time.monotonic(), os.getcwd()
        os.chdir(folder)  # a relative path (a problem file's `output = "..."`) lands here, never in the repository
        try:
            if case.bounded:
                with bounded_memory(case.env) as box:
                    outcome = run_main(shown.argv, case.stdin, {}, stdin_file)
            else:
                box = {"peak": None}
                outcome = run_main(shown.argv, case.stdin, case.env, stdin_file)
        finally:
            os.chdir(cwd)
        took = time.monotonic() - start
        if took > SLOW_SECONDS:
            raise Crash(f"attncli {shown.shown()}: took {took:.0f} s (exit {outcome.code})")
        check_outcome(shown, outcome, before, _snapshot(folder), (identities, _identities(folder)), box["peak"])
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)


READ_LIMIT = {"ATTNCLI_MEMORY_LIMIT": "256M"}


def run_read_case(name: str, data: bytes, suffix: str, via_stdin: bool) -> None:
    """Read one file (or stdin); a hostile file (hostile.*) under READ_LIMIT and bounded_memory."""
    folder = Path(tempfile.mkdtemp(prefix="attncli-fuzz-"))
    try:
        path = folder / name
        path.write_bytes(data)
        if not name.startswith("hostile."):
            read_case(str(path), suffix, data if via_stdin else None)
            return
        with bounded_memory(READ_LIMIT) as box:
            read_case(str(path), suffix, data if via_stdin else None)
        budget = 2 * _limit_bytes(READ_LIMIT) + (256 << 20)
        assert box["peak"] is None or box["peak"] <= budget, f"peak memory grew by {box['peak'] / 2**20:.0f} MB"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
