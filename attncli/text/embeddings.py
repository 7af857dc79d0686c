"""Embeddings: from tokens (or ids) to the vectors X that attention starts from.

Sources (`parse_source` reads the grammar):
  a word2vec/GloVe text file   "token v1 ... vd" per line (a word2vec "count dim" header is skipped);
  a vocabulary + a matrix      line number of the vocabulary = row of the matrix (V × d);
  onehot                       the sorted set of the input's tokens, one-hot (it carries no meaning);
  random:DIM                   a fixed random vector per distinct token, from a seed.

Strings, bytes and arrays in, values out: the caller reads the files (attncli.io), and checks before building a
table that its memory fits (`table_bytes`, `WORD_VECTORS_COST`). Errors name the parameter (`‹embeddings›`,
`‹vocab›`, `‹oov›`, `‹ids›`; see attncli/errors.py).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from attncli.errors import AttnError, param
from attncli.io.source import shorten

OOV_POLICIES = ("error", "zero", "skip")  # and "unk:TOKEN"
E = param("embeddings")  # the parameter most messages here name


@dataclass(frozen=True)
class Source:
    """What an embeddings value names: `onehot`, `random` (with `dim`), or a `file` (a word-vector text file, or
    a V × d matrix) at `path`."""

    kind: str
    dim: int | None = None
    path: str | None = None


def parse_source(spec: str) -> Source:
    """`onehot`, `random:DIM` or a file: "random:8" -> Source("random", dim=8)."""
    if spec == "onehot":
        return Source("onehot")
    if spec.startswith("random:"):
        text = spec[len("random:"):]
        try:
            dim = int(text) if len(text) <= 18 else -1  # more digits than any table could have
        except ValueError:
            dim = -1
        if dim <= 0:
            raise AttnError(f"{param('embeddings', 'random:DIM')} needs a positive integer DIM; got {shorten(spec)}")
        return Source("random", dim=dim)
    return Source("file", path=spec)


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
    tokens (None: all) are kept, so a 1 GB GloVe file costs its text, not 10 GB of Python floats: about
    `WORD_VECTORS_COST` bytes of memory per byte of `data`, which the caller checks it has.
    Returns the Table of the kept tokens: vectors (V_kept, d)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AttnError(f"{E}: '{source}' line {line} is not UTF-8; word-vector files must be UTF-8 "
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
            raise AttnError(f"{E}: '{source}' line {lineno}: token {shorten(token)} has no vector")
        if dim is None:
            dim = len(values)
        elif len(values) != dim:
            raise AttnError(f"{E}: '{source}' line {lineno}: token {shorten(token)} has {len(values)} "
                            f"numbers but earlier lines have {dim}; every vector needs the same dimension")
        if token in seen:
            raise AttnError(f"{E}: '{source}' line {lineno}: token {shorten(token)} appears twice")
        seen.add(token)
        try:
            vec = [float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise AttnError(f"{E}: '{source}' line {lineno}: {shorten(bad)} is not a number "
                            f"(token {shorten(token)})") from None
        if not all(math.isfinite(v) for v in vec):
            raise AttnError(f"{E}: '{source}' line {lineno}: token {shorten(token)} has a NaN or Inf "
                            "value")
        if wanted is not None and token not in wanted:
            continue  # checked, not kept
        index[token] = len(tokens)
        tokens.append(token)
        rows.append(vec)
    if dim is None:
        raise AttnError(f"{E}: '{source}' holds no vectors ('token v1 ... vd' per line)")
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
        raise AttnError(f"{E} must be a V × d matrix ({what}); got shape {matrix.shape}")
    if matrix.dtype.kind not in "biuf":
        raise AttnError(f"{E} must hold real numbers; got dtype {matrix.dtype}")
    if matrix.size == 0:
        raise AttnError(f"{E} is empty (shape {matrix.shape}); it needs a row per token and d ≥ 1 columns")


def vocab_table(vocab: list[str], matrix: np.ndarray, source: str) -> Table:
    """A vocabulary (line number = id) with its matrix (V × d)."""
    check_matrix(matrix, "one row per vocabulary entry")
    if matrix.shape[0] < len(vocab):
        raise AttnError(f"{param('vocab')} has {len(vocab)} tokens but {E} has only {matrix.shape[0]} rows")
    index: dict[str, int] = {}
    for i, t in enumerate(vocab):
        index.setdefault(t, i)
    return Table(matrix, index, source)


def parse_vocab(data: bytes, source: str) -> list[str]:
    """A vocabulary file's tokens, one per line (UTF-8; the line number, from 0, is the token's row)."""
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise AttnError(f"{param('vocab')}: '{source}' is not UTF-8 text") from None
    vocab = [ln.strip() for ln in lines]
    while vocab and not vocab[-1]:
        vocab.pop()
    if not vocab:
        raise AttnError(f"{param('vocab')}: '{source}' is empty (one token per line)")
    return vocab


def table_bytes(vocab: int, tokens: int, dim: int) -> int:
    """Bytes a generated table (vocab × dim) and the vectors it gives the input's tokens (tokens × dim, and a
    padded copy) take: (vocab + 2·tokens) × dim × 8. The caller checks they fit before building one."""
    return (vocab + 2 * tokens) * dim * 8


def onehot_table(tokens: list[str]) -> Table:
    """The lecture's one-hot encoding: vocabulary = the sorted set of the input's tokens; vectors (V, V)."""
    vocab = sorted(set(tokens))
    return Table(np.eye(len(vocab)), {t: i for i, t in enumerate(vocab)}, "onehot")


def random_vector(token: str, dim: int, seed: int) -> np.ndarray:
    """A fixed random vector for `token`: the same token, dim and seed always give the same vector."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()  # undecodable argv bytes too
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    return rng.normal(size=dim)


