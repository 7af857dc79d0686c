"""`write_arrays(target, arrays, meta, fmt)`: results out as JSON, CSV/TSV, NPY, NPZ or safetensors.

Files are written atomically (see `atomic_write`); `target=None` writes to standard output, except
binary formats to a terminal. JSON is strict (NaN/inf become null); CSV/TSV of one array of at
most 2 dimensions re-reads exactly with `read_array`.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from attncli.errors import AttnError
from attncli.io._common import Data, write_data

FORMATS = ("json", "csv", "tsv", "npy", "npz", "safetensors")
BINARY_FORMATS = ("npy", "npz", "safetensors")
_SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".tsv": "tsv", ".npy": "npy", ".npz": "npz",
                   ".safetensors": "safetensors", ".txt": "table"}
OPTION = "-o/--output"


def format_from_path(path: str | Path, *, option: str = OPTION) -> str:
    """The output format an extension asks for (".txt" is the rendered "table"; pictures are drawn by
    attncli.render, not written here)."""
    pictures = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".html": "html", ".htm": "html"}
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    if suffix in pictures:
        return pictures[suffix]
    known = ", ".join([*_SUFFIX_FORMATS, *pictures])
    raise AttnError(f"{option}: cannot tell the format of '{path}' from its extension; "
                    f"use one of {known}")


# ---------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    """Metadata as strict-JSON-able Python: numpy scalars/arrays unwrapped, non-finite -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    if isinstance(value, np.ndarray):
        return _json_array(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, complex):
        return [_plain(value.real), _plain(value.imag)]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # Path, dtype, enum, ...


def _json_array(array: np.ndarray) -> Any:
    """Nested lists for json.dumps: non-finite floats become None, bools stay bools."""
    if array.dtype.kind == "c":
        raise AttnError(f"{OPTION}: complex arrays cannot be written as JSON")
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            holder = array.astype(object)
            holder[~finite] = None
            return holder.tolist()
    elif array.dtype.kind not in "biu":
        raise AttnError(f"{OPTION}: cannot write {array.dtype} values as JSON")
    return array.tolist()


def _dumps(value: Any) -> str:
    import json  # (only text output needs it: an .npy does not load it)

    # ASCII only (json escapes the rest), and DEL too: nothing in a label can drive a terminal showing the JSON
    return json.dumps(value, allow_nan=False, separators=(", ", ": ")).replace("\x7f", "\\u007f")


def _json_value(value: Any) -> str:
    """A top-level value: arrays of 2+ dimensions put one top-level row per line."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return "[\n    " + ",\n    ".join(_dumps(row) for row in value) + "\n  ]"
    return _dumps(value)


def encode_json(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """`{"<name>": nested lists, ..., "meta": {...}}`, strict JSON, ending in a newline."""
    if "meta" in arrays:
        raise AttnError(f"{OPTION}: an array named 'meta' clashes with the JSON 'meta' key")
    # arrays as nested lists; a value that is not an array (a table of statistics) as plain JSON
    doc = {name: _json_array(np.asarray(a)) if not isinstance(a, dict | list) else _plain(a)
           for name, a in arrays.items()}
    doc["meta"] = _plain(meta)
    body = ",\n  ".join(f"{_dumps(k)}: {_json_value(v)}" for k, v in doc.items())
    return ("{\n  " + body + "\n}\n").encode("utf-8")


# ---------------------------------------------------------------- CSV / TSV


def _cells(row: np.ndarray) -> list[str]:
    """Round-trip text for each value: shortest repr for floats (nan, inf, -inf), 1/0 for bools."""
    if row.dtype.kind == "b":
        return ["1" if v else "0" for v in row.tolist()]
    if row.dtype == np.float64:
        return [repr(v) for v in row.tolist()]
    if row.dtype.kind == "f":
        return [str(v) for v in row]  # numpy's shortest repr for float32/float16
    if row.dtype.kind in "iu":
        return [str(v) for v in row.tolist()]
    raise AttnError(f"{OPTION}: cannot write {row.dtype} values as CSV/TSV")


def _rows(array: np.ndarray, sep: str) -> list[str]:
    table = array.reshape(1, -1) if array.ndim < 2 else array  # (rows, columns)
    return [sep.join(_cells(row)) for row in table]


def encode_delimited(arrays: dict[str, np.ndarray], sep: str) -> bytes:
    """One array of <= 2 dims: plain rows. Otherwise `# name[i,j]` blocks, blank-line separated."""
    items = [(name, np.asarray(a)) for name, a in arrays.items()]
    if len(items) == 1 and items[0][1].ndim <= 2:
        lines = _rows(items[0][1], sep)
    else:
        blocks = []
        for name, array in items:
            if array.ndim <= 2:
                blocks.append([f"# {name}", *_rows(array, sep)])
                continue
            for index in np.ndindex(*array.shape[:-2]):
                label = ",".join(map(str, index))
                blocks.append([f"# {name}[{label}]", *_rows(array[index], sep)])
        lines = [line for i, block in enumerate(blocks) for line in ([""] if i else []) + block]
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------- binary


def encode_npy(arrays: dict[str, np.ndarray]) -> list[bytes | memoryview]:
    """A single array as .npy (header, then the array's own memory); several arrays are an error that says
    what to do instead."""
    if len(arrays) != 1:
        names = ", ".join(arrays)
        first = next(iter(arrays), "output")
        raise AttnError(
            f"--show: npy holds one array but {len(arrays)} were asked for ({names}); pick one with --show "
            f"(e.g. --show {first}), or write them all as npz or safetensors (--format npz, -o out.npz)"
        )
    array = np.asarray(next(iter(arrays.values())), order="C")
    if array.dtype.hasobject:
        raise AttnError(f"{OPTION}: cannot write an array of Python objects as .npy")
    return [npy_header(array.shape, array.dtype), memoryview(array.reshape(-1)).cast("B")]  # the data is not copied


def npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The header np.save writes for a C-ordered array of `shape` and `dtype` (format 1.0, or 2.0 if long)."""
    fields = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(int(n) for n in shape)}
    header = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(header, fields)  # what np.save writes
    except ValueError:  # a header over 64 KiB needs format 2.0
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, fields)
    return header.getvalue()


