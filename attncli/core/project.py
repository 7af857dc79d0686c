"""project(x, weights): token vectors to queries, keys and values, heads as column blocks.

    Q = X·W_Q + b_Q,   K = X_kv·W_K + b_K,   V = X_kv·W_V + b_V      (X_kv = X for self-attention)
    Q (B, n_q, H·d_k) -> (B, H, n_q, d_k): head h takes columns h·d_k .. (h+1)·d_k − 1; K, V likewise with G
    key/value heads (G divides H: grouped-query attention)

Weights are rows oriented (d_model × d_out, as X·W); a per-head list (or a heads × d_model × d_k array) is
concatenated into column blocks. Without projections, Q = X and K = V = X_kv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attncli.core.inputs import from_tokens
from attncli.core.plan import Plan
from attncli.core.validate import as_real, check_finite, compute_dtype, positive_int
from attncli.errors import AttnError, param

Weight = np.ndarray | Sequence[np.ndarray]
PROJECTIONS = ("wq", "wk", "wv")
BIASES = ("bq", "bk", "bv")
WEIGHTS = PROJECTIONS + BIASES + ("wo", "bo")


def project(x: np.ndarray, weights: Mapping[str, Weight] | None = None, heads: int | None = None,
            kv_heads: int | None = None, x_kv: np.ndarray | None = None, plan: Plan | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V (B, H, n_q, d_k), (B, G, n_k, d_k), (B, G, n_k, d_v) from tokens x (n, d_model) or (B, n, d_model).

    weights: wq, wk, wv (d_model × H·d_k, or per head: a list of H d_model × d_k matrices or an H × d_model × d_k
    array) and optional biases bq, bk, bv (H·d_k, or per head); none of them: Q = X, K = V = X_kv. heads: H
    (default: from per-head weights, else 1); kv_heads: G (default H). x_kv: the tokens keys and values come from
    (cross-attention), (n_k, d_model) or (B, n_k, d_model). plan.dtype and plan.allow_nonfinite apply.
    """
    plan = Plan() if plan is None else plan
    positive_int(heads, param("heads"))
    positive_int(kv_heads, param("kv_heads"))
    _, x, w, x_kv = prepare(x, weights, x_kv, plan)
    check_weights(w)
    qh, kh, vh, _, _, _ = from_tokens(x, x_kv, w.get("wq"), w.get("wk"), w.get("wv"), w.get("bq"), w.get("bk"),
                                      w.get("bv"), heads, kv_heads)
    return qh, kh, vh


def prepare(x: np.ndarray, weights: Mapping[str, Weight] | None, x_kv: np.ndarray | None, plan: Plan,
            more: Sequence[np.ndarray] = ()) -> tuple[np.dtype, np.ndarray, dict[str, Any], np.ndarray | None]:
    """Validate and cast: the compute dtype (from x, x_kv, the weights and `more`), x, the weights (in it) and
    x_kv; every one checked real and (unless plan.allow_nonfinite) finite, named by its parameter."""
    weights = {} if weights is None else weights
    if not isinstance(weights, Mapping):
        raise AttnError(f"{param('weights')} must be a mapping of {', '.join(WEIGHTS)}; got {type(weights).__name__}")
    unknown = [n for n in weights if n not in WEIGHTS]
    if unknown:
        raise AttnError(f"{param('weights')} has {unknown[0]!r}; the weights are {', '.join(WEIGHTS)}")
    given = {n: w for n, w in weights.items() if w is not None}
    listed = {n: [as_real(np.asarray(m), param(n)) for m in w] if isinstance(w, (list, tuple))
              else as_real(np.asarray(w), param(n)) for n, w in given.items()}
    x = as_real(np.asarray(x), param("x"))
    x_kv = None if x_kv is None else as_real(np.asarray(x_kv), param("x_kv"))
    flat = [m for w in listed.values() for m in (w if isinstance(w, list) else [w])]
    ft = compute_dtype(plan.dtype, [x] + ([] if x_kv is None else [x_kv]) + flat + list(more))

    def cast(a: np.ndarray, name: str) -> np.ndarray:
        a = a.astype(ft, copy=False)
        if not plan.allow_nonfinite:
            check_finite(a, param(name))
        return a

    cast_w = {n: [cast(m, n) for m in w] if isinstance(w, list) else cast(w, n) for n, w in listed.items()}
    return ft, cast(x, "x"), cast_w, None if x_kv is None else cast(x_kv, "x_kv")


def check_weights(weights: Mapping[str, Any]) -> None:
    """All three projections or none; biases only with them; b_O only with W_O."""
    given = [n for n in PROJECTIONS if weights.get(n) is not None]
    if given and len(given) != 3:
        missing = [param(n) for n in PROJECTIONS if n not in given]
        raise AttnError(f"{', '.join(param(n) for n in given)} given without {', '.join(missing)}; give all three "
                        "projections")
    if not given:
        for name in BIASES:
            if weights.get(name) is not None:
                raise AttnError(f"{param(name)} needs the projections {param('wq')}/{param('wk')}/{param('wv')}")
