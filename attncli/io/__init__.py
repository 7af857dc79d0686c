"""Readers and writers: every option reads through `read_array`, every result leaves through
`write_arrays`. Format sniffing lives here and only here.

>>> read_array("1 0; 0 1", option="--mask").array.shape
(2, 2)

Each name below is imported from its module on first use, so reading an inline matrix or a CSV file
does not load the writers or the binary formats (zipfile, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attncli.io._common import Loaded
    from attncli.io.atomic import atomic_write
    from attncli.io.readers import read_array, read_arrays
    from attncli.io.safetensors_format import safetensors_metadata
    from attncli.io.writers import BINARY_FORMATS, FORMATS, format_from_path, write_arrays

_MODULE_OF = {
    "Loaded": "_common",
    "atomic_write": "atomic",
    "read_array": "readers",
    "read_arrays": "readers",
    "safetensors_metadata": "safetensors_format",
    "BINARY_FORMATS": "writers",
    "FORMATS": "writers",
    "format_from_path": "writers",
    "write_arrays": "writers",
}

__all__ = [
    "BINARY_FORMATS",
    "FORMATS",
    "Loaded",
    "atomic_write",
    "format_from_path",
    "read_array",
    "read_arrays",
    "safetensors_metadata",
    "write_arrays",
]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"attncli.io.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'attncli.io' has no attribute {name!r}")
