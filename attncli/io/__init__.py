"""Readers and writers: every option reads through `read_array`, every result leaves through
`write_arrays`. Format sniffing lives here and only here.

>>> read_array("1 0; 0 1", option="--mask").array.shape
(2, 2)
"""

from attncli.io._common import Loaded
from attncli.io.atomic import atomic_write
from attncli.io.readers import read_array, read_arrays
from attncli.io.safetensors_format import safetensors_metadata
from attncli.io.writers import BINARY_FORMATS, FORMATS, format_from_path, write_arrays

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
