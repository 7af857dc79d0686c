"""The command line's attention: its options' values (as keywords) to arrays + Spec + Plan, then the core.

What the core does not know is done here, at the edges: the lecture layout (tokens as columns: every matrix
transposed in, the results out), an image's pixels as tokens and the 2-D window's grid, positional-encoding
tables added to X (and explain's X + PE steps), PyTorch-oriented weights (hints that say --weights-layout),
the shapes of maps streamed to a file, and attncli's version in meta. The pipeline it runs:

    X ← X + PE                                                       (--pe, optional)
    Q = X·W_Q + b_Q,  K = X_kv·W_K + b_K,  V = X_kv·W_V + b_V        (or Q, K, V given directly)
    Q, K ← RoPE(Q), RoPE(K)                                          (--rope, per head)
    S_h = score(Q_h, K_h) · scale → softcap → + bias + ALiBi → masked = −inf → ÷ temperature
    A_h = normalize(S_h) over keys                                   (masked weights exactly 0)
    head_h = A_h·V_h,   O = concat(head_1 … head_N)·W_O + b_O

The core (attncli.core.attend) runs in rows layout on canonical 4-D arrays (batch, heads, tokens, features).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from attncli import __version__
from attncli.cli.checks import check_options, check_sources
from attncli.core import heads as hd
from attncli.core import masks as mk
from attncli.core import positions as pos
from attncli.core.attend import Context, attend_heads, rows_text  # noqa: F401 - rows_text: used from here
from attncli.core.inputs import from_qkv, from_tokens
from attncli.core.layout import to_rows
from attncli.core.result import AttentionResult, user_shape
from attncli.core.spec import Graph, Plan, Rope, Spec, Window2d
from attncli.core.steps import Tracer
from attncli.core.validate import (
    as_real,
    check_finite,
    check_ndim,
    check_tokens,
    compute_dtype,
)
from attncli.errors import AttnError, param

Weight = np.ndarray | Sequence[np.ndarray]


def compute_attention(
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
    backend: str = "auto",
    spec: Spec | None = None,
    **kwargs: Any,
) -> AttentionResult:
    """Compute attention end to end from the command line's values; see the module docstring.

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
    `backend`: auto, dense, fused or trace (core/backends.py). `spec`: the Spec to compute (check's diagnoses
    make mistakes as spec.replace(...)); the keywords that say a spec are then only validated.
    """
    norm_name = kwargs.pop("normalize", normalize_) or "softmax"
    if kwargs:
        raise TypeError(f"compute_attention() got unexpected keyword arguments: {', '.join(kwargs)}")

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
    suffix = "_direct" if x is None else ("" if wq is not None else "_x")
    src, src_cols = ("X_kv", "I_kv") if x_kv is not None else ("X", "I")
    for name, a, b in (("q", qh, bq), ("k", kh, bk), ("v", vh, bv)) if tr.enabled else ():  # merging copies
        tr.add(name + suffix, hd.merge_heads(a), "tokens", src=src, src_cols=src_cols,
               b=f" + b_{name.upper()}" if b is not None else "")

    # ---- the spec and the plan: the variant and how to run it; attend does the rest -------------------
    if (undirected or self_loops) and adjacency is None and edges is None:
        raise AttnError(f"{param('spec.graph.undirected')} and {param('spec.graph.self_loops')} modify a graph: "
                        f"give {param('spec.graph.adjacency')} or {param('spec.graph.edges')} too")
    if spec is None:
        spec = Spec(score=score, scale=scale, w_score=w_score, wa_q=wa_q, wa_k=wa_k, va=va, normalize=norm_name,
                    temperature=temperature, softcap=softcap,
                    causal=bool(causal), window=mk.parse_window(window), key_lens=key_lens, query_lens=query_lens,
                    mask=None if mask is None else mk.as_bool_mask(mask, invert=mask_invert),
                    graph=None if adjacency is None and edges is None else Graph(adjacency, edges, bool(undirected),
                                                                                 bool(self_loops)),
                    window2d=None if window2d is None else Window2d(window2d, grid),
                    rope=Rope(rope_base, rope_layout, start_pos) if rope else None, alibi=bool(alibi), bias=bias,
                    empty_rows=empty_rows)
    plan = Plan(need=need, backend="trace" if trace else backend, dtype=str(ft), block_rows=block_rows,
                threads=threads, memory_limit=memory_limit, stream_maps=stream_maps,
                allow_nonfinite=allow_nonfinite)
    origin = f"{param('wq')}/{param('wk')}" if wq is not None else (param("x") if x is not None else
                                                                   f"{param('q')}/{param('k')}")
    ctx = Context(ft, batched, tr, unchecked, wo=wo, bo=bo, names=(param("wo"), param("bo"), origin),
                  stream_shape=lambda shape, name: user_shape(shape, name, batched=batched, layout=layout))
    res = attend_heads(qh, kh, vh, spec, plan, ctx)
    res.layout, res.grid = layout, grid
    res.x = None if x is None else (x if x.ndim == 3 else x[None])
    res.meta["layout"] = layout
    if mask is not None and mask_invert:
        res.meta["masks"]["mask"] = "inverted"
    res.meta["positions"]["pe"] = None if pe is None else (pe if isinstance(pe, str) else "table")
    res.meta["attncli_version"] = __version__
    if grid is not None:
        res.meta["image"] = {"height": grid[0], "width": grid[1]}
    return res


def image_tokens(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """H × W × C (or B × H × W × C) -> tokens (H·W × C, row-major: token r·W + c) and the grid (H, W)."""
    check_ndim(image, "--image", (3, 4), "H × W × C (height × width × channels) or batch × H × W × C")
    *lead, h, w, c = image.shape
    check_tokens(image.reshape(*lead, h * w, c), "--image", what="pixels", shape=image.shape)
    return image.reshape(*lead, h * w, c), (h, w)


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
