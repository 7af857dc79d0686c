"""The result of an attention computation, and the shapes its caller sees.

Inside, every array is canonical rows layout with all axes present:
    x (B, n_q, d_model)   q (B, H, n_q, d_k)   k (B, G, n_k, d_k)   v (B, G, n_k, d_v)   G = kv heads (H without GQA)
    scores, weights (B, H, n_q, n_k)   heads (B, H, n_q, d_v)   output (B, n_q, d_out)
`export(name)` gives any array the vocabulary names (attncli/vocabulary.py) in the shape a user sees: the batch
axis only for batched input, the heads axis of q/k/v/qk/scores/weights only when there is more than one head
(heads always keeps it). Two are made on export, from what is kept: qk (the score function of Q and K, before
anything is done to it) and concat (the heads side by side). The command line's result (cli/pipeline.py) shows
them its own way (tokens as columns: the last two axes swapped; images: pixels back into H × W) by overriding `view`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attncli.core.heads import merge_heads
from attncli.core.scores import SCORES
from attncli.errors import AttnError
from attncli.record import Record
from attncli.vocabulary import NAMES

HEADLESS = ("x", "concat", "output")  # arrays with no heads axis: (B, n, d)


class AttentionResult(Record):
    """What attend() and attention() return: every array of the computation, canonical (all axes present).

    q (B, H, n_q, d_k) and k (B, G, n_k, d_k) after RoPE; v (B, G, n_k, d_v); scores and weights
    (B, H, n_q, n_k), None when only the output was needed (plan.need) or a map was streamed (`streamed`);
    heads (B, H, n_q, d_v); output (B, n_q, d_out), the heads side by side (· W_O + b_O in attention()); allowed,
    where a query may attend; empty_rows, (batch, head, query) rows with every key masked; meta, the variant as it
    ran; steps, every intermediate matrix with its formula (plan.backend="trace"); spec, the Spec it ran with.
    `export(name)` gives any array by its vocabulary name (x, q, k, v, qk, scores, weights, heads, concat, output)
    in the caller's shape: no batch axis for unbatched input, no heads axis for one head.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray | None  # None when streamed (the maps were not asked for)
    weights: np.ndarray | None
    heads: np.ndarray
    output: np.ndarray
    allowed: np.ndarray | None  # bool, broadcastable to (B, H, n_q, n_k): True where a query may attend to a key
    batched: bool
    empty_rows: list[tuple[int, int, int]]  # (batch, head, query) rows with every key masked
    meta: dict[str, Any]
    steps: list  # core.steps.Step, when computed with plan.backend="trace"
    streamed: tuple[str, ...] = ()  # maps written block by block to attention(stream_maps=...), not kept here
    x: np.ndarray | None = None  # the tokens Q was projected from (after PE); None when Q, K, V were given
    score_params: dict[str, np.ndarray]  # the score function's parameters (W, W_a, v), per head as the kernel's
    spec: Any = None  # the core.spec.Spec it was computed with
    _fields = ("q", "k", "v", "scores", "weights", "heads", "output", "allowed", "batched", "empty_rows", "meta",
               "steps", "streamed", "x", "score_params", "spec")
    layout = "rows"  # the core's results are rows layout (tokens as rows); the command line's may say cols
    grid: tuple[int, int] | None = None  # the command line's images: (H, W) of the pixels

    def __init__(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, scores: np.ndarray | None,
                 weights: np.ndarray | None, heads: np.ndarray, output: np.ndarray, allowed: np.ndarray | None,
                 batched: bool, empty_rows: list[tuple[int, int, int]], meta: dict[str, Any] | None = None,
                 steps: list | None = None, streamed: tuple[str, ...] = (), x: np.ndarray | None = None,
                 score_params: dict[str, np.ndarray] | None = None, spec: Any = None) -> None:
        self.q, self.k, self.v, self.scores, self.weights = q, k, v, scores, weights
        self.heads, self.output = heads, output
        self.allowed, self.batched, self.empty_rows = allowed, batched, empty_rows
        self.meta = {} if meta is None else meta
        self.steps, self.streamed = [] if steps is None else steps, streamed
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
        """The array `name` (one of vocabulary.NAMES) in the caller's shape (see the module docstring)."""
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
        return self.view(a, name)

    def view(self, a: np.ndarray, name: str) -> np.ndarray:
        """The canonical array `a` of `name` as the caller sees it: a view, no copy."""
        return user_view(a, name, batched=self.batched)

    def export_mask(self, name: str) -> np.ndarray | None:
        """For scores/weights: the boolean `allowed` map in the same shape as export(name)."""
        if name not in ("scores", "weights") or self.allowed is None:
            return None
        return self.view(np.broadcast_to(self.allowed, self.weights.shape), name)


def user_view(a: np.ndarray, name: str, *, batched: bool) -> np.ndarray:
    """The canonical array `a` of `name` as its caller sees it: the batch axis only for batched input, a single
    head's axis dropped but for `heads` (see the module docstring); a view, no copy."""
    if name not in HEADLESS and name != "heads" and a.shape[1] == 1:
        a = a[:, 0]  # drop a single head axis
    return a if batched else a[0]
