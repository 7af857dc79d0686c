"""Every intermediate matrix of the pipeline, with its formula, for `attncli explain`.

`attention(..., trace=True)` records a `Step` at each stage, so explain shows exactly the numbers
compute gives, with its formula in the papers' notation (S = Q·Kᵀ, tokens as rows); render/explain.py writes it in
the lecture's too.

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

# key -> (what the step does, its formula). The score function's raw value is qk; the steps from it to the scores
# the normalizer takes start from it ({src} is qk in the first of them, then S).
FORMULAS: dict[str, tuple[str, str]] = {
    "x": ("input tokens", "X (rows = tokens)"),
    "x_kv": ("key/value tokens", "X_kv"),
    "pe": ("positional encoding", "PE"),
    "x_pe": ("input plus positions", "X ← X + PE"),
    "q": ("queries", "Q = X·W_Q{b}"),
    "k": ("keys", "K = {src}·W_K{b}"),
    "v": ("values", "V = {src}·W_V{b}"),
    "q_x": ("queries", "Q = X"),
    "k_x": ("keys", "K = {src}"),
    "v_x": ("values", "V = {src}"),
    "q_direct": ("queries", "Q"),
    "k_direct": ("keys", "K"),
    "v_direct": ("values", "V"),
    "q_rope": ("rotated queries", "Q ← RoPE(Q)"),
    "k_rope": ("rotated keys", "K ← RoPE(K)"),
    "s_scaled": ("raw scores", "Q·Kᵀ"),
    "s_dot": ("raw scores", "Q·Kᵀ"),
    "s_general": ("raw scores", "Q·W·Kᵀ"),
    "s_additive": ("raw scores", "qk_ij = vᵀ·tanh(q_i·W_q + k_j·W_k)"),
    "s_cosine": ("raw scores", "qk_ij = q_i·k_j / (‖q_i‖‖k_j‖)"),
    "s_location": ("raw scores", "Q·W_a"),
    "scale": ("scaled", "S ← {src} · {scale:.6g}"),
    "scale_sqrt": ("scaled", "S ← {src} / √d_k = {src} / √{d_k}"),
    "softcap": ("soft-capped", "S ← {c:g}·tanh({src} / {c:g})"),
    "bias": ("bias added", "S ← {src} + bias"),
    "alibi": ("ALiBi added", "S ← {src} − m_h·|i − j|"),
    "disentangled": ("relative positions added", "S ← {src} + (q_i·K_r[c(i, j)] + k_j·Q_r[c′(j, i)])·scale"),
    "masked": ("masked", "S ← {src} with −∞ where masked ({masks})"),
    "temperature": ("tempered", "S ← {src} / {t:g}"),
    "a_softmax": ("attention weights", "A = softmax(S) over each row"),
    "a_softmax1": ("attention weights", "A_ij = exp(S_ij) / (1 + Σ_j exp(S_ij))"),
    "a_sinks": ("attention weights", "A_ij = exp(S_ij) / (exp(s_h) + Σ_j exp(S_ij)), s_h head h's sink"),
    "a_sparsemax": ("attention weights", "A = sparsemax(S) over each row"),
    "a_relu": ("attention weights", "A = max(S, 0)"),
    "a_sigmoid": ("attention weights", "A = σ(S) = 1 / (1 + e^−S)"),
    "a_none": ("attention weights", "A = S"),
    "head": ("head output", "head = A·V"),
    "concat": ("concatenated heads", "concat(head_1, …, head_N)"),
    "output": ("output", "O = concat(heads)·W_O + b_O"),
    "output_plain": ("output", "O = A·V"),
    "output_concat": ("output", "O = concat(head_1, …, head_N)"),
}
# the steps that change S on its way from qk to the scores (their formulas start from {src})
TOWARDS_SCORES = ("scale", "scale_sqrt", "disentangled", "softcap", "bias", "alibi", "masked", "temperature")
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
    array: np.ndarray
    kind: str  # tokens | heads | map | table
    params: dict  # the values filled into the formula (scale, d_k, ...)
    _fields = ("key", "title", "formula", "array", "kind", "params")

    def __init__(self, key: str, title: str, formula: str, array: np.ndarray, kind: str, params: dict) -> None:
        self.key, self.title, self.formula = key, title, formula
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
        self._src = "qk"  # what the next step towards the scores starts from

    def add(self, key: str, array: np.ndarray, kind: str, **fmt: object) -> None:
        if not self.enabled:
            return
        self._check(key, array, kind)
        title, formula = FORMULAS[key]
        if key in TOWARDS_SCORES:  # the first step after the score function starts from qk, the others from S
            fmt.update(src=self._src)
            self._src = "S"
        self.steps.append(Step(key, title, formula.format(**fmt), np.array(array), kind, fmt))
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
