#!/usr/bin/env python
"""Fuzz attncli at scale: the strategies of tests/test_fuzz.py, with as many inputs as you like.

    python tests/fuzz.py --examples 20000            # about 20 000 inputs, a third per target
    python tests/fuzz.py --examples 2000 --target cli --save fuzz-failures

Three targets: `readers` feeds valid files of every format, then flipped, cut and random bytes, and
one in four a hostile file (5,000-digit numbers, 50,000-deep nesting, huge shapes, zip bombs), to
read_array/read_arrays (tests/fuzz_files.py); `cli` runs command lines drawn from a grammar of valid
and invalid option values through attncli.cli.main in this process (tests/fuzz_cli.py); `hostile`
runs the five classes of issue #12 the same way (tests/fuzz_hostile.py): outputs onto inputs, hostile
files, huge sizes, control characters, long values. The oracle is tests/fuzz_oracle.py; the summary
counts the inputs of each class. Failures are
grouped by their message, one example each (with its files under --save); the exit status is 1 if a
crash (traceback, exit 70, a malformed error, a leftover or clobbered file) was found, else 0.
Silently wrong numbers (NaN/inf in results of finite inputs) are listed separately and also fail.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # this file lives in tests/ beside the strategies it runs

import fuzz_cli  # noqa: E402
import fuzz_files  # noqa: E402
import fuzz_hostile  # noqa: E402
import fuzz_oracle  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402


def _key(message: str) -> str:
    """A failure's message without its command line, paths and numbers: one group per kind of bug."""
    first = message.split("\n")[0]
    first = re.sub(r"^attncli .*?: (?=(error|traceback|exit|Python|not one|stderr|the |temporary|failed|peak memory|"
                   r"ran out|raw control|JSON|-o/--report|an error line|took|\w+ holds|\S+ was replaced))", "", first)
    return re.sub(r"/tmp/\S+|'[^']*'|-?\d[\d.e+-]*", "#", first)[:160]


