"""Tests for attncli.io writers: formats, strict JSON, round trips, stdout rules, atomic writes.

Written files are checked with independent readers (json, numpy, safetensors.safe_open) and
hand-written expected text; the CSV round trip goes through our reader because that is the promise.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from attncli.errors import AttnError
from attncli.io import atomic_write, format_from_path, read_array, write_arrays


class Terminal(io.BytesIO):
    """A stdout that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def to_stdout(arrays: dict, fmt: str, meta: dict | None = None) -> bytes:
    out = io.BytesIO()
    write_arrays(None, arrays, meta or {}, fmt, stdout=out)
    return out.getvalue()


def reject_constant(name: str) -> None:
    raise AssertionError(f"non-strict JSON constant {name}")


# ---------------------------------------------------------------- format_from_path


@pytest.mark.parametrize(("name", "fmt"), [
    ("a.json", "json"), ("a.csv", "csv"), ("a.tsv", "tsv"), ("a.npy", "npy"), ("a.npz", "npz"),
    ("a.safetensors", "safetensors"), ("a.txt", "table"), ("dir.d/A.JSON", "json"),
])
def test_format_from_path(name: str, fmt: str) -> None:
    assert format_from_path(name) == fmt


def test_format_from_path_unknown() -> None:
    with pytest.raises(AttnError) as info:
        format_from_path("out.xlsx")
    assert "out.xlsx" in str(info.value) and ".safetensors" in str(info.value)


def test_unknown_format() -> None:
    with pytest.raises(AttnError, match="unknown output format 'table'"):
        to_stdout({"a": np.zeros(1)}, "table")


# ---------------------------------------------------------------- JSON


def test_json_is_strict_and_ordered() -> None:
    arrays = {
        "weights": np.array([[0.5, np.nan], [np.inf, -np.inf]]),
        "mask": np.array([True, False]),
        "count": np.array([3, 4], dtype=np.int64),
    }
    meta = {"scale": np.float32(0.5), "n": np.int64(7), "bad": float("nan"),
            "shape": (2, 2), "path": Path("x.npy"), "v": np.array([1.0, np.inf])}
    data = to_stdout(arrays, "json", meta)
    assert data.endswith(b"\n")
    doc = json.loads(data, parse_constant=reject_constant)
    assert list(doc) == ["weights", "mask", "count", "meta"]
    assert doc["weights"] == [[0.5, None], [None, None]]
    assert doc["mask"] == [True, False]
    assert doc["count"] == [3, 4] and all(type(v) is int for v in doc["count"])
    assert doc["meta"] == {"scale": 0.5, "n": 7, "bad": None, "shape": [2, 2],
                           "path": "x.npy", "v": [1.0, None]}


def test_json_float32_and_scalar() -> None:
    doc = json.loads(to_stdout({"s": np.array(0.25, dtype=np.float32),
                                "f": np.array([1.5], dtype=np.float32)}, "json"))
    assert doc["s"] == 0.25 and doc["f"] == [1.5]


