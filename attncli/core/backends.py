"""Backends by name, chosen in one place, with the finiteness policy: who checks Q, K and V for NaN and ±inf.

    dense   the general kernel (kernel.py): blocks of query rows, every score function and normalizer; the maps
            whole in memory when they are needed (or streamed to `plan.stream_maps`), else only a block at a time
    fused   the fused kernel (fused.py): softmax over scaled or dot scores with nothing added to them, the output
            and heads only, in three passes over each block where the textbook takes six
    trace   one block of every row, recording every intermediate matrix with its formula (result.steps: explain)
    auto    fused when the maps are not needed and the variant allows it, else dense (trace when a step-by-step
            record is asked for, or a mistake needs every row at once)

Every backend gives the same numbers (tests/test_attend.py compares them over a grid of variants to 1e-12 in
float64). Q, K and V are checked finite before the kernel runs, except by the fused kernel, which sees every
value in the passes it makes over them anyway and reports through kernel.NotFinite; then the same check runs
here to say which value and where.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from attncli.core.fused import Fused, eligible
from attncli.core.kernel import Kernel, NotFinite
from attncli.core.kernel import run as run_kernel
from attncli.core.plan import BACKENDS, Plan
from attncli.core.steps import Tracer
from attncli.core.validate import check_finite
from attncli.errors import AttnError, param

__all__ = ["BACKENDS", "choose", "run"]


def choose(kernel: Kernel, plan: Plan, *, keep_maps: bool, traced: bool) -> str:
    """The backend that runs `kernel`: plan.backend, or for "auto" today's choice (see the module docstring).
    A named backend that cannot compute what is asked is refused, naming what would."""
    if traced or plan.backend == "trace" or kernel.over_queries:
        return "trace"
    fits = not keep_maps and eligible(kernel)
    if plan.backend == "fused" and not fits:
        why = ("the scores or weights are asked for (it keeps no maps)" if keep_maps else
               "it computes softmax over scaled or dot scores with no bias, ALiBi or softcap, from finite inputs")
        raise AttnError(f"{param('plan.backend', 'fused')} cannot run this: {why}; "
                        f"use {param('plan.backend', 'dense')} or {param('plan.backend', 'auto')}")
    if plan.backend == "dense":
        return "dense"
    return "fused" if fits else "dense"


def run(kernel: Kernel, backend: str, *, tr: Tracer, keep_maps: bool, unchecked: Sequence[tuple[str, np.ndarray]],
        empty_value: float | None, plan: Plan, maps: dict[str, Any] | None = None,
        keep: tuple[str, ...] = ("scores", "weights")) -> dict[str, Any]:
    """Run `kernel` on `backend` (from choose): heads (B, H, n_q, d_v), empty (B, H, n_q), and scores, weights
    (B, H, n_q, n_k) and allowed when the maps are kept (see kernel.run). `unchecked`: (parameter name, array)
    pairs still to be checked finite (empty with plan.allow_nonfinite)."""
    checks_itself = backend == "fused" and bool(unchecked)
    if not checks_itself:
        for name, a in unchecked:
            check_finite(a, name)
    fused = Fused(kernel, empty_value, checks_itself) if backend == "fused" else None
    try:
        return run_kernel(kernel, keep_maps=keep_maps, tr=tr, empty_value=empty_value, rows=plan.block_rows,
                          threads=plan.threads, maps=maps, keep=keep, fused=fused)
    except NotFinite:
        for name, a in unchecked:  # say which value, where, in the array as given
            check_finite(a, name)
        raise
