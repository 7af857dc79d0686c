"""Fuzzing (issues #8 and #12), the short run CI does: random and damaged files through the readers, random
command lines through the CLI, and the hostile classes of issue #12. The only outcomes are a result, or exit 2
with one short `error:` line; never a traceback, exit 70, a leftover, clobbered or replaced file, NaN/inf in
the result of finite inputs, raw control characters on the terminal, or memory beyond ATTNCLI_MEMORY_LIMIT.

The strategies live in tests/fuzz_files.py (files of every format, damaged or hostile), tests/fuzz_cli.py (the
command-line grammar) and tests/fuzz_hostile.py (outputs onto inputs, hostile files, huge sizes, control
characters, long values), the oracle in tests/fuzz_oracle.py. CI runs a fixed (derandomized) sample of
ATTNCLI_FUZZ_EXAMPLES inputs per target (default 250) and ATTNCLI_FUZZ_HOSTILE_EXAMPLES per hostile class
(default 50), well under a minute in all; the long run is `python tests/fuzz.py --examples 20000` (see the
README).
"""

from __future__ import annotations

import os

import pytest
from fuzz_cli import Case, cli_case, configure
from fuzz_files import read_inputs
from fuzz_hostile import CLASSES
from fuzz_hostile import configure as configure_hostile
from fuzz_oracle import run_case, run_read_case
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("ATTNCLI_FUZZ_EXAMPLES", "250"))
HOSTILE_EXAMPLES = int(os.environ.get("ATTNCLI_FUZZ_HOSTILE_EXAMPLES", "50"))
CI = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

configure(overflow=True, known_open=True)  # the bugs these inputs found are fixed
configure_hostile(open_bugs=True)  # the issue #12 bugs the fuzzer found and reported are fixed: drawn in CI too


@CI
@given(read_inputs())
def test_fuzz_readers_load_a_numeric_array_or_say_what_is_wrong(data: tuple[str, bytes, str, bool]) -> None:
    run_read_case(*data)


@CI
@given(cli_case())
def test_fuzz_command_lines_answer_or_fail_on_one_line(case: Case) -> None:
    run_case(case)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_fuzz_hostile_inputs_never_overwrite_blow_up_or_reach_the_terminal(kind: str) -> None:
    @settings(CI, max_examples=HOSTILE_EXAMPLES)
    @given(CLASSES[kind]())
    def one_class(case: Case) -> None:
        assert case.kind == kind
        run_case(case)

    one_class()
