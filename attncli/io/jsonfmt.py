"""JSON arrays: nested lists of numbers, or an object of named arrays.

Nested lists must be rectangular and hold numbers, booleans or null (null reads as NaN). The result
is float64, or bool when every value is true/false (masks). An object maps names to arrays; a key
"meta" whose value is not an array is ignored, so attncli's own JSON output reads back as
`out.json:weights`.

Hostile documents are one-line errors: an integer of more than 4300 digits (Python refuses to convert
it), nesting deeper than Python's recursion allows, and a document too big to hold as Python objects
in the memory budget (checked by io.readers before the bytes are read, at io.limits.PARSE_COST bytes per byte).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from attncli.errors import AttnError
from attncli.io._common import Content, Src, did_you_mean, list_names

_LEAF_TYPES = frozenset({int, float, bool, type(None)})


def load_json(text: str, src: Src) -> Any:
    """Parse JSON text, or an error naming the line and column where it went wrong."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise src.error(
            f"'{src.label}' is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except RecursionError:
        raise src.error(f"'{src.label}' is nested too deeply to be an array") from None
    except ValueError:  # Python's limit on the digits of an int
        raise src.error(f"'{src.label}' holds an integer of more than 4300 digits; write numbers as "
                        "floats (1e5000 reads as inf)") from None


def _where(path: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in path) or "the top level"


def _shape(obj: Any, path: tuple[int, ...], src: Src, label: str) -> tuple[int, ...]:
    """Shape of a rectangular nested list of numbers; an error names the first bad place."""
    if not isinstance(obj, list):
        if type(obj) not in _LEAF_TYPES:
            raise _bad_leaf(obj, path, src, label)
        return ()
    if not obj:
        return (0,)
    if not isinstance(obj[0], list):
        kinds = set(map(type, obj))
        if kinds <= _LEAF_TYPES:
            return (len(obj),)
        i = next(i for i, x in enumerate(obj) if type(x) not in _LEAF_TYPES)
        if isinstance(obj[i], list):
            raise src.error(
                f"{label}: ragged nested lists: {_where(path + (i,))} is a list but "
                f"{_where(path + (0,))} is a number; every row needs the same shape"
            )
        raise _bad_leaf(obj[i], path + (i,), src, label)
    inner: tuple[int, ...] | None = None
    for i, child in enumerate(obj):
        if not isinstance(child, list):
            raise src.error(
                f"{label}: ragged nested lists: {_where(path + (i,))} is a number but "
                f"{_where(path + (0,))} is a list; every row needs the same shape"
            )
        shape = _shape(child, path + (i,), src, label)
        if inner is None:
            inner = shape
        elif shape != inner:
            what = "length" if shape[:1] != inner[:1] else "shape"
            got = shape[0] if what == "length" else shape
            want = inner[0] if what == "length" else inner
            raise src.error(
                f"{label}: ragged nested lists: {_where(path + (i,))} has {what} {got} but "
                f"{_where(path + (0,))} has {what} {want}; every row needs the same shape"
            )
    assert inner is not None
    return (len(obj), *inner)


def _bad_leaf(value: Any, path: tuple[int, ...], src: Src, label: str) -> Exception:
    shown = json.dumps(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return src.error(
        f"{label}: {_where(path)} is {shown}, not a number; arrays hold numbers, true/false "
        "or null (NaN)"
    )


def _all_bool(obj: Any) -> bool:
    if isinstance(obj, list):
        return all(_all_bool(x) for x in obj)
    return isinstance(obj, bool)


def json_to_array(obj: Any, src: Src, label: str) -> np.ndarray:
    """A rectangular nested list (or a single number) as float64, or bool if all true/false."""
    if isinstance(obj, dict):
        raise src.error(f"{label} is a JSON object, not an array of numbers")
    try:
        shape = _shape(obj, (), src, label)
    except RecursionError:
        raise src.error(f"{label} is nested too deeply to be an array") from None
    if obj != [] and _all_bool(obj):
        return np.array(obj, dtype=bool).reshape(shape)
    try:
        return np.array(obj, dtype=np.float64).reshape(shape)  # null -> nan
    except (OverflowError, ValueError, TypeError) as err:
        raise src.error(f"{label}: cannot read as float64 numbers ({err})") from None


def _is_array(obj: Any, src: Src) -> bool:
    try:
        json_to_array(obj, src, "meta")
    except AttnError:
        return False
    return True


def json_content(text: str, src: Src) -> Content:
    """What a JSON document holds: one plain array, or an object of named arrays."""
    obj = load_json(text, src)
    if not isinstance(obj, dict):
        return Content(binary=False, plain=json_to_array(obj, src, src.label))
    names = [k for k, v in obj.items() if not (k == "meta" and not _is_array(v, src))]
    known = set(names)

    def load(name: str) -> np.ndarray:
        if name not in known:
            raise src.error(
                f"no array '{name}' in {src.label}; it holds: {list_names(names)}"
                f"{did_you_mean(name, names) if len(names) <= 10_000 else ''}"
            )
        return json_to_array(obj[name], src, f"{src.label}:{name}")

    return Content(binary=False, names=names, load=load)

