"""`attncli pe` and `attncli mask`: print or export what positions and masks look like, without attention."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from attncli.cli import options as opt
from attncli.cli.common import Look, Sources, check_look, emit, parse_int_list, resolve_format, saying_what_was_read
from attncli.cli.group import app
from attncli.errors import AttnError


class PeKind(StrEnum):
    sinusoidal = "sinusoidal"
    rope = "rope"
    alibi = "alibi"


LENGTH = Annotated[int, opt._opt("Number of positions (tokens) n. e.g. --length 8", "Shape", "--length", "-n")]


@app.command(epilog="Examples:\n\n  attncli pe --kind sinusoidal --length 8 --dim 6\n\n"
             "  attncli pe --kind alibi --length 5 --heads 4 --causal --format json | jq .pe\n\n"
             "  attncli pe --kind rope --length 16 --dim 64 -o angles.npy")
def pe(
    kind: Annotated[PeKind, opt._opt("sinusoidal: the n × d table added to X; rope: the n × d/2 rotation angles "
                                     "θ = pos·base^(−2i/d); alibi: the heads × n × n bias. e.g. --kind rope",
                                     "Shape", "--kind", show_default=True)] = PeKind.sinusoidal,
    length: LENGTH = 8,
    dim: Annotated[int | None, opt._opt("Model (sinusoidal) or per-head (rope) dimension d. e.g. --dim 64",
                                        "Shape", "--dim")] = None,
    heads: Annotated[int, opt._opt("Heads, for alibi. e.g. --heads 8", "Shape", "--heads", show_default=True)] = 8,
    causal: opt.CAUSAL = False,
    pe_base: opt.PE_BASE = 10000.0, pe_layout: opt.PE_LAYOUT = opt.PeLayout.interleaved,
    rope_base: opt.ROPE_BASE = 10000.0, start_pos: opt.START_POS = 0,
    fmt: opt.FORMAT = None, output: opt.OUTPUT = None, precision: opt.PRECISION = 4, debug: opt.DEBUG = False,
    dpi: opt.DPI = 100, cmap: opt.CMAP = None,
) -> None:
    """Print or export a positional table: sinusoidal encodings, RoPE angles or ALiBi biases."""
    import numpy as np

    from attncli.core import positions as pos

    fmt_name = resolve_format(None if fmt is None else fmt.value, output)
    if length < 1:
        raise AttnError(f"--length must be ≥ 1; got {length}")
    if kind is not PeKind.alibi and dim is None:
        raise AttnError(f"--kind {kind} needs --dim D (the {'model' if kind is PeKind.sinusoidal else 'head'} "
                        "dimension)")
    if kind is not PeKind.alibi and (dim < 2 or dim % 2):
        raise AttnError(f"--dim must be even and ≥ 2 for --kind {kind}; got {dim}")
    if kind is PeKind.sinusoidal:
        check_table_memory(f"--length {length} --dim {dim}", "the sinusoidal table", (length, dim), 8, fmt_name,
                           ["a shorter --length or a smaller --dim"])
        table = pos.sinusoidal(length, dim, base=pe_base, layout=str(pe_layout))
        labels = ("p", "d")
    elif kind is PeKind.rope:
        check_table_memory(f"--length {length} --dim {dim}", "the RoPE angles", (length, dim // 2), 8, fmt_name,
                           ["a shorter --length or a smaller --dim"])
        table = pos.rope_angles(start_pos + np.arange(length), dim, rope_base)
        labels = ("p", "θ")
    else:
        if heads < 1:
            raise AttnError(f"--heads must be ≥ 1; got {heads}")
        check_table_memory(f"--length {length} --heads {heads}", "the ALiBi biases", (heads, length, length), 8,
                           fmt_name, ["a shorter --length", "fewer --heads"])
        table = pos.alibi_bias(heads, length, length, causal=causal)
        labels = ("q", "k")
    meta = {"kind": str(kind), "length": length, "dim": dim, "base": rope_base if kind is PeKind.rope else pe_base,
            "layout": str(pe_layout) if kind is PeKind.sinusoidal else None,
            "heads": heads if kind is PeKind.alibi else None, "causal": causal if kind is PeKind.alibi else None,
            "slopes": pos.alibi_slopes(heads).tolist() if kind is PeKind.alibi else None}
    _emit_one("pe", table, meta, fmt_name, output, precision, labels, [], multihead=kind is PeKind.alibi,
              look=check_look(precision, dpi, cmap), title=f"{kind} positions" if kind is not PeKind.alibi
              else "ALiBi bias" + (" · causal" if causal else ""))


@app.command(epilog="Examples:\n\n  attncli mask --length 6 --causal --window 2\n\n"
             "  attncli mask --length 4 --key-lens 4,2 --format json | jq .mask\n\n"
             "  attncli mask --grid 3,3 --window2d 3\n\n"
             "  attncli mask --edges samples/graph/edges.txt --length 5 --undirected --self-loops")
def mask(
    length: LENGTH = 0,
    length_k: Annotated[int | None, opt._opt("Number of keys n_k when it differs from --length (cross-attention). "
                                             "e.g. --length-k 10", "Shape", "--length-k")] = None,
    grid: Annotated[str | None, opt._opt("Pixel grid H,W for --window2d (length = H·W). e.g. --grid 4,4",
                                         "Shape", "--grid")] = None,
    causal: opt.CAUSAL = False, window: opt.WINDOW = None, key_lens: opt.KEY_LENS = None,
    query_lens: opt.QUERY_LENS = None, mask: opt.MASK_ = None, mask_invert: opt.MASK_INVERT = False,
    adjacency: opt.ADJACENCY = None, edges: opt.EDGES = None, undirected: opt.UNDIRECTED = False,
    self_loops: opt.SELF_LOOPS = False, window2d: opt.WINDOW2D = None, layout: opt.LAYOUT = opt.Layout.rows,
    fmt: opt.FORMAT = None, output: opt.OUTPUT = None, debug: opt.DEBUG = False,
    dpi: opt.DPI = 100, cmap: opt.CMAP = None,
) -> None:
    """Print or export the combined boolean mask (1 = may attend) that these mask options make."""
    import numpy as np

    from attncli.cli.checks import parse_window
    from attncli.cli.layout import from_rows, to_rows
    from attncli.cli.spec import _edges
    from attncli.core import masks as mk
    from attncli.render.maps import masks_text

    fmt_name = resolve_format(None if fmt is None else fmt.value, output)
    src = Sources()
    hw = None
    if grid is not None:
        hw = parse_int_list(grid, "--grid")
        if len(hw) != 2 or min(hw) < 1:
            raise AttnError(f"--grid takes H,W (two positive integers); got {grid!r}")
        if length and length != hw[0] * hw[1]:
            raise AttnError(f"--length {length} contradicts --grid {grid} ({hw[0] * hw[1]} pixels)")
        length = hw[0] * hw[1]
    m_arr = src.array(mask, "--mask")
    adj = src.array(adjacency, "--adjacency")
    if length == 0 and adj is not None:
        length = adj.shape[-1]
    if length < 1:
        raise AttnError("--length N is needed (the number of tokens), e.g. --length 6")
    n_k = length_k or length
    k_lens, q_lens = parse_int_list(key_lens, "--key-lens"), parse_int_list(query_lens, "--query-lens")
    batch = len(k_lens or q_lens or [0])
    sizes = (f"--grid {grid}" if hw else f"--length {length}") + (f" --length-k {n_k}" if n_k != length else "")
    check_table_memory(sizes, "the mask", (batch, length, n_k), 1, fmt_name,  # booleans
                       ["a smaller " + " or ".join(s for s in sizes.split() if s.startswith("--"))])
    cols = layout is opt.Layout.cols
    from attncli.cli.spec import graph_of
    from attncli.core.spec import Spec, Window2d

    if window2d is not None and hw is None:
        raise AttnError("--window2d needs an image (--image H × W × C) to know the pixel grid")
    with saying_what_was_read(src):
        spec = Spec(causal=bool(causal), window=parse_window(window), key_lens=k_lens, query_lens=q_lens,
                    mask=None if m_arr is None else mk.as_bool_mask(to_rows(m_arr) if cols else m_arr,
                                                                    invert=mask_invert),
                    graph=graph_of(None if adj is None else (to_rows(adj) if cols else adj), _edges(src, edges),
                                   undirected, self_loops),
                    window2d=None if window2d is None else Window2d(window2d, (hw[0], hw[1])))
        m = mk.combine((batch, 1, length, n_k), spec)
    allowed = np.ones((batch, length, n_k), dtype=bool)
    if m.allowed is not None:
        allowed = np.broadcast_to(m.allowed, (batch, 1, length, n_k))[:, 0].copy()
    if k_lens is None and q_lens is None:
        allowed = allowed[0]
    if cols:
        allowed = from_rows(allowed)
    meta = {"length": length, "length_k": n_k, "layout": str(layout), "masks": m.described,
            "allowed": int(allowed.sum()), "total": int(allowed.size)}
    _emit_one("mask", allowed, meta, fmt_name, output, 0, ("k", "q") if cols else ("q", "k"), src.paths,
              batched=allowed.ndim == 3, look=check_look(0, dpi, cmap),
              title="mask · " + (", ".join(masks_text(m.described)) or "no masks"))


def _emit_one(name, a, meta, fmt_name, output, precision, labels, protect, *, batched=False, multihead=False,
              look: Look | None = None, title: str = "") -> None:
    import numpy as np

    meta = dict(meta, shape=list(a.shape))
    from attncli.version import __version__

    meta["attncli_version"] = __version__

    def renderables():
        from attncli.render.tables import array_tables

        if a.dtype == bool:  # 1 where attention is allowed, · where masked
            return array_tables(name, a.astype(np.int8), allowed=a, precision=0, batched=batched,
                                row_labels=None, col_labels=None, prefixes=labels)
        return array_tables(name, a, precision=precision, batched=batched, multihead=multihead, prefixes=labels)

    def maps():
        from attncli.render.maps import MapSet, map_group

        if a.dtype == bool:  # allowed cells drawn at 1, masked ones as masked
            group = map_group(name, a.astype(np.float64), allowed=a, batched=batched, prefixes=labels)
        else:
            group = map_group(name, a, batched=batched, multihead=multihead, prefixes=labels)
        return MapSet(title, [group])

    emit({name: a}, meta, fmt_name, output, protect, renderables, maps, look)


# Bytes per cell that writing a table costs beyond the array itself (measured peaks, rounded up): JSON and
# CSV hold a Python number and its text per cell; pictures a float64 copy, masks and block means.
# Tables show corners only; npy, npz and safetensors write the array's own bytes.
OUTPUT_BYTES = {"json": 128, "csv": 80, "tsv": 80, "heatmap": 24, "html": 24, "png": 24, "svg": 24, "pdf": 24}
COPIES = 3  # the table, the temporaries that build it (angles, sin, cos; distances), and one copy on output


def check_table_memory(option: str, what: str, shape: tuple[int, ...], itemsize: int, fmt: str,
                       tries: list[str]) -> None:
    """Refuse, before anything is allocated, a generated table whose making and writing would not fit in
    memory: cells × (3 copies × itemsize + what the output format costs per cell). `option` names the options
    that set the size, with their values ("--length 100000"); the message names them, the estimate, the limit
    and `tries` (the first one followed by the table's shape)."""
    import math

    from attncli.io.memory import check_allocation

    cells = math.prod(shape)
    need = cells * (COPIES * itemsize + OUTPUT_BYTES.get(fmt, 0))
    dims = " × ".join(str(s) for s in shape if s != 1) or "1"
    as_fmt = f" written as {fmt}" if fmt in OUTPUT_BYTES else ""
    tries = [f"{tries[0]} ({dims} cells{as_fmt})", *tries[1:]]
    if fmt in ("json", "csv", "tsv"):
        tries.append("-o table.npy (binary output costs least)")
    check_allocation(need, what, tries, option=option)
