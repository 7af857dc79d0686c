"""Issue #8, "bad input never hurts": the catalogue, one test per entry, through the installed CLI.

Every failing command must exit 2 with one line `error: ...` on stderr (no traceback) and leave no
file behind (`run_error` checks the first three). The headings follow the issue; an entry already
covered through the CLI elsewhere names that test instead of repeating it:

Files      missing ........................ tests/test_cli.py::test_user_errors (missing.csv)
           a missing key (safetensors) .... tests/test_cli.py::test_missing_safetensors_key_lists_keys
           binary output to a terminal .... tests/test_cli.py::test_binary_is_never_written_to_a_terminal
Shapes     X against W_Q, torch hint ...... tests/test_cli.py::test_user_errors (weights-layout torch)
           heads not dividing d ........... tests/test_cli.py::test_user_errors (--heads 2 on 3 columns)
           mask not broadcastable ......... tests/test_cli.py::test_user_errors (--mask "1 0 1")
           key-lens count ≠ batch ......... tests/test_cli.py::test_user_errors (--key-lens 1,2,3)
Output     -o onto an input file .......... tests/test_cli.py::test_refuses_to_overwrite_an_input
           -o into a missing directory .... tests/test_cli.py::test_missing_output_directory
Fuzzing    tests/test_fuzz.py (CI) and tests/fuzz.py (long runs)

Issue #12, "nothing overwritten, nothing blown up" (F = tests/test_hostile_files.py,
R = tests/test_hostile_readers.py, O = tests/test_hostile_output.py):
Data loss  text-side inputs, links ...... F::test_text_side_inputs_are_never_overwritten (+ tokenizer, problem)
           stdin is the output file ..... F::test_standard_input_that_is_the_output_file
           -o a device / symlink / FIFO . F::test_output_to_a_device_writes_through, F::..._named_pipe_writes_through
           stdout on a full disk ........ F::test_a_full_disk_is_an_error_and_leaves_no_file (mount namespace),
                                          F::test_standard_output_on_dev_full_is_an_error
           SIGTERM / SIGHUP ............. F::test_a_terminating_signal_while_writing_leaves_no_temporary_file
Memory     npz zip bomb, lying members .. R::test_npz_zip_bomb_is_refused_before_decompressing (+ 2 more)
           /dev/zero, a 2 GB line ....... F::test_dev_zero_is_refused_with_the_cap, F::test_a_huge_line_through...
           show / inspect of huge maps .. R::test_show_one_head_of_a_map_bigger..., R::test_inspect_of_an_npy...
           pe, random:N, onehot ......... O::test_pe_table_too_big..., O::test_random_embeddings..., O::test_onehot...
           pictures ..................... O::test_picture_too_big..., O::test_html_page_too_big...
           text documents too big ....... F::test_a_text_document_too_big_for_memory_is_refused_before_encoding
Time       1.4 M tensors ................ R::test_inspect_many_tensors_parses_once... (timing: tests/bench.py row 7)
           explain of 1000 tokens ....... O::test_explain_of_1000_tokens... (timing: tests/bench.py row 6)
           FIFO without a writer ........ F::test_an_input_fifo_without_a_writer_is_announced_then_read,
                                          F::test_a_named_pipe_without_a_reader_says_what_it_waits_for
One line   5000 digits, deep nesting .... R::test_json_huge_integers..., R::test_safetensors_hostile_headers...,
                                          R::test_problem_file_hostile_values..., R::test_npy_hostile_headers...
           --seed, memory limit, COLUMNS  F::test_seed_below_zero, F::test_memory_limit_nonsense, F::test_columns...
           encoding, closed streams ..... F::test_an_ascii_terminal..., F::test_standard_output_closed..., F::..._input
           tokenizer.json panic ......... O::test_malformed_tokenizer_json_is_one_line
           long echoes, control chars ... F::test_a_huge_bad_csv_cell..., F::test_a_huge_inline_literal...,
                                          F::test_control_characters..., F::test_an_escape_sequence_in_a_csv_cell...
           check --expected complex ..... O::test_check_complex_expected_says_so
           broken pipe: one code (141) .. F::test_a_closed_pipe_is_exit_141_for_every_format
Terminal   control characters in data ... O::test_text_labels_never_reach_the_terminal_raw (+ tokens, show, check),
                                          F::test_inspect_shows_hostile_array_names_inertly

Issue 20, "a first hour without traps": messages that point at the mistake (M = tests/test_messages.py):
Files      a missing upload ............. M::test_a_missing_upload_says_the_file_is_missing_and_names_a_near_match
                                          (+ another extension, a missing folder, a file for a folder, long lists)
           a typo in an inline matrix ... M::test_a_typo_in_an_inline_matrix_is_pinpointed (+ JSON lists, a file)
           a PyTorch or Python pickle ... M::test_pickles_are_refused_by_every_command (+ standard input, model)
Usage      --key-lens 4 2 ............... M::test_a_second_value_after_an_option, M::test_check_answers_after_...
Shapes     cols-layout weights .......... M::test_cols_layout_speaks_of_the_lecture_layout (rows: ..._pytorch_advice)
Problems   a missing file, resolved ..... M::test_a_missing_file_named_by_a_problem_in_a_subfolder (+ lists, file:name)
           a missing problem file ....... M::test_a_missing_problem_file_names_a_near_one_or_the_template
           a key set twice .............. M::test_a_key_in_two_places_is_refused

Expected numbers are closed forms: softmax of two scores s, t is (1/(1+e^(t−s)), 1/(1+e^(s−t))).
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import pickle
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import attncli_command, interrupt, run

from attncli.errors import AttnError


def error_of(args: list, *, stdin: bytes | None = None, cwd: Path | None = None, env: dict | None = None) -> str:
    """The one `error:` line of a command that must fail as a user error (exit 2, no traceback)."""
    full_env = None if env is None else {**os.environ, **env}
    proc = run(args, stdin=stdin, cwd=cwd, check=False, env=full_env)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr: {err}"
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err
    return err


def json_of(args: list, **kw) -> dict:
    return json.loads(run([*args, "--format", "json"], **kw).stdout)


def npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# ==================================================================================================
# Files
# ==================================================================================================


def test_files_a_directory(tmp_path: Path) -> None:
    err = error_of(["compute", "--x", tmp_path])
    assert "--x" in err and "is a directory" in err
    err = error_of(["compute", "--x", f"{tmp_path}:x"])
    assert "is a directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_files_unreadable_by_permissions(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("1,0\n0,1\n")
    path.chmod(0)
    err = error_of(["compute", "--x", path])
    assert "--x" in err and "cannot read" in err and "Permission denied" in err


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_files_unreadable_even_for_root() -> None:
    # a write-only kernel file: open() for reading or read() fails for every user, root included
    err = error_of(["compute", "--x", "/proc/self/clear_refs"])
    assert "--x" in err and "cannot read '/proc/self/clear_refs'" in err


@pytest.mark.parametrize("name,phrase", [
    ("x.npy", "is empty (0 bytes)"), ("x.npz", "is empty (0 bytes)"),
    ("x.safetensors", "is empty (0 bytes)"), ("x.csv", "holds no numbers"), ("x.json", "not valid JSON"),
])
def test_files_empty(tmp_path: Path, name: str, phrase: str) -> None:
    (tmp_path / name).write_bytes(b"")
    err = error_of(["compute", "--x", tmp_path / name])
    assert phrase in err and name in err


def test_files_truncated_npy(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.eye(4))
    (tmp_path / "x.npy").write_bytes(buf.getvalue()[:-10])
    err = error_of(["compute", "--x", tmp_path / "x.npy"])
    assert "truncated" in err and "shape (4, 4)" in err


class _Tripwire:
    """Unpickling this creates a file: proof that nothing was unpickled if the file never appears."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_files_npy_object_dtype_is_never_unpickled(tmp_path: Path) -> None:
    tripwire = tmp_path / "unpickled"
    payload = np.empty(1, dtype=object)
    payload[0] = _Tripwire(str(tripwire))
    np.save(tmp_path / "o.npy", payload, allow_pickle=True)
    with pytest.raises(FileNotFoundError):  # the payload is real: numpy would run it when unpickling
        pickle.loads(pickle.dumps(_Tripwire(str(tmp_path / "missing-dir" / "f"))))
    err = error_of(["compute", "--x", tmp_path / "o.npy"])
    assert "never unpickled" in err
    np.savez(tmp_path / "o.npz", o=payload)
    assert "never unpickled" in error_of(["compute", "--x", tmp_path / "o.npz"])
    assert not tripwire.exists()


