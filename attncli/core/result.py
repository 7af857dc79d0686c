"""The result of an attention computation, and its user-facing shapes.

Inside, every array is canonical rows layout with all axes present:
    x (B, n_q, d_model)   q (B, H, n_q, d_k)   k (B, G, n_k, d_k)   v (B, G, n_k, d_v)   G = kv heads (H without GQA)
    scores, weights (B, H, n_q, n_k)   heads (B, H, n_q, d_v)   output (B, n_q, d_out)
`export(name)` gives any array the vocabulary names (attncli/vocabulary.py) in the shape a user sees: the batch
axis only for batched input, the heads axis of q/k/v/qk/scores/weights only when there is more than one head
(heads always keeps it), and the last two axes swapped in cols layout. Two are made on export, from what is kept:
qk (the score function of Q and K, before anything is done to it) and concat (the heads side by side).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attncli.core.heads import merge_heads
from attncli.core.layout import from_rows
from attncli.core.scores import SCORES
from attncli.errors import AttnError
from attncli.record import Record
from attncli.vocabulary import NAMES

HEADLESS = ("x", "concat", "output")  # arrays with no heads axis: (B, n, d)


class AttentionResult(Record):
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray | None  # None when streamed (the maps were not asked for)
    weights: np.ndarray | None
    heads: np.ndarray
    output: np.ndarray
    allowed: np.ndarray | None  # bool, broadcastable to (B, H, n_q, n_k): True where a query may attend to a key
    batched: bool
    layout: str
    empty_rows: list[tuple[int, int, int]]  # (batch, head, query) rows with every key masked
    meta: dict[str, Any]
    grid: tuple[int, int] | None = None  # (H, W) when the tokens are an image's pixels
    steps: list  # core.steps.Step, when computed with trace=True
    streamed: tuple[str, ...] = ()  # maps written block by block to attention(stream_maps=...), not kept here
    x: np.ndarray | None = None  # the tokens Q was projected from (after PE); None when Q, K, V were given
    score_params: dict[str, np.ndarray]  # the score function's parameters (W, W_a, v), per head as the kernel's
    spec: Any = None  # the core.spec.Spec it was computed with
    _fields = ("q", "k", "v", "scores", "weights", "heads", "output", "allowed", "batched", "layout", "empty_rows",
               "meta", "grid", "steps", "streamed", "x", "score_params", "spec")

    def __init__(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, scores: np.ndarray | None,
                 weights: np.ndarray | None, heads: np.ndarray, output: np.ndarray, allowed: np.ndarray | None,
                 batched: bool, layout: str, empty_rows: list[tuple[int, int, int]],
                 meta: dict[str, Any] | None = None, grid: tuple[int, int] | None = None, steps: list | None = None,
                 streamed: tuple[str, ...] = (), x: np.ndarray | None = None,
                 score_params: dict[str, np.ndarray] | None = None, spec: Any = None) -> None:
        self.q, self.k, self.v, self.scores, self.weights = q, k, v, scores, weights
        self.heads, self.output = heads, output
        self.allowed, self.batched, self.layout, self.empty_rows = allowed, batched, layout, empty_rows
        self.meta = {} if meta is None else meta
        self.grid, self.steps, self.streamed = grid, [] if steps is None else steps, streamed
        self.x, self.score_params, self.spec = x, {} if score_params is None else score_params, spec

    @property
    def qk(self) -> np.ndarray:
        """Q·Kᵀ (B, H, n_q, n_k): the score function of Q and K (after RoPE), before scale, softcap, bias, masks
        and temperature; computed on each call, from Q and K."""
        B, H, n_q, d = self.q.shape
        G, n_k = self.k.shape[1], self.k.shape[2]
        score = self.meta.get("score", "scaled")
        qg = self.q.reshape(B, G, H // G, n_q, d)  # each kv head's queries together, as the kernel groups them
        s = SCORES[score][0](qg, self.k[:, :, None], self.score_params)  # (B, G, r, n_q, n_k)
        return s.reshape(B, H, n_q, n_k)

    @property
    def concat(self) -> np.ndarray:
        """concat(head_1, …, head_H) (B, n_q, H·d_v): the heads side by side, what W_O multiplies."""
        return merge_heads(self.heads)

    def export(self, name: str) -> np.ndarray:
        """The array `name` (one of vocabulary.NAMES) in the user's shape and layout (see the module docstring)."""
        if name not in NAMES:
            raise AttnError(f"unknown array {name!r}; the arrays are {', '.join(NAMES)}")
        if name == "x" and self.x is None:
            raise AttnError("x: there are no tokens here: Q, K and V were given directly (‹q›, ‹k›, ‹v›); "
                            "x is the X that Q = X·W_Q is computed from")
        a = getattr(self, name)
        if a is None:
            if name in self.streamed:
                raise AttnError(f"{name} was streamed to its file in blocks (it does not fit in memory)")
            raise AttnError(f"{name} was not computed: attention(need=...) streamed without the maps; "
                            f"add {name!r} to `need`")
        return user_view(a, name, batched=self.batched, layout=self.layout, grid=self.grid)

    def export_mask(self, name: str) -> np.ndarray | None:
        """For scores/weights: the boolean `allowed` map in the same shape as export(name)."""
        if name not in ("scores", "weights") or self.allowed is None:
            return None
        a = np.broadcast_to(self.allowed, self.weights.shape)
        return user_view(a, name, batched=self.batched, layout=self.layout)


def user_view(a: np.ndarray, name: str, *, batched: bool, layout: str, grid: tuple[int, int] | None = None
              ) -> np.ndarray:
    """The canonical array `a` of `name` as the user sees it (see the module docstring); a view, no copy."""
    if name in ("output", "x") and grid is not None:  # pixels back into the image: (B, H, W, C)
        a = a.reshape(a.shape[0], *grid, a.shape[-1])
        return a if batched else a[0]
    if name not in HEADLESS and name != "heads" and a.shape[1] == 1:
        a = a[:, 0]  # drop a single head axis
    if not batched:
        a = a[0]
    return from_rows(a) if layout == "cols" else a


def user_shape(shape: tuple[int, ...], name: str, *, batched: bool, layout: str) -> tuple[int, ...]:
    """The shape user_view gives an array of canonical `shape`, without the array (for a file written later)."""
    return user_view(np.broadcast_to(np.empty((), np.int8), shape), name, batched=batched, layout=layout).shape
