"""Plan: how to run a spec (which results, backend, dtype, blocks, threads, memory); never changes the numbers
beyond rounding. A frozen value like Spec (core/values.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from attncli.core.values import Value, choice, flag, integer, value_key
from attncli.errors import AttnError, param

BACKENDS = ("auto", "dense", "fused", "trace")
DTYPES = ("auto", "float32", "float64")


PLAN_DEFAULTS: dict[str, Any] = {
    "need": None, "backend": "auto", "dtype": "auto", "block_rows": None, "threads": None, "memory_limit": None,
    "stream_maps": None, "allow_nonfinite": False,
}


class Plan(Value):
    """How to run a spec: never changes the numbers beyond rounding.

    need: the results wanted (names of attncli.vocabulary.NAMES: q, k, v, qk, scores, weights, heads, concat,
    output); None = all. Without scores and weights the maps are never held whole (memory ∝ n, not n_q × n_k).
    backend: "dense" (every map in memory), "fused" (streaming, output and heads only), "trace" (every
    intermediate step in result.steps, for explain) or "auto" (fused when the maps are not needed and the variant
    allows it, else dense). dtype: "auto" (float32 when every floating input is, else float64), "float32",
    "float64". block_rows: query rows per block (None: about 16 MB of scores). threads: None = every core when
    BLAS is single-threaded. memory_limit: bytes; maps that would not fit are refused before allocating, unless
    stream_maps takes them: called as stream_maps(name, shape=, dtype=, blocks=(B, H, n_q, n_k)), it returns
    where that map goes (anything taking `m[:, :, i0:i1] = block`) or None. allow_nonfinite: compute with NaN
    or ±inf in the inputs instead of refusing them.
    """

    need: tuple[str, ...] | None
    backend: str
    dtype: str
    block_rows: int | None
    threads: int | None
    memory_limit: int | None
    stream_maps: Callable[..., Any] | None
    allow_nonfinite: bool
    _fields = tuple(PLAN_DEFAULTS)
    _defaults = PLAN_DEFAULTS

    def __init__(self, *, need: Sequence[str] | None = None, backend: str = "auto", dtype: str = "auto",
                 block_rows: int | None = None, threads: int | None = None, memory_limit: int | None = None,
                 stream_maps: Callable[..., Any] | None = None, allow_nonfinite: bool = False) -> None:
        from attncli.vocabulary import NAMES

        if need is not None:
            if isinstance(need, str):
                need = (need,)
            bad = [n for n in need if n not in NAMES]
            if bad:
                raise AttnError(f"{param('plan.need')} names {bad[0]!r}; the results are {', '.join(NAMES)}")
            need = tuple(need)
        if stream_maps is not None and not callable(stream_maps):
            raise AttnError(f"{param('plan.stream_maps')} must be callable; got {stream_maps!r}")
        self._set(need=need, backend=choice(backend, BACKENDS, "plan.backend"),
                  dtype=choice(dtype, DTYPES, "plan.dtype"),
                  block_rows=integer(block_rows, "plan.block_rows", low=1),
                  threads=integer(threads, "plan.threads", low=1),
                  memory_limit=integer(memory_limit, "plan.memory_limit", low=0), stream_maps=stream_maps,
                  allow_nonfinite=flag(allow_nonfinite, "plan.allow_nonfinite"))

    def replace(self, **changes: Any) -> Plan:
        """A copy with `changes`, validated again."""
        unknown = [k for k in changes if k not in self._fields]
        if unknown:
            raise AttnError(f"{param('plan.' + unknown[0])} is not a field of Plan; the fields are "
                            f"{', '.join(self._fields)}")
        return Plan(**({f: getattr(self, f) for f in self._fields} | changes))

    def _key(self) -> tuple[Any, ...]:
        return tuple(id(v) if f == "stream_maps" and v is not None else value_key(v)
                     for f, v in zip(self._fields, self._values(), strict=True))
