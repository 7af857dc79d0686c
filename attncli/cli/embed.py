"""`attncli embed`: tokenize and embed text, and write X (with its tokens) for a pipeline."""

from __future__ import annotations

from attncli.cli import options as opt
from attncli.cli.common import Sources, emit, resolve_format, wants_text
from attncli.cli.group import app
from attncli.errors import AttnError


@app.command(epilog="Examples:\n\n  attncli embed --tokens samples/text/sentences.txt "
             "--embeddings samples/text/embeddings.txt -o x.npz\n\n"
             "  attncli embed --text 猫爱吃鱼 --tokenizer chars --embeddings samples/text/embeddings.txt\n\n"
             "  attncli embed --text \"the cat sat\" --embeddings random:16 --seed 1 --format npy | "
             "attncli compute --x - --show weights")
def embed(
    text: opt.TEXT = None, tokens: opt.TOKENS = None, ids: opt.IDS = None, tokenizer: opt.TOKENIZER = "whitespace",
    embeddings: opt.EMBEDDINGS = None, vocab: opt.VOCAB = None, oov: opt.OOV = "error", seed: opt.SEED = 0,
    fmt: opt.FORMAT = None, output: opt.OUTPUT = None, precision: opt.PRECISION = 4, debug: opt.DEBUG = False,
) -> None:
    """Write the embedded token vectors X (n × d, or a zero-padded batch × n × d with `lens`) and the tokens:
    npz holds a `tokens` array, safetensors and JSON carry them in their metadata."""
    import numpy as np

    from attncli.cli.text_input import table_labels, token_vectors
    from attncli.version import __version__

    options = dict(locals())
    if not wants_text(options):
        raise AttnError("embed needs text: --text \"...\", --tokens FILE or --ids FILE (with --embeddings)")
    fmt_name = resolve_format(None if fmt is None else fmt.value, output)
    if not 0 <= precision <= 17:
        raise AttnError(f"--precision must be between 0 and 17; got {precision}")
    src = Sources()
    tv = token_vectors(src, options)
    arrays = {"x": tv.x}
    if tv.batched:
        arrays["lens"] = np.array(tv.lens, dtype=np.int64)
    if fmt_name == "npz":
        width = tv.x.shape[-2]
        arrays["tokens"] = np.array([t + [""] * (width - len(t)) for t in tv.tokens] if tv.batched else tv.tokens[0])
    if fmt_name == "npy":
        arrays = {"x": tv.x}
    meta = {"tokens": tv.tokens if tv.batched else tv.tokens[0], "embeddings": tv.embeddings,
            "shape": list(tv.x.shape), "attncli_version": __version__}

    def renderables():
        from attncli.render.tables import array_tables

        return array_tables("x", tv.x, precision=precision, batched=tv.batched, prefixes=("t", "d"),
                            row_labels=table_labels(tv.tokens, tv.lens, tv.x.shape[-2]))

    emit(arrays, meta, fmt_name, output, src.paths, renderables)
