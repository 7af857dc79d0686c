"""A small reader for .safetensors files (our own: the `safetensors` package cannot give BF16 to numpy).

Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
`{name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`,
then the data buffer; offsets count from the start of the data buffer (byte 8 + N). The whole
header is validated up front (sizes are Python ints, shapes have at most 32 dimensions, and anything
odd is a one-line error naming the tensor); a tensor's bytes are read (seek + read) only when it is
asked for, after a memory check.
BF16, F16 and the three F8 formats (E4M3, E5M2, E8M0) are upcast to float32; everything else keeps its dtype. Names are
listed sorted, as `safetensors.safe_open(...).keys()` does (the file orders them by dtype size).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from attncli.io._common import Blob, Content, Src, cut, did_you_mean, list_names, show_name
from attncli.io.limits import check_read, read_into, shape_problem

_MAX_HEADER = 100 << 20  # the safetensors package refuses headers above 100 MB too
HEADER_COST = 12  # bytes of memory per header byte while it is parsed (measured: ~10 for a million tensors)

# safetensors dtype -> (bytes per element, numpy little-endian dtype of the stored bits)
DTYPES: dict[str, tuple[int, str]] = {
    "F64": (8, "<f8"), "F32": (4, "<f4"), "F16": (2, "<f2"), "BF16": (2, "<u2"),
    "I64": (8, "<i8"), "I32": (4, "<i4"), "I16": (2, "<i2"), "I8": (1, "i1"),
    "U64": (8, "<u8"), "U32": (4, "<u4"), "U16": (2, "<u2"), "U8": (1, "u1"),
    "BOOL": (1, "u1"), "F8_E4M3": (1, "u1"), "F8_E5M2": (1, "u1"), "F8_E8M0": (1, "u1"),
}


def _e4m3_table() -> np.ndarray:
    """float32 value of each of the 256 F8_E4M3 (fn) bytes: bias 7, no inf, S.1111.111 is NaN."""
    b = np.arange(256)
    sign = np.where(b & 0x80, -1.0, 1.0)
    exp, man = (b >> 3) & 0xF, b & 0x7
    value = np.where(exp == 0, man / 8 * 2.0**-6, (1 + man / 8) * 2.0 ** (exp - 7))
    value = np.where((exp == 15) & (man == 7), np.nan, value)
    return (sign * value).astype(np.float32)


def _e8m0_table() -> np.ndarray:
    """float32 value of each of the 256 F8_E8M0 (fnu) bytes: 2^(b − 127), a power of two (fp8 and MX block
    scales), 0xFF NaN."""
    with np.errstate(over="ignore"):
        value = np.ldexp(np.ones(256, dtype=np.float32), np.arange(256, dtype=np.int32) - 127)
    value[255] = np.nan
    return value


def decode(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Stored bits -> the numpy array a user expects (16/8-bit floats become float32)."""
    if dtype == "BF16":  # the 16 bits above 16 zero bits: one pass, into the float32's own memory
        out = np.empty(raw.shape, np.uint32)
        np.left_shift(raw, 16, out=out, dtype=np.uint32)
        return out.view(np.float32)
    if dtype == "F16":
        return raw.astype(np.float32)
    if dtype == "F8_E5M2":
        return (raw.astype(np.uint16) << 8).view(np.float16).astype(np.float32)
    if dtype == "F8_E4M3":
        return _e4m3_table()[raw]
    if dtype == "F8_E8M0":
        return _e8m0_table()[raw]
    if dtype == "BOOL":
        return raw != 0
    return raw.astype(raw.dtype.newbyteorder("="), copy=False)


def decoded_dtype(dtype: str) -> np.dtype:
    """The dtype a user gets for a safetensors dtype (BF16, F16, F8 -> float32, BOOL -> bool)."""
    return decode(np.empty(0, DTYPES[dtype][1]), dtype).dtype


def quoted(name: str) -> str:
    """A tensor name in a message: in quotes (repr if it has odd characters), cut to 60 characters."""
    shown = show_name(name)
    return cut(f"'{name}'" if shown == name else shown)


def _json(value: Any) -> str:
    return cut(json.dumps(value))


