"""Frozen values with arrays inside: the base of Spec and Plan (core/spec.py, core/plan.py).

A value's fields are set once, validated, and compared, hashed and printed by value: arrays by shape and numbers
(1 == 1.0, an int mask equals its bool twin), printed as shape and dtype. `to_dict()` lists the fields that differ
from the defaults as plain JSON/TOML values (arrays as nested lists); `from_dict()` reads them back, refusing an
unknown key by name. Validation helpers here raise AttnError naming the field as a parameter (‹spec.window›).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attncli.errors import AttnError, param
from attncli.record import Frozen


def frozen_array(a: Any, name: str, kinds: str = "fiub", what: str = "real numbers") -> np.ndarray | None:
    """A read-only copy of `a` (None stays None); refuses dtypes outside `kinds` naming `name`."""
    if a is None:
        return None
    if isinstance(a, np.ndarray) and not a.flags.writeable and a.base is None and a.dtype.kind in kinds:
        return a  # a spec's own copy already (replace() keeps it): nothing else can change it
    arr = np.array(a, copy=True)
    if arr.dtype.kind not in kinds:
        raise AttnError(f"{param(name)} must hold {what}; got dtype {arr.dtype}")
    arr.flags.writeable = False
    return arr


def value_key(value: Any) -> Any:
    """A hashable stand-in for a field value: arrays by shape and values (float64 or bool), so 1 == 1.0."""
    if isinstance(value, np.ndarray):
        canon = value if value.dtype == bool else value.astype(np.float64)
        return ("array", value.shape, canon.dtype.str, canon.tobytes())
    if isinstance(value, Frozen):
        return (type(value).__name__, value._key())  # type: ignore[attr-defined]
    return value


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    return repr(value)


def _plain(value: Any) -> Any:
    """A field value as JSON/TOML values: arrays as nested lists, records as tables, tuples as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Value):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def number(value: Any, name: str, *, positive: bool = False, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise AttnError(f"{param(name)} must be a number; got {value!r}")
    if not math.isfinite(value) or (positive and not value > 0):
        want = "a positive finite number" if positive else "a finite number"
        raise AttnError(f"{param(name)} must be {want}; got {value}")
    return float(value)


def integer(value: Any, name: str, *, low: int, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        want = "a positive integer" if low == 1 else f"an integer ≥ {low}"
        raise AttnError(f"{param(name)} must be {want}; got {value!r}")
    return int(value)


def choice(value: Any, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise AttnError(f"{param(name)} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise AttnError(f"{param(name)} must be true or false; got {value!r}")
    return bool(value)


class Value(Frozen):
    """A frozen record with arrays compared, hashed and printed by value; `_defaults` gives every field's default,
    so a dict lists only what differs."""

    _defaults: dict[str, Any] = {}

    def _key(self) -> tuple[Any, ...]:
        return tuple(value_key(v) for v in self._values())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key() == other._key()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = [f"{f}={_describe(getattr(self, f))}" for f in self._fields
                 if value_key(getattr(self, f)) != value_key(self._defaults.get(f))]
        return f"{type(self).__name__}({', '.join(shown)})"

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from the defaults, as plain JSON/TOML values (arrays as nested lists)."""
        return {f: _plain(getattr(self, f)) for f in self._fields
                if value_key(getattr(self, f)) != value_key(self._defaults.get(f))}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], name: str = "spec") -> Any:
        """The value `to_dict` gave (or a problem file's table): unknown keys are refused by name."""
        if not isinstance(values, Mapping):
            raise AttnError(f"{param(name)} must be a table of fields; got {type(values).__name__}")
        unknown = [k for k in values if k not in cls._fields]
        if unknown:
            raise AttnError(f"{param(name + '.' + str(unknown[0]))} is not a field of {cls.__name__}; the fields "
                            f"are {', '.join(cls._fields)}")
        return cls(**dict(values))
