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

from attncli.errors import AttnError, param
from attncli.record import Record

_BUDGET: contextvars.ContextVar[int | None] = contextvars.ContextVar("trace_budget", default=None)

# key -> (what the step does, rows formula, cols formula). The score function's raw value is qk; the steps from it
# to the scores the normalizer takes start from it ({src} is qk in the first of them, then S; {src_cols}: qk, A).
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
    "s_scaled": ("raw scores", "Q·Kᵀ", "Kᵀ·Q"),
    "s_dot": ("raw scores", "Q·Kᵀ", "Kᵀ·Q"),
    "s_general": ("raw scores", "Q·W·Kᵀ", "Kᵀ·Wᵀ·Q"),
    "s_additive": ("raw scores", "qk_ij = vᵀ·tanh(q_i·W_q + k_j·W_k)", "qk_ji = vᵀ·tanh(W_qᵀ·q_i + W_kᵀ·k_j)"),
    "s_cosine": ("raw scores", "qk_ij = q_i·k_j / (‖q_i‖‖k_j‖)", "qk_ji = k_j·q_i / (‖k_j‖‖q_i‖)"),
    "s_location": ("raw scores", "Q·W_a", "W_aᵀ·Q"),
    "scale": ("scaled", "S ← {src} · {scale:.6g}", "A ← {src_cols} · {scale:.6g}"),
    "scale_sqrt": ("scaled", "S ← {src} / √d_k = {src} / √{d_k}", "A ← {src_cols} / √d_k = {src_cols} / √{d_k}"),
    "softcap": ("soft-capped", "S ← {c:g}·tanh({src} / {c:g})", "A ← {c:g}·tanh({src_cols} / {c:g})"),
    "bias": ("bias added", "S ← {src} + bias", "A ← {src_cols} + bias"),
    "alibi": ("ALiBi added", "S ← {src} − m_h·|i − j|", "A ← {src_cols} − m_h·|i − j|"),
    "masked": ("masked", "S ← {src} with −∞ where masked ({masks})", "A ← {src_cols} with −∞ where masked ({masks})"),
    "temperature": ("tempered", "S ← {src} / {t:g}", "A ← {src_cols} / {t:g}"),
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
# the steps that change S on its way from qk to the scores (their formulas start from {src})
TOWARDS_SCORES = ("scale", "scale_sqrt", "softcap", "bias", "alibi", "masked", "temperature")
# which array of the vocabulary (attncli/vocabulary.py) a step computes; the last step of each chain is that array
# (x after + PE, q and k after RoPE, the scores after the last of TOWARDS_SCORES), the ones before lead towards it
ARRAY_OF: dict[str, str] = {
    "x": "x", "pe": "x", "x_pe": "x",
    **{f"{n}{suffix}": n for n in "qkv" for suffix in ("", "_x", "_direct", "_rope")},
    **{key: "qk" for key in FORMULAS if key.startswith("s_")},
    **dict.fromkeys(TOWARDS_SCORES, "scores"),
    **{key: "weights" for key in FORMULAS if key.startswith("a_")},
    "head": "heads", "concat": "concat", "output": "output", "output_plain": "output", "output_concat": "output",
}


def arrays_of(steps: list) -> list[tuple[tuple[str, ...], str | None]]:
    """For each step: (the names of the arrays it is, the array it leads towards). A step is the array of its
    chain when it is the chain's last (q after RoPE; the scores after the masks); qk is also the scores when
    nothing is done to it (the dot score, no masks); the concatenation without W_O is also the output."""
    chain = [ARRAY_OF.get(st.key) for st in steps]
    last = {name: i for i, name in enumerate(chain) if name is not None}
    out: list[tuple[tuple[str, ...], str | None]] = []
    for i, (st, name) in enumerate(zip(steps, chain, strict=True)):
        if name is None:
            out.append(((), None))
        elif last[name] != i:
            out.append(((), name))
        elif name == "qk" and "scores" not in last:
            out.append((("qk", "scores"), None))
        elif st.key == "output_concat":
            out.append((("concat", "output"), None))
        else:
            out.append(((name,), None))
    return out


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
        self._src = ("qk", "qk")  # what the next step towards the scores starts from (rows, cols notation)

    def add(self, key: str, array: np.ndarray, kind: str, **fmt: object) -> None:
        if not self.enabled:
            return
        self._check(key, array, kind)
        title, rows, cols = FORMULAS[key]
        if key in TOWARDS_SCORES:  # the first step after the score function starts from qk, the others from S
            fmt.update(src=self._src[0], src_cols=self._src[1])
            self._src = ("S", "A")
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
                        f"{gigabytes(self.budget)} of memory is available; try fewer tokens, or "
                        f"{param('trace', False)} (it keeps no steps) {param('stream_maps', 'weights')}")