def _valid_entry(name: str, entry: Any, data_size: int) -> str | None:
    """Why a header entry is unusable, or None if it is fine."""
    if not isinstance(entry, dict):
        return "its header entry is not an object"
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in entry]
    if missing:
        return f"its header entry lacks {', '.join(missing)}"
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        known = ", ".join(DTYPES)
        return f"its dtype {cut(repr(dtype))} is unsupported (attncli reads {known})"
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        return f"its shape {_json(shape)} is not a list of sizes"
    problem = shape_problem(shape, DTYPES[dtype][0])
    if problem:
        return problem
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets)):
        return f"its data_offsets {_json(offsets)} are not [begin, end]"
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        return (f"its data_offsets {_json(offsets)} fall outside the data buffer "
                f"({data_size} bytes)")
    need = math.prod(shape) * DTYPES[dtype][0]
    if end - begin != need:
        return (f"its data_offsets span {end - begin} bytes but shape {_json(shape)} of {dtype} "
                f"needs {need}")
    return None


def read_header(blob: Blob) -> tuple[dict[str, Any], int]:
    """(the validated header, offset of the data buffer); any problem is a one-line error."""
    src = blob.src
    if blob.size < 8:
        raise src.error(f"'{src.label}' is too short ({blob.size} bytes) to be a safetensors file")
    (length,) = struct.unpack("<Q", blob.read_at(0, 8, "the header length"))
    if length > blob.size - 8:
        raise src.error(
            f"'{src.label}' is not a valid safetensors file: header length {length} exceeds "
            f"the file size ({blob.size} bytes); the file is truncated or not safetensors"
        )
    if length > _MAX_HEADER:
        raise src.error(f"'{src.label}' has a {length}-byte header, over the 100 MB limit")
    check_read(length * HEADER_COST, f"parsing the {length}-byte header of '{src.label}'", src.option)
    raw = blob.read_at(8, length, "the header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise src.error(
            f"'{src.label}' is not a valid safetensors file: its header is not UTF-8 JSON ({err})"
        ) from None
    except RecursionError:
        raise src.error(f"'{src.label}' is not a valid safetensors file: its header is nested too deeply") from None
    except ValueError:  # Python's limit on the digits of an int
        raise src.error(f"'{src.label}' is not a valid safetensors file: its header holds an integer of more "
                        "than 4300 digits") from None
    if not isinstance(header, dict):
        raise src.error(
            f"'{src.label}' is not a valid safetensors file: its header is not a JSON object"
        )
    data_size = blob.size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        problem = _valid_entry(name, entry, data_size)
        if problem:
            raise src.error(f"'{src.label}' is not a valid safetensors file: tensor {quoted(name)}: {problem}")
    return header, 8 + length


def safetensors_content(blob: Blob) -> Content:
    """The named tensors of a safetensors file, each read from disk only when asked for."""
    src = blob.src
    header, data_start = read_header(blob)
    names = tensor_names(header)

    def load(name: str) -> np.ndarray:
        entry = tensor_entry(header, names, name, src)
        dtype, shape = entry["dtype"], entry["shape"]
        begin, end = entry["data_offsets"]
        label = f"'{src.label}:{cut(name)}'"
        count = math.prod(shape)
        extra = 0 if decoded_dtype(dtype).itemsize == DTYPES[dtype][0] else count * decoded_dtype(dtype).itemsize
        check_read(end - begin + extra, f"reading {label} (shape {_json(shape)} of {dtype})", src.option)
        with blob.open() as stream:
            stream.seek(data_start + begin)
            data = read_into(stream, end - begin, src, label)
        raw = np.frombuffer(data, dtype=DTYPES[dtype][1]).reshape(shape)
        return decode(raw, dtype)

    return Content(binary=True, names=names, load=load)


def tensor_names(header: dict[str, Any]) -> list[str]:
    """The tensor names of a validated header, sorted (the file orders them by dtype size)."""
    return sorted(n for n in header if n != "__metadata__")


def tensor_entry(header: dict[str, Any], names: list[str], name: str, src: Src) -> dict[str, Any]:
    """The header entry of tensor `name`, or an error listing the names there are."""
    if name == "__metadata__" or name not in header:
        raise src.error(
            f"no array '{name}' in {src.label}; it holds: {list_names(names) or 'nothing'}"
            f"{did_you_mean(name, names) if len(names) <= 10_000 else ''}"
        )
    return header[name]


def safetensors_metadata(path: str | Path, *, option: str = "SOURCE") -> dict[str, str]:
    """The `__metadata__` string map of a safetensors file ({} when there is none)."""
    src = Src(option, str(path))
    header, _ = read_header(Blob(src, path=Path(path)))
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise src.error(f"'{path}' has a __metadata__ that is not a JSON object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
