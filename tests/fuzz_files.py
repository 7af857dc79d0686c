"""Fuzzing attncli, part 1: values, arrays, and the bytes of files of every format, valid or damaged.

Shared by tests/test_fuzz.py (a short run in CI) and tests/fuzz.py (long runs); the command-line
grammar is tests/fuzz_cli.py, the oracle tests/fuzz_oracle.py.
"""

from __future__ import annotations

import functools
import io
import json
import math
import struct
import warnings
import zlib

import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------------------------------------ values

NICE = [0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 0.25, 1.5]
EXTREME = [1e4, -1e4, 1e-300, -1e-30, 65504.0, 1e-45]
OVERFLOWING = [1e30, -1e30, 1e200]  # their products overflow float32 (or float64): see configure()
NONFINITE = [math.nan, math.inf, -math.inf]


def values(nonfinite: bool = True) -> st.SearchStrategy[float]:
    pools = [st.sampled_from(NICE), st.sampled_from(NICE), st.sampled_from(NICE), st.sampled_from(EXTREME),
             st.floats(-10, 10, allow_nan=False, width=32)]
    if nonfinite:
        pools.append(st.sampled_from(NONFINITE))
    return st.one_of(*pools)


@st.composite
def arrays(draw, *, min_side: int = 1, max_side: int = 4, ndim: tuple[int, ...] = (2,),
           shape: tuple[int, ...] | None = None, nonfinite_p: bool = True) -> np.ndarray:
    if shape is None:
        nd = draw(st.sampled_from(ndim))
        shape = tuple(draw(st.lists(st.integers(min_side, max_side), min_size=nd, max_size=nd)))
    n = int(np.prod(shape)) if shape else 1
    allow_bad = nonfinite_p and draw(st.integers(0, 9)) == 0
    vals = draw(st.lists(values(allow_bad), min_size=n, max_size=n))
    return np.array(vals, dtype=np.float64).reshape(shape)


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def inline(a: np.ndarray, style: str) -> str:
    """An array as an inline literal: MATLAB rows or JSON lists."""
    if style == "json" or a.ndim != 2:  # MATLAB text is always a matrix: vectors and scalars keep their shape in JSON
        return json.dumps(a.tolist()).replace("NaN", "nan").replace("Infinity", "inf")
    return "; ".join(" ".join(_fmt(v) for v in row) for row in a) + (";" if a.shape[0] == 1 else "")


# ------------------------------------------------------------------------------------------ file bytes


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(named: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **named)
    return buf.getvalue()


def safetensors_bytes(named: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v) for k, v in named.items()})


def text_bytes(a: np.ndarray, sep: str) -> bytes:
    a2 = a.reshape(1, -1) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    return "".join(sep.join(_fmt(v) for v in row) + "\n" for row in a2).encode()


def json_bytes(a: np.ndarray) -> bytes:
    return json.dumps(a.tolist()).replace("NaN", "null").replace("Infinity", "1e999").encode()


DTYPES = ["float64", "float32", "float16", "int32", "int8", "uint8", "bool", "complex64", ">f8"]


@st.composite
def encoded(draw, a: np.ndarray, *, real: bool = False) -> tuple[str, bytes]:
    """(extension, bytes) of `a` in a randomly chosen format and dtype (never complex if `real`)."""
    ext = draw(st.sampled_from(["npy", "npy", "npz", "safetensors", "csv", "tsv", "txt", "json"]))
    if ext in ("npy", "npz", "safetensors"):
        dtype = draw(st.sampled_from(DTYPES if ext != "safetensors" and not real else DTYPES[:7]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = a.astype(dtype)
        if ext == "npy":
            return ext, npy_bytes(b)
        if ext == "npz":
            names = draw(st.sampled_from([["a"], ["a", "b"], ["x"]]))
            return ext, npz_bytes({n: b for n in names}, compressed=draw(st.booleans()))
        return ext, safetensors_bytes({n: b for n in draw(st.sampled_from([["a"], ["a", "b"]]))})
    if ext == "json":
        return ext, json_bytes(a)
    return ext, text_bytes(a, {"csv": ",", "tsv": "\t", "txt": " "}[ext])


@st.composite
def mutate(draw, data: bytes) -> bytes:
    """Flip, cut, insert, overwrite or splice bytes (or keep them)."""
    kind = draw(st.sampled_from(["keep", "flip", "cut", "insert", "overwrite", "header", "random"]))
    if kind == "keep" or not data:
        return data
    if kind == "random":
        return draw(st.binary(max_size=300))
    pos = draw(st.integers(0, len(data) - 1))
    if kind == "header":  # the first 128 bytes hold every format's header
        pos = draw(st.integers(0, min(len(data), 128) - 1))
        kind = "flip"
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            bit = 1 << draw(st.integers(0, 7))
            data = data[:pos] + bytes([data[pos] ^ bit]) + data[pos + 1:]
            pos = draw(st.integers(0, len(data) - 1))
        return data
    if kind == "cut":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=16)) + data[pos:]
    chunk = draw(st.binary(min_size=1, max_size=16))
    return data[:pos] + chunk + data[pos + len(chunk):]


