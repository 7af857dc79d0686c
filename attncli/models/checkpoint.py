"""A checkpoint folder in the Hugging Face layout: config.json, model.safetensors (or
model.safetensors.index.json and its shards), tokenizer.json (for text).

Tensors are read lazily, one at a time, when the forward pass asks for them (a layer at a time): the header
through attncli's own safetensors reader, the data mapped from the file (mmap: no copy, and only the pages used
are read: 512 rows of a 94 MB embedding table are 1.5 MB), BF16, F16 and F8 upcast to float32, and the weights
of an fp8 or mxfp4 checkpoint dequantized as transformers does (models/quant.py; other quantizations refused).
A tensor's mapping is released when the last array using it is (the next layer's tensors replace it). Every
tensor is checked against the shape config.json implies before it is used: a missing tensor or a disagreeing
shape is one line naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attncli.errors import AttnError, param
from attncli.models import quant, rules
from attncli.models.families import family_of, refusal
from attncli.models.family import COMMON_KEYS, Family
from attncli.models.rows import RowsOutside, check_rows  # noqa: F401 - RowsOutside: forward.py's from here

OPTION = "MODEL"


def _read_json(path: Path, what: str) -> Any:
    from attncli.io._common import Src
    from attncli.io.files import read_input

    data = read_input(path, Src(OPTION, str(path)), cost=16)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise AttnError(f"{OPTION}: '{path}' is not valid JSON ({what}): {str(err).splitlines()[0][:120]}") from None


@dataclass
class Checkpoint:
    """config.json, the family it names, and a lazy view of the tensors."""

    folder: Path
    config: dict[str, Any]
    family: Family
    names: list[str]
    _load: Callable[..., np.ndarray]  # (name, rows=None): the tensor, or only those rows of it
    prefix: str = ""

    # ---- settings from config.json
    def setting(self, key: str, default: Any = None) -> Any:
        for name in self.family.keys.get(key, ()) + COMMON_KEYS.get(key, ()):
            if self.config.get(name) is not None:
                return self.config[name]
        return default

    def need(self, key: str) -> Any:
        value = self.setting(key)
        if value is None:
            names = " or ".join(self.family.keys.get(key, ()) + COMMON_KEYS.get(key, ()))
            raise AttnError(f"{OPTION}: config.json has no {names}, which a {self.family.name} model needs")
        return value

    def flag(self, spec: bool | str) -> bool:
        """A family setting that is fixed (True/False) or read from a config key (absent or null: the family's
        Honoured default for it, else false)."""
        if not isinstance(spec, str):
            return spec
        return rules.flag(self.config, spec, bool(self.family.default(spec)))

    # ---- tensors
    def has(self, name: str) -> bool:
        return self.prefix + name in self._names

    def tensor(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The tensor `name` (without the checkpoint's prefix), checked against `shape` when given."""
        full = self.prefix + name
        if full not in self._names:
            raise AttnError(f"{OPTION}: the checkpoint has no tensor '{full}', which a {self.family.name} model "
                            f"needs; is the file complete (all shards present) and config.json the one saved with it?")
        a = self._load(full)
        if shape is not None and tuple(a.shape) != tuple(shape):
            raise AttnError(f"{OPTION}: tensor '{full}' has shape {tuple(a.shape)} but config.json implies "
                            f"{tuple(shape)} (hidden size, heads, head_dim, vocabulary); the config and the weights "
                            "disagree")
        if a.dtype.kind != "f":
            raise AttnError(f"{OPTION}: tensor '{full}' holds {a.dtype} values, not floating point")
        return a

    def rows(self, name: str, index: np.ndarray) -> np.ndarray:
        """The rows `index` (any integer array) of the 2-D tensor `name`, read and decoded alone (an embedding
        table's rows of a text's ids: not the whole table): index.shape + (width,). RowsOutside when an index is
        not a row of the tensor."""
        full = self.prefix + name
        if full not in self._names:
            self.tensor(name)  # the one message for a missing tensor
        a = self._load(full, np.asarray(index, dtype=np.int64))
        if a.dtype.kind != "f":
            raise AttnError(f"{OPTION}: tensor '{full}' holds {a.dtype} values, not floating point")
        return a

    def __post_init__(self) -> None:
        self._names = set(self.names)