def _safetensors(header: bytes, data: bytes, length: int | None = None) -> bytes:
    return struct.pack("<Q", len(header) if length is None else length) + header + data


@pytest.mark.parametrize("blob,phrase", [
    (_safetensors(b'{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4, length=10_000),
     "header length 10000 exceeds the file size"),
    (_safetensors(b"not json at all!", b""), "its header is not UTF-8 JSON"),
    (_safetensors(b'{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', b"\0" * 4),
     "data_offsets [0, 8] fall outside the data buffer (4 bytes)"),
    (_safetensors(b'{"x": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}', b"\0" * 4),
     "fall outside the data buffer"),
], ids=["header-length-exceeds-file", "header-not-json", "offsets-past-the-end", "offsets-start-outside"])
def test_files_corrupt_safetensors(tmp_path: Path, blob: bytes, phrase: str) -> None:
    (tmp_path / "m.safetensors").write_bytes(blob)
    err = error_of(["compute", "--x", tmp_path / "m.safetensors"])
    assert phrase in err and "m.safetensors" in err


@pytest.mark.parametrize("kind", ["npz", "json"])
def test_files_missing_key_lists_the_keys(tmp_path: Path, kind: str) -> None:
    if kind == "npz":
        np.savez(tmp_path / "w.npz", wq=np.eye(2), wk=np.eye(2))
    else:
        (tmp_path / "w.json").write_text('{"wq": [[1, 0], [0, 1]], "wk": [[1, 0], [0, 1]]}')
    err = error_of(["compute", "--x", f"{tmp_path / f'w.{kind}'}:wv"])
    assert "no array 'wv'" in err and "wq, wk" in err


def test_files_npz_with_several_arrays_and_no_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", q=np.eye(2), k=np.eye(2), v=np.eye(2))
    err = error_of(["compute", "--x", tmp_path / "d.npz"])
    assert "holds 3 arrays" in err and "d.npz:NAME" in err and "q, k, v" in err


def test_files_csv_ragged_rows(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,0,1\n0,1\n")
    err = error_of(["compute", "--x", tmp_path / "x.csv"])
    assert "line 2 has 2 values but line 1 has 3 values" in err


def test_files_csv_non_number_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("# tokens\n1,0\n0,one\n")
    err = error_of(["compute", "--x", tmp_path / "x.csv"])
    assert "line 3, column 2: 'one' is not a number" in err


def test_files_json_ragged(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[[1, 0], [0]]")
    err = error_of(["compute", "--x", tmp_path / "x.json"])
    assert "ragged" in err and "[1] has length 1 but [0] has length 2" in err


def test_files_json_not_numbers(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('[[1, 0], [0, "one"]]')
    err = error_of(["compute", "--x", tmp_path / "x.json"])
    assert '[1][1] is "one", not a number' in err


def test_files_empty_stdin() -> None:
    err = error_of(["compute", "--x", "-"], stdin=b"")
    assert "--x: standard input is empty" in err


def test_files_pipes_and_process_substitution_are_read_whole(tmp_path: Path) -> None:
    # `--x <(cmd)` is a pipe named /dev/fd/N: it has no size and cannot seek, yet it is a file
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*attncli_command(), "compute", "--x", str(fifo), "--score", "dot", "--show", "weights",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = io.BytesIO()
    np.save(buf, np.eye(2))
    with open(fifo, "wb") as writer:
        writer.write(buf.getvalue())
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    e = math.e
    np.testing.assert_allclose(json.loads(out)["weights"], [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])


# ==================================================================================================
# Values
# ==================================================================================================


@pytest.mark.parametrize("bad,shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_values_nonfinite_inputs_name_array_and_first_position(tmp_path: Path, bad: float, shown: str) -> None:
    x = np.ones((3, 2))
    x[1, 1] = x[2, 0] = bad  # the first one, row-major, is named
    err = error_of(["compute", "--x", npy(tmp_path / "x.npy", x)])
    assert f"--x holds {shown} at position [1, 1] (shape (3, 2))" in err and "--allow-nonfinite" in err
    w = np.eye(2)
    w[0, 1] = bad
    err = error_of(["compute", "--x", "1 0; 0 1", "--wq", "1 0; 0 1", "--wk", npy(tmp_path / "wk.npy", w),
                    "--wv", "1 0; 0 1"])
    assert f"--wk holds {shown} at position [0, 1]" in err


def test_values_allow_nonfinite_goes_on(tmp_path: Path) -> None:
    # key 1 holds NaN: every score against it is NaN, so every weight is NaN, computed as asked
    doc = json_of(["compute", "--q", "1 0;", "--k", "1 0; nan 0", "--v", "1; 2", "--show", "weights",
                   "--allow-nonfinite"])
    assert doc["weights"] == [[None, None]]
    # a -inf bias is not an error: it is how a float mask blocks a key
    doc = json_of(["compute", "--x", "1 0; 0 1", "--score", "dot", "--bias", "0 -inf; 0 0", "--show", "weights"])
    assert doc["weights"][0] == [1.0, 0.0]


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "bool"])
def test_values_integer_and_bool_arrays_are_cast(tmp_path: Path, dtype: str) -> None:
    x = npy(tmp_path / "x.npy", np.eye(2).astype(dtype))
    doc = json_of(["compute", "--x", x, "--score", "dot", "--show", "weights"])
    e = math.e
    np.testing.assert_allclose(doc["weights"], [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]], atol=1e-15)


@pytest.mark.parametrize("option,message", [
    ("--x", "--x must hold real numbers; got dtype complex128"),
    ("--mask", "--mask must hold 0/1 or true/false (1 = may attend); got dtype complex128"),
    ("--adjacency", "--adjacency must hold real numbers (nonzero = may attend); got dtype complex128"),
    ("--bias", "--bias must hold real numbers; got dtype complex128"),
    ("--embeddings", "--embeddings must hold real numbers; got dtype complex128"),
])
def test_values_complex_is_an_error(tmp_path: Path, option: str, message: str) -> None:
    c = npy(tmp_path / "c.npy", np.array([[1, 0], [0, 1j]]))
    if option == "--embeddings":
        (tmp_path / "ids.txt").write_text("0 1\n")
        args = ["--ids", tmp_path / "ids.txt", "--embeddings", c]
    else:
        args = ["--x", c] if option == "--x" else ["--x", "1 0; 0 1", option, c]
    assert message in error_of(["compute", *args])


@pytest.mark.parametrize("args,message", [
    (["--x", "@x0"], "--x has 0 tokens (shape (0, 2))"),
    (["--x", "@x0", "--layout", "cols"], "--x has 0 features"),
    (["--x", "1 0; 0 1", "--x-kv", "@x0"], "--x-kv has 0 tokens (shape (0, 2))"),
    (["--q", "@x0", "--k", "1 0", "--v", "1 0"], "--q has 0 tokens (shape (0, 2))"),
    (["--q", "1 0;", "--k", "@x0", "--v", "@x0"], "--k has 0 tokens (shape (0, 2))"),
    (["--x", "@d0"], "--x has 0 features (shape (2, 0))"),
    (["--x", "@b0"], "--x is empty (shape (0, 2, 2))"),
], ids=["x", "x-cols", "x-kv", "q", "k", "no-features", "no-batch"])
def test_values_zero_length_sequences(tmp_path: Path, args: list[str], message: str) -> None:
    files = {"@x0": np.zeros((0, 2)), "@d0": np.zeros((2, 0)), "@b0": np.zeros((0, 2, 2))}
    argv = [str(npy(tmp_path / f"{a[1:]}.npy", files[a])) if a in files else a for a in args]
    assert message in error_of(["compute", *argv])


def test_values_one_by_one() -> None:
    doc = json_of(["compute", "--x", "3;", "--wq", "2;", "--wk", "0.5;", "--wv", "-1;"])
    assert doc["weights"] == [[1.0]] and doc["output"] == [[-3.0]]
    doc = json_of(["compute", "--q", "1;", "--k", "-1e4;", "--v", "7;", "--causal", "--show", "weights,output"])
    assert doc["weights"] == [[1.0]] and doc["output"] == [[7.0]]


# ==================================================================================================
# Shapes
# ==================================================================================================


def test_shapes_x_against_wq_suggests_layout_cols() -> None:
    # tokens as columns (d_model × n = 2 × 3) read in rows layout: the message says --layout cols
    err = error_of(["compute", "--x", "1 0 1; 0 1 1", "--wq", "1 0; 0 1", "--wk", "1 0; 0 1", "--wv", "1 0; 0 1"])
    assert "--x has d_model = 3 columns (shape (2, 3))" in err and "add --layout cols" in err


def test_shapes_x_against_wq_suggests_weights_layout_torch() -> None:
    err = error_of(["compute", "--x", "1 0 0; 0 1 0", "--wq", "1 0 0; 0 1 0", "--wk", "1 0 0; 0 1 0",
                    "--wv", "1 0 0; 0 1 0"])
    assert "--wq has 2 rows (shape (2, 3))" in err and "--weights-layout torch" in err


def test_shapes_kv_heads_not_dividing_heads() -> None:
    err = error_of(["compute", "--x", "1 0 0 0 0 0; 0 1 0 0 0 0", "--heads", "3", "--kv-heads", "2"])
    assert "--kv-heads 2 must divide --heads 3" in err


def test_shapes_bias_not_broadcastable() -> None:
    err = error_of(["compute", "--x", "1 0; 0 1", "--bias", "0 0 0; 0 0 0"])
    assert "--bias of shape (2, 3) does not broadcast" in err and "n_q × n_k = 2 × 2" in err


def test_shapes_key_lens_longer_than_n() -> None:
    err = error_of(["compute", "--x", "1 0; 0 1", "--key-lens", "3"])
    assert "--key-lens value 3 is outside 0..2 (there are 2 keys)" in err


@pytest.mark.parametrize("window,phrase", [
    ("-1", "≥ 0"), ("1:-2", "≥ 0"), ("a", "takes L"), ("1:2:3", "takes L"), ("1:", "takes L"), ("", "takes L"),
])
def test_shapes_malformed_or_negative_window(window: str, phrase: str) -> None:
    err = error_of(["compute", "--x", "1 0; 0 1", f"--window={window}"])
    assert "--window" in err and phrase in err


@pytest.mark.parametrize("size", ["2", "0", "-1"])
def test_shapes_even_window2d(size: str) -> None:
    err = error_of(["compute", "--image", "samples/image/image.json", f"--window2d={size}"],
                   cwd=Path(__file__).parent.parent)
    assert f"--window2d must be an odd size ≥ 1 (a K × K neighbourhood); got {size}" in err


# ==================================================================================================
# Size
# ==================================================================================================


def test_size_dense_bytes_is_exact_without_overflow() -> None:
    from attncli.core.validate import dense_bytes

    assert dense_bytes(2, 8, 1000, 500, 4, 3) == 2 * 8 * 1000 * 500 * 4 * 3
    assert dense_bytes(64, 128, 1 << 20, 1 << 20, 8, 4) == 64 * 128 * 2**40 * 32  # past int64: Python ints


def test_size_check_names_estimate_limit_and_alternatives() -> None:
    from attncli.core.validate import check_dense_memory

    check_dense_memory(1, 1, 10, 10, 8, 4, None)  # unknown limit: no check
    check_dense_memory(1, 1, 10, 10, 8, 4, 3200)  # exactly fits
    with pytest.raises(AttnError) as info:
        check_dense_memory(1, 8, 100_000, 100_000, 8, 4, 16 * 2**30, streaming=True)
    message = str(info.value)
    assert "about 2384.2 GB" in message and "16.0 GB of memory is available" in message
    # the library's parameters (the CLI's --dtype float32, --show output, -o: tests/test_stream_maps.py)
    assert "dtype=float32" in message and 'need=["output"]' in message and "fewer tokens" in message
    assert "stream_maps" not in message  # only when the caller can stream a map to disk
    with pytest.raises(AttnError, match=r"stream_maps=scores \(one map, streamed to disk in blocks\)"):
        check_dense_memory(1, 8, 100_000, 100_000, 8, 4, 16 * 2**30, streaming=True, to_disk="scores")
    with pytest.raises(AttnError) as info:
        check_dense_memory(1, 1, 1000, 1000, 4, 4, 1000)
    assert "dtype=float32" not in str(info.value) and "need=" not in str(info.value)


def test_size_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from attncli.io.memory import available_memory, parse_size

    assert parse_size("512K") == 512 * 1024 and parse_size("1.5G") == 3 * 2**29 and parse_size("100") == 100
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", "2M")
    assert available_memory() == 2 * 2**20
    monkeypatch.setenv("ATTNCLI_MEMORY_LIMIT", "lots")
    with pytest.raises(AttnError, match="ATTNCLI_MEMORY_LIMIT takes a size"):
        available_memory()
    monkeypatch.delenv("ATTNCLI_MEMORY_LIMIT")
    assert available_memory() is None or available_memory() > 0


def test_size_dense_map_too_big_is_refused_before_allocating(tmp_path: Path) -> None:
    x = npy(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(400, 4)))
    limit = {"ATTNCLI_MEMORY_LIMIT": "1M"}  # one 400 × 400 float64 map needs more
    err = error_of(["compute", "--x", x, "--show", "weights,output", "-o", tmp_path / "w.npz"], env=limit)
    assert "the dense attention maps would need about" in err and "GB" in err and "available" in err
    assert "--show output" in err and "--show weights -o weights.npy" in err and not (tmp_path / "w.npz").exists()
    # one map to one .npy file goes to disk in blocks instead (tests/test_stream_maps.py)
    run(["compute", "--x", x, "--show", "weights", "-o", tmp_path / "w.npy"], env={**os.environ, **limit})
    assert np.load(tmp_path / "w.npy").shape == (400, 400)
    # the output alone streams over blocks of queries, without the dense map: it fits
    run(["compute", "--x", x, "--show", "output", "-o", tmp_path / "o.npy"], env={**os.environ, **limit})
    assert np.load(tmp_path / "o.npy").shape == (400, 4)


def test_size_mask_and_alibi_tables_too_big_are_refused_before_allocating(tmp_path: Path) -> None:
    limit = {"ATTNCLI_MEMORY_LIMIT": "1M"}
    err = error_of(["pe", "--kind", "alibi", "--length", "2000", "--heads", "4", "-o", tmp_path / "a.npy"], env=limit)
    assert "the ALiBi biases would need about" in err and "--dtype" not in err
    err = error_of(["mask", "--length", "3000", "--causal", "-o", tmp_path / "m.npy"], env=limit)
    assert "the mask would need about" in err
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "m.npy").exists()