@st.composite
def corrupt_file(draw) -> tuple[str, bytes]:
    """A file name and its bytes: a valid file of any format, often damaged, sometimes misnamed."""
    a = draw(arrays(ndim=(0, 1, 2, 3), max_side=3))
    ext, data = draw(encoded(a))
    data = draw(mutate(data))
    ext = draw(st.sampled_from([ext] * 6 + ["bin", "npy", "json", "csv", "safetensors", "npz"]))
    return f"f.{ext}", data


# ------------------------------------------------------------------------------------------ readers target


@st.composite
def read_inputs(draw) -> tuple[str, bytes, str, bool]:
    """(file name, bytes, `:name` suffix, read through stdin?) for `run_read_case`; one in four is a hostile file
    (named hostile.*: `run_read_case` reads it under a memory limit)."""
    if draw(st.integers(0, 3)) == 0:
        name, data = draw(hostile_file())
        return name, data, draw(st.sampled_from(["", "", ":a", ":t0"])), draw(st.integers(0, 4)) == 0
    name, data = draw(corrupt_file())
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.sampled_from([b"", b"\x93NUMPY", b"PK\x03\x04", b"{", b"["])) + draw(st.binary(max_size=64))
    suffix = draw(st.sampled_from(["", "", "", ":a", ":b", ":", ":zz"]))
    return name, data, suffix, draw(st.integers(0, 4)) == 0


# ------------------------------------------------------------------------------------------ hostile files (issue #12)
# Hand-written headers numpy and safetensors would refuse to write: 5,000-digit numbers, 100 dimensions, shapes of
# 2**70, JSON and TOML nested 50,000 deep, zip members whose headers or sizes lie. The files are small (a zip bomb
# is at most a few MB of deflated zeros); what they declare is not.

DIGITS = "9" * 5000  # beyond Python's 4,300-digit limit on int(str)
DEEP = (10_000, 20_000, 50_000)


def npy_raw(header: str, version: int = 1, data: bytes = b"") -> bytes:
    """An .npy file with the header text as given (version 1: 2-byte length; 2 and 3: 4-byte)."""
    text = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    raw = text.encode("utf-8" if version == 3 else "latin1", "replace")
    length = struct.pack("<H", len(raw)) if version == 1 else struct.pack("<I", len(raw))
    return b"\x93NUMPY" + bytes([version, 0]) + length + raw + data


def _npy_header_text(descr: str, shape: str, fortran: str = "False") -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


NPY_SHAPES = ["(" + "1, " * 100 + ")", "(" + "2, " * 100 + ")", f"(0, {2**70})", f"({2**70}, 0)", f"({2**62}, {2**62})",
              f"({2**31}, {2**31}, {2**31})", "(-1, 2)", f"({DIGITS}, 2)", "(2, 2)", "(1 << 70,)", "'x'", "(2.5,)",
              "(True, 2)", "((2,),)", "(" * 300 + ")" * 300, "(4,)", f"({2**64 - 1},)", "()"]
NPY_DESCRS = ["'<f8'", "'<f4'", "'<f2'", "'|b1'", "'<c16'", "'<U10'", "'|O'", "'|V1000000000'", "'<M8[s]'",
              "'|S5'", "[('a', '<f8')]", "'<f8' * 1000", "'x'", "5", "'>i8'"]