def open_checkpoint(folder: str, weights: str | None = None) -> Checkpoint:
    """Read config.json and the safetensors headers of `folder` (no tensor yet); `weights` names the
    model.safetensors (or its index) when it is not beside config.json."""
    path = Path(folder)
    if not os.path.isdir(path):
        if os.path.isfile(path):  # a checkpoint file given for its folder: a pickle is refused as every reader does
            from attncli.io._common import Src
            from attncli.io.readers import file_blob

            file_blob(Src(OPTION, folder), path)
        what = "no such folder" if not os.path.exists(path) else "not a folder"
        raise AttnError(f"{OPTION}: '{folder}' is {what}; give a model folder holding config.json and "
                        "model.safetensors (the Hugging Face layout), or a Hub id (owner/name, e.g. "
                        "openai-community/gpt2)")
    if not os.path.isfile(path / "config.json"):
        raise AttnError(f"{OPTION}: '{folder}' has no config.json; give a Hugging Face model folder")
    config = _read_json(path / "config.json", "config.json")
    if not isinstance(config, dict):
        raise AttnError(f"{OPTION}: '{path / 'config.json'}' is not a JSON object")
    family = family_of(config)
    config = text_config(config, family)
    config = config if family.standardize is None else family.standardize(config)  # as its config class reads it
    refused = refusal(config, family)  # a setting attncli does not compute: before any tensor is read
    if refused is not None:
        raise AttnError(refused)
    names, load = _tensors(path, weights)
    problem = quant.refusal(config, names)  # a quantization attncli does not dequantize: before any tensor is read
    if problem is not None:
        raise AttnError(problem)
    names, load = quant.dequantizing(config, names, load)  # fp8 and mxfp4 weights, as transformers dequantizes
    ckpt = Checkpoint(path, config, family, names, load)
    ckpt.prefix = _prefix(ckpt)
    return ckpt


def text_config(config: dict[str, Any], family: Family) -> dict[str, Any]:
    """The config the pass reads: config.json, or the text model's config nested in it (the family's
    text_config: Gemma 3's); with class_defaults, every Honoured key it leaves out set to its default (the config
    class's, as transformers fills it; a key written as null stays null)."""
    from attncli.models.family import Honoured

    if family.text_config is not None:
        nested = config.get(family.text_config)
        if not isinstance(nested, dict):
            raise AttnError(f"{OPTION}: config.json (model_type {config.get('model_type')!r}) has no "
                            f"{family.text_config} object, where a {family.name} model keeps its text model's settings")
        config = dict(nested)
    if family.class_defaults:
        config = dict(config)
        for key in family.config:
            if isinstance(key, Honoured) and "." not in key.key and key.default is not None:
                config.setdefault(key.key, key.default)
    return config


def _tensors(folder: Path, weights: str | None = None
             ) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """Names and a loader over model.safetensors or the shards an index lists (`weights`: one of
    those named directly, when it is not beside config.json)."""
    from attncli.io._common import Src
    from attncli.io.readers import file_blob
    from attncli.io.safetensors_format import safetensors_content

    index = folder / "model.safetensors.index.json"
    single = folder / "model.safetensors"
    if weights is not None:
        given = Path(weights)
        if not os.path.isfile(given):
            raise AttnError(f"{param('weights')}: no such file '{weights}'")
        folder = given.parent
        index, single = (given, folder / "-") if given.name.endswith(".index.json") else (folder / "-", given)
    if os.path.isfile(index):
        doc = _read_json(index, "the shard index")
        weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise AttnError(f"{OPTION}: '{index}' has no weight_map of tensor names to shard files")
        files = sorted(set(weight_map.values()))
    elif os.path.isfile(single):
        files = [single.name]
    else:
        _no_safetensors(folder)
    loaders: dict[str, Callable[[str], np.ndarray]] = {}
    for name in files:
        shard = folder / name
        if os.path.basename(name) != name or not os.path.isfile(shard):
            raise AttnError(f"{OPTION}: the shard '{name}' named in the index is not in '{folder}'")
        blob = file_blob(Src(OPTION, str(shard)), shard)
        if blob.path is None:  # a pipe or a device: read whole into memory by the reader
            content = safetensors_content(blob)  # the header, read and checked once; tensors on demand
            tensors, load = content.names, _whole_then_rows(content.load)
        else:
            tensors, load = _mapped(blob)
        for tensor in tensors:
            loaders[tensor] = load  # type: ignore[assignment]
    return sorted(loaders), (lambda t, rows=None: loaders[t](t, rows))


