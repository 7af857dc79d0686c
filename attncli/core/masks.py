"""The one place where masks combine.

Every way of saying "query i may not look at key j" (causal, local windows, key padding, graph
adjacency, 2-D image windows, a boolean mask file, an additive bias holding −inf) is canonicalized here
into arrays the kernel uses, as jax.nn.dot_product_attention does before its kernel runs:

    allowed:     bool, broadcastable to (B, H, n_q, n_k); True = may attend. None = everything allowed.
    bias:        float, broadcastable to (B, H, n_q, n_k); added to the scores. None = no bias.
    query_valid: bool (B, n_q) from query_lens: padded query rows give all-zero weights and output.

Masks compose by intersection (logical AND). User masks broadcast NumPy-style against (B, H, n_q, n_k)
in rows layout, so an n_q × n_k file applies to every batch item and head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from attncli.errors import AttnError, param
from attncli.record import Record

if TYPE_CHECKING:
    from attncli.core.spec import Spec

ADJ, EDGES = param("spec.graph.adjacency"), param("spec.graph.edges")
Rows = Callable[[int, int], np.ndarray]  # (i0, i1) -> mask or bias of query rows i0..i1, 4-D broadcastable


class Masks(Record):
    """Masks as functions of a block of query rows, so a long sequence never needs its whole n_q × n_k map:
    `block(i0, i1)` gives (allowed, bias) for rows i0..i1; `allowed` and `bias` are the whole thing."""

    n_q: int
    parts: list[Rows]
    bias_parts: list[Rows]
    query_valid: np.ndarray | None
    described: dict
    _fields = ("n_q", "parts", "bias_parts", "query_valid", "described")

    def __init__(self, n_q: int, parts: list[Rows], bias_parts: list[Rows], query_valid: np.ndarray | None,
                 described: dict) -> None:
        self.n_q, self.parts, self.bias_parts, self.query_valid, self.described = (n_q, parts, bias_parts,
                                                                                    query_valid, described)

    def block(self, i0: int, i1: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        allowed = None
        for part in self.parts:
            a = part(i0, i1)
            allowed = a if allowed is None else (allowed & a)
        bias = None
        for part in self.bias_parts:
            b = part(i0, i1)
            bias = b if bias is None else bias + b
        return allowed, bias

    def partial_keys(self, i0: int, i1: int, j0: int, j1: int) -> tuple[int, int]:
        """The key columns p0..p1 (within j0..j1) where the masks may block anything for rows i0..i1; every
        other column is allowed for all of these rows. (j0, j0) when nothing is masked. Causal and window
        masks are bands, so a block skips the columns it fully sees; any other mask may block anywhere."""
        if not self.parts:
            return j0, j0
        if set(self.described) - {"causal", "window"}:
            return j0, j1
        p0, p1 = j1, j0
        if self.described.get("causal"):  # j > i for some i in i0..i1
            p0, p1 = min(p0, i0 + 1), j1
        if self.described.get("window") is not None:
            left, right = self.described["window"]
            p0, p1 = j0 if j0 < i1 - 1 - left else p0, max(p1, min(j1, i1 - 1 - left))  # j < i − left
            if i0 + right + 1 < j1:  # j > i + right
                p0, p1 = min(p0, i0 + right + 1), j1
        p0, p1 = max(p0, j0), min(p1, j1)
        return (p0, p1) if p0 < p1 else (j0, j0)

    @property
    def allowed(self) -> np.ndarray | None:
        return self.block(0, self.n_q)[0]

    @property
    def bias(self) -> np.ndarray | None:
        return self.block(0, self.n_q)[1]


def _rows_of(a4: np.ndarray) -> Rows:
    """Rows i0..i1 of a 4-D (batch, heads, n_q or 1, n_k) array."""
    return lambda i0, i1: a4 if a4.shape[2] == 1 else a4[:, :, i0:i1]


def causal_mask(n_q: int, n_k: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """Causal (autoregressive), top-left aligned as PyTorch's is_causal: allowed[i, j] = j ≤ i.
    Rows i0..i1 only when given: (i1 − i0, n_k)."""
    i1 = n_q if i1 is None else i1
    return np.arange(n_k)[None, :] <= np.arange(i0, i1)[:, None]


def window_mask(n_q: int, n_k: int, left: int, right: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """Local (truncated) attention: allowed[i, j] = i − left ≤ j ≤ i + right (jax's local_window_size)."""
    i1 = n_q if i1 is None else i1
    d = np.arange(n_k)[None, :] - np.arange(i0, i1)[:, None]  # j − i, (rows, n_k)
    return (d >= -left) & (d <= right)


def window2d_mask(height: int, width: int, k: int, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """Image windows: pixel (r, c) sees (r′, c′) when |r − r′| ≤ k//2 and |c − c′| ≤ k//2; (H·W, H·W)."""
    n = height * width
    r, c = np.divmod(np.arange(n), width)  # row-major pixel coordinates
    rq, cq = r[i0:i1], c[i0:i1]
    half = k // 2
    return (np.abs(rq[:, None] - r[None, :]) <= half) & (np.abs(cq[:, None] - c[None, :]) <= half)


def key_length_mask(lens: Sequence[int], n: int) -> np.ndarray:
    """Padding (d2l's valid_lens): for batch item b, index ≥ lens[b] is padding; (B, n), True = real."""
    return np.arange(n)[None, :] < np.asarray(lens, dtype=np.int64)[:, None]


def graph_mask(n_q: int, n_k: int, adjacency: np.ndarray | None = None, edges: np.ndarray | None = None,
               undirected: bool = False, self_loops: bool = False) -> np.ndarray:
    """Graph attention: node i attends to j when adjacency[i, j] ≠ 0 or "i j" is an edge.

    `undirected` adds j → i for every i → j; `self_loops` lets every node attend to itself.
    """
    allowed = np.zeros((n_q, n_k), dtype=bool)
    if adjacency is not None:
        a = np.asarray(adjacency)
        if a.dtype.kind not in "biuf":
            raise AttnError(f"{ADJ} must hold real numbers (nonzero = may attend); got dtype {a.dtype}")
        if a.shape != (n_q, n_k):
            raise AttnError(f"{ADJ} must be n × n = {n_q} × {n_k} (one row and column per node); got {a.shape}")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise AttnError(f"{ADJ} holds NaN or Inf; nonzero means 'may attend'")
        allowed |= a != 0
    if edges is not None:
        e = np.asarray(edges)
        if e.size == 0:
            e = e.reshape(0, 2)
        if e.ndim != 2 or e.shape[1] != 2:
            raise AttnError(f"{EDGES} must be pairs 'i j', one per line (m × 2); got shape {e.shape}")
        if e.dtype.kind not in "biuf":
            raise AttnError(f"{EDGES} must hold integer node indices; got dtype {e.dtype}")
        if e.dtype.kind == "f" and not np.all(e == np.round(e)):
            raise AttnError(f"{EDGES} must hold integer node indices")
        e = e.astype(np.int64)
        bad = (e[:, 0] < 0) | (e[:, 0] >= n_q) | (e[:, 1] < 0) | (e[:, 1] >= n_k)
        if bad.any():
            i = int(np.argmax(bad))
            raise AttnError(f"{EDGES} line {i + 1}: edge {e[i, 0]} {e[i, 1]} names a node outside 0..{n_q - 1} "
                            f"(there are {n_q} nodes)")
        allowed[e[:, 0], e[:, 1]] = True
    if undirected:
        if n_q != n_k:
            raise AttnError(f"{param('spec.graph.undirected')} needs as many queries as keys; got {n_q} and {n_k}")
        allowed |= allowed.T
    if self_loops:
        allowed |= np.eye(n_q, n_k, dtype=bool)
    return allowed


def _broadcast_to_4d(a: np.ndarray, option: str, shape: tuple[int, int, int, int]) -> np.ndarray:
    if a.ndim > 4:
        raise AttnError(f"{option} has {a.ndim} dimensions {a.shape}; at most 4 (batch × heads × n_q × n_k)")
    a4 = a.reshape((1,) * (4 - a.ndim) + a.shape)
    try:
        fits = np.broadcast_shapes(a4.shape, shape) == tuple(shape)  # (1, 1, 1, 3) must not widen 1 key to 3
    except ValueError:
        fits = False
    if not fits:
        raise AttnError(
            f"{option} of shape {a.shape} does not broadcast to the scores' shape "
            f"(batch {shape[0]}, heads {shape[1]}, n_q {shape[2]}, n_k {shape[3]}); "
            f"give an n_q × n_k = {shape[2]} × {shape[3]} matrix, or one that broadcasts to it"
        )
    return a4


def as_bool_mask(mask: np.ndarray, option: str = param("spec.mask"), invert: bool = False) -> np.ndarray:
    """Read a user mask as booleans: 1/true = may attend (0/false when `invert`, nn.MultiheadAttention's)."""
    if mask.dtype != bool:
        if mask.dtype.kind not in "fiu":
            raise AttnError(f"{option} must hold 0/1 or true/false (1 = may attend); got dtype {mask.dtype}")
        if not np.all(np.isin(mask, (0, 1))):
            raise AttnError(
                f"{option} holds values other than 0 and 1 (e.g. {_first_odd(mask)}); a boolean mask marks "
                f"who may attend with 1/true; for an additive float mask (0 / -inf) use {param('spec.bias')}"
            )
        mask = mask != 0
    return ~mask if invert else mask


def _first_odd(mask: np.ndarray) -> str:
    flat = mask.reshape(-1)
    odd = flat[~np.isin(flat, (0, 1))]
    return repr(float(odd[0])) if odd.size else "?"


def _lengths(lens: Sequence[int], name: str, batch: int, n: int, what: str) -> list[int]:
    lens, option = [int(x) for x in lens], param(name)
    if len(lens) != batch:
        raise AttnError(f"{option} gives {len(lens)} length{'s' if len(lens) != 1 else ''} "
                        f"({','.join(map(str, lens))}) but the batch has {batch} item{'s' if batch != 1 else ''}; "
                        "give one length per batch item")
    bad = [x for x in lens if x < 0 or x > n]
    if bad:
        raise AttnError(f"{option} value {bad[0]} is outside 0..{n} (there are {n} {what})")
    return lens


def combine(shape: tuple[int, int, int, int], spec: Spec, dtype: np.dtype | type = np.float64) -> Masks:
    """Canonicalize every mask and the bias of `spec` (see the module docstring). shape = (B, H, n_q, n_k)."""
    B, H, n_q, n_k = shape
    parts: list[Rows] = []
    described: dict = {}
    if spec.causal:
        parts.append(lambda i0, i1: causal_mask(n_q, n_k, i0, i1)[None, None])  # (1, 1, rows, n_k)
        described["causal"] = True
    if spec.window is not None:
        left, right = spec.window
        parts.append(lambda i0, i1: window_mask(n_q, n_k, left, right, i0, i1)[None, None])
        described["window"] = [left, right]
    if spec.key_lens is not None:
        lens = _lengths(spec.key_lens, "spec.key_lens", B, n_k, "keys")
        keys_ok = key_length_mask(lens, n_k)[:, None, None, :]  # (B, 1, 1, n_k)
        parts.append(lambda i0, i1: keys_ok)
        described["key_lens"] = lens
    query_valid = None
    if spec.query_lens is not None:
        lens = _lengths(spec.query_lens, "spec.query_lens", B, n_q, "queries")
        query_valid = key_length_mask(lens, n_q)  # (B, n_q)
        parts.append(lambda i0, i1: query_valid[:, None, i0:i1, None])  # (B, 1, rows, 1)
        described["query_lens"] = lens
    g = spec.graph
    if g is not None:
        graph = graph_mask(n_q, n_k, g.adjacency, g.edges, g.undirected, g.self_loops)[None, None]
        parts.append(_rows_of(graph))
        described["graph"] = {"adjacency": g.adjacency is not None, "edges": g.edges is not None,
                              "undirected": g.undirected, "self_loops": g.self_loops}
    if spec.window2d is not None:
        size, (height, width) = spec.window2d.size, spec.window2d.grid
        if height * width != n_q or n_q != n_k:
            raise AttnError(f"{param('spec.window2d.grid')} {height} × {width} has {height * width} pixels but "
                            f"there are {n_q} queries and {n_k} keys")
        parts.append(lambda i0, i1: window2d_mask(height, width, size, i0, i1)[None, None])
        described["window2d"] = size
    if spec.mask is not None:
        parts.append(_rows_of(_broadcast_to_4d(spec.mask, param("spec.mask"), shape)))
        described["mask"] = True
    bias_parts: list[Rows] = []
    if spec.bias is not None:
        bias_parts.append(_rows_of(_broadcast_to_4d(spec.bias.astype(dtype, copy=False), param("spec.bias"), shape)))
        described["bias"] = True
    return Masks(n_q, parts, bias_parts, query_valid, described)
