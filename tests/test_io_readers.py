"""Tests for attncli.io readers: every SOURCE spelling, every format, every corrupt-file path.

Expected values are hand-written literals or arrays written by numpy/safetensors' own writers (or
hand-built bytes), never our reader's output fed back to itself.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from attncli.errors import AttnError
from attncli.io import Loaded, read_array, read_arrays, safetensors_metadata


def err(source: str, *, option: str = "--x", stdin: io.BytesIO | None = None) -> str:
    """The one-line message of the AttnError that reading `source` raises."""
    with pytest.raises(AttnError) as info:
        read_array(source, option=option, stdin=stdin)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(option + ": ")
    return message


def st_bytes(tensors: dict[str, tuple[str, list[int], bytes]], metadata: dict | None = None,
             *, tamper: dict | None = None) -> bytes:
    """Hand-built safetensors bytes: {name: (dtype, shape, raw little-endian data)}."""
    header: dict = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset, data = 0, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    if tamper:
        header.update(tamper)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


# ---------------------------------------------------------------- .npy


def test_npy_keeps_dtype_and_reports_where(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32))
    loaded = read_array(str(path), option="--wq")
    assert isinstance(loaded, Loaded)
    assert loaded.array.dtype == np.float32
    np.testing.assert_array_equal(loaded.array, [[1.5, -2.0], [0.25, 3.0]])
    assert loaded.binary is True
    assert loaded.path == path.resolve()
    assert loaded.source == str(path)
    assert loaded.name is None


def test_npy_float16_is_upcast_and_int_kept(tmp_path: Path) -> None:
    np.save(tmp_path / "h.npy", np.array([0.5, 2.0], dtype=np.float16))
    np.save(tmp_path / "i.npy", np.array([3, -4], dtype=np.int16))
    half = read_array(str(tmp_path / "h.npy")).array
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half, [0.5, 2.0])
    ints = read_array(str(tmp_path / "i.npy")).array
    assert ints.dtype == np.int16
    np.testing.assert_array_equal(ints, [3, -4])


def test_npy_fortran_order_and_big_endian(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.asfortranarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.save(tmp_path / "b.npy", np.array([1.0, 256.5], dtype=">f8"))
    np.testing.assert_array_equal(read_array(str(tmp_path / "f.npy")).array,
                                  [[1, 2, 3], [4, 5, 6]])
    big = read_array(str(tmp_path / "b.npy")).array
    assert big.dtype.isnative
    np.testing.assert_array_equal(big, [1.0, 256.5])


def test_npy_complex_returned_as_is(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.array([1 + 2j]))
    assert read_array(str(tmp_path / "c.npy")).array.dtype.kind == "c"


def test_npy_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert "never unpickled" in err(str(path))


def test_npy_string_array_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    assert "numeric arrays only" in err(str(tmp_path / "s.npy"))


def test_npy_truncated(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(100, dtype=np.float64))
    (tmp_path / "t.npy").write_bytes(buffer.getvalue()[:-9])
    assert "truncated" in err(str(tmp_path / "t.npy"))


def test_npy_header_claiming_huge_shape_is_an_error_not_an_allocation(tmp_path: Path) -> None:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header = header.ljust(118) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 16
    (tmp_path / "huge.npy").write_bytes(data)
    assert "truncated" in err(str(tmp_path / "huge.npy"))


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x93NUMPY\x01\x00\xff\xff{",
                                  b"\x93NUMPY\x01\x00\x06\x00{'a':}\n", b"\x93NUMPY\x09\x00"])
def test_npy_garbage(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "g.npy").write_bytes(data)
    message = err(str(tmp_path / "g.npy"))
    assert "g.npy" in message


def test_npy_with_a_name_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(2))
    assert "drop the ':wq'" in err(f"{tmp_path / 'a.npy'}:wq")


# ---------------------------------------------------------------- .npz


def test_npz_names(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, wq=np.eye(2), wk=np.array([1, 2], dtype=np.int32))
    loaded = read_array(f"{path}:wk", option="--wk")
    assert loaded.array.dtype == np.int32
    np.testing.assert_array_equal(loaded.array, [1, 2])
    assert loaded.name == "wk" and loaded.binary and loaded.path == path.resolve()
    message = err(str(path), option="--wq")
    assert "holds 2 arrays" in message and "wq, wk" in message and f"{path}:NAME" in message
    message = err(f"{path}:wv")
    assert "no array 'wv'" in message and "it holds: wq, wk" in message


def test_npz_single_array_needs_no_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "one.npz", only=np.array([[1.0, 2.0]]))
    loaded = read_array(str(tmp_path / "one.npz"))
    assert loaded.name == "only"
    np.testing.assert_array_equal(loaded.array, [[1.0, 2.0]])


def test_npz_compressed(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "c.npz", a=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(read_array(f"{tmp_path / 'c.npz'}:a").array,
                                  [[0, 1, 2], [3, 4, 5]])


def test_npz_corrupt(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert "not a valid .npz" in err(str(tmp_path / "bad.npz"))
    (tmp_path / "text.npz").write_bytes(b"1 2 3\n")
    assert "not a valid .npz" in err(str(tmp_path / "text.npz"))


def test_npz_object_member_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "o.npz", o=np.array([None, 1], dtype=object))
    assert "never unpickled" in err(str(tmp_path / "o.npz"))


def test_npz_truncated_member(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10.0))
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as zf:
        zf.writestr("t.npy", buffer.getvalue()[:-8])
    assert "truncated" in err(str(tmp_path / "t.npz"))


# ---------------------------------------------------------------- .safetensors


def test_safetensors_names_from_the_real_writer(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file({"in_proj_weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "out_proj.weight": np.array([[7.0]], dtype=np.float64)}, str(path))
    loaded = read_array(f"{path}:in_proj_weight", option="--wq")
    assert loaded.array.dtype == np.float32 and loaded.name == "in_proj_weight"
    np.testing.assert_array_equal(loaded.array, [[0, 1, 2], [3, 4, 5]])
    message = err(f"{path}:wq", option="--wq")
    assert message.startswith("--wq: no array 'wq' in ")
    assert "it holds: in_proj_weight, out_proj.weight" in message
    assert "holds 2 arrays" in err(str(path))


def test_safetensors_single_tensor_needs_no_name(tmp_path: Path) -> None:
    path = tmp_path / "one.safetensors"
    save_file({"w": np.array([1, -2], dtype=np.int64)}, str(path))
    loaded = read_array(str(path))
    assert loaded.array.dtype == np.int64 and loaded.name == "w"
    np.testing.assert_array_equal(loaded.array, [1, -2])


def test_safetensors_bf16_f16_f8_upcast_exactly(tmp_path: Path) -> None:
    path = tmp_path / "low.safetensors"
    # bf16 1.5 = 0x3FC0, -2.0 = 0xC000; f16 1.5 = 0x3E00; e4m3 1.0 = 0x38, 1.5 = 0x3C; e5m2 1.5 = 0x3E
    path.write_bytes(st_bytes({
        "bf": ("BF16", [2], struct.pack("<HH", 0x3FC0, 0xC000)),
        "h": ("F16", [1], struct.pack("<H", 0x3E00)),
        "e4": ("F8_E4M3", [3], bytes([0x38, 0x3C, 0xB8])),
        "e5": ("F8_E5M2", [1], bytes([0x3E])),
        "m": ("BOOL", [2], bytes([1, 0])),
        "u": ("U16", [1], struct.pack("<H", 65535)),
    }))
    bf = read_array(f"{path}:bf").array
    assert bf.dtype == np.float32 and bf.tolist() == [1.5, -2.0]
    h = read_array(f"{path}:h").array
    assert h.dtype == np.float32 and h.tolist() == [1.5]
    assert read_array(f"{path}:e4").array.tolist() == [1.0, 1.5, -1.0]
    assert read_array(f"{path}:e5").array.tolist() == [1.5]
    mask = read_array(f"{path}:m").array
    assert mask.dtype == np.bool_ and mask.tolist() == [True, False]
    u = read_array(f"{path}:u").array
    assert u.dtype == np.uint16 and u.tolist() == [65535]


def test_safetensors_reads_only_the_named_tensor(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.safetensors"
    save_file({"small": np.array([1.0, 2.0], dtype=np.float32),
               "big": np.zeros(250_000, dtype=np.float32)}, str(path))
    from attncli.io import _common

    read_bytes: list[int] = []
    original = _common.Blob.read_at

    def spy(self, offset, count, what="data"):  # type: ignore[no-untyped-def]
        read_bytes.append(count)
        return original(self, offset, count, what)

    monkeypatch.setattr(_common.Blob, "read_at", spy)
    np.testing.assert_array_equal(read_array(f"{path}:small").array, [1.0, 2.0])
    assert sum(read_bytes) < 1000 < os.path.getsize(path)


def test_safetensors_metadata(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"a": np.zeros(1, dtype=np.float32)}, str(path), metadata={"format": "pt"})
    assert safetensors_metadata(path) == {"format": "pt"}


@pytest.mark.parametrize(("data", "phrase"), [
    (struct.pack("<Q", 10_000) + b"{}", "header length 10000 exceeds the file size"),
    (struct.pack("<Q", 4) + b"nope", "not UTF-8 JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (b"\x01\x02", "too short"),
    (st_bytes({"a": ("F32", [2], b"\0" * 8)},
              tamper={"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}),
     "outside the data buffer"),
    (st_bytes({"a": ("F32", [3], b"\0" * 8)}), "needs 12"),
    (st_bytes({"a": ("F32", [2], b"\0" * 8)}, tamper={"a": {"dtype": "F32"}}),
     "lacks shape, data_offsets"),
    (st_bytes({"a": ("C64", [1], b"\0" * 8)}), "unsupported"),
    (st_bytes({"a": ("F32", [-1], b"")}), "not a list of sizes"),
])
def test_safetensors_corrupt(tmp_path: Path, data: bytes, phrase: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    message = err(str(path))
    assert phrase in message and "bad.safetensors" in message


# ---------------------------------------------------------------- text


def test_csv_with_comments_header_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("# queries\nd0,d1,d2\n\n1,2,3  # first\n4, 5 ,nan\n-inf,inf,1e-3\n")
    loaded = read_array(str(path), option="--q")
    assert loaded.binary is False and loaded.array.dtype == np.float64
    np.testing.assert_array_equal(loaded.array,
                                  [[1, 2, 3], [4, 5, np.nan], [-np.inf, np.inf, 0.001]])


def test_tsv_txt_dat(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("1\t2\n3\t4\n")
    (tmp_path / "b.txt").write_text("1 2   3\n\t4 5 6\n")
    (tmp_path / "c.txt").write_text("1, 2\n3, 4\n")
    (tmp_path / "d.dat").write_text("7\n8\n9\n")
    np.testing.assert_array_equal(read_array(str(tmp_path / "a.tsv")).array, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "b.txt")).array,
                                  [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "c.txt")).array, [[1, 2], [3, 4]])
    column = read_array(str(tmp_path / "d.dat")).array
    assert column.shape == (3, 1)


def test_text_single_row_is_2d_and_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes("\ufeff1,2,3\r\n".encode())
    row = read_array(str(tmp_path / "r.csv")).array
    assert row.shape == (1, 3)
    np.testing.assert_array_equal(row, [[1, 2, 3]])


def test_text_ragged_names_lines(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("# c\n1,2,3\n4,5,6\n\n7,8\n")
    message = err(str(tmp_path / "r.csv"), option="--k")
    assert "line 5 has 2 values but line 2 has 3 values" in message


def test_text_non_number_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("1,2\n3,abc\n")
    message = err(str(tmp_path / "n.csv"))
    assert "line 2, column 2" in message and "'abc'" in message


def test_text_header_only_on_first_row(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("1,2\na,b\n")
    assert "line 2, column 1" in err(str(tmp_path / "h.csv"))
    (tmp_path / "m.csv").write_text("a,2\n1,2\n")
    assert "line 1, column 1" in err(str(tmp_path / "m.csv"))


def test_text_empty_field(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("1,,3\n")
    assert "line 1, column 2: is empty" in err(str(tmp_path / "e.csv"))


@pytest.mark.parametrize("content", [b"", b"# only a comment\n\n", b"a,b,c\n"])
def test_text_without_numbers(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "e.csv").write_bytes(content)
    assert "holds no numbers" in err(str(tmp_path / "e.csv"))


def test_text_undecodable(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes(b"1,2\n\xff\xfe,3\n")
    assert "not UTF-8" in err(str(tmp_path / "u.csv"))


# ---------------------------------------------------------------- JSON


def test_json_nested_lists_null_and_bool(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[[1, null], [2.5, -3]]")
    (tmp_path / "m.json").write_text("[[true, false], [false, true]]")
    a = read_array(str(tmp_path / "a.json")).array
    assert a.dtype == np.float64 and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[1, np.nan], [2.5, -3]])
    m = read_array(str(tmp_path / "m.json")).array
    assert m.dtype == np.bool_ and m.tolist() == [[True, False], [False, True]]


def test_json_object_names_and_meta(tmp_path: Path) -> None:
    doc = {"weights": [[0.25, 0.75]], "output": [[1, 2]],
           "meta": {"scale": 0.5, "variant": "dot"}}
    path = tmp_path / "out.json"
    path.write_text(json.dumps(doc))
    loaded = read_array(f"{path}:weights")
    assert loaded.name == "weights" and loaded.binary is False
    np.testing.assert_array_equal(loaded.array, [[0.25, 0.75]])
    message = err(str(path))
    assert "holds 2 arrays" in message and "weights, output" in message and "meta" not in message
    assert "no array 'wieghts'" in err(f"{path}:wieghts")
    assert "did you mean 'weights'" in err(f"{path}:wieghts")


def test_json_one_array_object_ignores_meta(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text('{"weights": [1, 2], "meta": {"n": 2}}')
    loaded = read_array(str(tmp_path / "o.json"))
    assert loaded.name == "weights"
    np.testing.assert_array_equal(loaded.array, [1, 2])


def test_json_numeric_meta_is_an_array(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text('{"meta": [1, 2]}')
    np.testing.assert_array_equal(read_array(str(tmp_path / "o.json")).array, [1, 2])


def test_json_ragged_and_strings(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("[[1, 2], [3, 4], [5]]")
    message = err(str(tmp_path / "r.json"))
    assert "[2] has length 1 but [0] has length 2" in message
    (tmp_path / "s.json").write_text('[[1, "x"]]')
    assert '[0][1] is "x"' in err(str(tmp_path / "s.json"))
    (tmp_path / "bad.json").write_text("[1, 2")
    assert "not valid JSON" in err(str(tmp_path / "bad.json"))
    (tmp_path / "mix.json").write_text("[[1, 2], 3]")
    assert "[1] is a number but [0] is a list" in err(str(tmp_path / "mix.json"))


def test_json_scalar_is_0d(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("0.5\n")
    array = read_array(str(tmp_path / "s.json")).array
    assert array.shape == () and float(array) == 0.5


# ---------------------------------------------------------------- standard input


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_stdin_npy() -> None:
    loaded = read_array("-", stdin=io.BytesIO(_npy_bytes(np.array([1, 2], dtype=np.int8))))
    assert loaded.path is None and loaded.binary and loaded.array.dtype == np.int8
    np.testing.assert_array_equal(loaded.array, [1, 2])


def test_stdin_npz_by_name_and_reused() -> None:
    stdin = io.BytesIO(_npz_bytes(wq=np.eye(2), wk=np.ones((2, 2))))
    np.testing.assert_array_equal(read_array("-:wq", stdin=stdin).array, np.eye(2))
    np.testing.assert_array_equal(read_array("-:wk", stdin=stdin).array, np.ones((2, 2)))
    message = err("-", stdin=stdin)
    assert "standard input" in message and "-:NAME" in message


def test_stdin_safetensors() -> None:
    data = st_bytes({"a": ("BF16", [1], struct.pack("<H", 0x3FC0)),
                     "b": ("I32", [2], struct.pack("<ii", 5, -6))})
    assert read_array("-:a", stdin=io.BytesIO(data)).array.tolist() == [1.5]
    assert read_array("-:b", stdin=io.BytesIO(data)).array.tolist() == [5, -6]


def test_stdin_json_and_text() -> None:
    np.testing.assert_array_equal(read_array("-", stdin=io.BytesIO(b" [[1, 2]]\n")).array,
                                  [[1, 2]])
    np.testing.assert_array_equal(
        read_array("-:k", stdin=io.BytesIO(b'{"k": [3], "meta": {}}')).array, [3])
    np.testing.assert_array_equal(read_array("-", stdin=io.BytesIO(b"1,2\n3,4\n")).array,
                                  [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array("-", stdin=io.BytesIO(b"1\t2\n3\t4\n")).array,
                                  [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_array("-", stdin=io.BytesIO(b"1 2\n3 4\n")).array,
                                  [[1, 2], [3, 4]])


def test_stdin_empty_and_name_on_plain() -> None:
    assert "standard input is empty" in err("-", option="--q", stdin=io.BytesIO(b""))
    assert "drop the ':x'" in err("-:x", stdin=io.BytesIO(b"1 2\n"))


# ---------------------------------------------------------------- inline literals and paths


@pytest.mark.parametrize(("source", "expected", "shape"), [
    ("[[1, 0], [0, 1]]", [[1, 0], [0, 1]], (2, 2)),
    ("[1, nan, -inf, inf]", [1, np.nan, -np.inf, np.inf], (4,)),
    ("1 0 1 0; 0 2 0 2", [[1, 0, 1, 0], [0, 2, 0, 2]], (2, 4)),
    ("1,0;0,1;", [[1, 0], [0, 1]], (2, 2)),
    ("1 2 3", [[1, 2, 3]], (1, 3)),  # MATLAB: one row
    ("1 2 3;", [[1, 2, 3]], (1, 3)),
    ("0.5", [[0.5]], (1, 1)),
    ("-1e-3", [[-0.001]], (1, 1)),
    ("[1 2; 3 4]", [[1, 2], [3, 4]], (2, 2)),
    ("nan inf -inf", [[np.nan, np.inf, -np.inf]], (1, 3)),
])
def test_inline(source: str, expected: object, shape: tuple) -> None:
    loaded = read_array(source, option="--mask")
    assert loaded.path is None and loaded.binary is False and loaded.name is None
    assert loaded.array.shape == shape and loaded.array.dtype == np.float64
    np.testing.assert_array_equal(loaded.array, expected)


def test_inline_bool_mask() -> None:
    mask = read_array("true false; false true").array
    assert mask.dtype == np.bool_ and mask.tolist() == [[True, False], [False, True]]


def test_inline_errors() -> None:
    assert "row 2 has 1 value but row 1 has 2 values" in err("1 2; 3")
    assert "'1e' at row 1, item 2 is not a number — an exponent needs digits after the e" in err("1 1e")
    assert "cannot read the inline matrix" in err("[[1, 2], [3")


def test_missing_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.npy").write_bytes(b"")
    # plainly a path: a missing file, and what the folder holds (tests/test_messages.py has the rest)
    assert err("foo.csv", option="--q") == "--q: no such file 'foo.csv' (the current folder holds 1 file: x.npy)"
    # a word: a file or an inline matrix, neither of which it is
    assert err("foo", option="--q") == "--q: no such file 'foo' (and it is not an inline matrix like \"1 0; 0 1\")"
    assert "is a directory" in err(str(tmp_path))
    assert "is a directory" in err(str(tmp_path) + ":x")


def test_whole_path_wins_over_name_split(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", a=np.zeros(1), b=np.ones(1))
    odd = tmp_path / "odd:b.csv"
    odd.write_text("5,6\n")
    np.testing.assert_array_equal(read_array(str(odd)).array, [[5, 6]])
    np.testing.assert_array_equal(read_array(f"{tmp_path / 'w.npz'}:b").array, [1])


def test_a_file_named_like_a_number_is_a_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("1").write_text("7 8\n")
    loaded = read_array("1")
    assert loaded.path == (tmp_path / "1").resolve()
    np.testing.assert_array_equal(loaded.array, [[7, 8]])


def test_unknown_extension_is_sniffed(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(_npy_bytes(np.array([4.0])))
    (tmp_path / "table").write_text("1;2\n".replace(";", ","))
    assert read_array(str(tmp_path / "w.bin")).binary
    np.testing.assert_array_equal(read_array(str(tmp_path / "table")).array, [[1, 2]])


# ---------------------------------------------------------------- read_arrays


def test_read_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", wq=np.eye(2), wk=np.zeros(2))
    both = read_arrays(str(tmp_path / "w.npz"))
    assert list(both) == ["wq", "wk"] and both["wq"].name == "wq"
    np.testing.assert_array_equal(both["wk"].array, [0, 0])
    assert list(read_arrays(f"{tmp_path / 'w.npz'}:wk")) == ["wk"]
    (tmp_path / "q.csv").write_text("1,2\n")
    assert list(read_arrays(str(tmp_path / "q.csv"))) == ["q"]
    assert list(read_arrays("1 2; 3 4")) == ["value"]
    assert list(read_arrays("-", stdin=io.BytesIO(b"1 2\n"))) == ["value"]
    (tmp_path / "o.json").write_text('{"a": [1], "b": [[2]], "meta": {"x": 1}}')
    assert list(read_arrays(str(tmp_path / "o.json"))) == ["a", "b"]


# ---------------------------------------------------------------- fuzzing


PREFIXES = [b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"PK\x03\x04",
            struct.pack("<Q", 20) + b"{", b"[", b"{", b"1,2\n"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=200),
       name=st.sampled_from(["-", "-:a"]))
def test_random_stdin_is_loaded_or_attn_error(prefix: bytes, body: bytes, name: str) -> None:
    try:
        result = read_array(name, option="--x", stdin=io.BytesIO(prefix + body))
    except AttnError as error:
        assert "\n" not in str(error) and str(error).startswith("--x: ")
    else:
        assert isinstance(result, Loaded) and isinstance(result.array, np.ndarray)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789 .,;-+eE[]naif", max_size=30))
def test_random_inline_is_loaded_or_attn_error(source: str) -> None:
    try:
        result = read_array(source, option="--m")
    except AttnError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(result.array, np.ndarray)
