"""--text / --tokens / --ids with --embeddings: token vectors X (padded into a batch) and their labels."""

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
    from attncli.text.tokenize import load_tokenizer, read_lines

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
    vocab = None if o.get("vocab") is None else _vocab(o["vocab"])

    if given[0] == "ids":
        seqs = []
        for n, line in enumerate(read_lines(o["ids"], "--ids"), start=1):
            try:
                seqs.append([int(t) for t in line.replace(",", " ").split()])
            except ValueError:
                raise AttnError(f"--ids line {n}: ids must be integers; got {line!r}") from None
        matrix = src.array(emb, "--embeddings")
        arrays, tokens = em.embed_ids(seqs, matrix, vocab)
        return _batch(arrays, tokens, emb, o)

    tokenizer = load_tokenizer(o.get("tokenizer") or "whitespace")
    lines = [o["text"]] if given[0] == "text" else read_lines(o["tokens"], "--tokens")
    encoded = [tokenizer(line) for line in lines]
    seqs = [toks for toks, _ in encoded]
    if any(not s for s in seqs):
        raise AttnError(f"--{given[0]}: a sequence has no tokens after --tokenizer {tokenizer.name}")
    if emb == "onehot":
        table = em.onehot_table([t for s in seqs for t in s])
    elif emb.startswith("random:"):
        try:
            text = emb[len("random:"):]
            dim = int(text) if len(text) <= 18 else -1  # more digits than any table could have
            assert dim > 0
        except (ValueError, AssertionError):
            raise AttnError(f"--embeddings random:DIM needs a positive integer DIM; got {shorten(emb)}") from None
        seed = o.get("seed", 0)
        if not isinstance(seed, int) or seed < 0:
            raise AttnError(f"--seed takes a whole number, 0 or more; got {shorten(str(seed))}")
        table = em.random_table([t for s in seqs for t in s], dim, seed)
    elif vocab is not None:
        table = em.vocab_table(vocab, src.array(emb, "--embeddings"), emb)
    elif encoded[0][1] is not None and not _is_word_vectors(emb):
        # a tokenizer.json with a model's embedding table: its ids are the rows
        arrays, _ = em.embed_ids([ids for _, ids in encoded], src.array(emb, "--embeddings"), None)
        return _batch(arrays, seqs, emb, o)
    else:
        wanted = {t for s in seqs for t in s}  # only these vectors are kept (and the --oov unk:TOKEN one)
        unk = em.parse_oov(o.get("oov") or "error")[1]
        table = em.read_word_vectors(_read_bytes(emb), emb, wanted | ({unk} if unk is not None else set()))
    arrays, kept = em.embed(seqs, table, o.get("oov") or "error")
    return _batch(arrays, kept, table.source, o)


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


def _vocab(path: str) -> list[str]:
    data = _read_bytes(path, "--vocab", cost=8)  # the text and its lines
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise AttnError(f"--vocab: '{path}' is not UTF-8 text") from None
    vocab = [ln.strip() for ln in lines]
    while vocab and not vocab[-1]:
        vocab.pop()
    if not vocab:
        raise AttnError(f"--vocab: '{path}' is empty (one token per line)")
    return vocab


def _read_bytes(path: str, option: str = "--embeddings", cost: int = 1) -> bytes:
    from attncli.io.files import read_input

    if option == "--embeddings" and not os.path.lexists(path):
        raise AttnError(f"{option}: no such file {shorten(path)} (or give onehot, or random:DIM)")
    return read_input(path, Src(option, path), cost=cost)


def _is_word_vectors(source: str) -> bool:
    """A word-vector text file starts with a token that is not a number (after an optional header)."""
    if not os.path.isfile(source):  # a pipe is read once, as a matrix SOURCE
        return False
    from attncli.io.files import note_input_path

    note_input_path(source)
    with open(source, "rb") as f:
        head = f.read(4096)
    if head.startswith((b"\x93NUMPY", b"PK")) or head[8:9] == b"{":
        return False
    for line in head.decode("utf-8", "replace").splitlines()[:2]:
        parts = line.split()
        if len(parts) >= 2:
            try:
                float(parts[0])
            except ValueError:
                return True
    return False


def read_labels(spec: str | None) -> list[str] | None:
    """--labels FILE (one per line) or "a,b,c"."""
    if spec is None:
        return None
    if os.path.isfile(spec):
        data = _read_bytes(spec, "--labels", cost=8)
        try:
            labels = [ln.strip() for ln in data.decode("utf-8-sig").splitlines() if ln.strip()]
        except UnicodeDecodeError:
            raise AttnError(f"--labels: '{spec}' is not UTF-8 text") from None
    else:
        labels = [t.strip() for t in spec.split(",")]
    if not labels or any(not t for t in labels):
        raise AttnError(f"--labels takes a file with one label per line or comma-separated labels like "
                        f"\"I,love,fish\"; got {spec!r}")
    return labels


def table_labels(tokens: list[list[str]], lens: list[int] | None, n: int) -> list[str] | list[list[str]]:
    """Disambiguated labels per sequence, padded positions marked; one list, or one per batch item."""
    from attncli.text.tokenize import disambiguate

    out = [disambiguate(t) + [f"·pad{i}" for i in range(len(t), n)] for t in tokens]
    return out if lens is not None else out[0]