class Run:
    def __init__(self, save: Path | None) -> None:
        self.tried: Counter[str] = Counter()
        self.failures: dict[str, tuple[str, str]] = {}  # key -> (kind, example)
        self.counts: Counter[str] = Counter()
        self.classes: Counter[str] = Counter()  # inputs drawn per hostile class
        self.save = save

    def record(self, kind: str, message: str, case: fuzz_cli.Case | None = None,
               read: tuple[str, bytes, str, bool] | None = None) -> None:
        message = fuzz_oracle.printable(message)  # a failure's report must not drive the terminal either
        key = _key(message)
        self.counts[key] += 1
        if key in self.failures:
            return
        self.failures[key] = (kind, message[:3000])
        print(f"[{kind}] {message[:300]}", file=sys.stderr, flush=True)
        if self.save is None:
            return
        try:
            self._save(message, case, read)
        except (OSError, UnicodeError) as err:  # saving an example must never stop the run
            print(f"  (could not save this example: {err})", file=sys.stderr, flush=True)

    def _save(self, message: str, case: fuzz_cli.Case | None, read: tuple[str, bytes, str, bool] | None) -> None:
        """The example's files, its message and repro.sh (argv's undecodable bytes written back as they came)."""
        assert self.save is not None
        folder = self.save / f"{len(self.failures):03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "message.txt").write_text(message, errors="surrogateescape")
        if read is not None:
            name, data, suffix, via_stdin = read
            (folder / name).write_bytes(data)
            source = "-" + suffix if via_stdin else f"./{name}{suffix}"
            stdin = f" < {name}" if via_stdin else ""
            (folder / "repro.sh").write_text(f'cd "$(dirname "$0")" && attncli inspect {shlex.quote(source)}'
                                             f" --debug{stdin}\n", errors="surrogateescape")
        if case is not None:
            for name, data in case.files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
            fuzz_oracle.make_links(folder, case.links)
            (folder / "stdin").write_bytes(case.stdin)
            argv = [a.replace(fuzz_cli.DIR, "./") for a in case.argv]
            env = "".join(f"{k}={shlex.quote(v)} " for k, v in case.env.items())
            command = f"{env}attncli {shlex.join(argv)} --debug < {shlex.quote(case.stdin_file or 'stdin')}"
            (folder / "repro.sh").write_text(f'cd "$(dirname "$0")" && {command}\n', errors="surrogateescape")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="inputs to try in all (default 10000)")
    parser.add_argument("--target", choices=("all", "readers", "cli", "hostile"), default="all")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed, for a reproducible run")
    parser.add_argument("--save", type=Path, default=None, help="write one example of each failure here")
    parser.add_argument("--without-open-bugs", action="store_true",
                        help="leave out the inputs of the issue #12 bugs still open (see fuzz_hostile.configure)")
    args = parser.parse_args()
    fuzz_cli.configure()  # every input class, overflow and formerly open bugs included
    fuzz_hostile.configure(open_bugs=not args.without_open_bugs)  # and those of the issue #12 bugs still open
    run = Run(args.save)
    targets = ["readers", "cli", "hostile"] if args.target == "all" else [args.target]
    per_target = max(1, args.examples // len(targets))
    profile = settings(max_examples=per_target, deadline=None, database=None, phases=[Phase.generate],
                       suppress_health_check=list(HealthCheck), derandomize=False)

    @profile
    @given(data=fuzz_files.read_inputs())
    def readers(data) -> None:
        run.tried["readers"] += 1
        if data[0].startswith("hostile."):
            run.classes["readers: hostile " + data[0].split(".")[1]] += 1
        try:
            fuzz_oracle.run_read_case(*data)
        except Exception as err:  # noqa: BLE001 - anything but a Loaded array or an AttnError is the finding
            what = f"{type(err).__name__}: {err}" if not isinstance(err, AssertionError) else str(err)
            run.record("crash", f"read {data[0]} ({len(data[1])} bytes, suffix {data[2]!r}, stdin={data[3]}): "
                                f"{what}", read=data)

    @profile
    @given(case=fuzz_cli.cli_case())
    def cli(case: fuzz_cli.Case) -> None:
        run.tried["cli"] += 1
        run_cli(case)

    def hostile_class(strategy):
        @settings(profile, max_examples=max(1, per_target // len(fuzz_hostile.CLASSES)))
        @given(case=strategy())
        def one_class(case: fuzz_cli.Case) -> None:
            run.tried["hostile"] += 1
            run.classes[case.kind] += 1
            run_cli(case)

        return one_class

    def hostile() -> None:  # each class its own share: drawn from one strategy, the small ones would run out
        for strategy in fuzz_hostile.CLASSES.values():
            test = hostile_class(strategy)
            test = seed(args.seed)(test) if args.seed is not None else test
            test()

    def run_cli(case: fuzz_cli.Case) -> None:
        try:
            fuzz_oracle.run_case(case)
        except fuzz_oracle.WrongNumber as err:
            run.record("wrong number", str(err), case)
        except AssertionError as err:
            run.record("crash", str(err), case)
        except BaseException as err:  # noqa: BLE001 - an exception escaping main() is a traceback
            if isinstance(err, KeyboardInterrupt):
                raise
            run.record("crash", f"attncli {case.shown()}: {type(err).__name__} escaped main(): {err}", case)

    start = time.monotonic()
    for name in targets:
        seeded = {"readers": readers, "cli": cli, "hostile": hostile}[name]
        if args.seed is not None and name != "hostile":
            seeded = seed(args.seed)(seeded)
        seeded()
    elapsed = time.monotonic() - start

    total = sum(run.tried.values())
    print(f"attncli fuzz: {total} inputs tried ({', '.join(f'{k} {v}' for k, v in run.tried.items())}) "
          f"in {elapsed:.0f} s; {len(run.failures)} distinct failures")
    if run.classes:
        print("  issue #12 classes: " + ", ".join(f"{k} {v}" for k, v in sorted(run.classes.items())))
    print(f"  failing inputs: {sum(run.counts.values())}")
    for key, (kind, example) in run.failures.items():
        print(f"\n[{kind}] ×{run.counts[key]}: {key}\n  e.g. {example}")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
