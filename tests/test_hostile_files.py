"""Issue #12, the promise against real file systems: nothing overwritten, standard streams that fail, signals,
pipes and devices, streams without a size. Through the installed CLI, as a user or an attacker would.

Devices are made in the test's own directory (mknod, as root) and full disks in a private mount namespace
(unshare -m + a 1 MB tmpfs), so the machine's /dev/null and disks are never at risk; those tests skip where
the machine cannot make them. Expected numbers are closed forms (softmax of an identity's rows).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import attncli_command, run, run_capped

E = math.e
ROW = [E / (E + 2), 1 / (E + 2), 1 / (E + 2)]  # softmax of a row of the 3×3 identity, scale 1/√3 aside


def error_of(args: list, *, stdin=None, cwd: Path | None = None, env: dict | None = None,
             code: int = 2) -> str:
    """The one `error:` line of a command that must fail as a user error (exit 2, no traceback)."""
    proc = run(args, stdin=stdin, cwd=cwd, check=False, env=None if env is None else {**os.environ, **env})
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == code, f"exit {proc.returncode}, stderr: {err}"
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err
    return err


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def x(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.eye(3))
    return path


# ==================================================================================================
# Data loss: every file any option reads is protected from -o, through links and standard input
# ==================================================================================================

TEXT_INPUTS = {  # option -> (file name, content, the rest of a command that reads it)
    "--tokens": ("toks.txt", "a b c\n", ["compute", "--tokens", "{f}", "--embeddings", "random:4"]),
    "--ids": ("ids.txt", "0 1 2\n", ["compute", "--ids", "{f}", "--embeddings", "{x}"]),
    "--embeddings": ("emb.txt", "a 1 0 0\nb 0 1 0\nc 0 0 1\n",
                     ["compute", "--text", "a b c", "--embeddings", "{f}"]),
    "--vocab": ("vocab.txt", "a\nb\nc\n", ["compute", "--text", "a b c", "--embeddings", "{x}", "--vocab", "{f}"]),
    "--labels": ("labels.txt", "a\nb\nc\n", ["compute", "--x", "{x}", "--labels", "{f}"]),
    "show --labels": ("labels.txt", "a\nb\nc\n", ["show", "{x}", "--labels", "{f}"]),
    "embed --tokens": ("toks.txt", "a b c\n", ["embed", "--tokens", "{f}", "--embeddings", "random:4"]),
}


@pytest.mark.parametrize("how", ["same name", "symlink", "hard link"])
@pytest.mark.parametrize("option", list(TEXT_INPUTS))
def test_text_side_inputs_are_never_overwritten(tmp_path: Path, x: Path, option: str, how: str) -> None:
    name, content, args = TEXT_INPUTS[option]
    f = tmp_path / name
    f.write_text(content)
    target = f
    if how == "symlink":
        target = tmp_path / ("link" + f.suffix)
        target.symlink_to(f)
    elif how == "hard link":
        target = tmp_path / ("hard" + f.suffix)
        os.link(f, target)
    before = listing(tmp_path)
    err = error_of([a.format(f=f, x=x) for a in args] + ["-o", target])
    assert "refusing to overwrite the input file" in err
    assert f.read_text() == content and listing(tmp_path) == before


def test_tokenizer_json_is_never_overwritten(tmp_path: Path, x: Path) -> None:
    pytest.importorskip("tokenizers")
    tok = tmp_path / "tokenizer.json"
    vocab = {"[UNK]": 0, "a": 1, "b": 2, "c": 3}
    tok.write_text(json.dumps({"version": "1.0", "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"},
                               "pre_tokenizer": {"type": "Whitespace"}}))
    content = tok.read_bytes()
    emb = tmp_path / "emb.npy"
    np.save(emb, np.eye(4))
    err = error_of(["compute", "--text", "a b c", "--tokenizer", tok, "--embeddings", emb, "--format", "json",
                    "-o", tok])
    assert "refusing to overwrite the input file" in err and tok.read_bytes() == content


def test_standard_input_that_is_the_output_file(tmp_path: Path, x: Path) -> None:
    content = x.read_bytes()
    with open(x, "rb") as f:
        proc = subprocess.run([*attncli_command(), "compute", "--x", "-", "-o", str(x)], stdin=f,
                              capture_output=True, timeout=120)
    assert proc.returncode == 2 and b"refusing to overwrite the input file" in proc.stderr
    assert x.read_bytes() == content and listing(tmp_path) == ["x.npy"]


def test_the_problem_file_is_never_overwritten(tmp_path: Path, x: Path) -> None:
    problem = tmp_path / "p.txt"
    problem.write_text(f'x = "{x}"\n')
    os.link(problem, tmp_path / "hard.txt")  # a table written to a hard link of the problem file
    err = error_of(["compute", problem, "-o", tmp_path / "hard.txt"])
    assert "refusing to overwrite" in err and problem.read_text() == f'x = "{x}"\n'


def test_embed_onto_its_own_input(tmp_path: Path) -> None:
    emb = tmp_path / "emb.txt"
    emb.write_text("a 1 0\nb 0 1\n")
    err = error_of(["embed", "--text", "a b", "--embeddings", emb, "-o", emb])
    assert "refusing to overwrite" in err and emb.read_text() == "a 1 0\nb 0 1\n"


# ---- devices and named pipes are written through, never replaced --------------------------------


def _null_device(path: Path) -> Path:
    """A character device like /dev/null (major 1, minor 3), made in the test's directory."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot make a device node here: {err}")
    try:
        with open(path, "wb") as f:
            f.write(b"probe")
    except OSError as err:
        pytest.skip(f"device nodes do not work on this file system: {err}")
    return path