# ==================================================================================================
# Output
# ==================================================================================================


def test_output_onto_an_input_through_a_symlink(tmp_path: Path) -> None:
    x = npy(tmp_path / "x.npy", np.eye(2))
    before = x.read_bytes()
    (tmp_path / "link.npy").symlink_to(x)
    err = error_of(["compute", "--x", x, "--show", "output", "-o", tmp_path / "link.npy"])
    assert "refusing to overwrite the input file" in err
    assert x.read_bytes() == before


@pytest.mark.parametrize("target", ["/proc/attncli-test.npy", "/sys/attncli-test.json"])
def test_output_onto_a_read_only_place(target: str) -> None:
    if not Path(target).parent.is_dir():
        pytest.skip(f"no {Path(target).parent}")
    err = error_of(["compute", "--x", "1 0; 0 1", "--show", "output", "-o", target])
    assert "-o/--output: cannot write" in err and Path(target).parent.as_posix() in err


def test_output_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from attncli.cli import main
    from attncli.io import atomic

    out = tmp_path / "out.npy"
    out.write_bytes(b"the previous result")

    def ctrl_c(fd: int) -> None:  # Ctrl-C arrives after the bytes are written, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", ctrl_c)
    with pytest.raises(SystemExit) as info:
        main(["compute", "--x", "1 0; 0 1", "--show", "output", "-o", str(out)])
    assert info.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert out.read_bytes() == b"the previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]  # no .out.npy.*.tmp left


