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

from attncli.cli.checks import check_options, check_sources, parse_window
from attncli.cli.layout import as_written, from_rows, to_rows, weight_shape_error
from attncli.core import heads as hd
from attncli.core import masks as mk
from attncli.core import positions as pos
from attncli.core.attend import Context, attend_heads, rows_text  # noqa: F401 - rows_text: used from here
from attncli.core.heads import WeightShapeError
from attncli.core.inputs import from_qkv, from_tokens
from attncli.core.result import AttentionResult, user_view
from attncli.core.spec import Disentangled, Graph, Plan, QKNorm, Rope, Spec, Window2d
from attncli.core.steps import Tracer
from attncli.core.validate import (
    as_real,
    check_finite,
    check_ndim,
    check_tokens,
    compute_dtype,
)
from attncli.errors import AttnError, param
from attncli.version import __version__

Weight = np.ndarray | Sequence[np.ndarray]


class Result(AttentionResult):
    """The core's result as the command line shows it: in its `layout` (cols: the last two axes of every matrix
    swapped, the lecture's tokens as columns) and, for an image (`grid` = (H, W)), x and the output as pixels."""

    _fields = AttentionResult._fields + ("layout", "grid")

    def __init__(self, *args: Any, layout: str = "rows", grid: tuple[int, int] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.layout, self.grid = layout, grid

    @classmethod
    def of(cls, res: AttentionResult, layout: str, grid: tuple[int, int] | None) -> Result:
        return cls(**{f: getattr(res, f) for f in AttentionResult._fields}, layout=layout, grid=grid)

    def view(self, a: np.ndarray, name: str) -> np.ndarray:
        return layout_view(a, name, batched=self.batched, layout=self.layout, grid=self.grid)


def layout_view(a: np.ndarray, name: str, *, batched: bool, layout: str, grid: tuple[int, int] | None = None
                ) -> np.ndarray:
    """The canonical array `a` of `name` as the command line shows it: the core's view (core/result.py), pixels
    back into the image ((B,) H × W × C) for x and the output of an image, the last two axes swapped in cols
    layout; a view, no copy."""
    if name in ("output", "x") and grid is not None:
        a = a.reshape(a.shape[0], *grid, a.shape[-1])
        return a if batched else a[0]
    a = user_view(a, name, batched=batched)
    return from_rows(a) if layout == "cols" else a


def user_shape(shape: tuple[int, ...], name: str, *, batched: bool, layout: str) -> tuple[int, ...]:
    """The shape layout_view gives an array of canonical `shape`, without the array (for a file written later)."""
    return layout_view(np.broadcast_to(np.empty((), np.int8), shape), name, batched=batched, layout=layout).shape


DEFAULTS: dict[str, Any] = {  # every keyword of compute_attention, by the command line's option names
    "x": None, "x_kv": None, "image": None, "wq": None, "wk": None, "wv": None, "wo": None, "bq": None, "bk": None,
    "bv": None, "bo": None, "heads": None, "kv_heads": None, "score": "scaled", "scale": None, "w_score": None,
    "wa_q": None, "wa_k": None, "va": None, "normalize": None, "temperature": 1.0, "softcap": None, "causal": False,
    "window": None, "key_lens": None, "query_lens": None, "mask": None, "mask_invert": False, "bias": None,
    "adjacency": None, "edges": None, "undirected": False, "self_loops": False, "window2d": None, "pe": None,
    "pe_base": 10000.0, "pe_layout": "interleaved", "rope": False, "rope_base": 10000.0, "rope_layout": "half",
    "start_pos": 0, "alibi": False, "empty_rows": "zero", "layout": "rows", "dtype": "auto",
    "allow_nonfinite": False, "trace": False, "need": None, "block_rows": None, "threads": None,
    "memory_limit": None, "stream_maps": None, "torch_weights": False, "backend": "auto", "spec": None,
    "q_norm": None, "k_norm": None, "qk_norm_eps": 1e-6, "qk_norm": None, "rope_dim": None, "sinks": None,
    "rel_embeddings": None, "pos_att_type": "c2p,p2c", "position_buckets": 0, "max_relative_positions": 0,
}
MATRICES = ("q", "k", "v", "x_kv", "wq", "wk", "wv", "wo", "w_score", "wa_q", "wa_k")  # transposed in cols layout


def compute_attention(q: np.ndarray | None = None, k: np.ndarray | None = None, v: np.ndarray | None = None,
                      **options: Any) -> AttentionResult:
    """Compute attention end to end from the command line's values (keywords named as its options, DEFAULTS).

    Give token vectors `x` (n × d_model, or batch × n × d_model; `x_kv` for cross-attention) or an
    `image` (H × W × C) with optional projections `wq/wk/wv` (d_model × d_k; a list or a heads × d_model ×
    d_k array for per-head weights), or `q, k, v` directly (n × d, heads × n × d, or batch × heads × n × d),
    in `layout` rows or cols (the lecture's: tokens as columns, every matrix transposed).
    `normalize` (softmax, softmax1, sparsemax, relu, sigmoid, none) may also be passed as `normalize_`.
    `trace=True` records every intermediate matrix with its formula in `result.steps` (for explain).
    `need` names the arrays wanted (vocabulary.NAMES: x, q, k, v, qk, scores, ...); `block_rows`, `threads`,
    `memory_limit`, `stream_maps`, `dtype`, `allow_nonfinite` and `backend` make the Plan (core/plan.py):
    stream_maps is called as stream_maps(name, shape=, dtype=, blocks=(B, H, n_q, n_k)) with `shape` the user's
    (as `export` gives it). `torch_weights`: the caller transposed W from PyTorch's (out, in), so a shape error
    does not suggest --weights-layout torch again. `spec`: the Spec to compute (check's diagnoses make mistakes as
    spec.replace(...)); the keywords that say a spec are then only validated.
    """
    o = _options(q, k, v, options)
    _validate(o)  # choices, and which inputs go together (checks.py); an image becomes its pixels as tokens
    ft, unchecked = _canonicalize(o)  # dtype, finiteness, rows layout
    tr = Tracer(o["trace"])
    _positions(o, ft, tr)  # X (+ PE), recorded as explain shows them
    qh, kh, vh, batched = _heads(o, tr)  # Q, K, V as (B, H, n, d)
    spec = o["spec"] if o["spec"] is not None else spec_of(o)
    if o["spec"] is None:
        spec = spec.replace(disentangled=_disentangled(o, qh.shape[1], kh.shape[1], ft))
    plan = Plan(need=o["need"], backend="trace" if o["trace"] else o["backend"], dtype=str(ft),
                block_rows=o["block_rows"], threads=o["threads"], memory_limit=o["memory_limit"],
                stream_maps=o["stream_maps"], allow_nonfinite=o["allow_nonfinite"])
    x = o["x"]
    origin = f"{param('wq')}/{param('wk')}" if o["wq"] is not None else (param("x") if x is not None else
                                                                      f"{param('q')}/{param('k')}")
    layout = o["layout"]
    ctx = Context(ft, batched, tr, unchecked, wo=o["wo"], bo=o["bo"], names=(param("wo"), param("bo"), origin),
                  stream_shape=lambda shape, name: user_shape(shape, name, batched=batched, layout=layout))
    res = Result.of(attend_heads(qh, kh, vh, spec, plan, ctx), layout, o["grid"])
    res.x = None if x is None else (x if x.ndim == 3 else x[None])
    res.meta["layout"] = layout
    if o["mask"] is not None and o["mask_invert"]:
        res.meta["masks"]["mask"] = "inverted"
    pe = o["pe"]
    res.meta["positions"]["pe"] = None if pe is None else (pe if isinstance(pe, str) else "table")
    res.meta["attncli_version"] = __version__
    if o["grid"] is not None:
        res.meta["image"] = {"height": o["grid"][0], "width": o["grid"][1]}
    return res


def rows_problem(kw: dict[str, Any]) -> tuple[dict[str, Any], Callable[..., AttentionResult]]:
    """compute_attention's keywords `kw` as the same problem in rows layout, for what works in rows layout only
    (check's diagnosis, core/mistakes.py), and the compute that shows its results in `kw`'s layout (a mistake's
    arrays come out as the student wrote the problem). In cols layout every matrix is transposed in: what
    _canonicalize does, done once before."""
    if kw.get("layout", "rows") != "cols":
        return kw, compute_attention
    rows = {**kw, "layout": "rows"}
    for name in (*MATRICES, "x", "bias", "mask", "adjacency", "pe", "rel_embeddings"):
        a = kw.get(name)
        if a is None or isinstance(a, (str, Disentangled)):  # a model layer's terms (--config) are rows already
            continue
        rows[name] = [to_rows(np.asarray(m)) for m in a] if isinstance(a, (list, tuple)) and name in MATRICES \
            else to_rows(np.asarray(a))

    def compute(**problem: Any) -> AttentionResult:
        res = compute_attention(**problem)
        res.layout = res.meta["layout"] = "cols"
        return res

    return rows, compute


def _options(q: Any, k: Any, v: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The keywords with their defaults; `normalize_` is `normalize`; an unknown keyword is a TypeError."""
    if "normalize_" in options:
        given = options.pop("normalize_")
        options.setdefault("normalize", given)
    unknown = [name for name in options if name not in DEFAULTS]
    if unknown:
        raise TypeError(f"compute_attention() got unexpected keyword arguments: {', '.join(unknown)}")
    o = {**DEFAULTS, **options, "q": q, "k": k, "v": v, "grid": None}
    o["normalize"] = o["normalize"] or "softmax"
    return o


def _validate(o: dict[str, Any]) -> None:
    """Every choice one of its values, counts positive; which inputs go together. An image becomes o["x"] (its
    pixels as tokens) and o["grid"]."""
    check_options(score=o["score"], normalize=o["normalize"], layout=o["layout"], empty_rows=o["empty_rows"],
                  pe_layout=o["pe_layout"], rope_layout=o["rope_layout"], heads=o["heads"], kv_heads=o["kv_heads"],
                  threads=o["threads"], scale=o["scale"], softcap=o["softcap"], pe_base=o["pe_base"],
                  rope_base=o["rope_base"], start_pos=o["start_pos"], block_rows=o["block_rows"],
                  temperature=o["temperature"])
    if o["image"] is not None:
        if o["x"] is not None:
            raise AttnError("give either --image or --x, not both (an image is its pixels as tokens)")
        o["x"], o["grid"] = image_tokens(np.asarray(o["image"]))
    check_sources(**{n: o[n] for n in ("q", "k", "v", "x", "x_kv", "image", "wq", "wk", "wv", "bq", "bk", "bv",
                                       "pe", "window2d")})


def _arrays(w: Weight | None) -> list[np.ndarray]:
    if w is None:
        return []
    return [np.asarray(m) for m in w] if isinstance(w, (list, tuple)) else [np.asarray(w)]


def _canonicalize(o: dict[str, Any]) -> tuple[np.dtype, list[tuple[str, np.ndarray]]]:
    """Real numbers, the compute dtype, finite (unless allow_nonfinite), every matrix in rows layout. Returns the
    dtype and Q, K, V given directly, whose finiteness the backend checks (core/backends.py)."""
    named = [(n, o[n]) for n in ("q", "k", "v", "x", "x_kv", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo",
                                 "w_score", "wa_q", "wa_k", "va")]
    for name, w in named + [("bias", o["bias"])]:
        for a in _arrays(w):
            as_real(a, option_of(name))
    if isinstance(o["pe"], (np.ndarray, list, tuple)):
        o["pe"] = as_real(np.asarray(o["pe"]), "--pe")
        if not o["allow_nonfinite"]:
            check_finite(o["pe"], "--pe")
    ft = compute_dtype(o["dtype"], [a for _, w in named for a in _arrays(w)])
    cols, check = o["layout"] == "cols", not o["allow_nonfinite"]
    unchecked: list[tuple[str, np.ndarray]] = []  # Q, K, V given directly: checked finite later (backends.py)

    def canon(name: str, matrix: bool, option: str | None = None) -> None:
        w = o[name]
        if w is None:
            return
        out = []
        for a in _arrays(w):
            a = a.astype(ft, copy=False)
            if check and name in ("q", "k", "v"):
                unchecked.append((option_of(name), a))
            elif check:
                check_finite(a, option or option_of(name))
            out.append(to_rows(a) if matrix and cols else a)
        o[name] = out if isinstance(w, (list, tuple)) else out[0]

    image = o["grid"] is not None
    for name in ("q", "k", "v", "x_kv", "x", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo", "w_score", "wa_q",
                 "wa_k", "va"):  # checked in this order: the first NaN named is the first of these holding one
        if name == "x":
            canon("x", matrix=not image, option="--image" if image else "--x")
        else:
            canon(name, matrix=name in MATRICES)
    if o["va"] is not None and o["va"].ndim == 0:
        o["va"] = o["va"].reshape(1)  # h = 1
    if o["bias"] is not None:
        bias = np.asarray(o["bias"])
        if check:
            check_finite(bias.astype(ft, copy=False), "--bias", allow_neg_inf=True)
        o["bias"] = to_rows(bias) if cols else bias
    for name in ("mask", "adjacency"):
        if o[name] is not None:
            o[name] = to_rows(np.asarray(o[name])) if cols else np.asarray(o[name])
    return ft, unchecked


def option_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def _positions(o: dict[str, Any], ft: np.dtype, tr: Tracer) -> None:
    """X (and X_kv) as explain shows them, and the positional-encoding table added to them (--pe)."""
    x, x_kv, pe = o["x"], o["x_kv"], o["pe"]
    if x is not None:
        tr.add("x", x if x.ndim == 3 else x[None], "tokens")
        if x_kv is not None:
            tr.add("x_kv", x_kv if x_kv.ndim == 3 else x_kv[None], "tokens")
    if pe is None:
        return
    cols = o["layout"] == "cols"
    check_ndim(x, "--x", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
    if x_kv is not None:
        check_ndim(x_kv, "--x-kv", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
    table = _position_table(pe, x, o["pe_base"], o["pe_layout"], cols, "--x").astype(ft)
    o["x"] = x = x + table
    tr.add("pe", table, "table")
    tr.add("x_pe", x if x.ndim == 3 else x[None], "tokens")
    if x_kv is not None:
        o["x_kv"] = x_kv + _position_table(pe, x_kv, o["pe_base"], o["pe_layout"], cols, "--x-kv").astype(ft)


def _heads(o: dict[str, Any], tr: Tracer) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Q, K, V as (B, H, n, d) from the tokens and projections or as given; recorded as explain shows them."""
    x, x_kv = o["x"], o["x_kv"]
    if x is not None:
        layout = "rows" if o["grid"] is not None else o["layout"]  # an image's pixels are tokens as rows
        if layout == "cols":
            _check_tokens_as_written(x, x_kv)
        try:
            qh, kh, vh, batched, _, _ = from_tokens(x, x_kv, o["wq"], o["wk"], o["wv"], o["bq"], o["bk"], o["bv"],
                                                    o["heads"], o["kv_heads"])
        except WeightShapeError as e:
            raise weight_shape_error(e, layout, o["torch_weights"]) from None
    else:
        qh, kh, vh, batched, _, _ = from_qkv(o["q"], o["k"], o["v"], o["heads"], o["kv_heads"])
    suffix = "_direct" if x is None else ("" if o["wq"] is not None else "_x")
    src = "X_kv" if x_kv is not None else "X"
    for name, a in (("q", qh), ("k", kh), ("v", vh)) if tr.enabled else ():  # merging copies
        tr.add(name + suffix, hd.merge_heads(a), "tokens", src=src,
               b=f" + b_{name.upper()}" if o["b" + name] is not None else "")
    return qh, kh, vh, batched


def _check_tokens_as_written(x: np.ndarray, x_kv: np.ndarray | None) -> None:
    """from_tokens's checks of X and X_kv (rows layout here), with the shapes the user wrote in cols layout."""
    check_ndim(x, "‹x›", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
    check_tokens(x, "‹x›", shape=as_written(x.shape, "cols"))
    if x_kv is not None:
        check_ndim(x_kv, "‹x_kv›", (x.ndim,), f"{x.ndim}-D like ‹x› (shape {x.shape})")
        check_tokens(x_kv, "‹x_kv›", shape=as_written(x_kv.shape, "cols"))


def _mask(o: dict[str, Any]) -> np.ndarray | None:
    """The boolean mask (True = may attend). One made here is read-only at once, so the Spec keeps it instead of
    copying it again (a long sequence's mask is n_q × n_k)."""
    if o["mask"] is None:
        return None
    m = mk.as_bool_mask(o["mask"], invert=o["mask_invert"])
    if m is not o["mask"] and m.base is None:
        m.flags.writeable = False
    return m


def spec_of(o: dict[str, Any]) -> Spec:
    """The Spec the options say (every array in rows layout already)."""
    adjacency, edges = o["adjacency"], o["edges"]
    if (o["undirected"] or o["self_loops"]) and adjacency is None and edges is None:
        raise AttnError(f"{param('spec.graph.undirected')} and {param('spec.graph.self_loops')} modify a graph: "
                        f"give {param('spec.graph.adjacency')} or {param('spec.graph.edges')} too")
    graph = None if adjacency is None and edges is None else Graph(adjacency, edges, bool(o["undirected"]),
                                                                     bool(o["self_loops"]))
    return Spec(score=o["score"], scale=o["scale"], w_score=o["w_score"], wa_q=o["wa_q"], wa_k=o["wa_k"], va=o["va"],
                normalize=o["normalize"], temperature=o["temperature"], softcap=o["softcap"],
                causal=bool(o["causal"]), window=parse_window(o["window"]), key_lens=o["key_lens"],
                query_lens=o["query_lens"],
                mask=_mask(o),
                graph=graph, window2d=None if o["window2d"] is None else Window2d(o["window2d"], o["grid"]),
                rope=_rope(o),
                alibi=bool(o["alibi"]), bias=o["bias"], empty_rows=o["empty_rows"], qk_norm=_qk_norm(o),
                sinks=o["sinks"])


def _qk_norm(o: dict[str, Any]) -> QKNorm | None:
    """--q-norm and --k-norm (with --qk-norm-eps) as one QKNorm; a model layer's (--config) given whole."""
    if o["qk_norm"] is not None:
        return o["qk_norm"]
    if o["q_norm"] is None and o["k_norm"] is None:
        return None
    if o["q_norm"] is None or o["k_norm"] is None:
        given, missing = ("q", "k") if o["q_norm"] is not None else ("k", "q")
        raise AttnError(f"{param('spec.qk_norm.' + given)} normalizes one side only: give "
                        f"{param('spec.qk_norm.' + missing)} too (a vector of ones leaves that side's scale as is)")
    return QKNorm(o["q_norm"], o["k_norm"], o["qk_norm_eps"])


def _disentangled(o: dict[str, Any], heads: int, kv_heads: int, ft: np.dtype) -> Disentangled | None:
    """--rel-embeddings R (2k × d_model) projected by the layer's W_Q, W_K (+ biases) into Q_r and K_r per head
    (as DeBERTa's share_att_key), or R itself as both when Q and K are not projected here; with --pos-att-type,
    --position-buckets and --max-relative-positions. A Disentangled given whole (a model layer's, from --config)
    stays as it is."""
    table = o["rel_embeddings"]
    if isinstance(table, Disentangled):
        return table
    if table is None:
        if o["position_buckets"] or o["max_relative_positions"] or o["pos_att_type"] != "c2p,p2c":
            raise AttnError("--pos-att-type, --position-buckets and --max-relative-positions set disentangled "
                            "attention's terms: give the relative position table with --rel-embeddings")
        return None
    r = as_real(np.asarray(table), "--rel-embeddings").astype(ft, copy=False)
    if not o["allow_nonfinite"]:
        check_finite(r, "--rel-embeddings")
    r = to_rows(r) if o["layout"] == "cols" else r
    check_ndim(r, "--rel-embeddings", (2,), "2k × d_model (the relative positions' rows)")
    if r.shape[0] < 2 or r.shape[0] % 2:
        raise AttnError(f"--rel-embeddings has {r.shape[0]} rows; it takes 2k rows, one per relative position "
                        "−k … k − 1 (after the shift by k)")
    pos_query = pos_key = r  # Q and K given directly: R is 2k × d_k, shared by every head
    if o["x"] is not None:  # R goes through what X goes through: the projections, or the split into heads
        if r.shape[-1] != o["x"].shape[-1]:
            raise AttnError(f"--rel-embeddings has {r.shape[-1]} columns; the tokens (--x) have {o['x'].shape[-1]}: "
                            "give one row per relative position with d_model features")
        pq, pk, _, _, _, _ = from_tokens(r, None, o["wq"], o["wk"], o["wv"], o["bq"], o["bk"], o["bv"], o["heads"],
                                         o["kv_heads"])  # (1, H, 2k, d_k), (1, G, 2k, d_k)
        pos_query, pos_key = pq[0], np.repeat(pk[0], heads // kv_heads, axis=0)  # K_r per query head
    return Disentangled(o["pos_att_type"], pos_key, pos_query, o["position_buckets"], o["max_relative_positions"])


def _rope(o: dict[str, Any]) -> Rope | None:
    """--rope with --rope-base, --rope-layout, --rope-dim and --start-pos; a Rope given whole (a model layer's,
    from --config: a scaled RoPE's frequencies too) stays as it is."""
    if isinstance(o["rope"], Rope):
        return o["rope"]
    if o["rope_dim"] is not None and not o["rope"]:
        raise AttnError(f"{param('spec.rope.dim')} says how many features RoPE turns: give {param('spec.rope')} too")
    return Rope(o["rope_base"], o["rope_layout"], o["start_pos"], dim=o["rope_dim"]) if o["rope"] else None


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
