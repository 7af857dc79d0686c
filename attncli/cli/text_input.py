"""--text / --tokens / --ids with --embeddings: token vectors X (padded into a batch) and their labels.

This module maps the options to their sources: it reads the files through attncli.io (capped, remembered as
inputs) and hands their bytes and strings to attncli.text, which tokenizes, parses and embeds; and it checks that a
table's memory fits before one is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.cli.common import TEXT_OPTIONS, Sources
from attncli.errors import AttnError
from attncli.io._common import Src, shorten


@dataclass
class TokenVectors:
    x: np.ndarray  # (n, d), or (B, n_max, d) for several sequences
    tokens: list[list[str]]  # per sequence, as tokenized (before disambiguation)
    lens: list[int] | None  # per sequence, when batched
    embeddings: str

    @property
    def batched(self) -> bool:
        return self.lens is not None


def token_vectors(src: Sources, o: dict[str, Any]) -> TokenVectors:
    """Tokenize and embed the text options of `o` (parameter name -> value)."""
    from attncli.text import embeddings as em
    from attncli.text import tokenize as tk

    given = [k for k in TEXT_OPTIONS if o.get(k) is not None]
    if len(given) > 1:
        raise AttnError(f"give one of --text, --tokens, --ids; got --{given[0]} and --{given[1]}")
    for other in ("x", "q", "image"):
        if o.get(other) is not None:
            raise AttnError(f"--{given[0]} makes the token vectors X; it does not combine with --{other}")
    emb = o.get("embeddings")
    if emb is None:
        raise AttnError(f"--{given[0]} needs --embeddings: a GloVe/word2vec text file, a matrix with --vocab, "
                        "onehot, or random:DIM (e.g. --embeddings random:8)")
    vocab = None if o.get("vocab") is None else em.parse_vocab(_read_bytes(o["vocab"], "--vocab", cost=8), o["vocab"])

    if given[0] == "ids":
        seqs = tk.parse_ids(_sequences(o["ids"], "ids"))
        matrix = src.array(emb, "--embeddings")
        arrays, tokens = em.embed_ids(seqs, matrix, vocab)
        return _batch(arrays, tokens, emb, o)

    tokenizer = _tokenizer(o.get("tokenizer") or "whitespace")
    lines = [o["text"]] if given[0] == "text" else _sequences(o["tokens"], "tokens")
    encoded = [tokenizer(line) for line in lines]
    seqs = [toks for toks, _ in encoded]
    if any(not s for s in seqs):
        raise AttnError(f"--{given[0]}: a sequence has no tokens after --tokenizer {tokenizer.name}")
    source = em.parse_source(emb)  # onehot, random:DIM or a file
    everything = [t for s in seqs for t in s]
    if source.kind == "onehot":
        distinct = len(set(everything))
        _check_table(distinct, len(everything), distinct, "--embeddings onehot",
                     ["--embeddings random:DIM (DIM numbers per token instead of one per distinct token)",
                      "fewer distinct tokens"])
        table = em.onehot_table(everything)
    elif source.kind == "random":
        seed = o.get("seed", 0)
        if not isinstance(seed, int) or seed < 0:
            raise AttnError(f"--seed takes a whole number, 0 or more; got {shorten(str(seed))}")
        dim, distinct = source.dim, len(set(everything))
        _check_table(distinct, len(everything), dim, f"--embeddings random:{dim}",
                     ["a smaller DIM", "fewer distinct tokens"])
        table = em.random_table(everything, dim, seed)
    elif vocab is not None:
        table = em.vocab_table(vocab, src.array(emb, "--embeddings"), emb)
    elif encoded[0][1] is not None and not _word_vectors(emb):
        # a tokenizer.json with a model's embedding table: its ids are the rows
        arrays, _ = em.embed_ids([ids for _, ids in encoded], src.array(emb, "--embeddings"), None)
        return _batch(arrays, seqs, emb, o)
    else:
        wanted = set(everything)  # only these vectors are kept (and the --oov unk:TOKEN one)
        unk = em.parse_oov(o.get("oov") or "error")[1]
        data = _read_bytes(emb)
        _check_memory(len(data) * em.WORD_VECTORS_COST, f"scanning the word vectors of '{emb}' "
                      f"({len(data) / 2**20:.3g} MB)", ["a smaller vector file (only the tokens you need)"],
                      "--embeddings")
        table = em.read_word_vectors(data, emb, wanted | ({unk} if unk is not None else set()))
    arrays, kept = em.embed(seqs, table, o.get("oov") or "error")
    return _batch(arrays, kept, table.source, o)


def _tokenizer(name: str):
    """--tokenizer: whitespace, chars, or the path of a tokenizer.json (read here, parsed by attncli.text)."""
    from attncli.io.files import read_input
    from attncli.text.tokenize import BUILTIN, TOKENIZER_COST, Tokenizer, require_tokenizers, tokenizer_from_json

    if name in BUILTIN:
        return Tokenizer(name)
    if not os.path.exists(name) or os.path.isdir(name):
        raise AttnError(f"--tokenizer takes whitespace, chars, or the path of a tokenizer.json; "
                        f"'{name}' is neither (no such file)")
    require_tokenizers()
    # read through the one input opener (remembered, so -o never replaces it; capped; a FIFO announced)
    return tokenizer_from_json(read_input(name, Src("--tokenizer", name), cost=TOKENIZER_COST), name)


def _sequences(path: str, name: str) -> list[str]:
    """--tokens/--ids FILE ('-': standard input): its sequences, one per line."""
    from attncli.io.files import read_input, read_stdin
    from attncli.text.tokenize import LINES_COST, sequence_lines

    option = f"--{name}"
    # the one input opener: capped, remembered (never overwritten by -o), a silent FIFO announced
    data = read_stdin(Src(option, "standard input")) if path == "-" else read_input(path, Src(option, path),
                                                                                       cost=LINES_COST)
    return sequence_lines(data, path, name)


def _check_table(vocab: int, tokens: int, dim: int, option: str, tries: list[str]) -> None:
    """Refuse, before it is built, a generated table (vocab × dim) and its tokens' vectors that would not fit."""
    from attncli.text.embeddings import table_bytes

    _check_memory(table_bytes(vocab, tokens, dim), f"a {vocab} × {dim} table and the vectors of {tokens} tokens",
                  tries, option)