def test_json_reads_back_by_name(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_arrays(path, {"weights": np.array([[0.25, 0.75]]), "output": np.array([[1.0, 2.0]])},
                 {"variant": "dot"}, "json")
    np.testing.assert_array_equal(read_array(f"{path}:weights").array, [[0.25, 0.75]])


def test_json_array_named_meta_is_refused() -> None:
    with pytest.raises(AttnError, match="meta"):
        to_stdout({"meta": np.zeros(1)}, "json")


# ---------------------------------------------------------------- CSV / TSV


def test_csv_plain_rows_exact_text() -> None:
    data = to_stdout({"w": np.array([[0.1, 1 / 3], [np.nan, -np.inf]])}, "csv")
    assert data == b"0.1,0.3333333333333333\nnan,-inf\n"
    assert to_stdout({"v": np.array([1, 2, 3])}, "tsv") == b"1\t2\t3\n"
    assert to_stdout({"m": np.array([[True, False]])}, "csv") == b"1,0\n"
    assert to_stdout({"f": np.array([0.1, 2.5], dtype=np.float32)}, "csv") == b"0.1,2.5\n"


def test_csv_round_trip_float64_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((5, 4)) * 10.0 ** rng.integers(-300, 300, (5, 4))
    values[0, :3] = [np.nan, np.inf, -np.inf]
    values[1, 0] = 5e-324
    for fmt in ("csv", "tsv"):
        path = tmp_path / f"w.{fmt}"
        write_arrays(path, {"w": values}, {}, fmt)
        back = read_array(str(path)).array
        assert back.dtype == np.float64
        np.testing.assert_array_equal(back, values)


def test_csv_round_trip_float32_and_1d(tmp_path: Path) -> None:
    values = np.random.default_rng(1).random(7).astype(np.float32)
    path = tmp_path / "v.csv"
    write_arrays(path, {"v": values}, {}, "csv")
    back = read_array(str(path)).array
    assert back.shape == (1, 7)
    np.testing.assert_array_equal(back[0].astype(np.float32), values)


def test_csv_blocks_for_several_or_high_dim_arrays() -> None:
    arrays = {"w": np.arange(8).reshape(2, 1, 2, 2), "b": np.array([0.5, 1.0])}
    expected = (
        "# w[0,0]\n0,1\n2,3\n"
        "\n# w[1,0]\n4,5\n6,7\n"
        "\n# b\n0.5,1.0\n"
    )
    assert to_stdout(arrays, "csv").decode() == expected


# ---------------------------------------------------------------- binary formats


def test_npy_single_and_refusing_several(tmp_path: Path) -> None:
    path = tmp_path / "o.npy"
    write_arrays(path, {"o": np.array([[1, 2]], dtype=np.int32)}, {}, "npy")
    back = np.load(path, allow_pickle=False)
    assert back.dtype == np.int32 and back.tolist() == [[1, 2]]
    with pytest.raises(AttnError) as info:
        write_arrays(tmp_path / "two.npy", {"weights": np.zeros(1), "output": np.ones(1)}, {},
                     "npy")
    assert str(info.value).startswith("--show: npy holds one array but 2 were asked for (weights, output); pick "
                                      "one with --show")
    assert not (tmp_path / "two.npy").exists()


def test_npz_all_arrays(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    write_arrays(path, {"weights": np.eye(2), "file": np.array([True])}, {}, "npz")
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["file", "weights"]
        np.testing.assert_array_equal(npz["weights"], np.eye(2))
        assert npz["file"].dtype == np.bool_


def test_safetensors_metadata_and_tensors(tmp_path: Path) -> None:
    path = tmp_path / "o.safetensors"
    weights = np.arange(6, dtype=np.float32).reshape(2, 3).T  # not C-contiguous
    write_arrays(path, {"weights": weights, "mask": np.array([True, False])},
                 {"scale": np.float64(0.5), "variant": "dot", "shape": (3, 2)}, "safetensors")
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        np.testing.assert_array_equal(f.get_tensor("weights"), [[0, 3], [1, 4], [2, 5]])
        assert f.get_tensor("mask").tolist() == [True, False]
    assert json.loads(meta["attncli"]) == {"scale": 0.5, "variant": "dot", "shape": [3, 2]}
    assert meta["scale"] == "0.5" and meta["variant"] == '"dot"'
    np.testing.assert_array_equal(read_array(f"{path}:weights").array, [[0, 3], [1, 4], [2, 5]])
    from attncli.io import safetensors_metadata

    assert safetensors_metadata(path) == meta


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors"])
def test_binary_to_a_terminal_is_refused(fmt: str) -> None:
    terminal = Terminal()
    with pytest.raises(AttnError) as info:
        write_arrays(None, {"o": np.zeros(1)}, {}, fmt, stdout=terminal)
    assert str(info.value).startswith(f"refusing to write binary {fmt.upper()} to a terminal")
    assert terminal.getvalue() == b""


def test_text_to_a_terminal_and_binary_to_a_pipe_are_fine() -> None:
    terminal = Terminal()
    write_arrays(None, {"o": np.array([1.5])}, {}, "json", stdout=terminal)
    assert json.loads(terminal.getvalue())["o"] == [1.5]
    assert np.load(io.BytesIO(to_stdout({"o": np.array([2.5])}, "npy"))).tolist() == [2.5]


# ---------------------------------------------------------------- atomic writes


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    atomic_write(path, b"one")
    assert path.read_bytes() == b"one"
    os.chmod(path, 0o640)
    atomic_write(str(path), b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_new_file_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "n.csv", b"1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n.csv").stat().st_mode) == 0o644


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    src = tmp_path / "x.npy"
    src.write_bytes(b"input")
    link = tmp_path / "link.npy"
    link.symlink_to(src)
    hard = tmp_path / "hard.npy"
    os.link(src, hard)
    for target in (src, link, hard, tmp_path / "." / "x.npy"):
        with pytest.raises(AttnError) as info:
            write_arrays(target, {"o": np.zeros(1)}, {}, "npy", protect=[src.resolve()])
        assert "refusing to overwrite the input file" in str(info.value)
    assert src.read_bytes() == b"input"
    assert leftovers(tmp_path) == []


def test_missing_parent_and_directory_target(tmp_path: Path) -> None:
    with pytest.raises(AttnError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "o.json", b"x")
    with pytest.raises(AttnError, match="is a directory"):
        atomic_write(tmp_path, b"x")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_leaves_nothing_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        failure: BaseException) -> None:
    path = tmp_path / "o.json"
    path.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise failure

    monkeypatch.setattr(os, "replace", broken_replace)
    expected = AttnError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as info:
        write_arrays(path, {"o": np.zeros(3)}, {}, "json")
    if expected is AttnError:
        assert "No space left on device" in str(info.value) and "o.json" in str(info.value)
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores directory permissions")
def test_permission_denied_is_an_attn_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        with pytest.raises(AttnError, match="Permission denied"):
            atomic_write(locked / "o.json", b"x")
    finally:
        os.chmod(locked, 0o700)


def test_unwritable_directory_is_an_attn_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real_open = os.open

    def denied(path, *args, **kw):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kw)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(AttnError, match="Permission denied"):
        atomic_write(tmp_path / "o.json", b"x")


def test_a_signal_as_the_temporary_file_is_made_leaves_no_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal handled just as os.open returns (the file exists, its descriptor is not yet kept) still removes
    the temporary file: its name is recorded before it is made. (Seen as a flaky SIGTERM test under load.)"""
    import os

    real_open = os.open

    def interrupted(path, *args, **kw):
        fd = real_open(path, *args, **kw)
        if str(path).endswith(".tmp"):
            os.close(fd)
            raise KeyboardInterrupt  # what the SIGTERM/SIGINT handler raises, at the first bytecode after the call
        return fd

    monkeypatch.setattr(os, "open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "o.json", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
