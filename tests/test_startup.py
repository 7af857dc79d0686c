"""Start-up (issue #7, target 4; issue 15): nothing heavy is imported before it is needed.

Each case runs `attncli.cli.main` in a fresh interpreter and looks at `sys.modules` afterwards. Timings
are never asserted here; `python tests/bench_startup.py` measures them (and `python tests/bench.py` row 4).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys
from attncli.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""

X = "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1"
OTHER_COMMANDS = ["attncli.cli.check", "attncli.cli.explain", "attncli.cli.show", "attncli.cli.tables",
                  "attncli.cli.embed", "attncli.cli.inspect", "attncli.cli.init"]
# what no computing run needs unless asked: diagnosis (check), threads, the binary readers and writers,
# file writing, text, tokenizers, pictures
NEVER_FOR_A_SMALL_RUN = ["attncli.core.diagnose", "concurrent.futures", "attncli.io.npyfmt",
                         "attncli.io.safetensors_format", "attncli.io.atomic", "attncli.cli.text_input", "attncli.text",
                         "attncli.render.maps", "attncli.render.heatmap", "tokenizers", "matplotlib", "safetensors",
                         "tomllib"]


def imported_in_order(args: list[str], code: str = PROBE) -> list[str]:
    """The modules a run imported, in the order their imports began (sys.modules keeps that order)."""
    proc = subprocess.run([sys.executable, "-c", code.replace("sorted(sys.modules)", "sys.modules"), *args],
                          capture_output=True, timeout=120)
    assert proc.stdout, proc.stderr  # the command printed its result
    return proc.stderr.decode().split()


def imported(args: list[str]) -> set[str]:
    return set(imported_in_order(args))


def third_party(modules: set[str]) -> set[str]:
    """Top-level packages that are not the standard library's."""
    return {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - {"__main__"}


# the attncli modules a 4 × 4 JSON run may import: the command and its helpers, the core (but for what only
# check and init use), the readers and the JSON writer. Anything else costs every run its import: make it lazy
# where it is used (`python tests/bench_startup.py --importtime` shows what a module costs).
JSON_RUN_CLI = {"attncli.cli", "attncli.cli.common", "attncli.cli.compute", "attncli.cli.group", "attncli.cli.options",
                "attncli.cli.problem", "attncli.cli.spec", "attncli.cli.pipeline", "attncli.cli.checks",
                "attncli.cli.layout"}  # the lecture layout's transposes (core/layout.py until issue 21)
NOT_FOR_COMPUTE = ("attncli.core.diagnose", "attncli.core.mistakes", "attncli.core.generate", "attncli.render",
                   "attncli.models", "attncli.text")


def json_run_may_import(module: str) -> bool:
    if module.startswith(NOT_FOR_COMPUTE):
        return False
    if module.startswith("attncli.cli"):
        return module in JSON_RUN_CLI
    return module in ("attncli", "attncli.blas", "attncli.errors", "attncli.record", "attncli.startup",
                      "attncli.version", "attncli.vocabulary") or \
        module.startswith(("attncli.core", "attncli.io"))


# what rich would add beyond a table: syntax highlighting, markdown, tracebacks, pretty-printing, progress bars
RICH_BEYOND_A_TABLE = ["pygments", "markdown_it", "rich.syntax", "rich.markdown", "rich.traceback", "rich.pretty",
                       "rich.progress", "rich.logging", "rich.live", "rich.prompt",
                       "rich._emoji_codes"]  # (~2 ms) loaded when rich renders a plain str: the table's cells are Text


def rich_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "rich" or m.startswith("rich."))


def test_compute_json_imports_no_rich_and_no_other_command():
    modules = imported(["compute", "--x", X, "--format", "json"])
    assert "numpy" in modules and "attncli.core.attend" in modules  # it did compute
    assert rich_modules(modules) == []
    assert "attncli.render" not in modules
    assert not modules & set(OTHER_COMMANDS + NEVER_FOR_A_SMALL_RUN)
    assert "dataclasses" not in modules  # ~0.4 ms for each class it makes: the path's records are attncli.record's


