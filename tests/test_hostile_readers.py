"""Issue #12, "nothing blown up": hostile files never blow up memory or time in the readers, inspect and show.

Every hostile file is built here (zip bombs, hand-written safetensors headers, sparse files of gigabytes that
take no disk). A refusal must be exit 2 with one `error:` line; a memory refusal must happen under an
address-space cap (`run_capped`) with ATTNCLI_MEMORY_LIMIT below it, so it comes from the estimate, before
any allocation; a big file that must work (inspect, show --layer --head) must work under a cap smaller than
the file. Expected numbers come from numpy over the same values, or closed forms.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_capped

CAP_MB = 400  # a bare attncli fits in 150 MiB of address space
LIMIT = {"ATTNCLI_MEMORY_LIMIT": "200M"}


def one_error(proc) -> str:
    """The one `error:` line of a command that failed as a user error (exit 2, no traceback)."""
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr: {err[-2000:]}"
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err[:2000])
    assert "Traceback" not in err
    return err


def error_of(args: list, **kw) -> str:
    return one_error(run(args, check=False, **kw))


def npy_header(shape: tuple, descr: str = "<f8", fortran: bool = False) -> bytes:
    """A version 1.0 .npy header, written by hand (numpy would refuse the hostile ones)."""
    text = repr({"descr": descr, "fortran_order": fortran, "shape": shape})
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def sparse_npy(path: Path, shape: tuple, dtype: str = "<f4", fortran: bool = False) -> int:
    """An .npy of zeros that takes no disk space; returns the data offset."""
    head = npy_header(shape, dtype, fortran)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + math.prod(shape) * np.dtype(dtype).itemsize)
    return len(head)


def safetensors(path: Path, header: dict | bytes, data: bytes = b"", size: int | None = None) -> int:
    """A safetensors file with a hand-written header; returns the data offset. `size` pads it (sparse)."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)
        if size is not None:
            f.truncate(8 + len(raw) + size)
    return 8 + len(raw)


def raw_zip(path: Path, name: str, compressed: bytes, *, size: int, crc: int, method: int = 8) -> None:
    """A one-member zip written by hand, so the member may declare any uncompressed size."""
    fname = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(compressed), size,
                        len(fname), 0) + fname
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(compressed),
                          size, len(fname), 0, 0, 0, 0, 0, 0) + fname
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(compressed), 0)
    path.write_bytes(local + compressed + central + end)