def _check_memory(need: int, what: str, tries: list[str], option: str) -> None:
    from attncli.io.memory import check_allocation

    check_allocation(need, what, tries, option=option)


def _batch(arrays: list[np.ndarray], tokens: list[list[str]], source: str, o: dict[str, Any]) -> TokenVectors:
    if not o.get("allow_nonfinite"):  # name the token and the table, not the --x they become
        for n, (a, toks) in enumerate(zip(arrays, tokens, strict=True), start=1):
            bad = np.flatnonzero(~np.isfinite(a).all(axis=-1))
            if bad.size:
                i = int(bad[0])
                value = a[i][~np.isfinite(a[i])][0]
                where = f"sequence {n}, position {i}" if len(arrays) > 1 else f"position {i}"
                raise AttnError(f"--embeddings: the vector of token {toks[i]!r} ({where}) holds {value} in "
                                f"{source}; fix that row of the table, or pass --allow-nonfinite")
    if len(arrays) == 1:
        return TokenVectors(arrays[0], tokens, None, source)
    from attncli.text.embeddings import pad_batch

    x, lens = pad_batch(arrays)
    return TokenVectors(x, tokens, lens, source)


def _read_bytes(path: str, option: str = "--embeddings", cost: int = 1) -> bytes:
    from attncli.io.files import read_input

    if option == "--embeddings" and not os.path.lexists(path):
        raise AttnError(f"{option}: no such file {shorten(path)} (or give onehot, or random:DIM)")
    return read_input(path, Src(option, path), cost=cost)


def read_labels(spec: str | None) -> list[str] | None:
    """--labels FILE (one per line) or "a,b,c"."""
    from attncli.text.labels import parse_labels

    if spec is None:
        return None
    return parse_labels(spec, _read_bytes(spec, "--labels", cost=8) if os.path.isfile(spec) else None)


def table_labels(tokens: list[list[str]], lens: list[int] | None, n: int) -> list[str] | list[list[str]]:
    """Disambiguated labels per sequence, padded positions marked; one list, or one per batch item."""
    from attncli.text.tokenize import disambiguate

    out = [disambiguate(t) + [f"·pad{i}" for i in range(len(t), n)] for t in tokens]
    return out if lens is not None else out[0]


def _word_vectors(path: str) -> bool:
    """Whether --embeddings is a word-vector text file (not a matrix); the file is an input from here on."""
    from attncli.io.files import note_input_path
    from attncli.io.sniff import word_vectors_file

    note_input_path(path)  # never overwritten by an output
    return word_vectors_file(path)
