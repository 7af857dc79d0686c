"""attend(q, k, v, spec, plan): attention on projected arrays, the core of everything else.

    Q, K ← RMSNorm(Q), RMSNorm(K) over each head's features      (spec.qk_norm)
    Q, K ← RoPE(Q), RoPE(K)                                       (spec.rope, per head)
    S_h = score(Q_h, K_h) · scale → softcap → + bias + ALiBi → masked = −inf → ÷ temperature
    A_h = normalize(S_h) over keys                                (masked weights exactly 0)
    head_h = A_h·V_h,   output = concat(head_1 … head_H)          (· W_O + b_O in attention())

Three visible steps, as jax.nn.dot_product_attention: validate (shapes, dtypes; the spec validated itself),
canonicalize (Q, K, V as (B, H, n, d), RoPE, one Masks value from masks.combine), compute (the backend the plan
names, backends.py). Grouped key/value heads come from the shapes: K and V with G heads serve H = G·r query heads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from attncli.core import disentangled as dis
from attncli.core import heads as hd
from attncli.core import masks as mk
from attncli.core import positions as pos
from attncli.core.backends import choose
from attncli.core.backends import run as run_backend
from attncli.core.inputs import check_groups, from_qkv
from attncli.core.kernel import Kernel
from attncli.core.normalize import NORMALIZERS
from attncli.core.norms import rms_norm_heads
from attncli.core.plan import Plan
from attncli.core.result import AttentionResult
from attncli.core.scores import SCORES, check_params, default_scale
from attncli.core.spec import QKNorm, Rope, Spec
from attncli.core.steps import Tracer
from attncli.core.validate import (
    as_real,
    check_dense_memory,
    check_finite,
    check_ndim,
    check_output,
    compute_dtype,
    dense_bytes,
)
from attncli.errors import AttnError, param

SCORE_PARAMS = ("w_score", "wa_q", "wa_k", "va")


def attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, spec: Spec | None = None, plan: Plan | None = None
           ) -> AttentionResult:
    """Attention of queries `q` over keys `k` and values `v`, as `spec` says, run as `plan` says.

    q: (n_q, d), (H, n_q, d) or (B, H, n_q, d); k: the same rank, (…, G, n_k, d) with G dividing H (grouped
    key/value heads: query head h uses kv head h // (H/G)); v: (…, G, n_k, d_v). A 2-D q, k, v is one head.
    Returns an AttentionResult: q, k, v (B, H or G, n, d) after RoPE; scores and weights (B, H, n_q, n_k) unless
    only the output was needed (plan.need); heads (B, H, n_q, d_v); output (B, n_q, H·d_v), the heads side by
    side; meta (the variant as it ran) and empty_rows. `result.export(name)` gives an array in the caller's
    shape (no batch axis for 3-D input, no heads axis for one head).

        >>> res = attend(q, k, v, Spec(causal=True))     # = torch's scaled_dot_product_attention(is_causal=True)
    """
    spec = Spec() if spec is None else spec
    plan = Plan() if plan is None else plan
    if not isinstance(spec, Spec):
        raise AttnError(f"{param('spec')} must be an attncli.Spec; got {type(spec).__name__}")
    if not isinstance(plan, Plan):
        raise AttnError(f"{param('plan')} must be an attncli.Plan; got {type(plan).__name__}")
    named = [(name, as_real(np.asarray(a), name)) for name, a in (("q", q), ("k", k), ("v", v))]
    ft = compute_dtype(plan.dtype, [a for _, a in named] + spec_arrays(spec))
    q, k, v = (a.astype(ft, copy=False) for _, a in named)
    qh, kh, vh, batched, _, _ = from_qkv(q, k, v, None, None)
    unchecked = [] if plan.allow_nonfinite else [(param("q"), q), (param("k"), k), (param("v"), v)]
    return attend_heads(qh, kh, vh, spec, plan, Context(ft, batched, Tracer(plan.backend == "trace"), unchecked))


def spec_arrays(spec: Spec) -> list[np.ndarray]:
    """The spec's floating parameters that take part in choosing the dtype (the score's parameters)."""
    return [a for a in (getattr(spec, n) for n in SCORE_PARAMS) if a is not None]


class Context:
    """What attend_heads needs besides the arrays, spec and plan: the dtype, whether the caller's input had a
    batch axis, the tracer, the (name, array) pairs not yet checked finite, where W_O and b_O come from (W_O
    (H·d_v or H × d_v, d_out), b_O (d_out)), and the shape a streamed map has for the caller (stream_shape)."""

    def __init__(self, ft: np.dtype, batched: bool, tr: Tracer, unchecked: list[tuple[str, np.ndarray]],
                 wo: np.ndarray | None = None, bo: np.ndarray | None = None,
                 stream_shape: Callable[[tuple[int, ...], str], tuple[int, ...]] | None = None,
                 names: tuple[str, ...] = (param("wo"), param("bo"))) -> None:
        self.ft, self.batched, self.tr, self.unchecked = ft, batched, tr, unchecked
        self.wo, self.bo, self.stream_shape, self.names = wo, bo, stream_shape, names


def attend_heads(qh: np.ndarray, kh: np.ndarray, vh: np.ndarray, spec: Spec, plan: Plan, ctx: Context
                 ) -> AttentionResult:
    """The pipeline on canonical qh (B, H, n_q, d_q), kh (B, G, n_k, d_k), vh (B, G, n_k, d_v) of dtype ctx.ft."""
    B, H, n_q, d_q = qh.shape
    G, n_k, d_k = kh.shape[1], kh.shape[2], kh.shape[3]
    params = {n: canon_param(getattr(spec, n), n, ctx.ft, plan) for n in SCORE_PARAMS if getattr(spec, n) is not None}
    check_params(spec.score, {n: params.get(n) for n in SCORE_PARAMS}, d_q, d_k, _qk_names(ctx))
    if vh.shape[2] != n_k:
        raise AttnError(f"keys and values must have the same number of tokens; got {n_k} keys and "
                        f"{vh.shape[2]} values")
    if kh.shape[0] != B or vh.shape[0] != B:
        raise AttnError(f"batch sizes differ: queries {B}, keys {kh.shape[0]}, values {vh.shape[0]}")
    check_groups(H, G)
    if spec.qk_norm is not None:
        qh, kh = qk_normed(qh, kh, spec.qk_norm, d_q, d_k)
    if spec.rope is not None:
        qh, kh = rotate(qh, spec), rotate(kh, spec)
        ctx.tr.add("q_rope", qh, "heads")
        ctx.tr.add("k_rope", kh, "heads")
    if spec.bias is not None and not plan.allow_nonfinite:
        check_finite(spec.bias.astype(ctx.ft, copy=False), param("spec.bias"), allow_neg_inf=True)
    m = mk.combine((B, H, n_q, n_k), spec, dtype=ctx.ft)
    s_scale = default_scale(spec.score, d_k) if spec.scale is None else float(spec.scale)
    if spec.disentangled is not None and spec.scale is None:  # DeBERTa: 1/√(d_k·(1 + position terms))
        s_scale = dis.default_scale(spec.disentangled, d_k)
    r = H // G  # query heads per kv head
    given = spec.scale is not None or spec.disentangled is not None  # not the plain 1/√d_k
    kern = Kernel(qg=qh.reshape(B, G, r, n_q, d_q), kh=kh, vh=vh,  # qg: (B, G, r, n_q, d_q)
                  params={name: _per_head(a, name, H, G, r) for name, a in params.items()},
                  score=spec.score, scale=s_scale, scale_given=given, softcap=spec.softcap,
                  temperature=spec.temperature, alibi=spec.alibi, causal=spec.causal, masks=m,
                  normalize=spec.normalize, over_queries=spec.normalize_over == "queries",
                  check_overflow=not plan.allow_nonfinite, sinks=_sinks(spec, H, ctx.ft))
    if spec.disentangled is not None:
        kern.rel = dis.Terms(spec.disentangled, kern.qg, kh)
    got, sinks = _compute(kern, spec, plan, ctx)
    return _finish(qh, kh, vh, got, sinks, kern, spec, plan, ctx)


def _sinks(spec: Spec, H: int, ft: np.dtype) -> np.ndarray | None:
    """spec.sinks (H,) in the compute dtype, checked to have one logit per query head."""
    if spec.sinks is None:
        return None
    if spec.sinks.shape != (H,):
        raise AttnError(f"{param('spec.sinks')} must have one logit per head: {H} head{'s' if H != 1 else ''}, "
                        f"got {spec.sinks.size} logit{'s' if spec.sinks.size != 1 else ''}")
    return spec.sinks.astype(ft)


def _qk_names(ctx: Context) -> str:
    return ctx.names[2] if len(ctx.names) > 2 else f"{param('q')}/{param('k')}"


def canon_param(a: np.ndarray, name: str, ft: np.dtype, plan: Plan) -> np.ndarray:
    """A score parameter in the compute dtype, checked finite (unless plan.allow_nonfinite)."""
    a = a.astype(ft, copy=False)
    if not plan.allow_nonfinite:
        check_finite(a, param(name))
    return a


def qk_normed(qh: np.ndarray, kh: np.ndarray, norm: QKNorm, d_q: int, d_k: int) -> tuple[np.ndarray, np.ndarray]:
    """qh (B, H, n_q, d) and kh (B, G, n_k, d), each head's vectors through RMSNorm with norm.q and norm.k."""
    if not norm.q.shape[0] == d_q == d_k:
        raise AttnError(f"{param('spec.qk_norm')} has {norm.q.shape[0]} weights per head; the heads have d_q = {d_q}"
                        f" and d_k = {d_k} features")
    return rms_norm_heads(qh, norm.q, norm.eps), rms_norm_heads(kh, norm.k, norm.eps)


