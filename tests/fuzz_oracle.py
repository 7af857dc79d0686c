"""Fuzzing attncli, part 3: the oracle (issue #8) and running a case.

Whatever a file or a command line holds, attncli either answers (exit 0; `check` also 1) or says what
is wrong on one `error: ...` line with exit 2. Never a traceback, never exit 70 ("internal error", a
bug), never a file left behind after a failure, never a changed input file, never a stray temporary
file (`Crash`), and never a silently wrong number: NaN/inf in the weights, heads, output (or q, k, v,
pe, x) of finite inputs (`WrongNumber`). Readers (`read_case`) must give a numeric `Loaded` array or
raise an `AttnError` with a one-line message starting with the option.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
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


def run_main(argv: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> Outcome:
    """Run `attncli.cli.main(argv)` in this process with its own stdin/stdout/stderr; exceptions escape."""
    from attncli.cli import main

    out, err = io.BytesIO(), io.StringIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    fake_in = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
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
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    with contextlib.suppress(ValueError):
        stdout.flush()
    return Outcome(code, out.getvalue(), err.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Crash(AssertionError):
    """A traceback, exit 70, a malformed error, a leftover or clobbered file: always a bug."""


class WrongNumber(AssertionError):
    """NaN or inf in a result of finite inputs: a silently wrong number."""


def check_outcome(case: Case, outcome: Outcome, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Raise Crash or WrongNumber (saying what went wrong) unless the outcome is a result or one clean error."""
    shown = f"attncli {case.shown()}"
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]

    def crash_unless(ok: bool, why: str) -> None:
        if not ok:
            raise Crash(f"{shown}: {why}")

    crash_unless("Traceback" not in outcome.stderr, f"traceback:\n{outcome.stderr}")
    crash_unless(outcome.code != 70 and "internal error" not in outcome.stderr, outcome.stderr.strip())
    crash_unless(not outcome.warnings, f"Python warnings: {outcome.warnings}")
    for name, data in before.items():
        crash_unless(after.get(name) == data, f"the input file {name} was changed or removed")
    leftovers = [n for n in after if n not in before and n.endswith(".tmp")]
    crash_unless(not leftovers, f"temporary files left: {leftovers}")
    if outcome.code == 0 or (outcome.code == 1 and case.argv[0] == "check"):  # check: 1 = a wrong answer
        crash_unless(all(line.startswith("warning: ") for line in lines), f"stderr on success: {lines}")
        created = [n for n in after if n not in before]
        _check_numbers(case, outcome, after.get(created[0]) if created else None, shown)
        return
    crash_unless(outcome.code == 2, f"exit {outcome.code}: {outcome.stderr.strip()}")
    errors = [line for line in lines if not line.startswith("warning: ")]
    crash_unless(len(errors) == 1 and errors[0].startswith("error: "), f"not one error line: {lines}")
    created = [n for n in after if n not in before]
    crash_unless(not created, f"failed but left files: {created}")


CHECKED = ("weights", "heads", "output", "q", "k", "v", "pe", "x")  # never NaN/inf for finite inputs
NONFINITE_WORD = re.compile(r"(?<![\w.])-?(nan|inf)(?![\w])")


def _value_after(argv: list[str], option: str) -> str | None:
    return argv[argv.index(option) + 1] if option in argv[:-1] else None


def _results(argv: list[str], data: bytes) -> dict[str, np.ndarray | str]:
    """The arrays a successful command printed or wrote (a rendered table is returned as its text)."""
    out = _value_after(argv, "-o")
    fmt = _value_after(argv, "--format") or (out.rsplit(".", 1)[-1] if out else "table")
    show = _value_after(argv, "--show")
    names = ("q,k,v,scores,weights,heads,output" if show == "all" else show or "weights,output").split(",")
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


def run_case(case: Case) -> Outcome:
    """Write the case's files into a fresh directory, run it, and check the oracle."""
    folder = Path(tempfile.mkdtemp(prefix="attncli-fuzz-"))
    try:
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
        prefix = str(folder) + os.sep
        case = Case([a.replace(DIR, prefix) for a in case.argv], case.files, case.stdin, case.env)
        before = _snapshot(folder)
        outcome = run_main(case.argv, case.stdin, case.env)
        check_outcome(case, outcome, before, _snapshot(folder))
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_read_case(name: str, data: bytes, suffix: str, via_stdin: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="attncli-fuzz-"))
    try:
        path = folder / name
        path.write_bytes(data)
        read_case(str(path), suffix, data if via_stdin else None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
