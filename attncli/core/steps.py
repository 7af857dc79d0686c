"""Every intermediate matrix of the pipeline, with its formula, for `attncli explain`.

`attention(..., trace=True)` records a `Step` at each stage, so explain shows exactly the numbers
compute gives. Formulas come in both notations: rows (papers, S = Q·Kᵀ) and cols (the lecture's tokens
as columns: Q = W_q·I, A = Kᵀ·Q, A′ = softmax down each column, O = V·A′).

Kinds say how a step's canonical array is laid out:
    tokens (B, n, d)    heads (B, H, n, d)    map (B, H, n_q, n_k)    table (n, d)

Every step is a copy, so a long sequence's trace holds many n_q × n_k maps. Inside `trace_budget(limit)`
a Tracer refuses, before copying, a step that would take the steps and the maps the kernel keeps (scores
and weights, and the weights step still to come) past `limit` bytes.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import numpy as np

from attncli.errors import AttnError
from attncli.record import Record

_BUDGET: contextvars.ContextVar[int | None] = contextvars.ContextVar("trace_budget", default=None)

# key -> (title, rows formula, cols formula)
FORMULAS: dict[str, tuple[str, str, str]] = {
    "x": ("input tokens", "X (rows = tokens)", "I (columns = tokens)"),
    "x_kv": ("key/value tokens", "X_kv", "I_kv"),
    "pe": ("positional encoding", "PE", "PE"),
    "x_pe": ("input plus positions", "X ← X + PE", "I ← I + PE"),
    "q": ("queries", "Q = X·W_Q{b}", "Q = W_q·I{b}"),
    "k": ("keys", "K = {src}·W_K{b}", "K = W_k·{src_cols}{b}"),
    "v": ("values", "V = {src}·W_V{b}", "V = W_v·{src_cols}{b}"),
    "q_x": ("queries", "Q = X", "Q = I"),
    "k_x": ("keys", "K = {src}", "K = {src_cols}"),
    "v_x": ("values", "V = {src}", "V = {src_cols}"),
    "q_direct": ("queries", "Q", "Q"),
    "k_direct": ("keys", "K", "K"),
    "v_direct": ("values", "V", "V"),
    "q_rope": ("rotated queries", "Q ← RoPE(Q)", "Q ← RoPE(Q)"),
    "k_rope": ("rotated keys", "K ← RoPE(K)", "K ← RoPE(K)"),
    "s_scaled": ("scores", "S = Q·Kᵀ", "A = Kᵀ·Q"),
    "s_dot": ("scores", "S = Q·Kᵀ", "A = Kᵀ·Q"),
    "s_general": ("scores", "S = Q·W·Kᵀ", "A = Kᵀ·Wᵀ·Q"),
    "s_additive": ("scores", "S_ij = vᵀ·tanh(q_i·W_q + k_j·W_k)", "A_ji = vᵀ·tanh(W_qᵀ·q_i + W_kᵀ·k_j)"),
    "s_cosine": ("scores", "S_ij = q_i·k_j / (‖q_i‖‖k_j‖)", "A_ji = k_j·q_i / (‖k_j‖‖q_i‖)"),
    "s_location": ("scores", "S = Q·W_a", "A = W_aᵀ·Q"),
    "scale": ("scaled scores", "S ← S · {scale:.6g}", "A ← A · {scale:.6g}"),
    "scale_sqrt": ("scaled scores", "S ← S / √d_k = S / √{d_k}", "A ← A / √d_k = A / √{d_k}"),
    "softcap": ("soft-capped scores", "S ← {c:g}·tanh(S / {c:g})", "A ← {c:g}·tanh(A / {c:g})"),
    "bias": ("biased scores", "S ← S + bias", "A ← A + bias"),
    "alibi": ("ALiBi scores", "S ← S − m_h·|i − j|", "A ← A − m_h·|i − j|"),
    "masked": ("masked scores", "S_ij ← −∞ where masked ({masks})", "A_ji ← −∞ where masked ({masks})"),
    "temperature": ("tempered scores", "S ← S / {t:g}", "A ← A / {t:g}"),
    "a_softmax": ("attention weights", "A = softmax(S) over each row", "A′ = softmax(A) down each column"),
    "a_softmax1": ("attention weights", "A_ij = exp(S_ij) / (1 + Σ_j exp(S_ij))",
                   "A′_ji = exp(A_ji) / (1 + Σ_j exp(A_ji))"),
    "a_sparsemax": ("attention weights", "A = sparsemax(S) over each row", "A′ = sparsemax(A) down each column"),
    "a_relu": ("attention weights", "A = max(S, 0)", "A′ = max(A, 0)"),
    "a_sigmoid": ("attention weights", "A = σ(S) = 1 / (1 + e^−S)", "A′ = σ(A)"),
    "a_none": ("attention weights", "A = S", "A′ = A"),
    "head": ("head output", "head = A·V", "O_h = V·A′"),
    "concat": ("concatenated heads", "concat(head_1, …, head_N)", "[O_1; …; O_N] (stacked)"),
    "output": ("output", "O = concat(heads)·W_O + b_O", "O = W_o·[O_1; …; O_N] + b_o"),
    "output_plain": ("output", "O = A·V", "O = V·A′"),
    "output_concat": ("output", "O = concat(head_1, …, head_N)", "O = [O_1; …; O_N]"),
}


class Step(Record):
    key: str
    title: str
    formula: str
    formula_cols: str
    array: np.ndarray
    kind: str  # tokens | heads | map | table
    params: dict  # the values filled into the formula (scale, d_k, ...)
    _fields = ("key", "title", "formula", "formula_cols", "array", "kind", "params")

    def __init__(self, key: str, title: str, formula: str, formula_cols: str, array: np.ndarray, kind: str,
                 params: dict) -> None:
        self.key, self.title, self.formula, self.formula_cols = key, title, formula, formula_cols
        self.array, self.kind, self.params = array, kind, params


@contextlib.contextmanager
def trace_budget(limit: int | None) -> Iterator[None]:
    """Tracers made inside this block keep at most `limit` bytes of steps (see the module docstring)."""
    token = _BUDGET.set(limit)
    try:
        yield
    finally:
        _BUDGET.reset(token)


class Tracer:
    """Collects steps when enabled; costs nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.steps: list[Step] = []
        self.budget = _BUDGET.get()
        self.nbytes = 0

    def add(self, key: str, array: np.ndarray, kind: str, **fmt: object) -> None:
        if not self.enabled:
            return
        self._check(key, array, kind)
        title, rows, cols = FORMULAS[key]
        self.steps.append(Step(key, title, rows.format(**fmt), cols.format(**fmt), np.array(array), kind, fmt))
        self.nbytes += array.nbytes

    def _check(self, key: str, array: np.ndarray, kind: str) -> None:
        """Refuse a copy that would take the trace past its budget, before making it."""
        if self.budget is None:
            return
        # a map step: the kernel also holds the scores and the weights, and the weights step is still to come
        reserve = array.nbytes * (2 + (not key.startswith("a_"))) if kind == "map" else 0
        need = self.nbytes + array.nbytes + reserve
        if need <= self.budget:
            return
        from attncli.core.validate import gigabytes

        shape = " × ".join(map(str, array.shape[-2:]))
        raise AttnError(f"explain keeps every step: with step {len(self.steps) + 1} ({FORMULAS[key][0]}, "
                        f"{shape} per map) they would need about {gigabytes(need)} but only "
                        f"{gigabytes(self.budget)} of memory is available; try fewer tokens, or attncli compute "
                        "with the same options (it keeps no steps) --show weights -o weights.npy")
