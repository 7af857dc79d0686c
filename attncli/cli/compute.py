"""`attncli compute`: attention maps and outputs from token vectors or Q/K/V."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from attncli.cli import app
from attncli.cli.common import Sources, emit, parse_int_list, parse_show, resolve_format, warn
from attncli.errors import AttnError

IN, PROJ, SCORE, MASK, NUM, OUT = ("Inputs", "Projections and heads", "Scores", "Masks",
                                   "Layout and numbers", "Output")
SHOWABLE = ("q", "k", "v", "scores", "weights", "heads", "output")


class Score(StrEnum):
    scaled = "scaled"
    dot = "dot"


class Layout(StrEnum):
    rows = "rows"
    cols = "cols"


class WeightsLayout(StrEnum):
    auto = "auto"
    torch = "torch"


class DType(StrEnum):
    auto = "auto"
    float32 = "float32"
    float64 = "float64"


class EmptyRows(StrEnum):
    zero = "zero"
    nan = "nan"
    error = "error"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"
    npy = "npy"
    npz = "npz"
    safetensors = "safetensors"


SOURCES = ("--x", "--x-kv", "--q", "--k", "--v", "--wq", "--wk", "--wv", "--bq", "--bk", "--bv", "--wo", "--bo",
           "--weights", "--mask", "--bias")
METAVARS = {"--key-lens": "N,N…", "--show": "NAMES", "--output": "PATH", "--heads": "N", "--kv-heads": "G",
            "--scale": "F", "--precision": "N"}


def _opt(help: str, panel: str, *names: str, **kw):
    metavar = "SOURCE" if names[0] in SOURCES else METAVARS.get(names[0])
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=kw.pop("show_default", False),
                        metavar=metavar, **kw)


EPILOG = (
    "Examples:\n\n"
    "  attncli compute --x samples/self_attention/x.csv --wq samples/self_attention/wq.csv "
    "--wk samples/self_attention/wk.csv --wv samples/self_attention/wv.csv\n\n"
    "  attncli compute --x \"1 0 1 0; 0 2 0 2; 1 1 1 1\" --score dot --show scores,weights\n\n"
    "  attncli compute --q q.npy --k k.npy --v v.npy --causal --show output -o out.npy\n\n"
    "  attncli compute --x x.npy --weights mha.safetensors --heads 8 --format json | jq .meta"
)


@app.command(epilog=EPILOG)
def compute(
    x: Annotated[str | None, _opt("Token vectors X, rows = tokens: n × d_model, or batch × n × d_model. "
                                  "SOURCE: a file (.npy .npz .safetensors .csv .tsv .txt .json, file.npz:name), "
                                  "'-' for stdin, or inline. e.g. --x samples/self_attention/x.csv or "
                                  "--x \"1 0 1 0; 0 2 0 2\"", IN, "--x")] = None,
    x_kv: Annotated[str | None, _opt("Cross-attention: token vectors for keys and values (queries come "
                                     "from --x). e.g. --x-kv encoder.npy", IN, "--x-kv")] = None,
    q: Annotated[str | None, _opt("Queries given directly: n × d, heads × n × d, or batch × heads × n × d "
                                  "(PyTorch SDPA's layout). e.g. --q q.npy", IN, "--q")] = None,
    k: Annotated[str | None, _opt("Keys, shaped like --q. e.g. --k k.npy", IN, "--k")] = None,
    v: Annotated[str | None, _opt("Values, shaped like --k (last dim may differ). e.g. --v v.npy",
                                  IN, "--v")] = None,
    wq: Annotated[list[str] | None, _opt("W_Q, d_model × d_k (Q = X·W_Q + b_Q). Repeat once per head, or give "
                                         "heads × d_model × d_k. e.g. --wq wq.csv, or --wq h1.csv --wq h2.csv",
                                         PROJ, "--wq")] = None,
    wk: Annotated[list[str] | None, _opt("W_K, d_model × d_k. e.g. --wk wk.csv", PROJ, "--wk")] = None,
    wv: Annotated[list[str] | None, _opt("W_V, d_model × d_v. e.g. --wv wv.csv", PROJ, "--wv")] = None,
    bq: Annotated[list[str] | None, _opt("Bias b_Q (length heads·d_k). e.g. --bq \"0.1 0 0\"", PROJ, "--bq")] = None,
    bk: Annotated[list[str] | None, _opt("Bias b_K. e.g. --bk bk.csv", PROJ, "--bk")] = None,
    bv: Annotated[list[str] | None, _opt("Bias b_V. e.g. --bv bv.csv", PROJ, "--bv")] = None,
    wo: Annotated[str | None, _opt("W_O, (heads·d_v) × d_out: projects the concatenated heads. "
                                   "e.g. --wo wo.csv", PROJ, "--wo")] = None,
    bo: Annotated[str | None, _opt("Bias b_O of the output projection. e.g. --bo bo.csv", PROJ, "--bo")] = None,
    weights: Annotated[str | None, _opt("One .safetensors/.npz/.json holding wq, wk, wv, wo, bq, bk, bv, bo "
                                        "by name, or a PyTorch nn.MultiheadAttention state_dict (in_proj_weight, "
                                        "out_proj.weight, ...). Explicit --wq etc. win. "
                                        "e.g. --weights mha.safetensors --heads 8", PROJ, "--weights")] = None,
    weights_layout: Annotated[WeightsLayout, _opt("Orientation of weight matrices: auto follows --layout (rows: "
                                                  "d_model × d_k as in X·W; cols: d_k × d_model as in W·X); "
                                                  "torch = (out, in) as PyTorch's Linear.weight, whatever the "
                                                  "layout. e.g. --weights-layout torch", PROJ, "--weights-layout",
                                                  show_default=True)] = WeightsLayout.auto,
    heads: Annotated[int | None, _opt("Number of heads N: the columns of W_Q/W_K/W_V split into N contiguous "
                                      "blocks (PyTorch's order). e.g. --heads 2", PROJ, "--heads")] = None,
    kv_heads: Annotated[int | None, _opt("Grouped-query attention: G key/value heads (G divides N); query head "
                                         "h uses kv head h // (N/G). e.g. --heads 8 --kv-heads 2",
                                         PROJ, "--kv-heads")] = None,
    score: Annotated[Score, _opt("Score function: scaled = Q·Kᵀ/√d_k, dot = Q·Kᵀ. e.g. --score dot",
                                 SCORE, "--score", show_default=True)] = Score.scaled,
    scale: Annotated[float | None, _opt("Override the score scale (default 1/√d_k for scaled, 1 for dot). "
                                        "e.g. --scale 0.125", SCORE, "--scale")] = None,
    causal: Annotated[bool, _opt("Causal mask: query i sees keys j ≤ i (top-left aligned, as PyTorch's "
                                 "is_causal). e.g. --causal", MASK, "--causal")] = False,
    key_lens: Annotated[str | None, _opt("Key padding, one length per batch item: keys at index ≥ len are "
                                         "masked (d2l's valid_lens). e.g. --key-lens 5,3", MASK,
                                         "--key-lens")] = None,
    mask: Annotated[str | None, _opt("Boolean mask, n_q × n_k (broadcast over batch and heads), 1/true = "
                                     "may attend. e.g. --mask mask.csv", MASK, "--mask")] = None,
    mask_invert: Annotated[bool, _opt("Read --mask as 1/true = blocked (nn.MultiheadAttention's "
                                      "convention). e.g. --mask pad.npy --mask-invert", MASK,
                                      "--mask-invert")] = False,
    bias: Annotated[str | None, _opt("Additive bias on the scores, broadcast like --mask; -inf blocks. "
                                     "e.g. --bias alibi.npy", MASK, "--bias")] = None,
    empty_rows: Annotated[EmptyRows, _opt("A query row with every key masked: zero weights and output "
                                          "(as PyTorch SDPA), nan, or error. e.g. --empty-rows error", MASK,
                                          "--empty-rows", show_default=True)] = EmptyRows.zero,
    layout: Annotated[Layout, _opt("rows: tokens are rows (papers, PyTorch). cols: tokens are columns, the "
                                   "lecture convention Q = W_q·I, A = Kᵀ·Q, O = V·A′; inputs are read and "
                                   "outputs written that way. e.g. --layout cols", NUM, "--layout",
                                   show_default=True)] = Layout.rows,
    dtype: Annotated[DType, _opt("auto keeps float32 binary inputs in float32; text and inline inputs "
                                 "compute in float64. e.g. --dtype float64", NUM, "--dtype",
                                 show_default=True)] = DType.auto,
    allow_nonfinite: Annotated[bool, _opt("Compute even when inputs hold NaN or Inf (default: refuse, naming "
                                          "the first position). e.g. --allow-nonfinite", NUM,
                                          "--allow-nonfinite")] = False,
    show: Annotated[str | None, _opt("Arrays to show, comma-separated from q,k,v,scores,weights,heads,output, "
                                     "or all (default weights,output; npy: output). scores are after scale, "
                                     "mask and bias, before softmax; heads are per-head outputs before W_O. "
                                     "e.g. --show scores,weights", OUT, "--show")] = None,
    fmt: Annotated[Format | None, _opt("table (default), json (strict, for jq), csv, tsv, npy (one array), "
                                       "npz, safetensors. e.g. --format json", OUT, "--format", "-f")] = None,
    output: Annotated[str | None, _opt("Write to PATH instead of stdout, format from the extension (.json "
                                       ".csv .tsv .npy .npz .safetensors .txt); written atomically, never over "
                                       "an input. e.g. -o maps.safetensors", OUT, "--output", "-o")] = None,
    precision: Annotated[int, _opt("Decimals in tables. e.g. --precision 2", OUT, "--precision",
                                   show_default=True)] = 4,
    debug: Annotated[bool, _opt("Show a traceback on errors. e.g. --debug", OUT, "--debug")] = False,
) -> None:
    """Compute attention: weights A = softmax(Q·Kᵀ/√d_k) and output A·V, with heads, masks and W_O."""
    fmt_name = resolve_format(None if fmt is None else fmt.value, output)
    default_show = ["output"] if fmt_name == "npy" else ["weights", "output"]
    names = parse_show(show, SHOWABLE, default_show)
    if precision < 0 or precision > 17:
        raise AttnError(f"--precision must be between 0 and 17; got {precision}")

    src = Sources()
    kwargs = _read_inputs(src, x=x, x_kv=x_kv, q=q, k=k, v=v, wq=wq, wk=wk, wv=wv, bq=bq, bk=bk, bv=bv,
                          wo=wo, bo=bo, weights=weights, torch_layout=weights_layout is WeightsLayout.torch,
                          cols=layout is Layout.cols)
    from attncli.core import attention

    res = attention(
        **kwargs,
        heads=heads, kv_heads=kv_heads, score=score.value, scale=scale, causal=causal,
        key_lens=parse_int_list(key_lens, "--key-lens"), mask=src.array(mask, "--mask"),
        mask_invert=mask_invert, bias=src.array(bias, "--bias"), empty_rows=empty_rows.value,
        layout=layout.value, dtype=dtype.value, allow_nonfinite=allow_nonfinite,
    )
    if res.empty_rows:
        from attncli.core.attention import _rows_text

        warn(f"{len(res.empty_rows)} query row(s) have every key masked ({_rows_text(res.empty_rows)}); "
             f"their weights and attention outputs are {'NaN' if empty_rows is EmptyRows.nan else '0'} "
             "(--empty-rows)")
    arrays = {n: res.export(n) for n in names}
    meta = dict(res.meta, inputs=src.info, shapes={n: list(a.shape) for n, a in arrays.items()})

    def renderables():
        from attncli.render.tables import array_tables

        out = []
        for n, a in arrays.items():
            out += array_tables(n, a, allowed=res.export_mask(n), precision=precision, batched=res.batched,
                                multihead=(res.k.shape[1] if n in ("k", "v") else res.weights.shape[1]) > 1,
                                layout=res.layout)
        return out

    emit(arrays, meta, fmt_name, output, src.paths, renderables)


def _read_inputs(src: Sources, *, x, x_kv, q, k, v, wq, wk, wv, bq, bk, bv, wo, bo, weights,
                 torch_layout: bool, cols: bool) -> dict:
    """Read every array option; apply the weights orientation so the core sees the user's layout."""
    import numpy as np

    got: dict = {
        "x": src.array(x, "--x"), "x_kv": src.array(x_kv, "--x-kv"),
        "q": src.array(q, "--q"), "k": src.array(k, "--k"), "v": src.array(v, "--v"),
        "wq": src.arrays(wq, "--wq"), "wk": src.arrays(wk, "--wk"), "wv": src.arrays(wv, "--wv"),
        "bq": src.arrays(bq, "--bq"), "bk": src.arrays(bk, "--bk"), "bv": src.arrays(bv, "--bv"),
        "wo": src.array(wo, "--wo"), "bo": src.array(bo, "--bo"),
    }
    torch_roles = {"wq", "wk", "wv", "wo"} if torch_layout else set()
    if weights is not None:
        from attncli.cli.weights import weights_from_file

        found, from_torch = weights_from_file(src.container(weights, "--weights"), weights)
        for role, arr in found.items():
            if got[role] is None:
                got[role] = arr
                if role in from_torch:
                    torch_roles.add(role)

    def orient(w):
        # (out, in) -> the layout the user computes in: rows wants (in, out); cols already is (out, in).
        if w is None or cols:
            return w
        if isinstance(w, list):
            return [np.swapaxes(m, -1, -2) if m.ndim >= 2 else m for m in w]
        return np.swapaxes(w, -1, -2) if w.ndim >= 2 else w

    for role in torch_roles:
        got[role] = orient(got[role])
    return got
