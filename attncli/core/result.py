"""The result of an attention computation, and its user-facing shapes.

Inside, every array is canonical rows layout with all axes present:
    q (B, H, n_q, d_k)   k (B, G, n_k, d_k)   v (B, G, n_k, d_v)      G = kv heads (G = H without GQA)
    scores, weights (B, H, n_q, n_k)   heads (B, H, n_q, d_v)   output (B, n_q, d_out)
`export(name)` gives the shape a user sees: the batch axis only for batched input, the heads axis of
q/k/v/scores/weights only when there is more than one head (heads always keeps it), and the last two
axes swapped in cols layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attncli.core.layout import from_rows
from attncli.errors import AttnError

NAMES = ("q", "k", "v", "scores", "weights", "heads", "output")


@dataclass
class AttentionResult:
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
    meta: dict[str, Any] = field(default_factory=dict)
    grid: tuple[int, int] | None = None  # (H, W) when the tokens are an image's pixels
    steps: list = field(default_factory=list)  # core.steps.Step, when computed with trace=True

    def export(self, name: str) -> np.ndarray:
        """The array `name` in the user's shape and layout (see the module docstring)."""
        a = getattr(self, name)
        if a is None:
            raise AttnError(f"{name} was not computed: attention(need=...) streamed without the maps; "
                            f"add {name!r} to `need`")
        if name == "output" and self.grid is not None:  # pixels back into the image: (B, H, W, C)
            a = a.reshape(a.shape[0], *self.grid, a.shape[-1])
            return a if self.batched else a[0]
        if name != "output" and name != "heads" and a.shape[1] == 1:
            a = a[:, 0]  # drop a single head axis
        if not self.batched:
            a = a[0]
        return from_rows(a) if self.layout == "cols" else a

    def export_mask(self, name: str) -> np.ndarray | None:
        """For scores/weights: the boolean `allowed` map in the same shape as export(name)."""
        if name not in ("scores", "weights") or self.allowed is None:
            return None
        a = np.broadcast_to(self.allowed, self.weights.shape)
        if a.shape[1] == 1:
            a = a[:, 0]
        if not self.batched:
            a = a[0]
        return from_rows(a) if self.layout == "cols" else a
