"""One table from the library's parameter names to the command line's options.

The library's errors name parameters (`‹wq›`, `‹spec.window›`; see attncli/errors.py); every message the CLI
prints goes through `message(err)`, which writes each as the option a user of this command typed. A command
whose options name a thing differently (e.g. `model`, whose tokenizer is the checkpoint's tokenizer.json, not an
option) says so with `speaking({...})` around its work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from attncli.errors import AttnError

# parameter (or spec field) -> option. Names that are the same with dashes need no entry (see option()).
# None: no option (a library-only parameter keeps its library name in the message).
# "name=value": a setting the command line spells another way, written whole (‹torch_weights=True› is what a
# library caller passes; the command line's words for it are --weights-layout torch).
OPTIONS: dict[str, str | None] = {
    "block_rows": None,
    "plan.block_rows": None,
    "plan.need": "--show",
    "plan.backend": "--backend",
    "plan.memory_limit": None,
    "plan.stream_maps": None,
    "spec.normalize_over": None,
    "spec.rope": "--rope",
    "spec.qk_norm": "--q-norm/--k-norm",
    "spec.qk_norm.q": "--q-norm",
    "spec.qk_norm.k": "--k-norm",
    "spec.qk_norm.eps": "--qk-norm-eps",
    "spec.rope.base": "--rope-base",
    "spec.rope.layout": "--rope-layout",
    "spec.rope.start": "--start-pos",
    "spec.rope.dim": "--rope-dim",
    "spec.rope.inv_freq": None,  # a model's scaled RoPE (rope_scaling / rope_parameters), no option
    "spec.rope.attention_factor": None,
    "spec.graph": "--adjacency/--edges",
    "spec.graph.adjacency": "--adjacency",
    "spec.graph.edges": "--edges",
    "spec.graph.undirected": "--undirected",
    "spec.graph.self_loops": "--self-loops",
    "spec.window2d.grid": "--image",
    "spec.disentangled": "--rel-embeddings",
    "spec.disentangled.kinds": "--pos-att-type",
    "spec.disentangled.pos_key": "--rel-embeddings",
    "spec.disentangled.pos_query": "--rel-embeddings",
    "spec.disentangled.buckets": "--position-buckets",
    "spec.disentangled.max_position": "--max-relative-positions",
    "allow_nonfinite=True": "--allow-nonfinite",
    'need=["output"]': "--show output",
    "stream_maps=scores": "--show scores -o scores.npy",
    "stream_maps=weights": "--show weights -o weights.npy",
    "trace=False": "attncli compute with the same options",
    "torch_weights=True": "--weights-layout torch",
    **{f"{w}={w}.T": "--weights-layout torch reads weights that way" for w in ("wq", "wk", "wv", "wo")},
}

_overrides: ContextVar[Mapping[str, str] | None] = ContextVar("attncli_option_overrides", default=None)


def option(name: str) -> str | None:
    """The option a user types for parameter `name`: this command's override, the table's entry, or --name
    (None: the CLI has no option for it)."""
    over = _overrides.get() or {}
    if name in over:
        return over[name]
    if name in OPTIONS:
        return OPTIONS[name]
    base = name.removeprefix("spec.").removeprefix("plan.")
    return "--" + base.replace("_", "-")


class _Table(Mapping[str, str]):
    def __getitem__(self, name: str) -> str:
        found = option(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(OPTIONS)

    def __len__(self) -> int:
        return len(OPTIONS)


_SETTING = re.compile(r"‹([A-Za-z_][\w.]*=[^›]*)›")


def spoken(text: str) -> str:
    """A library text with ‹parameters› (a message, a diagnosis) as the command line says it."""
    over = _overrides.get() or {}

    def setting(m: re.Match[str]) -> str:
        found = over.get(m.group(1), OPTIONS.get(m.group(1)))
        return m.group(0) if found is None else found

    return AttnError(_SETTING.sub(setting, text)).text(_Table())


def message(err: AttnError) -> str:
    """`err` as the command line says it: parameters written as options."""
    return spoken(str(err.args[0])) if err.args else ""


@contextmanager
def speaking(overrides: Mapping[str, str]) -> Iterator[None]:
    """Within this block, name parameters as `overrides` says (e.g. {"tokenizer": "tokenizer.json"}). An AttnError
    leaving the block is said here, with these names (main prints it after the block has ended)."""
    token = _overrides.set({**(_overrides.get() or {}), **overrides})
    try:
        yield
    except AttnError as err:
        raise AttnError(message(err)) from err
    finally:
        _overrides.reset(token)