def deflated_zeros(head: bytes, zeros: int) -> tuple[bytes, int]:
    """(raw deflate stream of `head` and `zeros` zero bytes, crc32 of them): 16 MB of zeros are compressed
    once and the identical block repeated (a full flush makes each block independent), so a gigabyte takes
    milliseconds to build and about a megabyte of disk."""
    block = 16 << 20
    assert zeros % block == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH) == piece
    crc = zlib.crc32(head)
    zero_block = bytes(block)
    for _ in range(zeros // block):
        crc = zlib.crc32(zero_block, crc)
    return start + piece * (zeros // block) + c.flush(), crc


# ---- 1. .npz members: zip bombs and members that lie about their size ----------------------------------------

def test_npz_zip_bomb_is_refused_before_decompressing(tmp_path: Path):
    n = 1 << 27  # 2**27 float64 = 1 GiB of zeros, about a megabyte compressed
    head = npy_header((n,))
    stream, crc = deflated_zeros(head, n * 8)
    raw_zip(tmp_path / "bomb.npz", "a.npy", stream, size=len(head) + n * 8, crc=crc)
    assert (tmp_path / "bomb.npz").stat().st_size < 3 << 20
    for command in (["compute", "--x", f"{tmp_path / 'bomb.npz'}:a"], ["show", tmp_path / "bomb.npz"]):
        err = one_error(run_capped(command, limit_mb=CAP_MB, env=LIMIT))
        option = "--x" if command[0] == "compute" else "SOURCE"
        assert err.startswith(f"error: {option}: reading '") and "bomb.npz:a'" in err
        assert "1073741952 bytes uncompressed" in err and "would need about 1.0 GB" in err and "0.2 GB" in err


def test_inspect_of_a_zip_bomb_reads_its_header_and_summarises_by_blocks(tmp_path: Path):
    """inspect needs no member whole: the header gives shape and dtype, and the values are decompressed a block
    at a time, so 1 GiB of zeros is summarised under an address-space cap of 400 MiB."""
    n = 1 << 27
    head = npy_header((n,))
    stream, crc = deflated_zeros(head, n * 8)
    raw_zip(tmp_path / "bomb.npz", "a.npy", stream, size=len(head) + n * 8, crc=crc)
    proc = run_capped(["inspect", tmp_path / "bomb.npz", "--format", "json"], limit_mb=CAP_MB, env=LIMIT)
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["arrays"]
    assert row == {"name": "a", "shape": [n], "dtype": "float64", "stored": "float64", "min": 0.0, "max": 0.0,
                   "mean": 0.0, "nonfinite": 0}


def test_npz_header_larger_than_memory_is_refused(tmp_path: Path):
    """The member declares an honest, small size, but float16 data is read and then upcast to float32: the
    header's shape × itemsize (and the copy) is what is checked."""
    n = 48 << 20  # 96 MB of float16, 3 × that while it becomes float32
    head = npy_header((n,), "<f2")
    stream, crc = deflated_zeros(head, n * 2)
    raw_zip(tmp_path / "h.npz", "h.npy", stream, size=len(head) + n * 2, crc=crc)
    err = one_error(run_capped(["compute", "--x", f"{tmp_path / 'h.npz'}:h"], limit_mb=CAP_MB, env=LIMIT))
    assert "shape (50331648,) of float16" in err and "0.28 GB" in err


def test_npz_member_that_lies_is_never_decompressed_past_its_header(tmp_path: Path):
    """The zip entry says 160 bytes, the header says 4 float64, but the stream inflates to 1 GiB: only the
    32 data bytes are ever decompressed (the checksum is right for the 160 bytes the entry declares)."""
    head = npy_header((4,))
    stream, _ = deflated_zeros(head, 1 << 30)
    raw_zip(tmp_path / "lie.npz", "a.npy", stream, size=len(head) + 32, crc=zlib.crc32(head + bytes(32)))
    proc = run_capped(["inspect", tmp_path / "lie.npz", "--format", "json"], limit_mb=CAP_MB, env=LIMIT)
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["arrays"]
    assert row == {"name": "a", "shape": [4], "dtype": "float64", "stored": "float64", "min": 0.0, "max": 0.0,
                   "mean": 0.0, "nonfinite": 0}


def test_npz_members_still_read(tmp_path: Path):
    a, b = np.arange(6.0).reshape(2, 3), np.array([1, 2, 3], dtype=">i4")
    np.savez_compressed(tmp_path / "c.npz", a=a, b=b)
    np.savez(tmp_path / "s.npz", a=a, b=b)  # stored: read in place
    for name in ("c.npz", "s.npz"):
        doc = json.loads(run(["inspect", tmp_path / name, "--format", "json"]).stdout)
        rows = {r["name"]: r for r in doc["arrays"]}
        assert rows["a"] == {"name": "a", "shape": [2, 3], "dtype": "float64", "stored": "float64", "min": 0.0,
                             "max": 5.0, "mean": 2.5, "nonfinite": 0}
        assert rows["b"]["dtype"] == "int32" and rows["b"]["mean"] == 2.0
    assert "no array 'c'" in error_of(["inspect", f"{tmp_path / 's.npz'}:c"])


# ---- 2. safetensors headers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("header,needle", [
    (b'{"a":{"dtype":"F32","shape":[' + b"1" * 5000 + b'],"data_offsets":[0,4]}}', "integer of more than 4300 digits"),
    (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,' + b"4" * 5000 + b']}}', "integer of more than 4300 digits"),
    ({"a": {"dtype": "F32", "shape": [0, 2**70], "data_offsets": [0, 0]}}, "tensor 'a': its shape [0, 11805"),
    ({"a": {"dtype": "F32", "shape": [1] * 100, "data_offsets": [0, 4]}}, "tensor 'a': it has 100 dimensions"),
    ({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, "tensor 'a': its dtype ['F32'] is unsupported"),
    ({"a\nb" * 50: {"dtype": "F32", "shape": [1], "data_offsets": [0, 5]}}, "tensor 'a\\nba\\nb"),
    ("[" * 50000 + "]" * 50000, "nested too deeply"),
])
def test_safetensors_hostile_headers_are_one_line(header, needle, tmp_path: Path):
    raw = header.encode() if isinstance(header, str) else header
    safetensors(tmp_path / "t.safetensors", raw, bytes(8))
    for command in (["inspect", tmp_path / "t.safetensors"], ["compute", "--x", f"{tmp_path / 't.safetensors'}:a"]):
        err = error_of(command)
        assert "t.safetensors' is not a valid safetensors file" in err and needle in err
        assert len(err) < 400


