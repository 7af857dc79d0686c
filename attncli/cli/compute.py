"""`attncli compute`: attention maps and outputs from token vectors, text, an image, or Q/K/V."""

from __future__ import annotations

from typing import Any

from attncli.cli import options as opt
from attncli.cli.common import (
    PICTURES,
    Sources,
    check_look,
    emit,
    parse_show,
    resolve_format,
    saying_what_was_read,
    warn,
)
from attncli.cli.group import app
from attncli.cli.problem import attention_command
from attncli.vocabulary import HELP as STEP_NAMES
from attncli.vocabulary import NAMES as SHOWABLE

SHOW = opt.Annotated[str | None, opt._opt(
    "Arrays to show, comma-separated, or all (default weights,output; npy: output; heatmap, png, svg, pdf, html: "
    f"weights): {STEP_NAMES}. e.g. --show qk,scores,weights", opt.OUT, "--show")]

EPILOG = (
    "Examples:\n\n"
    "  attncli compute --x samples/self_attention/x.csv --wq samples/self_attention/wq.csv "
    "--wk samples/self_attention/wk.csv --wv samples/self_attention/wv.csv\n\n"
    "  attncli compute samples/self_attention/problem.toml --show q,k,v,weights\n\n"
    "  attncli compute samples/self_attention/problem.toml --show qk,scores,weights  # Q·Kᵀ, then /√d_k\n\n"
    "  attncli compute --x \"1 0 1 0; 0 2 0 2; 1 1 1 1\" --score dot --show scores,weights\n\n"
    "  echo \"1 0 1 0; 0 2 0 2; 1 1 1 1\" | attncli compute --x - --causal  # stdin reads as the inline text\n\n"
    "  attncli compute --q samples/self_attention/x.csv --k samples/self_attention/x.csv "
    "--v samples/self_attention/x.csv --causal --window 1 --show output -o out.npy\n\n"
    "  attncli compute --x samples/self_attention/x.csv --causal --show weights -o weights.npy  "
    "# a map past the memory budget (the least of free memory, ulimit -v, the cgroup's limit and "
    "ATTNCLI_MEMORY_LIMIT) is written to the file in blocks\n\n"
    "  attncli compute --x samples/two_heads/x.csv --weights samples/two_heads/weights.safetensors --heads 2 "
    "--rope --format json | jq .meta.shapes\n\n"
    "  attncli compute --x samples/two_heads/x.csv --weights samples/two_heads/weights.safetensors --heads 2 "
    "--causal --sinks \"0.5 -1\"  # attention sinks (gpt-oss): one logit per head joins each row's softmax\n\n"
    "  attncli compute --text \"the cat sat on the mat\" --embeddings samples/text/embeddings.txt --format heatmap\n\n"
    "  attncli compute --x samples/two_heads/x.csv --weights samples/two_heads/weights.safetensors --heads 2 "
    "-o map.png\n\n"
    "  attncli compute --x samples/self_attention/x.csv --causal --show output --backend fused  "
    "# the same numbers as --backend dense, to rounding\n\n"
    "  attncli compute --x \"1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1\" --rel-embeddings \"0.5 0 0 0; 0 0.5 0 0; "
    "0 0 0.5 0; 0 0 0 0.5\" --position-buckets 2 --max-relative-positions 4 --show scores,weights  "
    "# DeBERTa's disentangled attention: c2p and p2c over log-bucketed i − j"
)


@app.command(epilog=EPILOG)
@attention_command
def compute(
    show: SHOW = None, fmt: opt.FORMAT = None, output: opt.OUTPUT = None, precision: opt.PRECISION = 4,
    debug: opt.DEBUG = False, dpi: opt.DPI = 100, cmap: opt.CMAP = None, threads: opt.THREADS = None,
    backend: opt.BACKEND = opt.Backend.auto, *, options: dict[str, Any],
) -> None:
    """Compute attention: weights A = softmax(Q·Kᵀ/√d_k) and output A·V, with every score, normalizer,
    mask, position encoding and head layout in the catalogue."""
    fmt_name = resolve_format(None if fmt is None else str(fmt), output)
    default = ["output"] if fmt_name == "npy" else ["weights"] if fmt_name in PICTURES else ["weights", "output"]
    names = parse_show(show, SHOWABLE, default)
    look = check_look(precision, dpi, cmap)

    from attncli.cli.pipeline import compute_attention as attention
    from attncli.cli.spec import attention_kwargs
    from attncli.core.attend import rows_text
    from attncli.io.memory import available_memory
    from attncli.io.stream import MapFile

    src = Sources()
    kwargs, names_of = attention_kwargs(src, options)
    limit = available_memory()
    layout = str(options.get("layout", "rows"))
    # a map too big for memory can still go to disk, block by block: one map, to one .npy file
    to_file = fmt_name == "npy" and output is not None and names in (["weights"], ["scores"])
    with MapFile(output or "", protect=src.paths, memory_limit=limit) as disk, saying_what_was_read(src):
        res = attention(**kwargs, need=names, threads=threads, memory_limit=limit, backend=str(backend),
                        stream_maps=lambda name, **how: disk.open(name, layout=layout, **how) if to_file else None)
        if res.empty_rows:
            warn(f"{len(res.empty_rows)} query row(s) have every key masked ({rows_text(res.empty_rows)}); "
                 f"their weights and attention outputs are "
                 f"{'NaN' if str(options['empty_rows']) == 'nan' else '0'} (--empty-rows)")
        if res.streamed:
            return  # leaving the block puts the file in place
    if show is not None and show.strip() == "all" and res.x is None:
        names.remove("x")  # Q, K and V were given: there are no tokens to show
    arrays = {n: res.export(n) for n in names}
    meta = dict(res.meta, inputs=src.info, shapes={n: list(a.shape) for n, a in arrays.items()})
    if names_of.tokens is not None:
        meta["tokens"] = names_of.tokens if res.batched else names_of.tokens[0]
    elif names_of.queries is not None:
        meta["labels"] = names_of.queries

    def views():
        """(name, array, how to label it) for each shown array: what tables and pictures both need."""
        for n, a in arrays.items():
            pixels = n in ("x", "output") and res.grid is not None
            if pixels:  # an image: one table per channel would be noise
                a = a.reshape(*a.shape[:-3], -1, a.shape[-1])
            rows_are_keys = n in ("k", "v")
            yield n, a, dict(allowed=res.export_mask(n), batched=res.batched,
                             multihead=(res.k.shape[1] if n in ("k", "v") else res.q.shape[1]) > 1,
                             layout="rows" if pixels else res.layout,
                             row_labels=names_of.keys if rows_are_keys else names_of.queries,
                             col_labels=names_of.keys if n in ("qk", "scores", "weights") else None)

    def renderables():
        from attncli.render.tables import array_tables

        return [t for n, a, how in views() for t in array_tables(n, a, precision=precision, **how)]

    def maps():
        from attncli.render.maps import MapSet, map_group, title_of

        return MapSet(title_of(meta), [map_group(n, a, **how) for n, a, how in views()])

    emit(arrays, meta, fmt_name, output, src.paths, renderables, maps, look)
