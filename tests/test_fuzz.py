"""Fuzzing (issue #8), the short run CI does: random and damaged files through the readers, random
command lines through the CLI. The only outcomes are a result, or exit 2 with one `error:` line; never a
traceback, exit 70, a leftover or clobbered file, or NaN/inf in the result of finite inputs.

The strategies live in tests/fuzz_files.py (files of every format, damaged) and tests/fuzz_cli.py (the
command-line grammar), the oracle in tests/fuzz_oracle.py. CI runs a fixed (derandomized) sample
of ATTNCLI_FUZZ_EXAMPLES inputs per target (default 250, well under a minute); the long run is
`python tests/fuzz.py --examples 10000` (see the README).
"""

from __future__ import annotations

import os

from fuzz_cli import Case, cli_case, configure
from fuzz_files import read_inputs
from fuzz_oracle import run_case, run_read_case
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("ATTNCLI_FUZZ_EXAMPLES", "250"))
CI = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

configure(overflow=True, known_open=True)  # the bugs these inputs found are fixed


@CI
@given(read_inputs())
def test_fuzz_readers_load_a_numeric_array_or_say_what_is_wrong(data: tuple[str, bytes, str, bool]) -> None:
    run_read_case(*data)


@CI
@given(cli_case())
def test_fuzz_command_lines_answer_or_fail_on_one_line(case: Case) -> None:
    run_case(case)
