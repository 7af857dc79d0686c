"""Embeddings: from tokens (or ids) to the vectors X that attention starts from.

Sources:
  a word2vec/GloVe text file   "token v1 ... vd" per line (a word2vec "count dim" header is skipped);
  --vocab FILE + a matrix      line number of the vocabulary = row of the matrix (any SOURCE);
  onehot                       the sorted set of the input's tokens, one-hot (it carries no meaning);
  random:DIM                   a fixed random vector per distinct token, from --seed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from attncli.errors import AttnError
from attncli.io._common import shorten

OOV_POLICIES = ("error", "zero", "skip")  # and "unk:TOKEN"


@dataclass
class Table:
    """A vocabulary and its vectors: row `index[token]` of `vectors` embeds `token`."""

    vectors: np.ndarray  # (V, d)
    index: dict[str, int]
    source: str

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]


# bytes of memory per byte of a word-vector file while it is scanned: the bytes, the decoded text and its lines
WORD_VECTORS_COST = 4


def read_word_vectors(data: bytes, source: str, wanted: set[str] | None = None) -> Table:
    """Parse a GloVe or word2vec text file (UTF-8): 'token v1 ... vd' per line.

    Every line is checked (numbers, one dimension, each token once), but only the vectors of `wanted`
    tokens (None: all) are kept, so a 1 GB GloVe file costs its text, not 10 GB of Python floats."""
    from attncli.io.memory import check_allocation

    check_allocation(len(data) * WORD_VECTORS_COST, f"scanning the word vectors of '{source}' "
                     f"({len(data) / 2**20:.3g} MB)", ["a smaller vector file (only the tokens you need)"],
                     option="--embeddings")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AttnError(f"--embeddings: '{source}' line {line} is not UTF-8; word-vector files must be UTF-8 "
                        "text") from None
    del data
    seen: set[str] = set()
    tokens: list[str] = []
    rows: list[list[float]] = []
    index: dict[str, int] = {}
    dim = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec header: "count dim"
        token, values = parts[0], parts[1:]
        if not values:
            raise AttnError(f"--embeddings: '{source}' line {lineno}: token {shorten(token)} has no vector")
        if dim is None:
            dim = len(values)
        elif len(values) != dim:
            raise AttnError(f"--embeddings: '{source}' line {lineno}: token {shorten(token)} has {len(values)} "
                            f"numbers but earlier lines have {dim}; every vector needs the same dimension")
        if token in seen:
            raise AttnError(f"--embeddings: '{source}' line {lineno}: token {shorten(token)} appears twice")
        seen.add(token)
        try:
            vec = [float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise AttnError(f"--embeddings: '{source}' line {lineno}: {shorten(bad)} is not a number "
                            f"(token {shorten(token)})") from None
        if not all(math.isfinite(v) for v in vec):
            raise AttnError(f"--embeddings: '{source}' line {lineno}: token {shorten(token)} has a NaN or Inf "
                            "value")
        if wanted is not None and token not in wanted:
            continue  # checked, not kept
        index[token] = len(tokens)
        tokens.append(token)
        rows.append(vec)
    if dim is None:
        raise AttnError(f"--embeddings: '{source}' holds no vectors ('token v1 ... vd' per line)")
    return Table(np.array(rows, dtype=np.float64).reshape(len(rows), dim), index, source)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def check_matrix(matrix: np.ndarray, what: str) -> None:
    """An embedding table is a real V × d matrix with at least one row and one column."""
    if matrix.ndim != 2:
        raise AttnError(f"--embeddings must be a V × d matrix ({what}); got shape {matrix.shape}")
    if matrix.dtype.kind not in "biuf":
        raise AttnError(f"--embeddings must hold real numbers; got dtype {matrix.dtype}")
    if matrix.size == 0:
        raise AttnError(f"--embeddings is empty (shape {matrix.shape}); it needs a row per token and d ≥ 1 columns")


def vocab_table(vocab: list[str], matrix: np.ndarray, source: str) -> Table:
    """--vocab FILE (line number = id) with --embeddings MATRIX (V × d)."""
    check_matrix(matrix, "one row per vocabulary entry")
    if matrix.shape[0] < len(vocab):
        raise AttnError(f"--vocab has {len(vocab)} tokens but --embeddings has only {matrix.shape[0]} rows")
    index: dict[str, int] = {}
    for i, t in enumerate(vocab):
        index.setdefault(t, i)
    return Table(matrix, index, source)


def check_table_memory(option: str, vocab: int, tokens: int, dim: int, tries: list[str]) -> None:
    """Refuse, before allocating, a generated table (V × d) and the vectors it gives the input's tokens
    (n × d, and a padded copy) when they would not fit in memory: (V + 2n) × d × 8 bytes."""
    from attncli.io.memory import check_allocation

    check_allocation((vocab + 2 * tokens) * dim * 8, f"a {vocab} × {dim} table and the vectors of {tokens} tokens",
                     tries, option=option)


def onehot_table(tokens: list[str]) -> Table:
    """The lecture's one-hot encoding: vocabulary = the sorted set of the input's tokens."""
    vocab = sorted(set(tokens))
    check_table_memory("--embeddings onehot", len(vocab), len(tokens), len(vocab),
                       ["--embeddings random:DIM (DIM numbers per token instead of one per distinct token)",
                        "fewer distinct tokens"])
    return Table(np.eye(len(vocab)), {t: i for i, t in enumerate(vocab)}, "onehot")


def random_vector(token: str, dim: int, seed: int) -> np.ndarray:
    """A fixed random vector for `token`: the same token, dim and seed always give the same vector."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()  # undecodable argv bytes too
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    return rng.normal(size=dim)