@st.composite
def hostile_npy(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # a header that is not a dict of the three keys
        text = draw(st.sampled_from(["[1, 2]", "{'descr': '<f8'", "{1: 2}", "__import__('os').system('true')",
                                     "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': " + DIGITS + "}",
                                     "{" * 5000 + "}" * 5000, "{'descr': '<f8', 'shape': (2,)}"]))
    else:
        text = _npy_header_text(draw(st.sampled_from(NPY_DESCRS)), draw(st.sampled_from(NPY_SHAPES)),
                                draw(st.sampled_from(["False", "False", "True", "1", "'x'"])))
    version = draw(st.sampled_from([1, 1, 2, 3]))
    data = draw(st.sampled_from([b"", bytes(16), bytes(32), b"\xff" * 64]))
    raw = npy_raw(text, version, data)
    if draw(st.integers(0, 9)) == 0:  # a length field that lies
        raw = raw[:8] + struct.pack("<H", draw(st.sampled_from([0, 1, 0xFFFF]))) + raw[10:]
    return raw


def _offsets(draw) -> str:
    return draw(st.sampled_from(["[0, 8]", "[0, 0]", f"[0, {2**70}]", "[-8, 0]", "[5, 2]", f"[{DIGITS}, 0]",
                                 f"[0, {DIGITS}]", "[0]", '"x"', "null", "[0, 8.0]", "[0, 8, 16]",
                                 f"[{2**64}, {2**64 + 8}]"]))


ST_SHAPES = [f"[{10**12}, {10**12}]", "[-1, 2]", "[" + ", ".join(["2"] * 100) + "]", "[" + ", ".join(["1"] * 100) + "]",
             f"[0, {2**70}]", f"[{DIGITS}]", f"[1, {DIGITS}]", '"3"', "[1.5]", "[true]", "[[2]]", "null", "[2]", "[]",
             f"[{2**63}, 2]", f"[{2**32}, {2**32}]", "[1e400]"]
ST_DTYPES = ['"F32"', '"F64"', '"BF16"', '"F16"', '"I64"', '"BOOL"', '"U8"', '"F8_E4M3"', '"C64"', '"x"', "5", "null",
             "[]", '{"x": 1}', '["F32"]', '"F32\\u001b[2J"', '"' + "F" * 1000 + '"', "true", DIGITS]


@st.composite
def hostile_safetensors(draw) -> bytes:
    """A safetensors file with a hand-written JSON header: odd shapes, dtypes and offsets, huge numbers, deep
    nesting, lying header lengths."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        n = draw(st.sampled_from(DEEP))
        header = '{"a": ' + "[" * n + "]" * n + "}"
    elif kind == 1:
        meta = draw(st.sampled_from(['{"x": 1}', '"str"', "[]", '{"x": "' + "y" * 100_000 + '"}', f'{{"x": {DIGITS}}}',
                                     '{"\\u001b]0;title\\u0007": "[red]x"}']))
        header = f'{{"__metadata__": {meta}, "a": {{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}}}'
    elif kind == 2:  # many tensors
        count = draw(st.sampled_from([100, 2000]))
        header = "{" + ", ".join(f'"t{i}": {{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
                                 for i in range(count)) + "}"
    else:
        name = draw(st.sampled_from(["a", "a", "a\nb", "\x1b[2J", "", "x" * 10_000, "../../a"]))
        header = (f'{{{json.dumps(name)}: {{"dtype": {draw(st.sampled_from(ST_DTYPES))}, '
                  f'"shape": {draw(st.sampled_from(ST_SHAPES))}, "data_offsets": {_offsets(draw)}}}}}')
    raw = header.encode()
    data = draw(st.sampled_from([bytes(8), b"", bytes(64)]))
    length = len(raw)
    if draw(st.integers(0, 7)) == 0:  # the 8-byte header length lies
        length = draw(st.sampled_from([0, 1, 2**63, 2**64 - 1, len(raw) + 10**6, len(raw) - 1]))
    return struct.pack("<Q", length) + raw + data


@st.composite
def hostile_json(draw) -> bytes:
    n = draw(st.sampled_from(DEEP))
    text = draw(st.sampled_from([
        f"[[{DIGITS}, 1]]", f"[[-{DIGITS}]]", "[[1" + "0" * 5000 + ".5]]", "[[1e999999, 1]]",
        "[[0." + "1" * 5000 + "]]",
        "[" * n + "]" * n, "[" * n + "1" + "]" * n, '{"x": ' + "[" * n + "1" + "]" * n + "}",
        '{"a": ' * n + "1" + "}" * n, '{"x": [[1, 2]], "y": ' + "[" * n + "]" * n + "}",
        "[" * n, '{"x": [[1, 2]], "' + "k" * 100_000 + '": [[1]]}', '[["\\ud800", 1]]',
        "[[1, 2], [3, " + "4, " * 50_000 + "5]]", "[" + "[1], " * 50_000 + "[1]]",
    ]))
    return text.encode()


@functools.lru_cache(maxsize=8)
def _deflated(head: bytes, zeros: int) -> tuple[bytes, int]:
    """Raw deflate of `head` + `zeros` zero bytes, and the crc32 of them (cached: built once per run)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(head + bytes(zeros)) + c.flush(), zlib.crc32(head + bytes(zeros))


def zip_bytes(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip written by hand: (name, stored bytes, declared uncompressed size, crc, method) per member, so a
    member may declare any size and crc."""
    local, central = b"", b""
    for name, stored, size, crc, method in members:
        fname = name.encode("utf-8", "surrogateescape")
        extra = struct.pack("<HHQ", 1, 8, size) if size >= 0xFFFFFFFF else b""  # zip64: sizes past 4 GB
        field = 0xFFFFFFFF if extra else size
        header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0x800, method, 0, 0, crc, len(stored), field,
                             len(fname), len(extra)) + fname + extra
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0x800, method, 0, 0, crc, len(stored),
                               field, len(fname), len(extra), 0, 0, 0, 0, len(local)) + fname + extra
        local += header + stored
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    return local + central + end


NPZ_BOMB_SHAPES = [(10**5, 10**4), (2**27,), (2**20, 2**20), (4096, 4096), (2**40,)]


@st.composite
def hostile_npz(draw) -> bytes:
    """Small zip bombs: an npy member whose header declares a big shape over a few MB of deflated zeros; members
    whose declared size lies (smaller or larger than the stream); many members; odd names; pickles."""
    kind = draw(st.sampled_from(["bomb", "bomb", "lie", "many", "names", "pickle", "stored"]))
    shape = draw(st.sampled_from(NPZ_BOMB_SHAPES))
    descr = draw(st.sampled_from(["<f8", "<f4", "<f2", "|b1"]))
    head = npy_raw(_npy_header_text(repr(descr), repr(shape)))
    zeros = draw(st.sampled_from([0, 1 << 16, 1 << 20, 4 << 20]))
    stream, crc = _deflated(head, zeros)
    declared = len(head) + math.prod(shape) * np.dtype(descr).itemsize
    if kind == "bomb":
        size = draw(st.sampled_from([declared, len(head) + zeros, declared & 0xFFFFFFFF]))  # honest, or wrapped
        return zip_bytes([("a.npy", stream, size, crc, 8)])
    if kind == "lie":  # the entry says a few bytes, or more than the stream holds, or the crc is wrong
        size = draw(st.sampled_from([len(head) + 32, 10, len(head) + zeros + 10**6, 0]))
        return zip_bytes([("a.npy", stream, size, draw(st.sampled_from([crc, 0, crc ^ 1])), 8)])
    small = npy_bytes(np.arange(4.0))
    if kind == "many":
        count = draw(st.sampled_from([200, 3000]))
        return zip_bytes([(f"m{i}.npy", small, len(small), zlib.crc32(small), 0) for i in range(count)])
    if kind == "names":
        name = draw(st.sampled_from(["../../a.npy", "\x1b[2J.npy", "a\nb.npy", ".npy", "x" * 5000 + ".npy", "a.npy/",
                                     "[red]a[/red].npy", "a\udcff.npy"]))
        return zip_bytes([(name, small, len(small), zlib.crc32(small), 0), ("a.npy", small, len(small),
                                                                          zlib.crc32(small), 0)])
    if kind == "pickle":
        member = npy_raw(_npy_header_text("'|O'", "(2,)"), data=b"\x80\x04\x95" + bytes(30))
        return zip_bytes([("a.npy", member, len(member), zlib.crc32(member), 0)])
    member = head + bytes(64)  # stored, declaring the big shape, holding 64 bytes
    return zip_bytes([("a.npy", member, draw(st.sampled_from([len(member), declared])), zlib.crc32(member), 0)])


@st.composite
def hostile_file(draw) -> tuple[str, bytes]:
    """(file name, bytes) of one hostile array file: .npy, .safetensors, .json or .npz."""
    ext = draw(st.sampled_from(["npy", "safetensors", "json", "npz"]))
    data = draw({"npy": hostile_npy(), "safetensors": hostile_safetensors(), "json": hostile_json(),
                 "npz": hostile_npz()}[ext])
    return f"hostile.{ext}", data
