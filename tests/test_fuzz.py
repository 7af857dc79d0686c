"""Fuzzing (issue #8), the short run CI does: random and damaged files through the readers, random
command lines through the CLI. The only outcomes are a result, or exit 2 with one `error:` line; never a
traceback, exit 70, a leftover or clobbered file, or NaN/inf in the result of finite inputs.

The strategies and the oracle live in tests/fuzz_strategies.py. CI runs a fixed (derandomized) sample
of ATTNCLI_FUZZ_EXAMPLES inputs per target (default 250, well under a minute); the long run is
`python scripts/fuzz.py --examples 10000` (see the README).
"""

from __future__ import annotations

import os

import fuzz_strategies as fs
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("ATTNCLI_FUZZ_EXAMPLES", "250"))
CI = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

fs.configure(overflow=False, known_open=False)


@CI
@given(fs.read_inputs())
def test_fuzz_readers_load_a_numeric_array_or_say_what_is_wrong(data: tuple[str, bytes, str, bool]) -> None:
    fs.run_read_case(*data)


@CI
@given(fs.cli_case())
def test_fuzz_command_lines_answer_or_fail_on_one_line(case: fs.Case) -> None:
    fs.run_case(case)
