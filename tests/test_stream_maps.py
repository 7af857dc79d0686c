"""Issue #7, target 3: a map too big for memory, asked for alone with -o MAP.npy, is streamed to disk in blocks.

The streamed file must hold what the in-memory path writes for the same command with the memory budget lifted
(shape, dtype, values, NaN rows), for every mask, heads, batch, layout, map and dtype; peak memory must not
grow with the map; the write is atomic (no partial file, the previous file untouched, never over an input);
a disk without room, several arrays, and standard output are refused with one error line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import attncli_command, interrupt, run

from attncli.cli.pipeline import compute_attention as attention
from attncli.io import stream
from attncli.io.stream import MapFile

RNG = np.random.default_rng(7)
TINY = "64"  # ATTNCLI_MEMORY_LIMIT in bytes: every map here is bigger, so it must stream


def cli(args: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run attncli in this process: (exit code, stderr)."""
    from attncli.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The maps that went to disk in blocks (MapFile.open calls), to tell streaming from the in-memory path."""
    calls: list[str] = []
    original = MapFile.open

    def spy(self, name, **how):
        calls.append(name)
        return original(self, name, **how)

    monkeypatch.setattr(MapFile, "open", spy)
    return calls


def save(path: Path, a: np.ndarray) -> Path:
    np.save(path, a)
    return path


def rows_to(layout: str, a: np.ndarray) -> np.ndarray:
    """An array given in rows layout, as the user gives it in `layout` (cols: the last two axes swapped)."""
    return np.swapaxes(a, -1, -2).copy() if layout == "cols" else a


# name: (x shape, dtype, options; {"kv": shape} adds --x-kv, {"mask": ...} a mask file in rows layout)
EMPTY_ROW_MASK = np.array([[1, 1, 0, 1, 0, 1, 1, 0, 1]] * 9, dtype=np.int8)
EMPTY_ROW_MASK[2] = 0  # query 2 sees no key
CASES = {
    "plain": ((9, 4), np.float64, [], {}),
    "causal, 2 heads": ((9, 4), np.float32, ["--causal", "--heads", "2"], {}),
    "window, batch, 2 heads": ((2, 9, 4), np.float64, ["--window", "2:1", "--heads", "2"], {}),
    "key and query padding, empty rows nan": ((2, 9, 4), np.float32,
                                              ["--key-lens", "5,0", "--query-lens", "9,4", "--empty-rows", "nan"], {}),
    "key and query padding, empty rows zero": ((2, 9, 4), np.float64, ["--key-lens", "5,0", "--query-lens", "9,4"], {}),
    "mask with an empty row, nan, 2 heads": ((9, 4), np.float64, ["--empty-rows", "nan", "--heads", "2"],
                                             {"mask": EMPTY_ROW_MASK}),
    "cross-attention (n_k ≠ n_q), causal": ((9, 4), np.float32, ["--causal"], {"kv": (13, 4)}),
    "cross, batch, 4 heads, alibi": ((2, 9, 4), np.float64, ["--heads", "4", "--alibi"], {"kv": (2, 6, 4)}),
    "sparsemax, temperature, bias": ((9, 4), np.float32, ["--normalize", "sparsemax", "--temperature", "0.5",
                                                          "--bias", "[[0, -1, -2, -3, -4, -5, -6, -7, -8]]"], {}),
}


@pytest.mark.parametrize("name", ["weights", "scores"])
@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("case", list(CASES))
def test_streamed_file_equals_the_in_memory_file(case: str, layout: str, name: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, opened: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    shape, dtype, options, extra = CASES[case]
    args = ["compute", "--x", save(tmp_path / "x.npy", rows_to(layout, RNG.normal(size=shape).astype(dtype))),
            "--layout", layout, "--show", name, *options]
    if "kv" in extra:
        args += ["--x-kv", save(tmp_path / "kv.npy", rows_to(layout, RNG.normal(size=extra["kv"]).astype(dtype)))]
    if "mask" in extra:
        args += ["--mask", save(tmp_path / "mask.npy", rows_to(layout, extra["mask"]))]

    monkeypatch.delenv("ATTNCLI_MEMORY_LIMIT", raising=False)
    code, err_memory = cli([*args, "-o", tmp_path / "memory.npy"], capsys)
    assert code == 0 and opened == [], err_memory  # fits: the in-memory path, as before
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", TINY)
    code, err_streamed = cli([*args, "-o", tmp_path / "streamed.npy"], capsys)
    assert code == 0 and opened == [name], err_streamed

    memory, streamed = np.load(tmp_path / "memory.npy"), np.load(tmp_path / "streamed.npy")
    assert streamed.shape == memory.shape and streamed.dtype == memory.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(streamed, memory)  # bit for bit, NaN rows included
    assert err_streamed == err_memory  # the same empty-row warning, or none
    if "nan" in options and name == "weights":
        assert np.isnan(streamed).any()
    assert (tmp_path / "streamed.npy").read_bytes() == (tmp_path / "memory.npy").read_bytes()  # header too
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("rows,threads,panel_columns", [(1, 1, 1), (2, 2, 3), (3, 3, 2), (4, 2, 11), (5, 1, 4)])
def test_blocks_threads_and_panels(tmp_path: Path, layout: str, rows: int, threads: int, panel_columns: int) -> None:
    # many blocks of query rows, out of order on several threads, gathered into panels of columns (cols layout)
    x, x_kv = RNG.normal(size=(2, 11, 4)), RNG.normal(size=(2, 7, 4))
    kw = dict(x=rows_to(layout, x), x_kv=rows_to(layout, x_kv), heads=2, causal=True, key_lens=[7, 3],
              empty_rows="nan", layout=layout, block_rows=rows, threads=threads)
    for name in ("weights", "scores"):
        dense = attention(**kw)
        with MapFile(tmp_path / f"{name}.npy", memory_limit=1) as disk:
            disk.panel_bytes = panel_columns * 2 * 2 * 7 * 8  # B × H × n_k × 8 bytes per query column
            res = attention(**kw, need=[name], memory_limit=1,
                            stream_maps=lambda n, **how: disk.open(n, layout=layout, **how))
        assert res.streamed == (name,) and getattr(res, name) is None
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), dense.export(name))
        np.testing.assert_array_equal(res.output, dense.output)
        assert res.empty_rows == dense.empty_rows


@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_peak_memory_stays_far_below_the_map(tmp_path: Path, layout: str) -> None:
    # a 400 MB float32 map with a 100 MB budget; the child's peak RSS is measured by a parent of its own
    n, d = 10_000, 16
    x = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
    out = tmp_path / "weights.npy"
    args = [*attncli_command(), "compute", "--x", str(save(tmp_path / "x.npy", rows_to(layout, x))),
            "--layout", layout, "--causal", "--show", "weights", "-o", str(out)]
    code = ("import resource, subprocess, sys\n"
            f"subprocess.run({args!r}, check=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n")  # KiB on Linux
    env = {**os.environ, "ATTNCLI_MEMORY_LIMIT": "100M"}
    peak_mb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env=env, timeout=300).stdout)
    assert peak_mb < 200, f"peak RSS {peak_mb} MB for a {4 * n * n // 2**20} MB map"

    w = np.load(out, mmap_mode="r")
    assert w.shape == (n, n) and w.dtype == np.float32 and out.stat().st_size == 128 + 4 * n * n
    for i in (0, 1, 4999, n - 1):  # query rows against softmax(x·xᵀ/√d) computed here, causal
        s = x[: i + 1].astype(np.float64) @ x[i].astype(np.float64) / np.sqrt(d)
        expected = np.zeros(n)
        expected[: i + 1] = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        got = w[:, i] if layout == "cols" else w[i]
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-7)


# ---- atomic: no partial file, the previous file untouched -------------------------------------------


def _compute(tmp_path: Path, out: Path) -> list:
    x = save(tmp_path / "x.npy", RNG.normal(size=(2, 40, 4)))
    return ["compute", "--x", x, "--heads", "2", "--show", "weights", "-o", out]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_failure_mid_way_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], failure: BaseException,
                                                  layout: str) -> None:
    out = tmp_path / "weights.npy"
    out.write_bytes(b"the previous result")
    writes = []
    real = stream._pwrite

    def fail_on_the_third(fd, data, offset):  # the header and a first block are written, then it fails
        writes.append(offset)
        if len(writes) == 3:
            raise failure
        real(fd, data, offset)

    monkeypatch.setattr(stream, "_pwrite", fail_on_the_third)
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", TINY)
    monkeypatch.setattr(stream, "PANEL_BYTES", (8, 8))  # cols: a panel of one column, so writes come early
    code, err = cli([*_compute(tmp_path, out), "--layout", layout, "--threads", "1"], capsys)
    assert len(writes) == 3
    if isinstance(failure, KeyboardInterrupt):
        assert code == 130 and err == "interrupted\n"
    else:
        assert code == 2 and err.startswith("error: -o/--output: cannot write") and "No space left" in err
        assert err.count("\n") == 1
    assert out.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npy", "x.npy"]  # no temporary file


def test_an_error_after_the_kernel_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # --empty-rows error is decided once every block is written: the streamed file must go too
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", TINY)
    x = save(tmp_path / "x.npy", RNG.normal(size=(2, 9, 4)))
    code, err = cli(["compute", "--x", x, "--key-lens", "9,0", "--empty-rows", "error", "--show", "weights",
                     "-o", tmp_path / "w.npy"], capsys)
    assert code == 2 and "every key masked" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_streaming_exits_130_and_leaves_the_previous_file(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((12_000, 16), dtype=np.float32))
    out = tmp_path / "weights.npy"
    out.write_bytes(b"the previous result")
    env = {**os.environ, "ATTNCLI_MEMORY_LIMIT": "50M"}

    def writing(_pid: int) -> bool:  # the temporary file has data: the kernel is writing blocks
        return any(p.name.endswith(".tmp") and p.stat().st_size > 0 for p in tmp_path.iterdir())

    args = ["compute", "--x", x, "--show", "weights", "-o", out]
    if interrupt(args, writing, delay=0.1, env=env) is None:
        pytest.skip("the computation finished before Ctrl-C arrived (a very fast or very busy machine)")
    assert out.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npy", "x.npy"]


def test_never_over_an_input(tmp_path: Path) -> None:
    x = save(tmp_path / "x.npy", RNG.normal(size=(40, 4)))
    before = x.read_bytes()
    proc = run(["compute", "--x", x, "--show", "weights", "-o", x], check=False,
               env={**os.environ, "ATTNCLI_MEMORY_LIMIT": TINY})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: ") and "refusing to overwrite the input file" in err
    assert x.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


# ---- refusals: one error line, exit 2, nothing written ------------------------------------------------


def test_a_disk_without_room_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weights.npy"
    out.write_bytes(b"the previous result")
    seen = []

    def almost_full(path):
        seen.append(path)
        return SimpleNamespace(total=10**12, used=10**12 - 1000, free=1000)

    monkeypatch.setattr(stream.shutil, "disk_usage", almost_full)
    monkeypatch.setattr(stream, "_pwrite", lambda *a: pytest.fail("nothing may be written"))
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", TINY)
    code, err = cli([*_compute(tmp_path, out), "--dtype", "float64"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error: -o/--output: the weights map needs about ")
    assert " on disk (batch 2 × heads 2 × 40 queries × 40 keys × 8 bytes)" in err
    assert f"is free in '{tmp_path.resolve()}'" in err and "--dtype float32" in err
    assert seen == [str(tmp_path.resolve())]
    assert out.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npy", "x.npy"]


@pytest.mark.parametrize("show,where,hint", [
    ("weights,output", ["-o", "out.npz"], "--show weights -o weights.npy"),  # several arrays
    ("scores,weights", ["-o", "maps.safetensors"], "--show weights -o weights.npy"),
    ("weights", ["--format", "npy"], "--show weights -o weights.npy"),  # standard output cannot stream
    ("scores", ["-o", "scores.json"], "--show scores -o scores.npy"),  # text formats hold the map whole
    ("weights", ["-o", "weights.npz"], "--show weights -o weights.npy"),
])
def test_what_cannot_stream_is_refused_with_the_way_that_can(tmp_path: Path, show: str, where: list, hint: str
                                                             ) -> None:
    x = save(tmp_path / "x.npy", RNG.normal(size=(40, 4)))
    env = {**os.environ, "ATTNCLI_MEMORY_LIMIT": "1K"}
    proc = subprocess.run([*attncli_command(), "compute", "--x", str(x), "--show", show, *where], cwd=tmp_path,
                          capture_output=True, env=env, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: the dense attention maps would need about ") and \
        err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{hint} (one map, streamed to disk in blocks)" in err and "--show output alone" in err
    assert proc.stdout == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_explain_needs_its_maps_in_memory(tmp_path: Path) -> None:
    # explain prints every map: nothing to stream, and no suggestion that it could
    x = save(tmp_path / "x.npy", RNG.normal(size=(40, 4)))
    proc = run(["explain", "--x", x, "--format", "json"], check=False, env={**os.environ, "ATTNCLI_MEMORY_LIMIT": "1K"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "would need about" in err, err
    # explain itself cannot stream; the suggestion, if any, is compute's (which keeps no steps)
    assert "-o weights.npy" not in err or "attncli compute with the same options" in err
