"""Fuzzing attncli, part 1: values, arrays, and the bytes of files of every format, valid or damaged.

Shared by tests/test_fuzz.py (a short run in CI) and tests/fuzz.py (long runs); the command-line
grammar is tests/fuzz_cli.py, the oracle tests/fuzz_oracle.py.
"""

from __future__ import annotations

import io
import json
import math
import warnings

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
    if style == "json" or a.ndim > 2:
        return json.dumps(a.tolist()).replace("NaN", "nan").replace("Infinity", "inf")
    if a.ndim == 0:
        return _fmt(float(a))
    if a.ndim == 1:
        return " ".join(_fmt(v) for v in a)
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
    """(file name, bytes, `:name` suffix, read through stdin?) for `run_read_case`."""
    name, data = draw(corrupt_file())
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.sampled_from([b"", b"\x93NUMPY", b"PK\x03\x04", b"{", b"["])) + draw(st.binary(max_size=64))
    suffix = draw(st.sampled_from(["", "", "", ":a", ":b", ":", ":zz"]))
    return name, data, suffix, draw(st.integers(0, 4)) == 0