def random_table(tokens: list[str], dim: int, seed: int) -> Table:
    """A fixed random vector per distinct token (`random_vector`); vectors (V, dim)."""
    vocab = sorted(set(tokens))
    vectors = np.array([random_vector(t, dim, seed) for t in vocab]).reshape(len(vocab), dim)
    return Table(vectors, {t: i for i, t in enumerate(vocab)}, f"random:{dim}")


def parse_oov(policy: str) -> tuple[str, str | None]:
    if policy in OOV_POLICIES:
        return policy, None
    if policy.startswith("unk:") and len(policy) > 4:
        return "unk", policy[4:]
    raise AttnError(f"{param('oov')} takes error, zero, skip or unk:TOKEN; got {policy!r}")


def embed(sequences: list[list[str]], table: Table, oov: str = "error") -> tuple[list[np.ndarray], list[list[str]]]:
    """Look every token up. Returns one (n_b, d) array per sequence and the tokens kept (skip drops some)."""
    policy, unk = parse_oov(oov)
    if unk is not None and unk not in table.index:
        raise AttnError(f"{param('oov', 'unk:' + unk)}: {unk!r} is not in the vocabulary of {table.source}")
    missing = sorted({t for seq in sequences for t in seq if t not in table.index})
    if missing and policy == "error":
        shown = ", ".join(repr(t) for t in missing[:10])
        shown += f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise AttnError(f"{len(missing)} token(s) not in the vocabulary of {table.source}: {shown}; "
                        f"add them, or pass {param('oov', 'zero|skip|unk:TOKEN')}")
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
            raise AttnError(f"a sequence has no tokens left after {param('oov', 'skip')}: {' '.join(seq)!r}")
        out.append(np.array(rows).reshape(len(rows), table.dim))
        kept.append(toks)
    return out, kept


def embed_ids(sequences: list[list[int]], matrix: np.ndarray,
              vocab: list[str] | None) -> tuple[list[np.ndarray], list[list[str]]]:
    """Rows of the embedding matrix (V × d) by id: one (n_b, d) array per sequence, and its labels: the
    vocabulary's tokens when given, else the ids."""
    check_matrix(matrix, "one row per id")
    out, labels = [], []
    for line, seq in enumerate(sequences, start=1):
        bad = [i for i in seq if i < 0 or i >= matrix.shape[0]]
        if bad:
            raise AttnError(f"{param('ids')} line {line}: id {bad[0]} is outside the embedding table "
                            f"(0..{matrix.shape[0] - 1})")
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
