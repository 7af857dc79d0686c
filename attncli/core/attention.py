"""attention(x, weights, spec, plan): the common case, project → attend → concat·W_O + b_O.

    Q = X·W_Q + b_Q,  K = X_kv·W_K + b_K,  V = X_kv·W_V + b_V        (project: heads as column blocks)
    head_h = attend(Q_h, K_h, V_h, spec)                              (RoPE, scores, masks, normalizer)
    O = concat(head_1 … head_H)·W_O + b_O                             (without W_O: the heads side by side)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from attncli.core import heads as hd
from attncli.core.attend import Context, attend_heads, spec_arrays
from attncli.core.inputs import from_tokens
from attncli.core.plan import Plan
from attncli.core.project import Weight, check_weights, prepare
from attncli.core.result import AttentionResult
from attncli.core.spec import Spec
from attncli.core.steps import Tracer
from attncli.core.validate import positive_int
from attncli.errors import AttnError, param


def attention(x: np.ndarray, weights: Mapping[str, Weight] | None = None, spec: Spec | None = None,
              plan: Plan | None = None, *, heads: int | None = None, kv_heads: int | None = None,
              x_kv: np.ndarray | None = None) -> AttentionResult:
    """Multi-head attention of tokens x (n, d_model) or (B, n, d_model), as `spec` says, run as `plan` says.

    weights: wq, wk, wv (d_model × H·d_k; or per head), optional bq, bk, bv, and wo (H·d_v × d_out, or
    H × d_v × d_out) with bo (d_out); see project(). heads: H; kv_heads: G (grouped-query attention); x_kv: the
    tokens of the keys and values (cross-attention). Returns an AttentionResult whose output is (B, n_q, d_out)
    (`result.export("output")`: (n_q, d_out) for 2-D x) and whose x is the tokens Q was projected from.

        >>> res = attention(x, {"wq": wq, "wk": wk, "wv": wv, "wo": wo}, Spec(causal=True), heads=2)
    """
    spec = Spec() if spec is None else spec
    plan = Plan() if plan is None else plan
    if not isinstance(spec, Spec) or not isinstance(plan, Plan):
        wrong, what = ("spec", spec) if not isinstance(spec, Spec) else ("plan", plan)
        raise AttnError(f"{param(wrong)} must be an attncli.{wrong.title()}; got {type(what).__name__}")
    positive_int(heads, param("heads"))
    positive_int(kv_heads, param("kv_heads"))
    ft, x, w, x_kv = prepare(x, weights, x_kv, plan, spec_arrays(spec))
    check_weights(w)
    tr = Tracer(plan.backend == "trace")
    x3 = x if x.ndim == 3 else x[None]  # (B, n, d_model)
    tr.add("x", x3, "tokens")
    if x_kv is not None:
        tr.add("x_kv", x_kv if x_kv.ndim == 3 else x_kv[None], "tokens")
    qh, kh, vh, batched, _, _ = from_tokens(x, x_kv, w.get("wq"), w.get("wk"), w.get("wv"), w.get("bq"),
                                            w.get("bk"), w.get("bv"), heads, kv_heads)
    suffix = "" if w.get("wq") is not None else "_x"
    src = "X_kv" if x_kv is not None else "X"
    for name, a in (("q", qh), ("k", kh), ("v", vh)) if tr.enabled else ():  # merging copies
        tr.add(name + suffix, hd.merge_heads(a), "tokens", src=src,
               b=f" + b_{name.upper()}" if w.get("b" + name) is not None else "")
    origin = f"{param('wq')}/{param('wk')}" if w.get("wq") is not None else param("x")
    ctx = Context(ft, batched, tr, [], wo=w.get("wo"), bo=w.get("bo"), names=(param("wo"), param("bo"), origin))
    res = attend_heads(qh, kh, vh, spec, plan, ctx)
    res.x = x3
    return res