def test_safetensors_tensor_larger_than_memory_is_refused(tmp_path: Path):
    shape = [16384, 16384]  # 1 GiB of F32, sparse
    safetensors(tmp_path / "w.safetensors", {"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 1 << 30]}},
                size=1 << 30)
    err = one_error(run_capped(["compute", "--x", tmp_path / "w.safetensors"], limit_mb=CAP_MB, env=LIMIT))
    assert err.startswith("error: --x: reading '") and "would need about 1.0 GB" in err


# ---- 3. JSON: files, inline literals, standard input --------------------------------------------------------------

def test_json_huge_integers_and_deep_nesting_are_one_line(tmp_path: Path):
    big = "1" * 5000
    (tmp_path / "big.json").write_text(f"[[{big}, 2]]")
    (tmp_path / "deep.json").write_text("[" * 50000 + "1" + "]" * 50000)
    assert "'big.json' holds an integer of more than 4300 digits" in error_of(["compute", "--x", "big.json"],
                                                                              cwd=tmp_path)
    assert "integer of more than 4300 digits" in error_of(["compute", "--x", "-"], stdin=f"[[{big}]]".encode())
    err = error_of(["compute", "--x", f"[[{big}], [1]]"])
    assert "an integer has more than 4300 digits" in err and "(5,009 characters)" in err and len(err) < 300
    assert "nested too deeply" in error_of(["inspect", tmp_path / "deep.json"])
    assert "nested too deeply" in error_of(["compute", "--x", "-"], stdin=b"[" * 50000 + b"]" * 50000)
    err = error_of(["compute", "--x", "[" * 50000 + "1" + "]" * 50000])
    assert "nested too deeply" in err and len(err) < 300


def test_json_too_big_to_parse_is_refused_before_parsing(tmp_path: Path):
    with open(tmp_path / "x.json", "w") as f:  # 20 MB of "0.5, ": ~24 bytes of Python objects per byte
        f.write("[" + "0.5, " * (4 << 20) + "0.5]")
    err = one_error(run_capped(["compute", "--x", tmp_path / "x.json"], limit_mb=CAP_MB, env=LIMIT))
    assert err.startswith("error: --x: parsing '") and "MB of JSON" in err and "would need about 0.47 GB" in err


# ---- 4. PROBLEM.toml --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,needle", [
    ("heads = " + "1" * 5000 + "\n", "holds an integer of more than 4300 digits"),
    ("heads = 99999999999999999999\n", "key 'heads' holds an integer outside the 64-bit range"),
    ("x = " + "[" * 50000 + "1" + "]" * 50000 + "\n", "nests arrays or tables too deeply"),
    ('"a\\nb" = 1\n', "unknown key 'a\\nb'"),
    ('heads = "' + "x" * 5000 + '"\n', "heads must be an integer; got 'xxxxxxxx"),
])
def test_problem_file_hostile_values_are_one_line(text, needle, tmp_path: Path):
    (tmp_path / "p.toml").write_text(text)
    for command in ("compute", "explain", "check"):
        err = error_of([command, tmp_path / "p.toml"])
        assert err.startswith("error: PROBLEM") and needle in err and len(err) < 250


# ---- 5. inspect: many tensors, and files bigger than memory --------------------------------------------------------

def many_tensors(path: Path, n: int) -> np.ndarray:
    """n one-value F32 tensors t0000000 ... with values 0, 1, 2, ..."""
    header = {f"t{i:07d}": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(n)}
    values = np.arange(n, dtype="<f4")
    safetensors(path, header, values.tobytes())
    return values


def test_inspect_many_tensors_parses_once_and_opens_the_file_a_few_times(tmp_path: Path, monkeypatch, capsys):
    """Each tensor costs O(1): the header is parsed once and the file opened a constant number of times
    (a per-tensor open, re-parse or list lookup made 1.4 million tensors take hours)."""
    import builtins

    from attncli.cli import main
    from attncli.io import safetensors_format

    n = 20_000
    values = many_tensors(tmp_path / "m.safetensors", n)
    parsed, opened = [], []
    real_loads, real_open = json.loads, builtins.open
    monkeypatch.setattr(safetensors_format.json, "loads", lambda *a, **k: parsed.append(1) or real_loads(*a, **k))
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(f) or real_open(f, *a, **k))
    main(["inspect", str(tmp_path / "m.safetensors"), "--format", "json"])
    rows = real_loads(capsys.readouterr().out)["arrays"]
    assert len(parsed) == 1 and len([f for f in opened if "m.safetensors" in str(f)]) <= 4
    assert [r["name"] for r in rows] == [f"t{i:07d}" for i in range(n)]
    assert [r["mean"] for r in rows] == values.astype(float).tolist()