def rotate(x: np.ndarray, spec: Spec) -> np.ndarray:
    """RoPE on x (B, H, n, d) at positions spec.rope.start + 0..n−1; only the first spec.rope.dim features of
    each head turn when it is set (partial rotary), the rest pass unchanged."""
    rope = spec.rope
    positions = rope.start + np.arange(x.shape[2])
    dim = x.shape[3] if rope.dim is None else rope.dim
    if dim > x.shape[3]:
        raise AttnError(f"{param('spec.rope.dim')} {dim} is more than the {x.shape[3]} features of a head")
    how = dict(base=rope.base, layout=rope.layout, inv_freq=rope.inv_freq, attention_factor=rope.attention_factor)
    if dim == x.shape[3]:
        return pos.rope(x, positions, **how)
    turned = pos.rope(x[..., :dim], positions, **how)
    return np.concatenate([turned, x[..., dim:]], axis=-1)


def _compute(kern: Kernel, spec: Spec, plan: Plan, ctx: Context) -> tuple[dict[str, Any], dict | None]:
    """Which maps to keep, where (memory or plan.stream_maps), refuse what cannot fit, run the backend."""
    B, H, n_q, n_k = kern.shape
    ft, need = ctx.ft, plan.need
    m = kern.masks
    over_queries = spec.normalize_over == "queries"
    keep_maps = need is None or bool({"scores", "weights"} & set(need))
    sinks = None
    # the maps held whole: the weights alone when the scores are not asked for (nor needed to mark −inf cells)
    keep = ("weights",) if need is not None and "scores" not in need and not (m.bias_parts or plan.allow_nonfinite) \
        else ("scores", "weights")
    if keep_maps:  # refuse before allocating what cannot fit, or stream the maps to disk
        wanted = [n for n in ("scores", "weights") if need is not None and n in need]
        stream = plan.stream_maps
        if (plan.memory_limit is not None and dense_bytes(B, H, n_q, n_k, ft.itemsize, len(keep)) > plan.memory_limit
                and stream is not None and wanted and not ctx.tr.enabled and not over_queries):
            shape_of = ctx.stream_shape or (lambda shape, name: shape)
            sinks = {n: stream(n, shape=shape_of((B, H, n_q, n_k), n), dtype=ft, blocks=(B, H, n_q, n_k))
                     for n in wanted}
            if any(sink is None for sink in sinks.values()):
                sinks = None
        if sinks is None:
            check_dense_memory(B, H, n_q, n_k, ft.itemsize, len(keep), plan.memory_limit, streaming=True,
                               to_disk=None if stream is None else "scores" if wanted == ["scores"] else "weights")
    if need is not None and "qk" in need:  # made on export from Q and K: one map more, after the kernel's
        held = len(keep) if keep_maps and sinks is None else 0
        check_dense_memory(B, H, n_q, n_k, ft.itemsize, held + 1, plan.memory_limit,
                           what="qk (Q·Kᵀ, made from Q and K)" + (" with the maps" if held else ""))
    backend = choose(kern, plan, keep_maps=keep_maps, traced=ctx.tr.enabled)
    got = run_backend(kern, backend, tr=ctx.tr, keep_maps=keep_maps, unchecked=ctx.unchecked,
                      empty_value=np.nan if spec.empty_rows == "nan" else None, plan=plan, maps=sinks, keep=keep)
    return got, sinks


