"""The attention pipeline: validate, canonicalize, compute.

    Q = X·W_Q + b_Q,  K = X_kv·W_K + b_K,  V = X_kv·W_V + b_V      (or Q, K, V given directly)
    S_h = score(Q_h, K_h) + bias,  masked positions -> -inf          (per head h)
    A_h = softmax(S_h) over keys                                     (masked weights exactly 0)
    head_h = A_h·V_h,   O = concat(head_1 … head_N)·W_O + b_O

Everything runs in rows layout on canonical 4-D arrays (batch, heads, tokens, features); cols
layout is translated at the edges (see layout.py), masks are combined in masks.py only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from attncli import __version__
from attncli.core import heads as hd
from attncli.core import masks as mk
from attncli.core.layout import LAYOUTS, to_rows
from attncli.core.normalize import masked_softmax
from attncli.core.result import AttentionResult
from attncli.core.scores import SCORES, default_scale
from attncli.core.validate import as_real, check_finite, check_ndim, compute_dtype, positive_int
from attncli.errors import AttnError

Weight = np.ndarray | Sequence[np.ndarray]
EMPTY_ROWS = ("zero", "nan", "error")


def attention(
    q: np.ndarray | None = None,
    k: np.ndarray | None = None,
    v: np.ndarray | None = None,
    *,
    x: np.ndarray | None = None,
    x_kv: np.ndarray | None = None,
    wq: Weight | None = None,
    wk: Weight | None = None,
    wv: Weight | None = None,
    wo: np.ndarray | None = None,
    bq: Weight | None = None,
    bk: Weight | None = None,
    bv: Weight | None = None,
    bo: np.ndarray | None = None,
    heads: int | None = None,
    kv_heads: int | None = None,
    score: str = "scaled",
    scale: float | None = None,
    causal: bool = False,
    key_lens: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
    mask_invert: bool = False,
    bias: np.ndarray | None = None,
    empty_rows: str = "zero",
    layout: str = "rows",
    dtype: str = "auto",
    allow_nonfinite: bool = False,
) -> AttentionResult:
    """Compute attention end to end; see the module docstring for the formulas.

    Give either token vectors `x` (n × d_model, or batch × n × d_model; `x_kv` for cross-attention)
    with optional projections `wq/wk/wv` (d_model × d_k; a list or a heads × d_model × d_k array for
    per-head weights), or `q, k, v` directly (n × d, heads × n × d, or batch × heads × n × d).
    """
    # ---- validate: choices and which inputs go together -------------------------------------
    if score not in SCORES:
        raise AttnError(f"--score must be one of {', '.join(SCORES)}; got {score!r}")
    if layout not in LAYOUTS:
        raise AttnError(f"--layout must be rows or cols; got {layout!r}")
    if empty_rows not in EMPTY_ROWS:
        raise AttnError(f"--empty-rows must be one of {', '.join(EMPTY_ROWS)}; got {empty_rows!r}")
    positive_int(heads, "--heads")
    positive_int(kv_heads, "--kv-heads")
    direct = [n for n, a in (("--q", q), ("--k", k), ("--v", v)) if a is not None]
    if x is not None and direct:
        raise AttnError(f"give either --x (token vectors) or --q/--k/--v, not both (got --x and {direct[0]})")
    if x is None and len(direct) != 3:
        missing = [n for n in ("--q", "--k", "--v") if n not in direct]
        if not direct:
            raise AttnError("nothing to attend over: give --x (token vectors) or all of --q, --k, --v")
        raise AttnError(f"{', '.join(direct)} given without {', '.join(missing)}; give all of --q, --k, --v")
    projections = {"--wq": wq, "--wk": wk, "--wv": wv}
    given_w = [n for n, w in projections.items() if w is not None]
    if x is None:
        extra = given_w + [n for n, a in (("--x-kv", x_kv), ("--bq", bq), ("--bk", bk), ("--bv", bv))
                           if a is not None]
        if extra:
            raise AttnError(f"{extra[0]} applies to --x; with --q/--k/--v give the projected matrices directly")
    elif given_w and len(given_w) != 3:
        missing = [n for n in projections if n not in given_w]
        raise AttnError(f"{', '.join(given_w)} given without {', '.join(missing)}; give all three projections")
    if not given_w:
        for name, b in (("--bq", bq), ("--bk", bk), ("--bv", bv)):
            if b is not None:
                raise AttnError(f"{name} needs the projections --wq/--wk/--wv")

    # ---- canonicalize: dtype, layout, finiteness ---------------------------------------------
    def arrays(w: Weight | None) -> list[np.ndarray]:
        if w is None:
            return []
        return [np.asarray(m) for m in w] if isinstance(w, (list, tuple)) else [np.asarray(w)]

    numeric = [a for w in (q, k, v, x, x_kv, wq, wk, wv, wo, bq, bk, bv, bo) for a in arrays(w)]
    for name, w in (("--q", q), ("--k", k), ("--v", v), ("--x", x), ("--x-kv", x_kv), ("--wq", wq),
                    ("--wk", wk), ("--wv", wv), ("--wo", wo), ("--bq", bq), ("--bk", bk), ("--bv", bv),
                    ("--bo", bo), ("--bias", bias)):
        for a in arrays(w):
            as_real(a, name)
    ft = compute_dtype(dtype, numeric)

    def canon(w: Weight | None, name: str, matrix: bool = True) -> Weight | None:
        if w is None:
            return None
        out = []
        for a in arrays(w):
            a = a.astype(ft, copy=False)
            if not allow_nonfinite:
                check_finite(a, name)
            out.append(to_rows(a) if matrix and layout == "cols" else a)
        return out if isinstance(w, (list, tuple)) else out[0]

    q, k, v, x, x_kv = (canon(a, n) for a, n in ((q, "--q"), (k, "--k"), (v, "--v"), (x, "--x"), (x_kv, "--x-kv")))
    wq, wk, wv, wo = (canon(a, n) for a, n in ((wq, "--wq"), (wk, "--wk"), (wv, "--wv"), (wo, "--wo")))
    bq, bk, bv, bo = (canon(a, n, matrix=False) for a, n in ((bq, "--bq"), (bk, "--bk"), (bv, "--bv"), (bo, "--bo")))
    if bias is not None:
        bias = np.asarray(bias)
        if not allow_nonfinite:
            check_finite(bias.astype(ft, copy=False), "--bias", allow_neg_inf=True)
        bias = to_rows(bias) if layout == "cols" else bias
    if mask is not None:
        mask = to_rows(np.asarray(mask)) if layout == "cols" else np.asarray(mask)

    # ---- canonicalize: Q, K, V as (B, H, n, d) ------------------------------------------------
    if x is not None:
        qh, kh, vh, batched, n_heads, n_kv = _from_tokens(x, x_kv, wq, wk, wv, bq, bk, bv, heads, kv_heads,
                                                          layout == "cols")
    else:
        qh, kh, vh, batched, n_heads, n_kv = _from_qkv(q, k, v, heads, kv_heads)
    B, H, n_q, d_k = qh.shape
    G, n_k, d_v = kh.shape[1], kh.shape[2], vh.shape[3]
    if kh.shape[3] != d_k:
        raise AttnError(f"queries have d_k = {d_k} but keys have {kh.shape[3]} (--q/--k or --wq/--wk shapes "
                        f"{qh.shape} and {kh.shape} as batch × heads × n × d); they must match")
    if vh.shape[2] != n_k:
        raise AttnError(f"keys and values must have the same number of tokens; got {n_k} keys and "
                        f"{vh.shape[2]} values")
    if kh.shape[0] != B or vh.shape[0] != B:
        raise AttnError(f"batch sizes differ: queries {B}, keys {kh.shape[0]}, values {vh.shape[0]}")
    _check_groups(H, G)

    # ---- masks: one place ---------------------------------------------------------------------
    allowed, bias4 = mk.combine((B, H, n_q, n_k), causal=causal, key_lens=key_lens, mask=mask,
                                mask_invert=mask_invert, bias=bias, dtype=ft)

    # ---- compute --------------------------------------------------------------------------------
    s_scale = default_scale(score, d_k) if scale is None else float(scale)
    r = H // G  # query heads per kv head
    qg = qh.reshape(B, G, r, n_q, d_k)  # (B, G, r, n_q, d_k)
    s = SCORES[score](qg, kh[:, :, None], s_scale).reshape(B, H, n_q, n_k)  # (B, H, n_q, n_k)
    if bias4 is not None:
        s = s + bias4
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    w, empty = masked_softmax(s, None)  # (B, H, n_q, n_k), (B, H, n_q)
    empty_list = [tuple(int(i) for i in idx) for idx in np.argwhere(empty)]
    if empty_list and empty_rows == "error":
        raise AttnError(f"{len(empty_list)} query row(s) have every key masked ({_rows_text(empty_list)}); "
                        "loosen the masks, or pass --empty-rows zero|nan")
    if empty_list and empty_rows == "nan":
        w[empty] = np.nan
    head_out = (w.reshape(B, G, r, n_q, n_k) @ vh[:, :, None]).reshape(B, H, n_q, d_v)  # (B, H, n_q, d_v)
    merged = hd.merge_heads(head_out)  # (B, n_q, H·d_v)
    if wo is not None:
        wo2 = wo.reshape(-1, wo.shape[-1]) if wo.ndim == 3 else wo  # (H, d_v, d_out) -> (H·d_v, d_out)
        check_ndim(wo2, "--wo", (2,), "a matrix (H·d_v × d_out)")
        out = hd.project(merged, wo2, None if bo is None else bo.reshape(-1),
                         ("the concatenated heads", "--wo", "--bo"))
    else:
        if bo is not None:
            raise AttnError("--bo needs --wo (it is the bias of the output projection)")
        out = merged

    if allowed is None:
        allowed = np.ones((1, 1, n_q, n_k), dtype=bool)
    if bias4 is not None:
        allowed = allowed & np.isfinite(bias4)
    meta: dict[str, Any] = {
        "variant": "scaled_dot_product" if score == "scaled" else "dot_product",
        "score": score,
        "normalize": "softmax",
        "scale": s_scale,
        "heads": H,
        "kv_heads": G,
        "layout": layout,
        "dtype": str(ft),
        "masks": {
            "causal": bool(causal),
            "key_lens": None if key_lens is None else [int(n) for n in key_lens],
            "mask": mask is not None,
            "mask_invert": bool(mask_invert) if mask is not None else False,
            "bias": bias is not None,
        },
        "empty_rows": {"policy": empty_rows, "rows": [list(r_) for r_ in empty_list]},
        "rows_sum_to_one": True,
        "attncli_version": __version__,
    }
    return AttentionResult(q=qh, k=kh, v=vh, scores=s, weights=w, heads=head_out, output=out,
                           allowed=allowed, batched=batched, layout=layout, empty_rows=empty_list, meta=meta)


def _rows_text(rows: list[tuple[int, int, int]], limit: int = 5) -> str:
    text = ", ".join(f"batch {b} head {h} query {i}" for b, h, i in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _user(shape: tuple[int, ...], cols: bool) -> tuple[int, ...]:
    """A shape as the user wrote it (cols layout transposes the last two axes)."""
    return shape[:-2] + shape[-2:][::-1] if cols and len(shape) >= 2 else shape


def _check_groups(n_heads: int, n_kv: int) -> None:
    if n_heads % n_kv:
        raise AttnError(f"--kv-heads {n_kv} must divide --heads {n_heads} (grouped-query attention shares "
                        "each key/value head between heads/kv-heads query heads)")


def _from_tokens(x, x_kv, wq, wk, wv, bq, bk, bv, heads, kv_heads, cols):
    """X (n × d_model or B × n × d_model) and projections -> Q, K, V as (B, heads, n, d)."""
    check_ndim(x, "--x", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
    batched = x.ndim == 3
    x3 = x if batched else x[None]  # (B, n, d_model)
    if x_kv is None:
        xkv3 = x3
    else:
        check_ndim(x_kv, "--x-kv", (x.ndim,), f"{x.ndim}-D like --x (shape {x.shape})")
        xkv3 = x_kv if batched else x_kv[None]
        if xkv3.shape[0] != x3.shape[0]:
            raise AttnError(f"--x has batch {x3.shape[0]} but --x-kv has {xkv3.shape[0]}")
    per_head = [c for c in (hd.count_heads(wq),) if c is not None]
    n_heads = heads or (per_head[0] if per_head else 1)
    if per_head and heads and per_head[0] != heads:
        raise AttnError(f"--heads {heads} but --wq gives {per_head[0]} per-head weights")
    kv_count = hd.count_heads(wk)
    n_kv = kv_heads or kv_count or n_heads
    if kv_count and kv_heads and kv_count != kv_heads:
        raise AttnError(f"--kv-heads {kv_heads} but --wk gives {kv_count} per-head weights")
    if wq is None:
        if x_kv is not None and x_kv.shape[-1] != x.shape[-1]:
            raise AttnError(f"without projections Q = X and K = V = X_kv, so --x (shape {x.shape}) and "
                            f"--x-kv (shape {x_kv.shape}) need the same width; or give --wq/--wk/--wv")
        qf, kf, vf = x3, xkv3, xkv3
    else:
        wq2, wk2, wv2 = (hd.concat_heads_weight(w, n) for w, n in ((wq, "--wq"), (wk, "--wk"), (wv, "--wv")))
        bq1, bk1, bv1 = (None if b is None else hd.concat_heads_bias(b, n)
                         for b, n in ((bq, "--bq"), (bk, "--bk"), (bv, "--bv")))
        qf = hd.project(x3, wq2, bq1, ("--x", "--wq", "--bq"), _user(x.shape, cols), cols)  # (B, n_q, H·d_k)
        kv_src = "--x-kv" if x_kv is not None else "--x"
        kv_shape = _user(x.shape if x_kv is None else x_kv.shape, cols)
        kf = hd.project(xkv3, wk2, bk1, (kv_src, "--wk", "--bk"), kv_shape, cols)  # (B, n_k, G·d_k)
        vf = hd.project(xkv3, wv2, bv1, (kv_src, "--wv", "--bv"), kv_shape, cols)  # (B, n_k, G·d_v)
    qh = hd.split_heads(qf, n_heads, "Q (X·W_Q)" if wq is not None else "--x")
    _check_groups(n_heads, n_kv)
    kv_opt = "--kv-heads" if kv_heads else "--heads"
    kh = hd.split_heads(kf, n_kv, "K (X·W_K)" if wq is not None else "--x", kv_opt)
    vh = hd.split_heads(vf, n_kv, "V (X·W_V)" if wq is not None else "--x", kv_opt)
    return qh, kh, vh, batched, n_heads, n_kv


def _from_qkv(q, k, v, heads, kv_heads):
    """Q, K, V given directly (n × d, heads × n × d, or batch × heads × n × d) -> (B, H, n, d)."""
    what = "n × d, heads × n × d, or batch × heads × n × d"
    for a, n in ((q, "--q"), (k, "--k"), (v, "--v")):
        check_ndim(a, n, (2, 3, 4), what)
    if not (q.ndim == k.ndim == v.ndim):
        raise AttnError(f"--q, --k, --v must have the same number of dimensions; got shapes {q.shape}, "
                        f"{k.shape}, {v.shape}")
    batched = q.ndim == 4
    if q.ndim == 2:  # (n, H·d): --heads splits the columns
        n_heads = heads or 1
        n_kv = kv_heads or n_heads
        _check_groups(n_heads, n_kv)
        kv_opt = "--kv-heads" if kv_heads else "--heads"
        qh = hd.split_heads(q[None], n_heads, "--q")
        kh = hd.split_heads(k[None], n_kv, "--k", kv_opt)
        vh = hd.split_heads(v[None], n_kv, "--v", kv_opt)
        return qh, kh, vh, batched, n_heads, n_kv
    q4, k4, v4 = (a[None] if a.ndim == 3 else a for a in (q, k, v))  # (B, H, n, d)
    if heads and heads != q4.shape[1]:
        raise AttnError(f"--heads {heads} but --q has {q4.shape[1]} heads (shape {q.shape})")
    if kv_heads and kv_heads != k4.shape[1]:
        raise AttnError(f"--kv-heads {kv_heads} but --k has {k4.shape[1]} heads (shape {k.shape})")
    if k4.shape[1] != v4.shape[1]:
        raise AttnError(f"--k has {k4.shape[1]} heads but --v has {v4.shape[1]} (shapes {k.shape}, {v.shape})")
    return q4, k4, v4, batched, q4.shape[1], k4.shape[1]