def encode_npz(arrays: dict[str, np.ndarray]) -> Callable[[BinaryIO], None]:
    """An uncompressed .npz (the layout of np.savez: one `name.npy` member per array), written straight
    into the output file by the returned function (maps of hundreds of MB are not copied in memory)."""
    import zipfile  # only .npz needs it

    def write(stream: BinaryIO) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, array in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    for piece in encode_npy({name: array}):
                        member.write(piece)

    return write


def encode_safetensors(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """safetensors bytes; metadata holds `attncli` (all of meta as JSON) and each top-level key."""
    import json

    from safetensors import SafetensorError
    from safetensors.numpy import save

    plain = _plain(meta)
    metadata = {str(k): json.dumps(v, allow_nan=False) for k, v in plain.items()}
    metadata["attncli"] = json.dumps(plain, allow_nan=False)
    tensors = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    try:
        return save(tensors, metadata=metadata)
    except (SafetensorError, ValueError, TypeError, KeyError) as err:
        raise AttnError(f"{OPTION}: cannot write safetensors: {err}") from None


# ---------------------------------------------------------------- entry point


# Text formats hold every number as a Python object and its digits while the document is made: bytes of
# memory per value, measured with tracemalloc on a 1000 × 1000 float64 map (JSON 93, CSV 58), rounded up
ENCODE_COST = {"json": 100, "csv": 64, "tsv": 64}


def _count(value: object) -> int:
    """How many values an array holds, or a plain JSON value (lists and objects, ragged ones too): its leaves."""
    if isinstance(value, dict):
        return sum(_count(v) for v in value.values()) or 1
    if isinstance(value, list | tuple):
        return sum(_count(v) for v in value) or 1
    return int(np.asarray(value).size)


def check_text_memory(arrays: dict[str, np.ndarray], fmt: str) -> None:
    """Refuse, before encoding, a JSON/CSV/TSV document too big for the memory budget (io.memory)."""
    from attncli.io.memory import check_allocation

    values = sum(_count(a) for a in arrays.values())
    check_allocation(values * ENCODE_COST[fmt], f"writing {values:,} values as {fmt.upper()}",
                     ["a binary format (-o out.npy, .npz or .safetensors: written without a copy)",
                      "fewer arrays (--show)"], option=OPTION)


def encode(arrays: dict[str, np.ndarray], meta: dict, fmt: str) -> Data:
    """The bytes of `arrays` (+ `meta` where the format has room) in format `fmt`: whole, in pieces, or
    as a function that writes them to a stream."""
    if fmt in ENCODE_COST:
        check_text_memory(arrays, fmt)
    if fmt == "json":
        return encode_json(arrays, meta)
    if fmt in ("csv", "tsv"):
        return encode_delimited(arrays, "," if fmt == "csv" else "\t")
    if fmt == "npy":
        return encode_npy(arrays)
    if fmt == "npz":
        return encode_npz(arrays)
    if fmt == "safetensors":
        return encode_safetensors(arrays, meta)
    raise AttnError(f"{OPTION}: unknown output format '{fmt}'; use one of {', '.join(FORMATS)}")


def write_arrays(target: str | Path | None, arrays: dict[str, np.ndarray], meta: dict, fmt: str,
                 *, protect: Iterable[Path] = (), stdout: BinaryIO | None = None) -> None:
    """Write `arrays` in format `fmt` to the file `target` (atomically), or to stdout if None.

    `protect` lists input files that must never be overwritten. Binary formats are refused on a
    terminal.
    """
    if fmt not in FORMATS:
        raise AttnError(f"{OPTION}: unknown output format '{fmt}'; use one of {', '.join(FORMATS)}")
    if target is None:
        stream = stdout if stdout is not None else sys.stdout.buffer
        if fmt in BINARY_FORMATS and _is_terminal(stream):
            raise AttnError(f"refusing to write binary {fmt.upper()} to a terminal; use "
                            f"-o out.{fmt} or pipe it")
        data = encode(arrays, meta, fmt)
        write_data(stream, data)
        stream.flush()
        return
    from attncli.io.atomic import atomic_write  # (tempfile) only when writing a file

    atomic_write(target, encode(arrays, meta, fmt), protect=protect)


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