def test_inspect_table_lists_the_first_thousand_and_says_how_many_more(tmp_path: Path):
    many_tensors(tmp_path / "m.safetensors", 2500)
    out = run(["inspect", tmp_path / "m.safetensors"]).stdout.decode()
    assert "t0000999" in out and "t0001000" not in out
    assert "and 1,500 more arrays (2,500 in all); --format json lists them all" in " ".join(out.split())


def test_inspect_of_an_npy_bigger_than_the_cap_summarises_by_blocks(tmp_path: Path):
    shape = (160, 1024, 1024)  # 640 MiB of float32 zeros, sparse, under a 400 MiB address-space cap
    offset = sparse_npy(tmp_path / "big.npy", shape)
    known = {0: 3.0, 5_000_000: -2.0, 100_000_000: np.nan, math.prod(shape) - 1: np.inf, 7: 1.5}
    with open(tmp_path / "big.npy", "r+b") as f:
        for i, v in known.items():
            f.seek(offset + 4 * i)
            f.write(np.float32(v).tobytes())
    proc = run_capped(["inspect", tmp_path / "big.npy", "--format", "json"], limit_mb=CAP_MB, env=LIMIT)
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["arrays"]
    finite = math.prod(shape) - 2
    assert row["shape"] == list(shape) and row["dtype"] == "float32" and row["nonfinite"] == 2
    assert row["min"] == -2.0 and row["max"] == 3.0 and row["mean"] == pytest.approx((3.0 - 2.0 + 1.5) / finite)


