"""Which format a file or a stream holds: by extension, else by its first bytes.

Format sniffing lives here and only here, and so does the one refusal of pickles: a PyTorch checkpoint
(`torch.save`'s zip with `<archive>/data.pkl`, or its older raw pickle) or any Python pickle is never unpickled
(unpickling runs whatever code the file names); every reader refuses it with `pickle_refusal`'s message.
"""

from __future__ import annotations

import os
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
# the extensions PyTorch and Python pickles usually carry (a pickle is found by its bytes, whatever its name)
PICKLE_EXTENSIONS = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
TORCH_EXTENSIONS = PICKLE_EXTENSIONS[:4]
# torch.save's legacy format starts with the pickle of its magic number 0x1950a86a20f9469cfc6c (LONG1, 10 bytes)
TORCH_LEGACY_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
TORCH = "a PyTorch checkpoint"
PICKLE = "a Python pickle"


def kind_from_extension(path: Path) -> str | None:
    """The reader kind for a file name, or None when the extension says nothing."""
    return EXTENSION_KINDS.get(path.suffix.lower())


def sniff(data: bytes, size: int | None = None) -> str:
    """The reader kind of raw bytes: npy, npz, safetensors, json, or text (delimiter sniffed later).

    - `\\x93NUMPY` -> npy; `PK\\x03\\x04` -> npz (pickle when its first entry is a PyTorch data.pkl);
    - a little-endian u64 N > 0 with 8 + N <= size and byte 8 == `{` -> safetensors (`size` is the whole
      length when `data` is only the first bytes of a file);
    - a pickle (see `pickled`) -> pickle, which every reader refuses;
    - text whose first non-blank character is `[` or `{` -> json; anything else -> text.
    """
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data.startswith(ZIP_MAGIC):
        return "pickle" if pickled(data) else "npz"
    if len(data) >= 9:
        (length,) = struct.unpack("<Q", data[:8])
        if 0 < length <= (len(data) if size is None else size) - 8 and data[8:9] == b"{":
            return "safetensors"
    if pickled(data):
        return "pickle"
    start = data.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if start in (b"[", b"{"):
        return "json"
    return "text"


def pickled(head: bytes) -> str | None:
    """What pickle the first bytes of a file are (TORCH or PICKLE), or None.

    - a zip whose first entry is `data.pkl` or `<archive>/data.pkl`: what torch.save has written since PyTorch 1.6
      (torch/serialization.py writes data.pkl first; the name is read from the first local header);
    - 0x80 and a protocol byte 2..5: a pickle (torch.save's legacy format if its magic number comes first).
      A safetensors file can start the same way (a header of 640 bytes is 0x80 0x02 ...): `sniff` tells it first.
    """
    if head.startswith(ZIP_MAGIC):
        if len(head) < 30:
            return None
        name_length = struct.unpack("<H", head[26:28])[0]
        name = head[30 : 30 + name_length]
        return TORCH if zip_holds_pickle([name.decode("utf-8", "replace")]) else None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return TORCH if TORCH_LEGACY_MAGIC in head[:32] else PICKLE
    return None


def zip_holds_pickle(names: list[str]) -> bool:
    """True if a zip's member names are those of a PyTorch archive (`data.pkl`, `<archive>/data.pkl`) or another
    zip of pickles (`*.pkl`)."""
    return any(n == "data.pkl" or n.endswith("/data.pkl") or n.endswith(".pkl") for n in names)


def pickle_refusal(label: str, kind: str = TORCH, *, target: str | None = None) -> str:
    """The one message for a pickle, whichever command met it: the file, what it is, that attncli never unpickles
    (unpickling can run any code), and how to convert it where PyTorch is installed (`target` names the
    .safetensors to write; default: beside the file)."""
    named = label not in ("standard input", "")
    source = label if named else "model.bin"
    target = target or (os.path.splitext(source)[0] + ".safetensors")
    # contiguous copies: save_file refuses strided tensors and tensors sharing memory (tied embeddings)
    convert = (f"python -c \"import torch, safetensors.torch as st; sd = torch.load({source!r}, weights_only=True); "
               f"st.save_file({{k: v.contiguous().clone() for k, v in sd.items()}}, {target!r})\"")
    what = f"'{label}'" if named else "standard input"
    if kind == TORCH or os.path.splitext(label)[1].lower() in TORCH_EXTENSIONS:
        return (f"{what} is {TORCH}, a pickle: attncli never unpickles files (unpickling can run any code). Convert "
                f"it to safetensors once, where PyTorch is installed: {convert}; or, from transformers, "
                "model.save_pretrained(folder, safe_serialization=True)")
    return (f"{what} is {PICKLE}: attncli never unpickles files (unpickling can run any code). Save the arrays "
            "with numpy.save / numpy.savez (allow_pickle=False reads them back) or as safetensors; a PyTorch "
            f"state_dict converts with {convert}")


def word_vectors_file(path: str) -> bool:
    """Whether `path` is a word2vec/GloVe text file ("token v1 ... vd" per line) rather than a matrix: a regular
    file, not .npy/.npz/safetensors, whose first line with two or more fields (after an optional "count dim"
    header) starts with a token that is not a number. A pipe is not looked into: it is read once, as a matrix.
    The caller notes `path` as an input first (io.files.note_input_path), so no output overwrites it."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith((NPY_MAGIC, b"PK")) or head[8:9] == b"{":
        return False
    for line in head.decode("utf-8", "replace").splitlines()[:2]:
        parts = line.split()
        if len(parts) >= 2:
            try:
                float(parts[0])
            except ValueError:
                return True
    return False