def _no_safetensors(folder: Path) -> None:
    """The error for a folder without safetensors: when it holds a PyTorch pickle instead (pytorch_model.bin,
    *.pt, ...), the one message every reader gives for pickles, with the conversion into this folder."""
    from attncli.io.sniff import PICKLE_EXTENSIONS, pickle_refusal, pickled

    found = sorted((n for n in os.listdir(folder) if n.lower().endswith(PICKLE_EXTENSIONS)),
                   key=lambda n: (n != "pytorch_model.bin", n))
    for name in found:
        try:
            with open(folder / name, "rb") as f:
                kind = pickled(f.read(4096))
        except OSError:
            continue
        if kind is not None:
            raise AttnError(f"{OPTION}: '{folder}' has no model.safetensors, only {name}: "
                            + pickle_refusal(str(folder / name), kind, target=str(folder / "model.safetensors")))
    raise AttnError(f"{OPTION}: '{folder}' has neither model.safetensors nor model.safetensors.index.json; give a "
                    "Hugging Face model folder saved as safetensors")


def _mapped(blob: Any) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """The tensor names of a safetensors file on disk (its header read and checked once) and a loader that maps
    each tensor's bytes from the file (read only; BF16, F16 and F8 decoded into new float32 arrays)."""
    import math
    import mmap

    from attncli.io.limits import check_read
    from attncli.io.safetensors_format import DTYPES, decode, decoded_dtype, read_header, tensor_entry, tensor_names

    header, data_start = read_header(blob)
    names = tensor_names(header)

    def load(name: str, rows: np.ndarray | None = None) -> np.ndarray:
        entry = tensor_entry(header, names, name, blob.src)
        dtype, shape = entry["dtype"], entry["shape"]
        begin, end = entry["data_offsets"]
        count = math.prod(shape)
        if rows is not None:  # only these rows are read from the file and decoded (an embedding table's)
            check_rows(rows, shape)
            count = rows.size * math.prod(shape[1:])
        if decoded_dtype(dtype).itemsize != DTYPES[dtype][0] or rows is not None:  # decoded into a new array
            check_read(count * decoded_dtype(dtype).itemsize, f"reading '{blob.src.label}:{name}' (shape {shape} "
                       f"of {dtype})", OPTION)
        if count == 0:
            return decode(np.empty(shape if rows is None else (*rows.shape, *shape[1:]), dtype=DTYPES[dtype][1]), dtype)
        start = data_start + begin
        skip = start % mmap.ALLOCATIONGRANULARITY
        try:
            with open(blob.path, "rb") as f:
                view = mmap.mmap(f.fileno(), end - begin + skip, access=mmap.ACCESS_READ, offset=start - skip)
        except (OSError, ValueError) as err:
            raise AttnError(f"{OPTION}: cannot read '{blob.src.label}' ({err}); is the file still there?") from None
        raw = np.frombuffer(view, dtype=DTYPES[dtype][1], count=math.prod(shape), offset=skip).reshape(shape)
        return decode(raw if rows is None else raw[rows], dtype)

    return names, load


def _whole_then_rows(load: Callable[[str], np.ndarray]) -> Callable[..., np.ndarray]:
    """A loader that reads whole tensors (from a pipe) as one that also takes rows (cut after reading)."""
    def rows_of(name: str, rows: np.ndarray | None = None) -> np.ndarray:
        a = load(name)
        if rows is None:
            return a
        check_rows(rows, a.shape)
        return a[rows]

    return rows_of


def _prefix(ckpt: Checkpoint) -> str:
    """The prefix the checkpoint's names carry (`bert.`, `model.`, ... or none), found from the word embeddings."""
    for prefix in ckpt.family.prefixes:
        if prefix + ckpt.family.word in ckpt._names:
            return prefix
    tried = ", ".join(repr(p + ckpt.family.word) for p in ckpt.family.prefixes)
    raise AttnError(f"{OPTION}: the checkpoint has no word embeddings ({tried}); is it a {ckpt.family.name} "
                    f"checkpoint, as config.json says?")