def test_compute_json_imports_only_numpy_typer_and_its_own_modules():
    """The JSON path of a small problem: no third-party package but numpy and typer (with what typer itself
    imports), and no attncli module but the command's own, the core's and the readers' and writers'."""
    modules = imported(["compute", "--x", X, "--format", "json"])
    typer_alone = subprocess.run([sys.executable, "-c", "import sys, typer; print(*sys.modules)"],
                                 capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert third_party(modules) - third_party(set(typer_alone)) == {"attncli", "numpy"}
    ours = {m for m in modules if m == "attncli" or m.startswith("attncli.")}
    assert {m for m in ours if not json_run_may_import(m)} == set(), "make these imports lazy"
    assert JSON_RUN_CLI <= ours and "attncli.blas" in ours


def test_blas_choice_is_made_before_numpy_loads():
    """OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS once, as numpy loads: attncli.blas must run first."""
    order = imported_in_order(["compute", "--x", X, "--format", "json"])
    assert order.index("attncli.blas") < order.index("numpy")
    assert order.index("attncli.cli") < order.index("numpy")


def test_compute_table_imports_rich_for_the_table_only():
    modules = imported(["compute", "--x", X])
    assert "rich.table" in modules
    assert not modules & set(OTHER_COMMANDS + NEVER_FOR_A_SMALL_RUN + RICH_BEYOND_A_TABLE)
    assert "attncli.io.writers" not in modules  # a table is printed, not encoded
    assert third_party(modules) - third_party(imported(["compute", "--x", X, "--format", "json"])) == {"rich"}


@pytest.mark.parametrize("args", [
    ["explain", "--x", "1 0; 0 1", "--format", "json"],
    ["pe", "--kind", "sinusoidal", "--length", "4", "--dim", "4", "--format", "json"],
    ["mask", "--length", "3", "--causal", "--format", "json"],
    ["show", "0.5 0.5; 0 1", "--format", "json"],
    ["embed", "--text", "a b", "--embeddings", "random:4", "--format", "json"],
    ["compute", "--x", X, "--format", "csv"],
    ["compute", "--x", X, "--format", "npy"],
])
def test_json_csv_npy_output_imports_no_rich(args):
    modules = imported(args)
    assert "numpy" in modules
    assert rich_modules(modules) == []


def test_help_imports_no_numpy_and_no_core():
    modules = imported(["--help"])
    assert set(OTHER_COMMANDS) <= modules  # the listing needs every command
    assert "numpy" not in modules
    # attncli.io.files guards the standard streams and signals from the start; it (and io.source, what it names in
    # messages) imports no numpy
    assert not {m for m in modules if m.startswith(("attncli.core", "attncli.io", "attncli.render"))} - {
        "attncli.io", "attncli.io.files", "attncli.io.source"}


def test_command_help_loads_only_that_command():
    modules = imported(["compute", "--help"])
    assert "attncli.cli.compute" in modules
    assert "numpy" not in modules
    assert not modules & set(OTHER_COMMANDS)


def test_help_lists_every_command_in_order_whichever_ran_first():
    """In one process, a command run before `--help` changes neither the listing nor its order."""
    code = ("from attncli.cli import main\n"
            "for args in (['pe', '--kind', 'rope', '--length', '2', '--dim', '2', '--format', 'json'], ['--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="100"))
    listing = proc.stdout[proc.stdout.index("Commands"):]
    positions = [listing.index(f"│ {name} ") for name in
                 ("check", "compute", "embed", "explain", "init", "inspect", "show", "pe", "mask")]
    assert positions == sorted(positions)


def test_npy_in_npy_out_imports_no_zip_json_or_dataclasses(tmp_path):
    """`compute --q q.npy ... -o out.npy` (the whole-process benchmark): a plain .npy needs neither zipfile (.npz),
    nor json (text output), nor dataclasses."""
    import numpy as np

    for name in "qkv":
        np.save(tmp_path / f"{name}.npy", np.eye(4, dtype=np.float32))
    args = ["compute", *(a for n in "qkv" for a in (f"--{n}", str(tmp_path / f"{n}.npy"))), "--show", "output",
            "-o", str(tmp_path / "out.npy")]
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, timeout=120)
    modules = set(proc.stderr.decode().split())
    assert np.load(tmp_path / "out.npy").shape == (4, 4)
    assert {"attncli.io.npyfmt", "attncli.io.atomic", "numpy"} <= modules  # it did read and write .npy files
    assert not modules & {"zipfile", "json", "dataclasses"}
    assert rich_modules(modules) == []
