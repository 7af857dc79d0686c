"""Which format a file or a stream holds: by extension, else by its first bytes.

Format sniffing lives here and only here.
"""

from __future__ import annotations

import struct
from pathlib import Path

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"

# extension -> reader kind; "txt" means whitespace-separated, or CSV if the text has commas
EXTENSION_KINDS = {
    ".npy": "npy",
    ".npz": "npz",
    ".safetensors": "safetensors",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".dat": "txt",
}


def kind_from_extension(path: Path) -> str | None:
    """The reader kind for a file name, or None when the extension says nothing."""
    return EXTENSION_KINDS.get(path.suffix.lower())


def sniff(data: bytes, size: int | None = None) -> str:
    """The reader kind of raw bytes: npy, npz, safetensors, json, or text (delimiter sniffed later).

    - `\\x93NUMPY` -> npy; `PK\\x03\\x04` -> npz;
    - a little-endian u64 N > 0 with 8 + N <= size and byte 8 == `{` -> safetensors (`size` is the whole
      length when `data` is only the first bytes of a file);
    - text whose first non-blank character is `[` or `{` -> json; anything else -> text.
    """
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data.startswith(ZIP_MAGIC):
        return "npz"
    if len(data) >= 9:
        (length,) = struct.unpack("<Q", data[:8])
        if 0 < length <= (len(data) if size is None else size) - 8 and data[8:9] == b"{":
            return "safetensors"
    start = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if start in (b"[", b"{"):
        return "json"
    return "text"
