"""Records: what `@dataclass` gives a class of fields (a repr and == over the fields; with `Frozen`, a hash and
no assignment after __init__), without its cost at import: `dataclass` writes and compiles each class's methods
as the module loads, ~0.4 ms a class (0.7 ms frozen), most of what attncli's own modules added to a small run.
Each class lists its fields in `_fields` and writes its own __init__."""

from __future__ import annotations

from typing import Any


class Record:
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def replace(self, **changes: Any) -> Any:
        """A copy with `changes` (what dataclasses.replace does for a dataclass)."""
        return type(self)(**(dict(zip(self._fields, self._values(), strict=True)) | changes))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._fields)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment] - mutable, as a dataclass with eq and not frozen


class Frozen(Record):
    """A record whose fields are set once, in __init__ (with `_set`)."""

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())