@pytest.mark.parametrize("via_symlink", [False, True])
def test_output_to_a_device_writes_through(tmp_path: Path, x: Path, via_symlink: bool) -> None:
    null = _null_device(tmp_path / "null")
    target = null
    if via_symlink:
        target = tmp_path / "out"
        target.symlink_to(null)
    run(["compute", "--x", x, "--format", "json", "-o", target])
    assert stat.S_ISCHR(os.stat(null).st_mode), "the device was replaced by a regular file"
    assert not [n for n in listing(tmp_path) if n.startswith(".")]


def test_output_to_a_named_pipe_writes_through(tmp_path: Path, x: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    run(["compute", "--x", x, "--format", "json", "--show", "weights", "-o", fifo])
    reader.join(30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    weights = np.array(json.loads(got[0])["weights"])
    scaled = np.exp(np.eye(3) / math.sqrt(3))
    np.testing.assert_allclose(weights, scaled / scaled.sum(axis=1, keepdims=True), atol=1e-12)


def test_a_named_pipe_without_a_reader_says_what_it_waits_for(tmp_path: Path, x: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*attncli_command(), "compute", "--x", str(x), "--format", "json", "-o", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert "waiting for a reader on" in line and "pipe" in line
        assert json.loads(fifo.read_bytes())["meta"]  # a reader arrives: the output goes through
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_streamed_map_refuses_a_device(tmp_path: Path, x: Path) -> None:
    null = _null_device(tmp_path / "null")
    np.save(x, np.random.default_rng(3).normal(size=(40, 4)))  # 40 × 40 maps: more than 1K of memory
    err = error_of(["compute", "--x", x, "--show", "weights", "--format", "npy", "-o", null],
                   env={"ATTNCLI_MEMORY_LIMIT": "1K"})
    assert "a character device" in err and stat.S_ISCHR(os.stat(null).st_mode)


# ---- reading a FIFO nobody writes to ------------------------------------------------------------


@pytest.mark.parametrize("option", ["--x", "--tokens"])
def test_an_input_fifo_without_a_writer_is_announced_then_read(tmp_path: Path, option: str) -> None:
    fifo = tmp_path / "in"
    os.mkfifo(fifo)
    extra = ["--embeddings", "random:2"] if option == "--tokens" else []
    proc = subprocess.Popen([*attncli_command(), "compute", option, str(fifo), *extra, "--format", "json",
                             "--show", "weights"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert "waiting for data on" in line and str(fifo.name) in line
        fifo.write_text("1 0\n0 1\n" if option == "--x" else "a b\n")
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert np.array(json.loads(out)["weights"]).shape == (2, 2)
    finally:
        proc.kill()
        proc.wait()


# ---- standard output that fails ------------------------------------------------------------------


@pytest.mark.parametrize("unbuffered", [False, True])
def test_standard_output_on_dev_full_is_an_error(x: Path, unbuffered: bool) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    env = {**os.environ, **({"PYTHONUNBUFFERED": "1"} if unbuffered else {})}
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*attncli_command(), "compute", "--x", str(x), "--format", "json"], stdout=full,
                              stderr=subprocess.PIPE, env=env, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: cannot write to standard output") and err.count("\n") == 1


def _unshare_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and mount namespaces (unshare -m) for a full disk")
@pytest.mark.parametrize("unbuffered", ["", "PYTHONUNBUFFERED=1"])
@pytest.mark.parametrize("how", ["stdout", "file"])
def test_a_full_disk_is_an_error_and_leaves_no_file(tmp_path: Path, unbuffered: str, how: str) -> None:
    # 52 MB of JSON into a 1 MB file system, in a private mount namespace
    big = tmp_path / "big.npy"
    np.save(big, np.random.default_rng(0).normal(size=(2500, 8)))
    cmd = " ".join(attncli_command())
    write = f"> {tmp_path}/disk/out.json" if how == "stdout" else f"-o {tmp_path}/disk/out.json"
    script = (f"mkdir -p {tmp_path}/disk && mount -t tmpfs -o size=1m tmpfs {tmp_path}/disk && "
              f"env {unbuffered} {cmd} compute --x {big} --format json {write}; echo \"rc=$?\" >&2; "
              f"ls -a {tmp_path}/disk >&2")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, timeout=120)
    lines = proc.stderr.decode().splitlines()
    assert lines[0].startswith("error: ") and "cannot write" in lines[0], lines
    assert "No space left on device" in lines[0], lines
    assert lines[1] == "rc=2", lines
    left = lines[2:]
    assert sorted(left) == ([".", "..", "out.json"] if how == "stdout" else [".", ".."]), left


def test_standard_output_closed_is_an_error(x: Path) -> None:
    proc = subprocess.run([*attncli_command(), "compute", "--x", str(x), "--format", "json"], stdout=None,
                          stderr=subprocess.PIPE, timeout=120, close_fds=True,
                          preexec_fn=lambda: os.close(1))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: standard output is closed") and err.count("\n") == 1


def test_standard_input_closed_is_an_error() -> None:
    proc = subprocess.run([*attncli_command(), "compute", "--x", "-"], stdin=None, capture_output=True,
                          timeout=120, preexec_fn=lambda: os.close(0))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "standard input is closed" in err and err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "npy", "npz", "safetensors", "table"])
def test_a_closed_pipe_is_exit_141_for_every_format(tmp_path: Path, fmt: str) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.random.default_rng(1).normal(size=(600, 8)))
    show = "weights" if fmt == "npy" else "all"
    proc = subprocess.Popen([*attncli_command(), "compute", "--x", str(big), "--show", show, "--format", fmt,
                             "--precision" if fmt == "table" else "--dtype", "4" if fmt == "table" else "float64"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # the reader goes away, as `| head -c 10` does
    err = proc.stderr.read()
    assert proc.wait(120) == 141, err
    assert err == b""


# ---- signals while writing ------------------------------------------------------------------------


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_terminating_signal_while_writing_leaves_no_temporary_file(tmp_path: Path, sig: int, code: int) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.random.default_rng(2).normal(size=(8000, 8)).astype(np.float32))
    before = listing(tmp_path)
    proc = subprocess.Popen([*attncli_command(), "compute", "--x", str(big), "--show", "weights",
                             "-o", str(tmp_path / "w.npy")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if any(n.startswith(".w.npy") for n in listing(tmp_path)):
            break
        time.sleep(0.002)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the map was written before the signal arrived")
    assert proc.returncode == code, err
    assert b"Traceback" not in err
    assert listing(tmp_path) == before


# ==================================================================================================
# Memory and time bounded: streams without a size are read with a cap
# ==================================================================================================


def test_dev_zero_is_refused_with_the_cap() -> None:
    proc = run_capped(["compute", "--x", "/dev/zero"], limit_mb=400, env={"ATTNCLI_MEMORY_LIMIT": "64M"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    # zeros are text to the sniffer: refused once parsing what came (24 bytes per byte) passes the 64 MB budget
    assert "--x" in err and "/dev/zero" in err and "without ending" in err and "0.062 GB of memory available" in err


def fed_from(code: str) -> subprocess.CompletedProcess:
    """`attncli compute --x -` under a 400 MB address space and a 64 MB budget, its stdin written by another Python
    process running `code` (killed when attncli is done)."""
    feeder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        proc = run_capped(["compute", "--x", "-"], limit_mb=400, env={"ATTNCLI_MEMORY_LIMIT": "64M"},
                          stdin=feeder.stdout)
    finally:
        feeder.kill()
        feeder.wait()
    return proc


def test_an_endless_binary_stream_is_refused_at_half_the_budget() -> None:
    proc = fed_from("import sys\nsys.stdout.buffer.write(b'\\x93NUMPY')\n"
                    "while True: sys.stdout.buffer.write(bytes(2**20))")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert "'standard input' gave more than 0.031 GB without ending" in err and "half the memory" in err


def test_a_huge_line_through_a_pipe_is_refused_with_the_cap() -> None:
    # 2 GB of digits without a newline, from another process: attncli stops at its 32 MB cap
    proc = fed_from("import sys\nfor _ in range(2048): sys.stdout.buffer.write(b'1' * 2**20)")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "standard input" in err and "without ending" in err, err


def test_a_text_table_too_big_to_parse_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "x.csv"
    with open(big, "wb") as f:  # 100 MB of "1," (sparse beyond the first line: nothing is read to refuse it)
        f.write(b"1,1\n")
        f.truncate(100 * 2**20)
    proc = run_capped(["compute", "--x", big], limit_mb=400, env={"ATTNCLI_MEMORY_LIMIT": "512M"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "--x" in err and "parsing" in err and ".npy" in err, err


# ==================================================================================================
# Every bad input is exit 2 and one line
# ==================================================================================================


def test_seed_below_zero(x: Path) -> None:
    err = error_of(["compute", "--text", "a b", "--embeddings", "random:2", "--seed", "-1"])
    assert "--seed" in err


@pytest.mark.parametrize("value", ["1e308T", "wide", "-5G", "nan"])
def test_memory_limit_nonsense(x: Path, value: str) -> None:
    err = error_of(["compute", "--x", x], env={"ATTNCLI_MEMORY_LIMIT": value})
    assert "ATTNCLI_MEMORY_LIMIT" in err


def test_columns_not_a_number(x: Path) -> None:
    for fmt in ("heatmap", "table"):
        proc = run(["compute", "--x", x, "--format", fmt], env={**os.environ, "COLUMNS": "wide"})
        assert proc.returncode == 0 and proc.stdout


def test_an_ascii_terminal_shows_cjk_labels_as_escapes(x: Path) -> None:
    proc = run(["compute", "--x", x, "--labels", "猫,鱼,水", "--show", "weights"],
               env={**os.environ, "PYTHONIOENCODING": "ascii"})
    out = proc.stdout.decode("ascii")
    assert "\\u732b" in out and proc.stderr == b""
    doc = json.loads(run(["compute", "--x", x, "--labels", "猫,鱼,水", "--format", "json"],
                         env={**os.environ, "PYTHONIOENCODING": "ascii"}).stdout)
    assert doc["meta"]["labels"] == ["猫", "鱼", "水"] if "labels" in doc["meta"] else True


def test_a_huge_bad_csv_cell_is_cut_in_the_message(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("1,2\n3," + "z" * 2**20 + "\n")
    err = error_of(["compute", "--x", bad])
    assert len(err) < 400 and "line 2, column 2" in err and "1,048,576 characters" in err


def test_a_huge_inline_literal_is_cut_in_the_message() -> None:
    err = error_of(["compute", "--x", "1 0; 0 " + "q" * 100_000])
    assert len(err) <= 1100


def test_control_characters_in_a_message_are_escaped(tmp_path: Path) -> None:
    err = error_of(["compute", "--x", str(tmp_path / "a\x1b[2Jb\nc.csv")])
    assert "\x1b" not in err and "\\x1b" in err


def test_inspect_shows_hostile_array_names_inertly(tmp_path: Path) -> None:
    name = "a\x1b[2J[red]x\x7f\x9b"
    archive = tmp_path / "x.npz"
    np.savez(archive, **{name: np.eye(2)})
    out = run(["inspect", archive]).stdout.decode()
    assert "\x1b" not in out and "\x7f" not in out and "\x9b" not in out and "[red]x" in out
    doc = json.loads(run(["inspect", archive, "--format", "json"]).stdout)
    raw = run(["inspect", archive, "--format", "json"]).stdout
    assert doc["arrays"][0]["name"] == name and b"\x1b" not in raw and b"\x7f" not in raw


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_text_document_too_big_for_memory_is_refused_before_encoding(tmp_path: Path, fmt: str) -> None:
    # 2000 × 2000 weights: 32 MB as numbers, ~370 MB as JSON text and its Python objects
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(4).normal(size=(2000, 8)))
    proc = run_capped(["compute", "--x", x, "--show", "weights", "--format", fmt], limit_mb=500,
                      env={"ATTNCLI_MEMORY_LIMIT": "160M"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and proc.stdout == b"", err
    assert f"writing 4,000,000 values as {fmt.upper()}" in err and "out.npy" in err


def test_an_escape_sequence_in_a_csv_cell_never_reaches_stderr_raw(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("1,2\n3,\x1b]0;owned\x07\x1b[2J\n")
    err = error_of(["compute", "--x", bad])
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err and "line 2, column 2" in err


def test_output_to_dev_stdout_and_dev_fd_writes_where_the_shell_points(tmp_path: Path, x: Path) -> None:
    cmd = " ".join(attncli_command())
    script = (f"{cmd} compute --x {x} --format json -o /dev/stdout | head -c 1 > {tmp_path}/piped; "
              f"echo first > {tmp_path}/log; {cmd} compute --x {x} --format json -o /dev/fd/3 3>> {tmp_path}/log; "
              f"{cmd} compute --x {x} --format npy -o /dev/stdout >> {x}; echo \"rc=$?\"")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120)
    assert (tmp_path / "piped").read_text() == "{"
    log = (tmp_path / "log").read_text()
    assert log.startswith("first\n{") and json.loads(log[len("first\n"):])["weights"]  # appended, not replaced
    err = proc.stderr.decode()
    assert "refusing to overwrite the input file /dev/stdout" in err and proc.stdout.decode().strip() == "rc=2"
    np.testing.assert_array_equal(np.load(x), np.eye(3))


@pytest.mark.parametrize("option", ["--tokens", "--vocab", "--labels", "--tokenizer"])
def test_text_side_files_too_big_to_parse_are_refused_before_reading(tmp_path: Path, x: Path, option: str) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # 20 MB, sparse: refused from its size, nothing read
        f.truncate(20 * 2**20)
    args = {"--tokens": ["compute", "--tokens", big, "--embeddings", "random:2"],
            "--vocab": ["compute", "--text", "a", "--embeddings", x, "--vocab", big],
            "--labels": ["compute", "--x", x, "--labels", big],
            "--tokenizer": ["compute", "--text", "a", "--tokenizer", big, "--embeddings", x]}[option]
    if option == "--tokenizer":
        pytest.importorskip("tokenizers")
    proc = run_capped(args, limit_mb=300, env={"ATTNCLI_MEMORY_LIMIT": "64M"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {option}: reading") and "would need about" in err


def test_a_path_too_long_for_the_file_system_is_just_not_found(tmp_path: Path) -> None:
    long = "A" * 300  # longer than NAME_MAX: stat raises ENAMETOOLONG, not ENOENT
    (tmp_path / "p.toml").write_text(f'x = "{long}.npy"\n')
    assert "no such file" in error_of(["compute", tmp_path / "p.toml"])
    assert "no such folder" in error_of(["model", tmp_path / long, "--ids", "1"])


def test_a_dimension_of_hundreds_of_digits_is_one_short_line() -> None:
    err = error_of(["compute", "--text", "a b", "--embeddings", "random:" + "9" * 400])
    assert "random:DIM needs a positive integer" in err and len(err) < 300


def test_a_dotted_key_thousands_deep_is_refused_before_parsing(tmp_path: Path) -> None:
    problem = tmp_path / "p.toml"
    problem.write_text("[options]\n" + ".".join(["a"] * 20_000) + " = 1\n")  # 40 KB; tomllib: 2.4 GB
    proc = run_capped(["compute", problem], limit_mb=400, env={"ATTNCLI_MEMORY_LIMIT": "256M"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "line 2 has a key nested 20000 levels deep" in err, err


def test_undecodable_text_gets_random_vectors(tmp_path: Path) -> None:
    proc = subprocess.run([*attncli_command(), "compute", "--text", b"w\xff", "--embeddings", "random:3", "--format",
                           "json"], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert np.array(json.loads(proc.stdout)["output"]).shape == (1, 3)


def test_a_hundred_thousand_tables_print_the_first_and_count_the_rest() -> None:
    out = run(["pe", "--kind", "alibi", "--length", "4", "--heads", "100000"]).stdout.decode()
    assert out.count("pe[") <= 64 and "99,936 more pe matrices (100,000 in all)" in out


def test_outputs_that_overflow_are_refused_not_printed_as_inf() -> None:
    # relu weights do not sum to 1: a weight of 2 on a value of 1e308 overflows float64 (2e308 > 1.8e308)
    err = error_of(["compute", "--q", "[[1]]", "--k", "[[2]]", "--v", "[[1e308]]", "--score", "dot", "--normalize",
                    "relu"])
    assert "the attention outputs overflow float64" in err