def _finish(qh: np.ndarray, kh: np.ndarray, vh: np.ndarray, got: dict[str, Any], sinks: dict | None, kern: Kernel,
            spec: Spec, plan: Plan, ctx: Context) -> AttentionResult:
    """Empty rows, padded queries, the output (· W_O + b_O when given), the overflow check, meta."""
    B, H, n_q, n_k = kern.shape
    m, tr = kern.masks, ctx.tr
    s, w, empty = (None, None, got["empty"]) if sinks else (got["scores"], got["weights"], got["empty"])
    if m.query_valid is not None:
        empty &= m.query_valid[:, None, :]  # padded queries are meant to be empty
    empty_list = [tuple(int(i) for i in idx) for idx in np.argwhere(empty)] if empty.any() else []
    if empty_list and spec.empty_rows == "error":
        raise AttnError(f"{len(empty_list)} query row(s) have every key masked ({rows_text(empty_list)}); "
                        f"loosen the masks, or pass {param('empty_rows', 'zero|nan')}")
    head_out = got["heads"]  # (B, H, n_q, d_v)
    tr.add("head", head_out, "heads")
    out = _output(head_out, ctx)
    if m.query_valid is not None:
        out = np.where(m.query_valid[:, :, None], out, 0)  # padded query rows: zero output
    if not plan.allow_nonfinite and spec.empty_rows != "nan":  # inputs were checked finite: inf is an overflow
        for a, what in ((head_out, "attention outputs"), (out, "outputs")):
            if a is out and np.may_share_memory(out, head_out):  # the heads side by side: checked already
                continue
            check_output(a, what, ctx.ft)
    tr.add("output" if ctx.wo is not None else ("output_concat" if H > 1 else "output_plain"), out, "tokens")
    allowed = None
    keep_maps = plan.need is None or bool({"scores", "weights"} & set(plan.need))
    if keep_maps and not sinks:  # where weights may be nonzero, for marking masked cells
        allowed = got["allowed"] if got["allowed"] is not None else np.ones((1, 1, n_q, n_k), dtype=bool)
        if m.bias_parts or plan.allow_nonfinite:  # a −inf bias (or a −inf input) masks too
            allowed = allowed & ~np.isneginf(s)
    return AttentionResult(q=qh, k=kh, v=vh, scores=s, weights=w, heads=head_out, output=out,
                           allowed=allowed, batched=ctx.batched,
                           empty_rows=empty_list, meta=meta(kern, spec, ctx.ft, m.described, empty_list),
                           steps=tr.steps, streamed=tuple(sinks or ()), score_params=kern.params, spec=spec)


