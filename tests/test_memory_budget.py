"""The memory budget is what the process may use (issue 21): the least of the memory available, the address-space
and data limits (ulimit -v, ulimit -d) less what is mapped, the cgroup's limit less its usage, and
ATTNCLI_MEMORY_LIMIT; every reader streams or refuses against it.

/proc and cgroup files are faked by paths; the limits are real in a subprocess under RLIMIT_AS, with no
ATTNCLI_MEMORY_LIMIT, where the peak resident memory of the child (ru_maxrss) is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import attncli_command

from attncli.errors import AttnError
from attncli.io import memory
from attncli.io.memory import Budget, cgroup_left, check_allocation, meminfo_available, memory_budget, rlimit_left

GB = 1 << 30
MB = 1 << 20


# ---- the budget's parts, from fake files -------------------------------------------------------------------------

def test_meminfo_available_reads_memavailable_in_kb(tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n")
    assert meminfo_available(str(tmp_path / "meminfo")) == 8_000_000 * 1024


def test_address_space_left_is_the_limit_less_what_is_mapped(tmp_path: Path) -> None:
    (tmp_path / "status").write_text("Name:\tpython\nVmPeak:\t  300000 kB\nVmSize:\t  250000 kB\nVmData:\t 90000 kB\n")
    status = str(tmp_path / "status")
    assert rlimit_left("AS", status, limit=GB) == GB - 250_000 * 1024
    assert rlimit_left("DATA", status, limit=GB) == GB - 90_000 * 1024
    assert rlimit_left("AS", status, limit=100 * 1024) == 0  # already past it: nothing left, never negative


def cgroup_tree(tmp_path: Path, line: str, files: dict[str, dict[str, str]]) -> tuple[str, str]:
    """A fake /proc/self/cgroup holding `line`, and a /sys/fs/cgroup with `files` ({dir: {name: text}})."""
    proc = tmp_path / "cgroup"
    proc.write_text(line + "\n")
    root = tmp_path / "sys"
    root.mkdir()
    for folder, contents in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            (root / folder / name).write_text(text)
    return str(proc), str(root)


def test_cgroup_v2_limit_is_max_less_current_over_the_cgroup_and_its_parents(tmp_path: Path) -> None:
    proc, root = cgroup_tree(tmp_path, "0::/job.slice/step", {
        "job.slice/step": {"memory.max": f"{4 * GB}\n", "memory.current": f"{1 * GB}\n",
                           "memory.stat": f"anon 1000\nfile {512 * MB}\ninactive_file {256 * MB}\n"},
        "job.slice": {"memory.max": f"{2 * GB}\n", "memory.current": f"{1536 * MB}\n"},
        ".": {"cgroup.controllers": "memory\n"},  # the root: no memory.max
    })
    # own: 4 GB - (1 GB - 256 MB inactive file) = 3.25 GB; the parent: 2 GB - 1.5 GB = 0.5 GB
    assert cgroup_left(proc, root) == 512 * MB


def test_cgroup_v2_max_means_no_limit(tmp_path: Path) -> None:
    proc, root = cgroup_tree(tmp_path, "0::/user.slice", {"user.slice": {"memory.max": "max\n",
                                                                          "memory.current": "12345\n"}})
    assert cgroup_left(proc, root) is None


def test_cgroup_v1_limit_and_its_no_limit_number(tmp_path: Path) -> None:
    proc, root = cgroup_tree(tmp_path, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc", {
        "memory/docker/abc": {"memory.limit_in_bytes": f"{GB}\n", "memory.usage_in_bytes": f"{300 * MB}\n",
                              "memory.stat": f"cache 100\ntotal_inactive_file {100 * MB}\n"},
        "memory/docker": {"memory.limit_in_bytes": "9223372036854771712\n", "memory.usage_in_bytes": "1\n"},
    })
    assert cgroup_left(proc, root) == GB - 200 * MB


def test_cgroup_namespace_shows_the_container_s_cgroup_as_the_mount(tmp_path: Path) -> None:
    # docker under cgroup v1 without a namespace: /proc says /docker/abc, but the mount is that cgroup itself
    proc, root = cgroup_tree(tmp_path, "9:memory:/docker/abc", {
        "memory": {"memory.limit_in_bytes": f"{512 * MB}\n", "memory.usage_in_bytes": f"{112 * MB}\n"}})
    assert cgroup_left(proc, root) == 400 * MB


def test_no_cgroup_files_is_no_limit(tmp_path: Path) -> None:
    assert cgroup_left(str(tmp_path / "missing"), str(tmp_path)) is None


# ---- the least of them, and what a refusal says --------------------------------------------------------------

@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch):
    """Set the budget's parts by hand: limits(available=..., address=..., data=..., cgroup=...)."""
    def set_(available=None, address=None, data=None, cgroup=None) -> None:
        monkeypatch.setattr(memory, "meminfo_available", lambda *a: available)
        monkeypatch.setattr(memory, "rlimit_left", lambda which, *a, **k: address if which == "AS" else data)
        monkeypatch.setattr(memory, "cgroup_left", lambda *a: cgroup)
    return set_