@pytest.mark.parametrize("kind", ["npy-f16-fortran", "npy-big-endian", "safetensors-bf16", "npz-stored"])
def test_inspect_by_blocks_gives_numpy_numbers(kind, tmp_path: Path):
    """Several blocks (5 M values > the 2 M a block holds), odd dtypes and orders: numpy over the whole array."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 1000, 1000)).astype(np.float32)
    a[1, 2, 3], a[4, 5, 6] = np.nan, -np.inf
    if kind == "npy-f16-fortran":
        np.save(tmp_path / "a.npy", np.asfortranarray(a.astype(np.float16)))
        want, path = a.astype(np.float16).astype(np.float64), tmp_path / "a.npy"
    elif kind == "npy-big-endian":
        np.save(tmp_path / "a.npy", a.astype(">f8"))
        want, path = a.astype(np.float64), tmp_path / "a.npy"
    elif kind == "safetensors-bf16":
        bits = (a.view(np.uint32) >> 16).astype("<u2")  # truncate to bfloat16
        safetensors(tmp_path / "a.safetensors", {"a": {"dtype": "BF16", "shape": list(a.shape),
                                                       "data_offsets": [0, bits.nbytes]}}, bits.tobytes())
        want, path = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64), tmp_path / "a.safetensors"
    else:
        np.savez(tmp_path / "a.npz", a=a)
        want, path = a.astype(np.float64), tmp_path / "a.npz"
    [row] = json.loads(run(["inspect", path, "--format", "json"]).stdout)["arrays"]
    vals = want[np.isfinite(want)]
    assert row["nonfinite"] == 2 and row["min"] == vals.min() and row["max"] == vals.max()
    assert row["mean"] == pytest.approx(vals.mean(), rel=1e-9, abs=1e-12)


def test_inspect_mean_of_values_whose_sum_overflows(tmp_path: Path):
    np.save(tmp_path / "o.npy", np.array([1e308, 1e308, 1e308, -1.0]))
    [row] = json.loads(run(["inspect", tmp_path / "o.npy", "--format", "json"]).stdout)["arrays"]
    assert row["mean"] == pytest.approx(0.75e308)  # (3 · 1e308 − 1) / 4


# ---- 6. show: only the chosen maps are read, after a memory check ----------------------------------------------------

def softmax_rows(n: int, seed: int) -> np.ndarray:
    s = np.random.default_rng(seed).normal(size=(n, n))
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def entropy_bits(p: np.ndarray) -> np.ndarray:
    return -(p * np.log2(p)).sum(axis=1)


@pytest.mark.parametrize("fmt", ["npy", "safetensors"])
def test_show_one_head_of_a_map_bigger_than_the_cap(fmt, tmp_path: Path):
    shape, n = (16, 16, 1024, 1024), 1024  # 1 GiB of float32, sparse, under a 400 MiB cap
    panel = softmax_rows(n, 1).astype(np.float32)
    layer, head = 3, 5
    path = tmp_path / f"maps.{fmt}"
    if fmt == "npy":
        offset = sparse_npy(path, shape)
    else:
        offset = safetensors(path, {"attn": {"dtype": "F32", "shape": list(shape), "data_offsets": [0, 1 << 30]}},
                             size=1 << 30)
    with open(path, "r+b") as f:
        f.seek(offset + (layer * shape[1] + head) * n * n * 4)
        f.write(panel.tobytes())
    proc = run_capped(["show", path, "--layer", layer, "--head", head, "--format", "json"], limit_mb=CAP_MB)
    assert proc.returncode == 0, proc.stderr
    [h] = json.loads(proc.stdout)["stats"]["heads"]
    assert (h["layer"], h["head"]) == (layer, head)
    p = panel.astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)
    assert [q["entropy"] for q in h["per_query"]] == pytest.approx(entropy_bits(p).tolist(), rel=1e-6)
    assert h["first_token"] == pytest.approx(p[:, 0].mean(), rel=1e-6)


def test_show_refuses_what_it_would_hold_before_allocating(tmp_path: Path):
    sparse_npy(tmp_path / "maps.npy", (16, 16, 1024, 1024))
    err = one_error(run_capped(["show", tmp_path / "maps.npy"], limit_mb=CAP_MB, env=LIMIT))
    assert err.startswith("error: SOURCE: showing 256 map(s) of 1024 × 1024 would need about 2.0 GB")
    assert "try --layer to pick one layer, or --head to pick one head" in err
    err = one_error(run_capped(["show", tmp_path / "maps.npy", "--layer", "0"], limit_mb=CAP_MB,
                               env={"ATTNCLI_MEMORY_LIMIT": "100M"}))
    assert "showing 16 map(s)" in err and "try --head to pick one head" in err


def test_show_reads_only_the_chosen_maps_of_a_stored_npz_and_reports_infinity_where_it_is(tmp_path: Path):
    a = np.stack([softmax_rows(6, s) for s in range(6)]).reshape(2, 3, 6, 6)  # (layers, heads, n_q, n_k)
    a[1, 2, 4, 5] = np.inf
    np.savez(tmp_path / "m.npz", attn=a)
    [h] = json.loads(run(["show", tmp_path / "m.npz", "--layer", 0, "--head", 1, "--format", "json"]).stdout)[
        "stats"]["heads"]
    assert h["entropy"] == pytest.approx(entropy_bits(a[0, 1]).mean())
    assert "infinite value at (1, 2, 4, 5)" in error_of(["show", tmp_path / "m.npz", "--layer", 1])
    np.save(tmp_path / "f.npy", np.asfortranarray(a[0]))  # Fortran order: read whole (small), same numbers
    [h] = json.loads(run(["show", tmp_path / "f.npy", "--head", 2, "--format", "json"]).stdout)["stats"]["heads"]
    assert h["entropy"] == pytest.approx(entropy_bits(a[0, 2]).mean())


# ---- 7. any other hostile .npy header --------------------------------------------------------------------------

@pytest.mark.parametrize("shape,needle", [
    ((1,) * 100, "it has 100 dimensions"),
    ((0, 2**70), "would hold more than 2**63 bytes"),
    ("(" + "9" * 5000 + ",)", "not a Python dict literal"),
])
def test_npy_hostile_headers_are_one_line(shape, needle, tmp_path: Path):
    if isinstance(shape, str):
        text = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + "}"
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + 1) + text.encode() + b"\n"
    else:
        head = npy_header(shape)
    (tmp_path / "h.npy").write_bytes(head + bytes(8))
    for command in (["inspect"], ["show"], ["compute", "--x"]):
        err = error_of([*command, tmp_path / "h.npy"])
        assert "h.npy' is not a valid .npy file" in err and needle in err and len(err) < 300


def test_npy_bigger_than_memory_is_refused_when_read_whole(tmp_path: Path):
    sparse_npy(tmp_path / "x.npy", (16384, 16384))  # 1 GiB
    err = one_error(run_capped(["compute", "--x", "x.npy"], limit_mb=CAP_MB, env=LIMIT, cwd=tmp_path))
    assert err == ("error: --x: reading 'x.npy' (shape (16384, 16384) of float32) would need about 1.0 GB but only "
                   "0.2 GB of memory is available; try a smaller array for --x, or setting ATTNCLI_MEMORY_LIMIT "
                   "higher if the machine has the memory\n")
