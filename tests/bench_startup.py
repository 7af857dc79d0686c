"""Start-up of the attncli command against `python -c "import numpy"` in the same environment, and what it imports.

    python -m venv /tmp/rel && /tmp/rel/bin/pip install .      # a regular (non-editable) install
    python tests/bench_startup.py --python /tmp/rel/bin/python  # its times, best of 25 interleaved runs
    python tests/bench_startup.py --python /tmp/rel/bin/python --importtime   # and where the time goes
    python tests/bench_startup.py --python /tmp/before/bin/python --python /tmp/rel/bin/python   # side by side

Each round runs every command once, in turn, so a noisy moment hits them all alike; a cell is the best (minimum)
wall time over the rounds. The ratios are to `import numpy` as a plain interpreter loads it, and to numpy loaded
with OPENBLAS_NUM_THREADS=1 as the CLI loads it (OpenBLAS starts no thread pool then, which saves ~30 ms on a
2-core machine: the stricter baseline). --importtime sums `python -X importtime` self times (the minimum of each
module over the runs) by package, for each path. Never run by the tests (test_startup.py checks what is imported).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEUTRAL = tempfile.gettempdir()  # the working directory of every run: `python -c` must not import this checkout

X = "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1"
RUN = "import sys; from attncli.cli import main; main(sys.argv[1:])"  # what the console script does


def commands(python: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    script = Path(python).parent / "attncli"
    cli = [str(script)] if script.exists() else [python, "-m", "attncli"]
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "ATTNCLI_"))}
    return {
        "python -c pass": ([python, "-c", "pass"], plain),
        "import numpy": ([python, "-c", "import numpy"], plain),
        "import numpy, 1 BLAS thread": ([python, "-c", "import numpy"], plain | {"OPENBLAS_NUM_THREADS": "1"}),
        # the floors: what any typer command on numpy imports, and any that draws a rich table
        "import numpy, typer (1 BLAS thread)": ([python, "-c", "import numpy, typer"],
                                                plain | {"OPENBLAS_NUM_THREADS": "1"}),
        "import numpy, typer, rich.table (1 BLAS thread)": ([python, "-c", "import numpy, typer, rich.table"],
                                                            plain | {"OPENBLAS_NUM_THREADS": "1"}),
        "compute 4 × 4, --format json": (cli + ["compute", "--x", X, "--format", "json"], plain),
        "compute 4 × 4, table": (cli + ["compute", "--x", X], plain),
        "attncli --help": (cli + ["--help"], plain),
    }


def best_times(pythons: list[str], runs: int) -> dict[str, dict[str, float]]:
    """python -> command -> best seconds; every round runs every command of every environment once."""
    cmds = {py: commands(py) for py in pythons}
    best = {py: dict.fromkeys(c, float("inf")) for py, c in cmds.items()}
    for _ in range(runs):
        for py, c in cmds.items():
            for name, (cmd, env) in c.items():
                t = time.perf_counter()
                subprocess.run(cmd, env=env, cwd=NEUTRAL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=True)
                best[py][name] = min(best[py][name], time.perf_counter() - t)
    return best


def import_costs(python: str, args: list[str], runs: int) -> dict[str, int]:
    """Module -> its smallest self time (µs) in `python -X importtime` over the runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "ATTNCLI_"))}
    env["OPENBLAS_NUM_THREADS"] = "1"  # as the CLI runs (and without the thread pool's noise)
    low: dict[str, int] = {}
    for _ in range(runs):
        err = subprocess.run([python, "-X", "importtime", *args], env=env, cwd=NEUTRAL, capture_output=True,
                             text=True).stderr
        for line in err.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _, name = line.removeprefix("import time:").split("|")
                low[name.strip()] = min(low.get(name.strip(), 1 << 60), int(self_us))
    return low


def group(module: str) -> str:
    top = module.split(".")[0]
    if top in ("numpy", "attncli", "typer", "rich"):
        return top if top != "attncli" else ".".join(module.split(".")[:2])
    if top in ("pygments", "markdown_it", "mdurl"):
        return "rich"
    return "stdlib and others" if top in sys.stdlib_module_names or top.startswith("_") else top


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", help="the interpreter of an environment to measure (repeat it "
                    "to compare environments, e.g. before and after a change, in the same rounds)")
    ap.add_argument("--runs", type=int, default=25, help="rounds; each cell is the best")
    ap.add_argument("--importtime", action="store_true", help="also sum -X importtime by package for each path")
    args = ap.parse_args()
    pythons = args.python or [sys.executable]
    for py, best in best_times(pythons, args.runs).items():
        plain, one = best["import numpy"], best["import numpy, 1 BLAS thread"]
        print(f"\n{py}: best of {args.runs} interleaved runs\n")
        print("| command | best | × import numpy | × import numpy, 1 BLAS thread |")
        print("|---|---|---|---|")
        for name, sec in best.items():
            print(f"| {name} | {sec * 1000:.0f} ms | {sec / plain:.2f} | {sec / one:.2f} |")
    if args.importtime:
        importtime_tables(pythons[-1], args.runs)


def importtime_tables(python: str, runs: int) -> None:
    paths = {"import numpy": ["-c", "import numpy"],
             "compute, json": ["-c", RUN, "compute", "--x", X, "--format", "json"],
             "compute, table": ["-c", RUN, "compute", "--x", X]}
    costs = {name: import_costs(python, argv, max(5, runs // 3)) for name, argv in paths.items()}
    groups = sorted({group(m) for c in costs.values() for m in c})
    sums = {name: collections.Counter() for name in costs}
    for name, c in costs.items():
        for module, us in c.items():
            sums[name][group(module)] += us
    print(f"\n{python}: -X importtime, self times summed by package (ms; each module's minimum over the runs)\n")
    print("| package | " + " | ".join(costs) + " |")
    print("|---|" + "---|" * len(costs))
    for g in sorted(groups, key=lambda g: -max(s[g] for s in sums.values())):
        print(f"| {g} | " + " | ".join(f"{s[g] / 1000:.1f}" if s[g] else "—" for s in sums.values()) + " |")
    print("| total | " + " | ".join(f"{sum(s.values()) / 1000:.1f}" for s in sums.values()) + " |")
    numpy_only = set(costs["import numpy"])
    for name in ("compute, json", "compute, table"):
        extra = sorted(((m, us) for m, us in costs[name].items() if m not in numpy_only), key=lambda mu: -mu[1])
        print(f"\n{name}: the 12 costliest imports beyond `import numpy`'s "
              f"({len(extra)} modules, {sum(us for _, us in extra) / 1000:.1f} ms)\n")
        print("| module | ms |")
        print("|---|---|")
        for m, us in extra[:12]:
            print(f"| {m} | {us / 1000:.2f} |")


if __name__ == "__main__":
    main()