def test_the_budget_is_the_least_of_the_limits(limits) -> None:
    limits(available=8 * GB, address=3 * GB, cgroup=5 * GB)
    assert memory_budget({}) == Budget(3 * GB, "address space")
    limits(available=8 * GB, address=None, data=6 * GB, cgroup=2 * GB)
    assert memory_budget({}) == Budget(2 * GB, "cgroup")
    limits()
    assert memory_budget({}) == Budget(None)


def test_attncli_memory_limit_only_ever_lowers_the_budget(limits) -> None:
    limits(available=8 * GB, address=3 * GB)
    assert memory_budget({"ATTNCLI_MEMORY_LIMIT": "1G"}) == Budget(GB, "env")
    assert memory_budget({"ATTNCLI_MEMORY_LIMIT": "100G"}) == Budget(3 * GB, "address space")
    assert memory_budget({"ATTNCLI_MEMORY_LIMIT": "3G"}) == Budget(3 * GB, "env")  # a tie: the user's own words


def test_a_refusal_names_the_limit_that_binds_and_what_raises_it(limits, monkeypatch) -> None:
    monkeypatch.delenv("ATTNCLI_MEMORY_LIMIT", raising=False)
    limits(available=8 * GB, address=GB)
    with pytest.raises(AttnError) as err:
        check_allocation(2 * GB, "a 2 GB table", option="--length")
    assert str(err.value) == ("--length: a 2 GB table would need about 2.0 GB but only 1.0 GB of memory is available "
                              "under the address-space limit (ulimit -v); raise the address-space limit (ulimit -v)")
    limits(available=8 * GB, cgroup=GB)
    with pytest.raises(AttnError, match=r"1.0 GB of memory is available in this cgroup \(memory.max: the "
                                        r"container's or job's memory\); try a smaller x, or giving the container"):
        check_allocation(2 * GB, "x", ["a smaller x", memory.RAISE])


# ---- the real limits, in a subprocess --------------------------------------------------------------------------

def run_limited(args: list, *, limit_mb: int, feed: str | None = None) -> tuple[int, str, bytes, float]:
    """(exit code, stderr, stdout, peak resident MB) of attncli under RLIMIT_AS = `limit_mb`, with no
    ATTNCLI_MEMORY_LIMIT. `feed`: Python code whose standard output is attncli's standard input. The peak is the
    child's own (a driver process runs it, so no other child of the test counts)."""
    driver = ("import json, resource, subprocess, sys\n"
              f"cap = {limit_mb << 20}\n"
              "def limit(): resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
              f"feeder = subprocess.Popen([sys.executable, '-c', {feed!r}], stdout=subprocess.PIPE) "
              f"if {feed is not None} else None\n"
              f"proc = subprocess.run({[*attncli_command(), *map(str, args)]!r}, capture_output=True, timeout=120,\n"
              "                      preexec_fn=limit, stdin=feeder.stdout if feeder else subprocess.DEVNULL)\n"
              "if feeder: feeder.kill(); feeder.wait()\n"
              "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
              "print(json.dumps([proc.returncode, proc.stderr.decode(errors='replace'), proc.stdout.hex(), peak]))")
    env = {k: v for k, v in os.environ.items() if k != "ATTNCLI_MEMORY_LIMIT"}
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, env=env, timeout=300, check=True)
    code, err, stdout, peak_kb = json.loads(out.stdout)
    return code, err, bytes.fromhex(stdout), peak_kb / 1024


LIMIT_MB = 1536  # an address space of 1.5 GiB; before, each case below read until MemoryError (peak 1.46 GB)
ENDLESS_LINE = "import sys\nfor _ in range(2048): sys.stdout.buffer.write(b'1' * 2**20)"  # 2 GB, no newline


