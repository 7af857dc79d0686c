"""`attncli model`: every layer's and head's attention from a Hugging Face checkpoint, in numpy."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from attncli.cli import options as opt
from attncli.cli.common import PICTURES, check_look, emit, parse_show, resolve_format, warn
from attncli.cli.group import app
from attncli.errors import AttnError

SHOWABLE = ("attentions", "hidden", "stats", "scores", "q", "k", "v", "predictions", "logits")
ALL = ("attentions", "hidden", "stats")  # what --show all means (predictions and logits need a head: asked by name)
SEEN = ("q", "k", "v", "scores")  # what the kept layers' attention saw (forward.Pass.kept)
PANEL = "Model"
EPILOG = (
    "Examples:\n\n"
    "  attncli model samples/tiny_gpt --text \"sand key drum kite hen dog sand key drum kite hen dog\" --show stats\n\n"
    "  attncli model samples/tiny_gpt --text \"ring bell star lake hat map ring bell star\" --layers 1 --heads 0 "
    "--format heatmap\n\n"
    "  attncli model samples/tiny_gpt --text \"elk tree bee elk tree bee\" -o view.html\n\n"
    "  attncli model samples/tiny_gpt --ids \"5 9 12 5 9 12\" --show attentions,hidden -o out.npz\n\n"
    "  attncli model samples/tiny_gpt --text \"sand key drum sand\" --show scores,q,k,v --layers 1 --heads 0 "
    "-o seen.npz\n\n"
    "  attncli model samples/tiny_gpt --text \"sand key\" --text \"elk tree bee\" --format json | jq .meta.tokens\n\n"
    "  attncli model samples/tiny_gpt --text \"sand key drum kite hen dog sand key\" --show predictions --top-k 3\n\n"
    "  attncli model samples/tiny_gpt --text \"elk tree bee elk tree\" --show predictions,logits -o predicted.npz\n\n"
    "  HF_HUB_OFFLINE=1 HF_HUB_CACHE=empty-cache attncli model Qwen/Qwen3-0.6B --revision main --text \"the cat sat\""
    "  # exit 2"
)


def _ranges(text: str | None, count: int, option: str) -> list[int]:
    """'0,3-5' -> [0, 3, 4, 5]; −1 is the last; all when not given."""
    import re

    if text is None:
        return list(range(count))
    out: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+))?", part)
        if m is None:
            raise AttnError(f"{option} takes indices and ranges like 0,3-5 (−1 is the last); got {text!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        lo, hi = (v + count if v < 0 else v for v in (lo, hi))
        if not (0 <= lo < count and 0 <= hi < count) or hi < lo:
            raise AttnError(f"{option}: {part!r} is outside 0..{count - 1} (the model has {count})")
        out.extend(range(lo, hi + 1))
    if not out:
        raise AttnError(f"{option} takes indices and ranges like 0,3-5; got {text!r}")
    return list(dict.fromkeys(out))


@app.command(epilog=EPILOG)
def model(
    folder: Annotated[str, typer.Argument(metavar="MODEL", help="A model folder in the Hugging Face layout: "
                                          "config.json, model.safetensors (or its index and shards), tokenizer.json "
                                          "(for --text), or a Hugging Face Hub id (owner/name) when no such folder "
                                          "exists: found in the Hugging Face cache, or downloaded into it (the "
                                          "configs, tokenizer and safetensors only; needs attncli[hub]). e.g. "
                                          "samples/tiny_gpt, Qwen/Qwen3-0.6B")],
    revision: Annotated[str | None, opt._opt("The revision of a Hub id's model: a branch, tag or commit (default: "
                                             "main); a local folder has none. e.g. --revision main", PANEL,
                                             "--revision")] = None,
    text: Annotated[list[str] | None, opt._opt("Text to tokenize with the model's tokenizer.json (special tokens "
                                               "added as the model expects); repeat for a batch, padded and masked. "
                                               "e.g. --text \"the cat sat\"", PANEL, "--text")] = None,
    tokens: Annotated[list[str] | None, opt._opt("Tokens already split, separated by blanks, looked up in the "
                                                 "tokenizer's vocabulary as they are (no special tokens added); "
                                                 "repeat for a batch. e.g. --tokens \"sand key drum\"", PANEL,
                                                 "--tokens")] = None,
    ids: Annotated[list[str] | None, opt._opt("Token ids, space- or comma-separated; repeat for a batch. "
                                              "e.g. --ids \"101 7592 102\"", PANEL, "--ids")] = None,
    pair: Annotated[list[str] | None, opt._opt("A second text for each --text, joined to it as the tokenizer's pair "
                                               "template says ([CLS] A [SEP] B [SEP]), its tokens of token type 1 "
                                               "where the model has token types (encoders). "
                                               "e.g. --text \"the cat sat.\" --pair \"it was tired.\"", PANEL,
                                               "--pair")] = None,
    no_special_tokens: Annotated[bool, opt._opt("Leave out the special tokens the tokenizer adds ([CLS] ... [SEP], "
                                                "<s>). e.g. --no-special-tokens", PANEL,
                                                "--no-special-tokens")] = False,
    show: Annotated[str | None, opt._opt("What to show: attentions (default; layers × heads × n × n, batch first "
                                         "for several texts), hidden (layers+1 × n × d), stats (per layer and head: "
                                         "entropy, shares on the first, special, previous and same token, induction, "
                                         "mean distance; the heads that stand out), scores (the kept layers' "
                                         "pre-softmax scores after scale, soft-capping and masks: −inf, null in "
                                         "JSON, where masked), q, k, v (each kept head's, after q/k norms and "
                                         "RoPE; k and v of the kv head it reads): layers × heads × n × (n or "
                                         "head_dim), predictions (the head's top --top-k next tokens at each "
                                         "position with their probabilities, the text's loss and perplexity; an "
                                         "encoder's masked-LM head: the fillers of each [MASK]), logits (positions "
                                         "× vocabulary, npz/npy/safetensors). all: attentions,hidden,stats. "
                                         "e.g. --show attentions,stats",
                                         opt.OUT, "--show")] = None,
    top_k: Annotated[int | None, opt._opt("How many tokens --show predictions lists at each position, best "
                                          "first (default 5). e.g. --top-k 10", opt.OUT, "--top-k")] = None,
    layers: Annotated[str | None, opt._opt("Layers whose maps to keep: indices and ranges, −1 the last. "
                                           "e.g. --layers 0,3-5", PANEL, "--layers")] = None,
    heads: Annotated[str | None, opt._opt("Heads to keep. e.g. --heads 0,2", PANEL, "--heads")] = None,
    dtype: Annotated[str, opt._opt("float32 (as transformers runs) or float64. e.g. --dtype float64", PANEL,
                                   "--dtype", show_default=True)] = "float32",
    fmt: opt.FORMAT = None, output: opt.OUTPUT = None, precision: opt.PRECISION = 4,
    dpi: opt.DPI = 100, cmap: opt.CMAP = None, threads: opt.THREADS = None, debug: opt.DEBUG = False,
) -> None:
    """Run a checkpoint's forward pass in numpy (attncli's own attention for every layer) and show every
    layer's and head's attention map, labelled with the tokens; no PyTorch. Labels are the tokens as the
    tokenizer's decoder writes them: ␣ is a space (␣the starts a word), ⏎ a newline, <0xE7> a byte of a
    character split over tokens; JSON keeps the raw tokens in meta.tokens. Tables print · where the model's
    mask hides a key. Text whose tokens are mostly the unknown token is warned about on stderr."""
    import numpy as np

    from attncli.cli.params import speaking, spoken
    from attncli.models.checkpoint import open_checkpoint
    from attncli.models.forward import forward
    from attncli.models.hub import resolve
    from attncli.models.tokens import encode_ids, encode_texts, encode_tokens
    from attncli.models.weights import shapes
    from attncli.version import __version__

    if dtype not in ("float32", "float64"):
        raise AttnError(f"--dtype takes float32 or float64; got {dtype!r}")
    fmt_name = resolve_format(None if fmt is None else str(fmt), output)
    look = check_look(precision, dpi, cmap)
    wanted = parse_show(show, SHOWABLE, ["attentions"])
    if show is not None and show.strip() == "all":
        wanted = list(ALL)
    predicting = "predictions" in wanted or "logits" in wanted
    if predicting or top_k is not None:
        from attncli.cli.model_predict import check_request

        check_request(wanted, fmt_name, top_k, PICTURES)
    given = [name for name, value in (("--text", text), ("--tokens", tokens), ("--ids", ids)) if value]
    if len(given) > 1:
        raise AttnError(f"give one of --text, --tokens, --ids; got {given[0]} and {given[1]}")
    if not given:
        raise AttnError("give the tokens: --text \"...\" (with the model's tokenizer.json), --tokens \"a b c\" or "
                        "--ids \"1 2 3\"")
    if pair and not text:
        raise AttnError(f"--pair is the second text of a --text; {given[0]} gives tokens already made")
    local = resolve(folder, revision)  # a Hub id: its folder in the Hugging Face cache (downloaded when missing)
    ckpt = open_checkpoint(local)
    s = shapes(ckpt)
    with speaking({"tokenizer": "tokenizer.json"}):  # the tokenizer is the checkpoint's file, not an option
        seqs = (encode_texts(ckpt, text, special=not no_special_tokens, pairs=pair) if text
                else encode_tokens(ckpt, tokens) if tokens else encode_ids(ckpt, ids))  # type: ignore[arg-type]
    for message in seqs.warnings:  # text the tokenizer cannot read: said, not refused (the maps are still real)
        warn(spoken(message))
    shown = seqs.shown()  # labels as the tokenizer's decoder writes them; meta.tokens keeps the vocabulary's
    pick_layers = _ranges(layers, s.layers, "--layers")
    pick_heads = _ranges(heads, s.heads, "--heads")
    lens = [len(t) for t in seqs.ids]
    n = max(lens)
    batch = np.full((len(lens), n), seqs.pad_id, dtype=np.int64)
    for b, row in enumerate(seqs.ids):
        batch[b, : len(row)] = row
    types = None
    if seqs.types is not None:  # sentence pairs: each token's type (0 for A, 1 for B), padded with 0
        types = np.zeros_like(batch)
        for b, row in enumerate(seqs.types):
            types[b, : len(row)] = row
    seen = tuple(name for name in SEEN if name in wanted)
    maps_needed = "attentions" in wanted or "stats" in wanted or bool(seen)
    head = None
    if predicting:  # the head's tensors checked before the pass
        from attncli.models.predict import head_of

        head = head_of(ckpt, s, np.dtype(dtype))
    result = forward(ckpt, batch, lens if len(lens) > 1 else None, layers=pick_layers if maps_needed else [],
                     hidden="hidden" in wanted, dtype=dtype, threads=threads, heads=pick_heads, types=types,
                     last=predicting, keep=seen)
    several = len(lens) > 1
    arrays: dict[str, Any] = {}
    att = result.attentions  # (B, L, H, n, n), or None
    if "attentions" in wanted:  # (B, L, H, n, n), or (L, H, n, n) for one text
        arrays["attentions"] = att if several else att[0]
    if "hidden" in wanted:
        hid = np.stack(result.hidden, axis=1)  # (B, L+1, n, d)
        arrays["hidden"] = hid if several else hid[0]
    for name in seen:  # (B, L, H, n, ·), or (L, H, n, ·) for one text
        arrays[name] = result.kept[name] if several else result.kept[name][0]
    arrays["ids"] = batch if several else batch[0]
    if types is not None:
        arrays["token_type_ids"] = types if several else types[0]
    pred_tables: list[Any] = []
    if head is not None:
        from attncli.cli import model_predict as mp
        from attncli.models.predict import predict
        from attncli.models.tokens import namer

        k = 5 if top_k is None else top_k
        pred = predict(head, result.last, batch, lens, k, "logits" in wanted)
        if "predictions" in wanted:
            mp.require_masks(pred, seqs, lens)
        with speaking({"tokenizer": "tokenizer.json"}):
            name = namer(ckpt)
        if fmt_name in ("csv", "tsv") and "predictions" in wanted:
            mp.write_csv(pred, seqs, lens, name, fmt_name, output)
            return
        arrays.update(mp.arrays_of(pred, seqs, lens, fmt_name, wanted, name))
        if fmt_name == "table" and "predictions" in wanted:
            from attncli.render.predictions import prediction_renderables

            pred_tables = prediction_renderables(mp.rows_of(pred, seqs, lens, name), min(k, head.weight.shape[0]),
                                                 precision)
    found: list[dict] = []
    if "stats" in wanted:
        from attncli.models.stats import head_table, standouts

        arrays["stats"] = head_table(att, seqs.ids, lens, pick_layers, pick_heads, seqs.special)
        found = standouts(arrays["stats"])
        arrays["standouts"] = found
    meta: dict[str, Any] = {
        "model": ckpt.config.get("_name_or_path") or (folder if local != folder else ckpt.folder.name),
        "model_type": ckpt.family.name,
        "source": ckpt.family.source, "tokens": seqs.tokens if several else seqs.tokens[0],
        "labels": shown if several else shown[0],
        **({"pairs": pair} if pair else {}),
        "lengths": lens, "layers": pick_layers, "heads": pick_heads, "dtype": dtype,
        **({"top_k": 5 if top_k is None else top_k} if "predictions" in wanted else {}),
        **({"head": head.source} if head is not None else {}),
        "shapes": {k: list(v.shape) for k, v in arrays.items() if isinstance(v, np.ndarray)},
        "attncli_version": __version__,
    }
    if fmt_name in ("csv", "tsv") and "stats" in wanted:
        _write_stats_table(arrays["stats"], fmt_name, output)
        return
    if fmt_name in ("npy", "npz", "safetensors", "csv", "tsv"):  # arrays only; statistics are in the text formats
        arrays = {k: v for k, v in arrays.items() if k not in ("stats", "standouts")}
        if fmt_name == "npy":  # one array: the first asked for
            first = next(w for w in wanted if w in arrays)
            arrays = {first: arrays[first]}

    def masks() -> Any:  # where each text's queries may look (causal, window, padding): drawn and printed as masked
        if "attentions" not in wanted and "scores" not in wanted:
            return None
        full = (batch.shape[0], s.heads, n, n)  # one layer's maps, every head
        return np.stack([np.broadcast_to(result.allowed[i], full)[:, pick_heads] if result.allowed[i] is not None
                         else np.ones((batch.shape[0], len(pick_heads), n, n), dtype=bool)
                         for i in pick_layers], axis=1)  # (B, L, H, n, n)

    if fmt_name == "html" and "attentions" in wanted:  # the model view and the head view (render/model_html.py)
        _write_page(att, masks(), shown, pick_layers, pick_heads, meta["model"], look, output)
    else:
        emit(arrays, meta, fmt_name, output, [],
             lambda: _render().tables_of(arrays, shown, pick_layers, pick_heads, lens, precision, masks())
             + pred_tables,
             lambda: _render().maps_of(arrays, shown, pick_layers, pick_heads, lens, meta["model"], masks()),
             look)
    if "stats" in wanted and fmt_name in PICTURES and "attentions" in wanted and (fmt_name == "heatmap" or output):
        # the statistics after the pictures: on the terminal, never into a picture written to standard output
        from attncli.cli.common import print_renderables
        from attncli.render.model_maps import stats_renderables

        print_renderables(stats_renderables(arrays["stats"], found, precision))


def _render() -> Any:
    """render.model_maps, imported only for the formats that draw or print (not npy, npz, safetensors)."""
    from attncli.render import model_maps

    return model_maps


def _write_page(att: Any, masks: Any, tokens: list[list[str]], layers: list[int], heads: list[int], name: str,
                look: Any, output: str | None) -> None:
    import sys

    from attncli.render.model_html import model_page

    data = model_page(att, masks, tokens, layers, heads, f"attention · {name}", look.precision, look.cmap).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        from attncli.io import atomic_write

        atomic_write(output, data)


STATS_COLUMNS = ("layer", "head", "entropy", "first", "special", "previous", "self", "distance", "induction")


def _write_stats_table(rows: list[dict], fmt: str, output: str | None) -> None:
    """--show stats as CSV/TSV: a header, then one row per layer and head (empty where a share has no query)."""
    import sys

    sep = "," if fmt == "csv" else "\t"
    lines = [sep.join(STATS_COLUMNS)]
    lines += [sep.join("" if r[c] is None else (str(r[c]) if c in ("layer", "head") else repr(float(r[c])))
                       for c in STATS_COLUMNS) for r in rows]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        from attncli.io import atomic_write

        atomic_write(output, data)