def _output(head_out: np.ndarray, ctx: Context) -> np.ndarray:
    """concat(heads) (B, n_q, H·d_v), times W_O plus b_O when given."""
    merged = hd.merge_heads(head_out)  # (B, n_q, H·d_v)
    wo, bo = ctx.wo, ctx.bo
    wo_name, bo_name = ctx.names[:2]
    if wo is None:
        if bo is not None:
            raise AttnError(f"{bo_name} needs {wo_name} (it is the bias of the output projection)")
        return merged
    if head_out.shape[1] > 1:
        ctx.tr.add("concat", merged, "tokens")
    wo2 = wo.reshape(-1, wo.shape[-1]) if wo.ndim == 3 else wo  # (H, d_v, d_out) -> (H·d_v, d_out)
    check_ndim(wo2, wo_name, (2,), "a matrix (H·d_v × d_out)")
    return hd.project(merged, wo2, None if bo is None else bo.reshape(-1),
                      ("the concatenated heads", wo_name, bo_name))


def meta(kern: Kernel, spec: Spec, ft: np.dtype, described: dict, empty_list: list) -> dict[str, Any]:
    """The variant as it ran (JSON values), for the files the CLI writes and for explain's headings."""
    rope = spec.rope
    B, H, _, _ = kern.shape
    return {
        "variant": SCORES[spec.score][2],
        "score": spec.score,
        "normalize": spec.normalize,
        "rows_sum_to": "at most 1" if spec.sinks is not None else NORMALIZERS[spec.normalize][1],  # sinks: the rest
        "scale": kern.scale,
        "temperature": spec.temperature,
        "softcap": spec.softcap,
        "heads": H,
        "kv_heads": kern.kh.shape[1],
        "layout": "rows",
        "dtype": str(ft),
        "masks": {"causal": False, "window": None, "key_lens": None, "query_lens": None, "mask": False,
                  "bias": False, "graph": None, "window2d": None, **described},
        "positions": {"pe": None,
                      "rope": None if rope is None else _rope_meta(rope),
                      "alibi": spec.alibi,
                      **({} if spec.disentangled is None else {"disentangled": _disentangled_meta(spec)})},
        "empty_rows": {"policy": spec.empty_rows, "rows": [list(r_) for r_ in empty_list]},
        **({} if spec.qk_norm is None else {"qk_norm": {"eps": spec.qk_norm.eps,
                                                         "q": spec.qk_norm.q.tolist(), "k": spec.qk_norm.k.tolist()}}),
        **({} if spec.sinks is None else {"sinks": spec.sinks.tolist()}),
    }