@pytest.mark.parametrize("case", ["x", "problem", "pipe"])
def test_endless_text_is_refused_under_the_address_space_limit(tmp_path: Path, case: str) -> None:
    (tmp_path / "p.toml").write_text('x = "/dev/zero"\n')
    args, feed = {"x": (["compute", "--x", "/dev/zero"], None), "problem": (["compute", tmp_path / "p.toml"], None),
                  "pipe": (["compute", "--x", "-"], ENDLESS_LINE)}[case]
    code, err, _, peak = run_limited(args, limit_mb=LIMIT_MB, feed=feed)
    assert code == 2 and err.startswith("error: --x: ") and err.count("\n") == 1, err
    assert "without ending" in err and "under the address-space limit (ulimit -v)" in err, err
    assert peak < 400, f"peak {peak:.0f} MB"  # refused once parsing what came could not fit: ~60 MB read


def test_an_array_bigger_than_the_address_space_left_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.npy"
    header = b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little")
    header += b"{'descr': '<f8', 'fortran_order': False, 'shape': (268435456,), }".ljust(117) + b"\n"
    with open(big, "wb") as f:  # 2 GB of zeros that take no disk
        f.write(header)
        f.truncate(len(header) + 8 * 268435456)
    code, err, _, peak = run_limited(["compute", "--x", big], limit_mb=LIMIT_MB)
    assert code == 2 and err.startswith("error: --x: reading '") and "would need about 2.0 GB" in err, err
    assert "under the address-space limit (ulimit -v); try a smaller array for --x, or raising the address-space " \
           "limit (ulimit -v)" in err
    assert peak < 200


def test_inspect_of_a_zip_bomb_holds_a_block_not_the_member(tmp_path: Path) -> None:
    from test_hostile_readers import deflated_zeros, npy_header, raw_zip

    n = 1 << 26  # 512 MiB of float64 zeros in a file of half a megabyte; before, inspect held it whole (peak 0.6 GB)
    head = npy_header((n,))
    stream, crc = deflated_zeros(head, n * 8)
    raw_zip(tmp_path / "bomb.npz", "a.npy", stream, size=len(head) + n * 8, crc=crc)
    code, err, out, peak = run_limited(["inspect", tmp_path / "bomb.npz", "--format", "json"], limit_mb=LIMIT_MB)
    assert code == 0, err
    assert json.loads(out)["arrays"] == [{"name": "a", "shape": [n], "dtype": "float64", "stored": "float64",
                                          "min": 0.0, "max": 0.0, "mean": 0.0, "nonfinite": 0}]
    assert peak < 250, f"peak {peak:.0f} MB"


# ---- streams: one buffer, refused by the budget as they come -------------------------------------------------

class Endless:
    """A stream that never ends: `head`, then zeros; counts what was asked of it."""

    def __init__(self, head: bytes = b"") -> None:
        self.head, self.given = head, 0

    def read(self, n: int) -> bytes:
        piece = (self.head[self.given:] + bytes(n))[:n]
        self.given += len(piece)
        return piece


@pytest.mark.parametrize("head, refused_after", [(b"\x93NUMPY", 32 * MB), (b"1,2,3\n", 64 * MB // 24)])
def test_a_stream_is_refused_at_half_the_budget_or_when_parsing_it_could_not_fit(monkeypatch, head: bytes,
                                                                                refused_after: int) -> None:
    from attncli.io.files import read_capped, sniffed_cost
    from attncli.io.source import Src

    monkeypatch.setattr(memory, "memory_budget", lambda env=None: Budget(64 * MB, "cgroup"))
    stream = Endless(head)
    with pytest.raises(AttnError) as err:
        read_capped(stream, Src("--x", "standard input"), cost=sniffed_cost)
    assert refused_after < stream.given <= refused_after + (1 << 20) + 1  # read a chunk (1 MB) at a time
    assert str(err.value).startswith("--x: 'standard input' gave more than ")
    assert "in this cgroup (memory.max: the container's or job's memory); save the data to a file" in str(err.value)
    assert str(err.value).endswith("or give the container or job more memory")


def test_a_stream_that_fits_is_read_whole_into_one_buffer(monkeypatch) -> None:
    import io

    from attncli.io.files import read_capped, sniffed_cost
    from attncli.io.source import Src

    monkeypatch.setattr(memory, "memory_budget", lambda env=None: Budget(64 * MB, "available"))
    data = b"1 2\n3 4\n" * 100_000
    assert read_capped(io.BytesIO(data), Src("--x", "standard input"), cost=sniffed_cost) == data
