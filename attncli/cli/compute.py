"""`attncli compute`: attention maps and outputs from token vectors, an image, or Q/K/V."""

from __future__ import annotations

from attncli.cli import app
from attncli.cli import options as opt
from attncli.cli.common import Sources, emit, parse_show, resolve_format, warn
from attncli.errors import AttnError

SHOWABLE = ("q", "k", "v", "scores", "weights", "heads", "output")

EPILOG = (
    "Examples:\n\n"
    "  attncli compute --x samples/self_attention/x.csv --wq samples/self_attention/wq.csv "
    "--wk samples/self_attention/wk.csv --wv samples/self_attention/wv.csv\n\n"
    "  attncli compute --x \"1 0 1 0; 0 2 0 2; 1 1 1 1\" --score dot --show scores,weights\n\n"
    "  attncli compute --q q.npy --k k.npy --v v.npy --causal --window 128 --show output -o out.npy\n\n"
    "  attncli compute --x x.npy --weights mha.safetensors --heads 8 --rope --format json | jq .meta"
)


@app.command(epilog=EPILOG)
def compute(
    x: opt.X = None, x_kv: opt.XKV = None, image: opt.IMAGE = None, q: opt.Q = None, k: opt.K = None,
    v: opt.V = None,
    wq: opt.WQ = None, wk: opt.WK = None, wv: opt.WV = None, bq: opt.BQ = None, bk: opt.BK = None,
    bv: opt.BV = None, wo: opt.WO = None, bo: opt.BO = None, weights: opt.WEIGHTS = None,
    weights_layout: opt.WEIGHTS_LAYOUT = opt.WeightsLayout.auto, heads: opt.HEADS = None,
    kv_heads: opt.KV_HEADS = None,
    score: opt.SCORE_ = opt.Score.scaled, scale: opt.SCALE = None, w_score: opt.W_SCORE = None,
    wa_q: opt.WA_Q = None, wa_k: opt.WA_K = None, va: opt.VA = None,
    normalize: opt.NORMALIZE = opt.Normalizer.softmax, temperature: opt.TEMPERATURE = 1.0,
    softcap: opt.SOFTCAP = None,
    causal: opt.CAUSAL = False, window: opt.WINDOW = None, key_lens: opt.KEY_LENS = None,
    query_lens: opt.QUERY_LENS = None, mask: opt.MASK_ = None, mask_invert: opt.MASK_INVERT = False,
    bias: opt.BIAS = None, adjacency: opt.ADJACENCY = None, edges: opt.EDGES = None,
    undirected: opt.UNDIRECTED = False, self_loops: opt.SELF_LOOPS = False, window2d: opt.WINDOW2D = None,
    empty_rows: opt.EMPTY_ROWS = opt.EmptyRows.zero,
    pe: opt.PE = None, pe_base: opt.PE_BASE = 10000.0, pe_layout: opt.PE_LAYOUT = opt.PeLayout.interleaved,
    rope: opt.ROPE = False, rope_base: opt.ROPE_BASE = 10000.0, rope_layout: opt.ROPE_LAYOUT = opt.RopeLayout.half,
    start_pos: opt.START_POS = 0, alibi: opt.ALIBI = False,
    layout: opt.LAYOUT = opt.Layout.rows, dtype: opt.DTYPE = opt.DType.auto,
    allow_nonfinite: opt.ALLOW_NONFINITE = False,
    show: opt.Annotated[str | None, opt._opt(
        "Arrays to show, comma-separated from q,k,v,scores,weights,heads,output, or all (default weights,output; "
        "npy: output). scores are what the normalizer sees (after scale, softcap, bias, masks, temperature); "
        "heads are per-head outputs before W_O. e.g. --show scores,weights", opt.OUT, "--show")] = None,
    fmt: opt.FORMAT = None, output: opt.OUTPUT = None, precision: opt.PRECISION = 4, debug: opt.DEBUG = False,
    text: opt.TEXT = None, tokens: opt.TOKENS = None, ids: opt.IDS = None, tokenizer: opt.TOKENIZER = "whitespace",
    embeddings: opt.EMBEDDINGS = None, vocab: opt.VOCAB = None, oov: opt.OOV = "error", seed: opt.SEED = 0,
    labels: opt.LABELS = None,
) -> None:
    """Compute attention: weights A = softmax(Q·Kᵀ/√d_k) and output A·V, with every score, normalizer,
    mask, position encoding and head layout in the catalogue."""
    options = dict(locals())
    fmt_name = resolve_format(None if fmt is None else fmt.value, output)
    names = parse_show(show, SHOWABLE, ["output"] if fmt_name == "npy" else ["weights", "output"])
    if precision < 0 or precision > 17:
        raise AttnError(f"--precision must be between 0 and 17; got {precision}")

    from attncli.cli.spec import attention_kwargs
    from attncli.core import attention
    from attncli.core.attention import rows_text

    src = Sources()
    kwargs, names_of = attention_kwargs(src, options)
    res = attention(**kwargs)
    if res.empty_rows:
        warn(f"{len(res.empty_rows)} query row(s) have every key masked ({rows_text(res.empty_rows)}); "
             f"their weights and attention outputs are {'NaN' if empty_rows is opt.EmptyRows.nan else '0'} "
             "(--empty-rows)")
    arrays = {n: res.export(n) for n in names}
    meta = dict(res.meta, inputs=src.info, shapes={n: list(a.shape) for n, a in arrays.items()})
    if names_of.tokens is not None:
        meta["tokens"] = names_of.tokens if res.batched else names_of.tokens[0]
    elif names_of.queries is not None:
        meta["labels"] = names_of.queries

    def renderables():
        from attncli.render.tables import array_tables

        out = []
        for n, a in arrays.items():
            if n == "output" and res.grid is not None:  # an image: one table per channel would be noise
                a = a.reshape(*a.shape[:-3], -1, a.shape[-1])
            rows_are_keys = n in ("k", "v")
            out += array_tables(n, a, allowed=res.export_mask(n), precision=precision, batched=res.batched,
                                multihead=(res.k.shape[1] if n in ("k", "v") else res.weights.shape[1]) > 1,
                                layout="rows" if (n == "output" and res.grid is not None) else res.layout,
                                row_labels=names_of.keys if rows_are_keys else names_of.queries,
                                col_labels=names_of.keys if n in ("scores", "weights") else None)
        return out

    emit(arrays, meta, fmt_name, output, src.paths, renderables)