def _numpy_loaded(pid: int) -> bool:
    """numpy is imported inside main()'s try block: once it is mapped, Ctrl-C is main()'s to handle."""
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("delay", [0.0, 0.2])
def test_output_ctrl_c_exits_130_without_traceback_or_files(tmp_path: Path, delay: float) -> None:
    # about ten seconds of streaming work (memory bounded by the block) unless interrupted
    x = npy(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(60_000, 16)).astype(np.float32))
    args = ["compute", "--x", x, "--show", "output", "-o", tmp_path / "out.npy"]
    if interrupt(args, _numpy_loaded, delay=delay) is None:
        pytest.skip("the computation finished before Ctrl-C arrived (a very fast or very busy machine)")
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


# ==================================================================================================
# Numbers
# ==================================================================================================


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numbers_very_large_and_very_negative_scores_keep_softmax_finite(tmp_path: Path, dtype: str) -> None:
    # q = (100, 0); keys (100, 0), (99.99, 0), (-100, 0): dot scores 1e4, 9999, -1e4
    q = npy(tmp_path / "q.npy", np.array([[100.0, 0.0], [-100.0, 0.0]], dtype=dtype))
    k = npy(tmp_path / "k.npy", np.array([[100.0, 0.0], [99.99, 0.0], [-100.0, 0.0]], dtype=dtype))
    v = npy(tmp_path / "v.npy", np.array([[1.0], [2.0], [3.0]], dtype=dtype))
    doc = json_of(["compute", "--q", q, "--k", k, "--v", v, "--score", "dot", "--show", "weights,output"])
    w = np.array(doc["weights"])
    assert np.isfinite(w).all() and np.isfinite(doc["output"]).all()
    gap = float(np.float32(100) * np.float32(100) - np.float32(100) * np.float32(99.99)) if dtype == "float32" \
        else 100 * 100 - 100 * 99.99
    np.testing.assert_allclose(w[0], [sigmoid(gap), sigmoid(-gap), 0.0], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(w[1], [0.0, 0.0, 1.0], atol=1e-12)  # scores -1e4, -9999, 1e4


def test_numbers_all_very_negative_row() -> None:
    # scores -1e4 and -1e4 - 1 in one row: exp() of both underflows, the shifted softmax does not
    doc = json_of(["compute", "--q", "1;", "--k", "-10000; -10001", "--v", "1; 0", "--score", "dot",
                   "--show", "weights,output"])
    np.testing.assert_allclose(doc["weights"], [[sigmoid(1), sigmoid(-1)]], rtol=1e-12)
    np.testing.assert_allclose(doc["output"], [[sigmoid(1)]], rtol=1e-12)


@pytest.mark.parametrize("normalize", ["softmax1", "sigmoid", "sparsemax"])
def test_numbers_large_scores_under_other_normalizers(normalize: str) -> None:
    doc = json_of(["compute", "--q", "1;", "--k", "10000; -10000", "--v", "1; 0", "--score", "dot",
                   "--normalize", normalize, "--show", "weights"])
    np.testing.assert_allclose(doc["weights"], [[1.0, 0.0]], atol=1e-12)


def test_numbers_float16_inputs_compute_in_float32(tmp_path: Path) -> None:
    x = npy(tmp_path / "x.npy", np.array([[1, 0], [0, 1]], dtype=np.float16))
    doc = json_of(["compute", "--x", x, "--score", "dot", "--show", "weights"])
    assert doc["meta"]["dtype"] == "float32" and doc["meta"]["inputs"]["--x"]["dtype"] == "float32"
    e = math.e
    np.testing.assert_allclose(doc["weights"], [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]],
                               rtol=1e-6)