def random_table(tokens: list[str], dim: int, seed: int) -> Table:
    vocab = sorted(set(tokens))
    check_table_memory(f"--embeddings random:{dim}", len(vocab), len(tokens), dim,
                       ["a smaller DIM", "fewer distinct tokens"])
    vectors = np.array([random_vector(t, dim, seed) for t in vocab]).reshape(len(vocab), dim)
    return Table(vectors, {t: i for i, t in enumerate(vocab)}, f"random:{dim}")


def parse_oov(policy: str) -> tuple[str, str | None]:
    if policy in OOV_POLICIES:
        return policy, None
    if policy.startswith("unk:") and len(policy) > 4:
        return "unk", policy[4:]
    raise AttnError(f"--oov takes error, zero, skip or unk:TOKEN; got {policy!r}")


def embed(sequences: list[list[str]], table: Table, oov: str = "error") -> tuple[list[np.ndarray], list[list[str]]]:
    """Look every token up. Returns one (n_b, d) array per sequence and the tokens kept (skip drops some)."""
    policy, unk = parse_oov(oov)
    if unk is not None and unk not in table.index:
        raise AttnError(f"--oov unk:{unk}: {unk!r} is not in the vocabulary of {table.source}")
    missing = sorted({t for seq in sequences for t in seq if t not in table.index})
    if missing and policy == "error":
        shown = ", ".join(repr(t) for t in missing[:10])
        shown += f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise AttnError(f"{len(missing)} token(s) not in the vocabulary of {table.source}: {shown}; "
                        "add them, or pass --oov zero|skip|unk:TOKEN")
    out, kept = [], []
    for seq in sequences:
        rows, toks = [], []
        for t in seq:
            if t in table.index:
                rows.append(table.vectors[table.index[t]])
            elif policy == "zero":
                rows.append(np.zeros(table.dim, dtype=table.vectors.dtype))
            elif policy == "unk":
                rows.append(table.vectors[table.index[unk]])
            else:  # skip
                continue
            toks.append(t)
        if not toks:
            raise AttnError(f"a sequence has no tokens left after --oov skip: {' '.join(seq)!r}")
        out.append(np.array(rows).reshape(len(rows), table.dim))
        kept.append(toks)
    return out, kept


def embed_ids(sequences: list[list[int]], matrix: np.ndarray,
              vocab: list[str] | None) -> tuple[list[np.ndarray], list[list[str]]]:
    """--ids: rows of the embedding matrix by id; labels from --vocab when given, else the ids."""
    check_matrix(matrix, "one row per id")
    out, labels = [], []
    for line, seq in enumerate(sequences, start=1):
        bad = [i for i in seq if i < 0 or i >= matrix.shape[0]]
        if bad:
            raise AttnError(f"--ids line {line}: id {bad[0]} is outside the embedding table (0..{matrix.shape[0] - 1})")
        out.append(matrix[seq])
        labels.append([vocab[i] if vocab is not None and i < len(vocab) else str(i) for i in seq])
    return out, labels


def pad_batch(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Stack sequences of different lengths into (B, n_max, d) with zeros after each one's end."""
    lens = [a.shape[0] for a in arrays]
    d = arrays[0].shape[1]
    x = np.zeros((len(arrays), max(lens), d), dtype=np.result_type(*arrays))
    for b, a in enumerate(arrays):
        x[b, : a.shape[0]] = a
    return x, lens
