"""The attention pipeline: validate, canonicalize, compute.

    X ← X + PE                                                       (--pe, optional)
    Q = X·W_Q + b_Q,  K = X_kv·W_K + b_K,  V = X_kv·W_V + b_V        (or Q, K, V given directly)
    Q, K ← RoPE(Q), RoPE(K)                                          (--rope, per head)
    S_h = score(Q_h, K_h) · scale → softcap → + bias + ALiBi → masked = −inf → ÷ temperature
    A_h = normalize(S_h) over keys                                   (masked weights exactly 0)
    head_h = A_h·V_h,   O = concat(head_1 … head_N)·W_O + b_O

Everything runs in rows layout on canonical 4-D arrays (batch, heads, tokens, features); cols layout
is translated at the edges (layout.py), inputs are canonicalized in inputs.py, masks combine in
masks.py only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from attncli import __version__
from attncli.core import heads as hd
from attncli.core import masks as mk
from attncli.core import positions as pos
from attncli.core.arguments import check_options, check_sources
from attncli.core.inputs import check_groups, from_qkv, from_tokens, image_tokens
from attncli.core.kernel import Kernel
from attncli.core.kernel import run as run_kernel
from attncli.core.layout import to_rows
from attncli.core.normalize import NORMALIZERS
from attncli.core.result import AttentionResult, user_shape
from attncli.core.scores import SCORES, check_params, default_scale
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
from attncli.errors import AttnError

Weight = np.ndarray | Sequence[np.ndarray]


def attention(
    q: np.ndarray | None = None,
    k: np.ndarray | None = None,
    v: np.ndarray | None = None,
    *,
    x: np.ndarray | None = None,
    x_kv: np.ndarray | None = None,
    image: np.ndarray | None = None,
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
    w_score: np.ndarray | None = None,
    wa_q: np.ndarray | None = None,
    wa_k: np.ndarray | None = None,
    va: np.ndarray | None = None,
    normalize_: str | None = None,
    temperature: float = 1.0,
    softcap: float | None = None,
    causal: bool = False,
    window: int | Sequence[int] | str | None = None,
    key_lens: Sequence[int] | None = None,
    query_lens: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
    mask_invert: bool = False,
    bias: np.ndarray | None = None,
    adjacency: np.ndarray | None = None,
    edges: np.ndarray | None = None,
    undirected: bool = False,
    self_loops: bool = False,
    window2d: int | None = None,
    pe: str | np.ndarray | None = None,
    pe_base: float = 10000.0,
    pe_layout: str = "interleaved",
    rope: bool = False,
    rope_base: float = 10000.0,
    rope_layout: str = "half",
    start_pos: int = 0,
    alibi: bool = False,
    empty_rows: str = "zero",
    layout: str = "rows",
    dtype: str = "auto",
    allow_nonfinite: bool = False,
    trace: bool = False,
    need: Sequence[str] | None = None,
    block_rows: int | None = None,
    threads: int | None = None,
    memory_limit: int | None = None,
    stream_maps: Callable[..., Any] | None = None,
    torch_weights: bool = False,
    **kwargs: Any,
) -> AttentionResult:
    """Compute attention end to end; see the module docstring for the formulas.

    Give token vectors `x` (n × d_model, or batch × n × d_model; `x_kv` for cross-attention) or an
    `image` (H × W × C) with optional projections `wq/wk/wv` (d_model × d_k; a list or a heads × d_model ×
    d_k array for per-head weights), or `q, k, v` directly (n × d, heads × n × d, or batch × heads × n × d).
    `normalize` (softmax, softmax1, sparsemax, relu, sigmoid, none) may be passed by that name.
    `trace=True` records every intermediate matrix with its formula in `result.steps` (for explain).
    `need` names the arrays wanted (vocabulary.NAMES: x, q, k, v, qk, scores, ...); without scores and weights
    the maps are never held whole, so memory does not grow with n_q × n_k. The kernel runs blocks of
    `block_rows` query rows (default: about 16 MB of scores each) on `threads` threads (default: every core
    when BLAS is single-threaded, e.g. OPENBLAS_NUM_THREADS=1 set before numpy loads, as the CLI does; else one,
    and BLAS's own threads share each matrix product).
    `memory_limit` (bytes): refuse, before allocating, maps that would not fit — unless `stream_maps` takes
    them: called as stream_maps(name, shape=, dtype=, blocks=(B, H, n_q, n_k), layout=) for each map in `need`,
    it returns where that map goes instead of memory (anything taking `m[:, :, i0:i1] = block`, blocks of query
    rows in canonical (B, H, rows, n_k); `shape` is the user's, as `export` would give it), or None if it cannot
    take it. A streamed map is None in the result and named in `result.streamed`. `torch_weights`: the caller
    transposed W from PyTorch's (out, in), so a shape error does not suggest --weights-layout torch again.
    """
    norm_name = kwargs.pop("normalize", normalize_) or "softmax"
    over_queries = kwargs.pop("_normalize_over_queries", False)  # only to reproduce that mistake (diagnose.py)
    if kwargs:
        raise TypeError(f"attention() got unexpected keyword arguments: {', '.join(kwargs)}")

    # ---- validate: choices and which inputs go together (arguments.py) ------------------------
    check_options(score=score, normalize=norm_name, layout=layout, empty_rows=empty_rows, pe_layout=pe_layout,
                  rope_layout=rope_layout, heads=heads, kv_heads=kv_heads, threads=threads, scale=scale,
                  softcap=softcap, pe_base=pe_base, rope_base=rope_base, start_pos=start_pos,
                  block_rows=block_rows, temperature=temperature)
    grid = None
    if image is not None:
        if x is not None:
            raise AttnError("give either --image or --x, not both (an image is its pixels as tokens)")
        x, grid = image_tokens(np.asarray(image))
    check_sources(q=q, k=k, v=v, x=x, x_kv=x_kv, image=image, wq=wq, wk=wk, wv=wv, bq=bq, bk=bk, bv=bv, pe=pe,
                  window2d=window2d)

    # ---- canonicalize: dtype, layout, finiteness ---------------------------------------------
    def arrays(w: Weight | None) -> list[np.ndarray]:
        if w is None:
            return []
        return [np.asarray(m) for m in w] if isinstance(w, (list, tuple)) else [np.asarray(w)]

    named = (("--q", q), ("--k", k), ("--v", v), ("--x", x), ("--x-kv", x_kv), ("--wq", wq), ("--wk", wk),
             ("--wv", wv), ("--wo", wo), ("--bq", bq), ("--bk", bk), ("--bv", bv), ("--bo", bo),
             ("--w-score", w_score), ("--wa-q", wa_q), ("--wa-k", wa_k), ("--va", va))
    for name, w in named + (("--bias", bias),):
        for a in arrays(w):
            as_real(a, name)
    if isinstance(pe, np.ndarray) or isinstance(pe, (list, tuple)):
        pe = as_real(np.asarray(pe), "--pe")
        if not allow_nonfinite:
            check_finite(pe, "--pe")
    ft = compute_dtype(dtype, [a for _, w in named for a in arrays(w)])
    cols = layout == "cols"
    x_is_image = grid is not None

    unchecked: list[tuple[str, np.ndarray]] = []  # Q, K, V given directly: checked finite later (see below)

    def canon(w: Weight | None, name: str, matrix: bool = True, later: bool = False) -> Weight | None:
        if w is None:
            return None
        out = []
        for a in arrays(w):
            a = a.astype(ft, copy=False)
            if later and not allow_nonfinite:
                unchecked.append((name, a))
            elif not allow_nonfinite:
                check_finite(a, name)
            out.append(to_rows(a) if matrix and cols else a)
        return out if isinstance(w, (list, tuple)) else out[0]

    q, k, v = (canon(a, n, later=True) for a, n in ((q, "--q"), (k, "--k"), (v, "--v")))
    x_kv = canon(x_kv, "--x-kv")
    x = canon(x, "--image" if x_is_image else "--x", matrix=not x_is_image)
    wq, wk, wv, wo = (canon(a, n) for a, n in ((wq, "--wq"), (wk, "--wk"), (wv, "--wv"), (wo, "--wo")))
    bq, bk, bv, bo = (canon(a, n, matrix=False) for a, n in ((bq, "--bq"), (bk, "--bk"), (bv, "--bv"), (bo, "--bo")))
    w_score, wa_q, wa_k = (canon(a, n) for a, n in ((w_score, "--w-score"), (wa_q, "--wa-q"), (wa_k, "--wa-k")))
    va = canon(va, "--va", matrix=False)
    if va is not None and va.ndim == 0:
        va = va.reshape(1)  # h = 1
    if bias is not None:
        bias = np.asarray(bias)
        if not allow_nonfinite:
            check_finite(bias.astype(ft, copy=False), "--bias", allow_neg_inf=True)
        bias = to_rows(bias) if cols else bias
    if mask is not None:
        mask = to_rows(np.asarray(mask)) if cols else np.asarray(mask)
    if adjacency is not None:
        adjacency = to_rows(np.asarray(adjacency)) if cols else np.asarray(adjacency)

    # ---- positions added to the tokens ---------------------------------------------------------
    tr = Tracer(trace)
    if x is not None:
        tr.add("x", x if x.ndim == 3 else x[None], "tokens")
        if x_kv is not None:
            tr.add("x_kv", x_kv if x_kv.ndim == 3 else x_kv[None], "tokens")
    if pe is not None:
        check_ndim(x, "--x", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
        if x_kv is not None:
            check_ndim(x_kv, "--x-kv", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
        table = _position_table(pe, x, pe_base, pe_layout, cols, "--x").astype(ft)
        x = x + table
        tr.add("pe", table, "table")
        tr.add("x_pe", x if x.ndim == 3 else x[None], "tokens")
        if x_kv is not None:
            x_kv = x_kv + _position_table(pe, x_kv, pe_base, pe_layout, cols, "--x-kv").astype(ft)

    # ---- canonicalize: Q, K, V as (B, H, n, d) ------------------------------------------------
    if x is not None:
        qh, kh, vh, batched, _, _ = from_tokens(x, x_kv, wq, wk, wv, bq, bk, bv, heads, kv_heads, torch_weights,
                                                cols and not x_is_image)
    else:
        qh, kh, vh, batched, _, _ = from_qkv(q, k, v, heads, kv_heads)
    B, H, n_q, d_q = qh.shape
    G, n_k, d_k = kh.shape[1], kh.shape[2], kh.shape[3]
    params = {"w_score": w_score, "wa_q": wa_q, "wa_k": wa_k, "va": va}
    check_params(score, params, d_q, d_k, "--wq/--wk" if wq is not None else ("--x" if x is not None else "--q/--k"))
    if vh.shape[2] != n_k:
        raise AttnError(f"keys and values must have the same number of tokens; got {n_k} keys and "
                        f"{vh.shape[2]} values")
    if kh.shape[0] != B or vh.shape[0] != B:
        raise AttnError(f"batch sizes differ: queries {B}, keys {kh.shape[0]}, values {vh.shape[0]}")
    check_groups(H, G)
    suffix = "_direct" if x is None else ("" if wq is not None else "_x")
    src, src_cols = ("X_kv", "I_kv") if x_kv is not None else ("X", "I")
    for name, a, b in (("q", qh, bq), ("k", kh, bk), ("v", vh, bv)) if tr.enabled else ():  # merging copies
        tr.add(name + suffix, hd.merge_heads(a), "tokens", src=src, src_cols=src_cols,
               b=f" + b_{name.upper()}" if b is not None else "")
    if rope:
        qh = pos.rope(qh, start_pos + np.arange(n_q), base=rope_base, layout=rope_layout)
        kh = pos.rope(kh, start_pos + np.arange(n_k), base=rope_base, layout=rope_layout)
        tr.add("q_rope", qh, "heads")
        tr.add("k_rope", kh, "heads")

    # ---- masks: one place ---------------------------------------------------------------------
    m = mk.combine((B, H, n_q, n_k), causal=causal, window=window, key_lens=key_lens, query_lens=query_lens,
                   mask=mask, mask_invert=mask_invert, adjacency=adjacency, edges=edges, undirected=undirected,
                   self_loops=self_loops, window2d=window2d, grid=grid, bias=bias, dtype=ft)

    # ---- compute: one block of every query row (dense), or many (streaming) ----------------------
    s_scale = default_scale(score, d_k) if scale is None else float(scale)
    r = H // G  # query heads per kv head
    kern = Kernel(qg=qh.reshape(B, G, r, n_q, d_q), kh=kh, vh=vh,  # qg: (B, G, r, n_q, d_q)
                  params={name: _per_head(a, name, H, G, r) for name, a in params.items() if a is not None},
                  score=score, scale=s_scale, scale_given=scale is not None, softcap=softcap,
                  temperature=temperature, alibi=alibi, causal=causal, masks=m, normalize=norm_name,
                  over_queries=over_queries, check_overflow=not allow_nonfinite)
    keep_maps = need is None or bool({"scores", "weights"} & set(need))
    fused_checks = False  # the fused kernel checks Q, K and V finite in the passes it makes over them anyway
    if unchecked:
        from attncli.core.fused import eligible

        fused_checks = not keep_maps and not trace and eligible(kern)
        if not fused_checks:
            for name, a in unchecked:
                check_finite(a, name)
    sinks = None
    # the maps held whole: the weights alone when the scores are not asked for (nor needed to mark −inf cells)
    keep = ("weights",) if need is not None and "scores" not in need and not (m.bias_parts or allow_nonfinite) \
        else ("scores", "weights")
    if keep_maps:  # refuse before allocating what cannot fit, or stream the maps to disk
        wanted = [n for n in ("scores", "weights") if need is not None and n in need]
        if (memory_limit is not None and dense_bytes(B, H, n_q, n_k, ft.itemsize, len(keep)) > memory_limit
                and stream_maps is not None and wanted and not trace and not over_queries):
            sinks = {n: stream_maps(n, shape=user_shape((B, H, n_q, n_k), n, batched=batched, layout=layout),
                                    dtype=ft, blocks=(B, H, n_q, n_k), layout=layout) for n in wanted}
            if any(sink is None for sink in sinks.values()):
                sinks = None
        if sinks is None:
            check_dense_memory(B, H, n_q, n_k, ft.itemsize, len(keep), memory_limit, streaming=True,
                               to_disk=None if stream_maps is None else "scores" if wanted == ["scores"] else "weights")
    if need is not None and "qk" in need:  # made on export from Q and K: one map more, after the kernel's
        held = len(keep) if keep_maps and sinks is None else 0
        check_dense_memory(B, H, n_q, n_k, ft.itemsize, held + 1, memory_limit, what="qk (Q·Kᵀ, made from Q and K)"
                           + (" with the maps" if held else ""))
    try:
        got = run_kernel(kern, keep_maps=keep_maps, tr=tr, empty_value=np.nan if empty_rows == "nan" else None,
                         rows=block_rows, threads=threads, maps=sinks, keep=keep, check_inputs=fused_checks)
    except Exception as e:
        from attncli.core.fused import NotFinite

        if not isinstance(e, NotFinite):
            raise
        for name, a in unchecked:  # say which value, where, in the array as given
            check_finite(a, name)
        raise
    s, w, empty = (None, None, got["empty"]) if sinks else (got["scores"], got["weights"], got["empty"])
    if m.query_valid is not None:
        empty &= m.query_valid[:, None, :]  # padded queries are meant to be empty
    empty_list = [tuple(int(i) for i in idx) for idx in np.argwhere(empty)] if empty.any() else []
    if empty_list and empty_rows == "error":
        raise AttnError(f"{len(empty_list)} query row(s) have every key masked ({rows_text(empty_list)}); "
                        "loosen the masks, or pass --empty-rows zero|nan")
    head_out = got["heads"]  # (B, H, n_q, d_v)
    tr.add("head", head_out, "heads")
    merged = hd.merge_heads(head_out)  # (B, n_q, H·d_v)
    if H > 1 and wo is not None:
        tr.add("concat", merged, "tokens")
    if wo is not None:
        wo2 = wo.reshape(-1, wo.shape[-1]) if wo.ndim == 3 else wo  # (H, d_v, d_out) -> (H·d_v, d_out)
        check_ndim(wo2, "--wo", (2,), "a matrix (H·d_v × d_out)")
        out = hd.project(merged, wo2, None if bo is None else bo.reshape(-1),
                         ("the concatenated heads", "--wo", "--bo"))
    else:
        if bo is not None:
            raise AttnError("--bo needs --wo (it is the bias of the output projection)")
        out = merged
    if m.query_valid is not None:
        out = np.where(m.query_valid[:, :, None], out, 0)  # padded query rows: zero output
    if not allow_nonfinite and empty_rows != "nan":  # inputs were checked finite: inf here is an overflow
        for a, what in ((head_out, "attention outputs"), (out, "outputs")):
            if a is out and np.may_share_memory(out, head_out):  # the heads side by side: checked already
                continue
            check_output(a, what, ft)
    tr.add("output" if wo is not None else ("output_concat" if H > 1 else "output_plain"), out, "tokens")

    allowed = None
    if keep_maps and not sinks:  # where weights may be nonzero, for marking masked cells
        allowed = got["allowed"] if got["allowed"] is not None else np.ones((1, 1, n_q, n_k), dtype=bool)
        if m.bias_parts or allow_nonfinite:  # a −inf bias (or a −inf input) masks too
            allowed = allowed & ~np.isneginf(s)
    meta: dict[str, Any] = {
        "variant": SCORES[score][2],
        "score": score,
        "normalize": norm_name,
        "rows_sum_to": NORMALIZERS[norm_name][1],
        "scale": s_scale,
        "temperature": temperature,
        "softcap": softcap,
        "heads": H,
        "kv_heads": G,
        "layout": layout,
        "dtype": str(ft),
        "masks": {"causal": False, "window": None, "key_lens": None, "query_lens": None, "mask": False,
                  "bias": False, "graph": None, "window2d": None, **m.described},
        "positions": {"pe": None if pe is None else (pe if isinstance(pe, str) else "table"),
                      "rope": {"base": rope_base, "layout": rope_layout, "start_pos": start_pos} if rope else None,
                      "alibi": alibi},
        "empty_rows": {"policy": empty_rows, "rows": [list(r_) for r_ in empty_list]},
        "attncli_version": __version__,
    }
    if grid is not None:
        meta["image"] = {"height": grid[0], "width": grid[1]}
    return AttentionResult(q=qh, k=kh, v=vh, scores=s, weights=w, heads=head_out, output=out,
                           allowed=allowed, batched=batched, layout=layout, empty_rows=empty_list, meta=meta,
                           grid=grid, steps=tr.steps, streamed=tuple(sinks or ()),
                           x=None if x is None else (x if x.ndim == 3 else x[None]), score_params=kern.params)


def rows_text(rows: list[tuple[int, int, int]], limit: int = 5) -> str:
    """'batch 0 head 1 query 2, ...' for warnings and errors about empty rows."""
    text = ", ".join(f"batch {b} head {h} query {i}" for b, h, i in rows[:limit])
    return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _per_head(a: np.ndarray, name: str, H: int, G: int, r: int) -> np.ndarray:
    """A score parameter shared by all heads passes as is; a per-head stack (H, ...) gets the (1, G, r)
    leading axes of the grouped queries."""
    option = "--" + name.replace("_", "-")
    shared_ndim = 1 if name == "va" else 2
    if a.ndim == shared_ndim:
        return a
    if a.ndim == shared_ndim + 1 and a.shape[0] == H:
        return a.reshape(1, G, r, *a.shape[1:])
    raise AttnError(f"{option} must be shared ({'h' if name == 'va' else 'a matrix'}) or one per head "
                    f"(leading axis {H}); got shape {a.shape}")


def _position_table(pe: str | np.ndarray, x: np.ndarray, base: float, layout: str, cols: bool,
                    option: str) -> np.ndarray:
    """The (n, d_model) table --pe adds to X (X is rows layout here: (..., n, d_model))."""
    n, d = x.shape[-2], x.shape[-1]
    if isinstance(pe, str):
        if pe != "sinusoidal":
            raise AttnError(f"--pe takes sinusoidal or a SOURCE holding a learned table; got {pe!r}")
        return pos.sinusoidal(n, d, base=base, layout=layout)
    table = to_rows(pe) if cols else pe
    if table.ndim != 2 or table.shape[1] != d or table.shape[0] < n:
        want = f"{d} × ≥{n}" if cols else f"≥{n} × {d}"
        raise AttnError(f"--pe table must be (positions × d_model) = {want} for {option} of {n} tokens × d_model "
                        f"{d}; got shape {pe.shape}")
    return table[:n]