def _rope_meta(rope: Rope) -> dict[str, Any]:
    """RoPE's settings for the result's meta (base, rope.layout, start_pos), and a scaled RoPE's frequencies
    and attention factor when set."""
    out: dict[str, Any] = {"base": rope.base, "layout": rope.layout, "start_pos": rope.start}
    if rope.inv_freq is not None:
        out["inv_freq"] = rope.inv_freq.tolist()
    if rope.attention_factor != 1.0:
        out["attention_factor"] = rope.attention_factor
    return out


def _disentangled_meta(spec: Spec) -> dict[str, Any]:
    """DeBERTa's position terms for the result's meta: which, the table's span k and the buckets."""
    d = spec.disentangled
    return {"kinds": list(d.kinds), "span": d.span, "buckets": d.buckets,  # type: ignore[union-attr]
            "max_position": d.max_position}  # type: ignore[union-attr]


def rows_text(rows: list[tuple[int, int, int]], limit: int = 5) -> str:
    """'batch 0 head 1 query 2, ...' for warnings and errors about empty rows."""
    text = ", ".join(f"batch {b} head {h} query {i}" for b, h, i in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _per_head(a: np.ndarray, name: str, H: int, G: int, r: int) -> np.ndarray:
    """A score parameter shared by all heads passes as is; a per-head stack (H, ...) gets the (1, G, r)
    leading axes of the grouped queries."""
    shared_ndim = 1 if name == "va" else 2
    if a.ndim == shared_ndim:
        return a
    if a.ndim == shared_ndim + 1 and a.shape[0] == H:
        return a.reshape(1, G, r, *a.shape[1:])
    raise AttnError(f"{param('spec.' + name)} must be shared ({'h' if name == 'va' else 'a matrix'}) or one per "
                    f"head (leading axis {H}); got shape {a.shape}")