# ==================================================================================================
# Usage mistakes
# ==================================================================================================


@pytest.mark.parametrize("args,names", [
    (["compute", "--x", "1 0; 0 1", "--nonsense"], "No such option: --nonsense"),
    (["compute", "--x", "1 0; 0 1", "--score", "bogus"], "'--score': 'bogus' is not one of 'scaled'"),
    (["compute", "--x", "1 0; 0 1", "--heads", "two"], "'--heads': 'two' is not a valid int"),
    (["compute", "--x"], "Option '--x' requires an argument"),
    (["inspect"], "Missing argument 'SOURCE'"),
    (["nonsense"], "No such command 'nonsense'"),
], ids=["unknown-option", "bad-choice", "bad-int", "missing-value", "missing-argument", "unknown-command"])
def test_usage_mistakes_name_the_option_on_one_line(args: list[str], names: str) -> None:
    err = error_of(args)
    assert names.lower() in err.lower() and "--help" in err


# ==================================================================================================
# Exit codes (README: 0 ok, 1 check mismatch, 2 usage or input error, 70 internal error, 130 interrupted)
# ==================================================================================================


def test_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).parent.parent / "samples" / "self_attention"
    assert run(["compute", "--x", "1 0; 0 1"]).returncode == 0
    wrong = run(["check", root / "answer_wrong.csv", root / "problem.toml"], check=False)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr.decode()
    error_of(["compute", "--x", "missing.csv"])

    from attncli.cli import main

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(importlib.import_module("attncli.cli.pipeline"), "compute_dtype", bug)
    with pytest.raises(SystemExit) as info:
        main(["compute", "--x", "1 0; 0 1"])
    assert info.value.code == 70
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (ZeroDivisionError: a bug)") and err.count("\n") == 1
