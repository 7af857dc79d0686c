"""Neighbouring steps: another array of the computation given for the one asked, in the vocabulary's words.

An answer that is the step before the one asked (qk = Q·Kᵀ for the scores, the scores for the weights), after it
(the weights for the scores, the output for the weights), beside it (K for Q) or of another shape (the heads side by
side for the per-head outputs) is named by its name (attncli/vocabulary.py), with what turns it into the array
asked, in this problem's numbers: "matches qk = Q·Kᵀ, the step before the scores: divide by √d_k (= √2), then set
the masked cells to −∞ (causal)". The words (towards_scores, normalizer, ...) serve the mistakes' messages too.

Pure: takes the problem (keywords and "spec", in rows layout) and a result, reads their arrays and meta; the words
for the student's arrays (a row, a column) follow the result's view.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from attncli.core.heads import merge_heads
from attncli.vocabulary import NOUN

Kwargs = dict[str, Any]


def spec_of(kw: Kwargs) -> Any:
    """The problem's Spec (mistakes.with_spec put it there), or the default one."""
    spec = kw.get("spec")
    if spec is None:
        from attncli.core.spec import Spec

        spec = Spec()
    return spec


def default_scaling(kw: Kwargs) -> bool:
    spec = spec_of(kw)
    return spec.score == "scaled" and spec.scale is None


def normalizer(kw: Kwargs) -> str:
    """The normalizer's name as a student reads it (softmax, sparsemax, ...)."""
    name = spec_of(kw).normalize
    return {"softmax1": "softmax₁", "relu": "ReLU", "sigmoid": "sigmoid"}.get(name, name)


def query_axis(res: Any) -> str:
    """How one query's scores lie in the arrays a student sees (`res.view`): along a "row", as the core holds them,
    or down a "column" when the caller's view swaps the last two axes (tokens as columns)."""
    if res is None:
        return "row"
    probe = np.broadcast_to(np.zeros((), np.int8), (1, 1, 2, 3))  # (B, H, n_q, n_k): no memory
    return "column" if res.view(probe, "weights").shape[-2:] == (3, 2) else "row"


def along(res: Any) -> str:
    """Where the normalizer goes in the student's arrays: "to each row" or "down each column"."""
    return "down each column" if query_axis(res) == "column" else "to each row"


def masked(res: Any) -> list[str]:
    """The masks of the problem (what sets scores to −∞), by name: causal, window, key lens, ..."""
    described = ((res.meta if res is not None else {}).get("masks") or {})
    return [k.replace("_", " ") for k, v in described.items() if k != "bias" and v not in (None, False, [], {})]


def sqrt_dk(res: Any) -> str:
    """"√d_k (= √2)" for the problem's d_k."""
    return f"√d_k (= √{res.k.shape[3]})" if res is not None else "√d_k"


def towards_scores(kw: Kwargs, res: Any) -> list[str]:
    """What turns qk = Q·Kᵀ into the scores S of this problem, in order, as instructions: divide by √d_k (= √2),
    set the masked cells to −∞ (causal), ..."""
    meta = res.meta if res is not None else {}
    todo = []
    scale = meta.get("scale", 1.0)
    if scale != 1.0:
        todo.append(f"divide by {sqrt_dk(res)}" if default_scaling(kw) else f"multiply by the scale {scale:.6g}")
    if meta.get("softcap") is not None:
        todo.append(f"soft-cap them: c·tanh(S/c) with c = {meta['softcap']:g}")
    if (meta.get("masks") or {}).get("bias"):
        todo.append("add the bias")
    if (meta.get("positions") or {}).get("alibi"):
        todo.append("subtract the ALiBi penalty m_h·|i − j|")
    if masked(res):
        todo.append(f"set the masked cells to −∞ ({', '.join(masked(res))})")
    if meta.get("temperature", 1.0) != 1.0:
        todo.append(f"divide by the temperature {meta['temperature']:g}")
    return todo


def in_order(steps: list[str]) -> str:
    """["a", "b", "c"] -> "a, then b, then c"."""
    return ", then ".join(steps)


def views(kw: Kwargs, what: str, r: Any) -> Iterator[tuple[str, str, str, np.ndarray]]:
    """Other arrays of result `r` (of the problem `kw`) a student may give for `what`: a neighbouring step, named by
    the vocabulary's name, with what turns it into the array asked. Yields (id, message, short, array)."""
    H, wo = r.q.shape[1], kw.get("wo") is not None
    norm, each = normalizer(kw), along(r)
    todo = towards_scores(kw, r)
    # qk given for the scores or the weights is already a mistake's array when only the default 1/√d_k lies
    # between qk and the scores (no-scaling, no-softmax-no-scaling), or the scores' when nothing does
    qk_named = not todo or (todo == [f"divide by {sqrt_dk(r)}"] and default_scaling(kw))
    to_output = "multiply by V" + (", put the heads side by side" if H > 1 else "") + \
        (" and multiply by W_O (+ b_O)" if wo else "")
    if what == "output":
        yield ("weights-for-output", f"matches the attention weights A, a step before the output: ·V was left "
               f"out (weights given where the output was asked); {to_output}", "the weights given for the output",
               r.export("weights"))
        if H > 1 or wo:
            yield ("heads-for-output", "matches the per-head outputs before W_O, the step before the output: "
                   "put them side by side and multiply by W_O (+ b_O)" if wo else "matches the per-head outputs "
                   "(H × n × d_v) not concatenated into one n × H·d_v matrix: put the heads side by side",
                   "the per-head outputs given for the output", r.export("heads"))
        yield ("scores-for-output", f"matches the scores S, steps before the output: the {norm} and ·V were left "
               f"out (scores given where the output was asked); apply the {norm} {each}, then {to_output}",
               "the scores given for the output", r.export("scores"))
        if todo:  # qk is not the scores
            yield ("qk-for-output", "matches qk = Q·Kᵀ, steps before the output (Q·Kᵀ given where the output was "
                   f"asked): {in_order(todo + [f'apply the {norm} {each}', to_output])}", "Q·Kᵀ given for the output",
                   r.export("qk"))
    elif what == "weights":
        yield ("output-for-weights", "matches the output, a step after the weights: the output was given where "
               "the weights were asked; give A itself, before ·V", "the output given for the weights",
               r.export("output"))
        scores = r.export("scores")
        if np.isneginf(scores).any():  # else it is the mistake no-softmax (masked cells 0 there)
            yield ("no-softmax", f"matches the scores S, the step before the weights: the {norm} was left out; "
                   f"apply it {each}", "the softmax left out", scores)
        if not qk_named:
            yield ("qk-for-weights", f"matches qk = Q·Kᵀ, steps before the weights: "
                   f"{in_order(todo + [f'apply the {norm} {each}'])}", "Q·Kᵀ given for the weights", r.export("qk"))
    elif what == "scores":
        yield ("weights-for-scores", f"matches the attention weights A, the step after the scores: the {norm} was "
               "applied where the scores were asked; give S, before it", "the weights given for the scores",
               r.export("weights"))
        if not qk_named:
            yield ("qk-for-scores", f"matches qk = Q·Kᵀ, the step before the scores: {in_order(todo)}",
                   "Q·Kᵀ given for the scores", r.export("qk"))
    elif what == "qk":
        if todo:
            yield ("scores-for-qk", "matches the scores S, the step after qk: give Q·Kᵀ itself, before what "
                   f"makes the scores of it ({'; '.join(todo)})", "the scores given for qk", r.export("scores"))
        yield ("weights-for-qk", f"matches the attention weights A, steps after qk: give Q·Kᵀ itself, before "
               f"the {norm}", "the weights given for qk", r.export("weights"))
    elif what in ("q", "k", "v"):
        sym = what.upper()
        for other in ("q", "k", "v"):
            if other != what:
                o = other.upper()
                how = f": {sym} = X·W_{sym}" if kw.get("wq") is not None else ""
                yield (f"{other}-for-{what}", f"matches {o} ({NOUN[other]}) where {sym} ({NOUN[what]}) was asked"
                       f"{how}", f"{o} given for {sym}", r.export(other))
    elif what == "heads":
        yield ("weights-for-heads", "matches the attention weights A, the step before the heads: multiply each "
               "head's A_h by V_h", "the weights given for the heads", r.export("weights"))
        if wo:
            yield ("output-for-heads", "matches the output, the step after the heads and W_O: give each head's "
                   "A_h·V_h, before the concatenation and W_O", "the output given for the heads",
                   r.export("output"))
    elif what == "concat":
        if H > 1:
            yield ("heads-for-concat", "matches the per-head outputs (H × n × d_v), the step before concat: put "
                   "the heads side by side in one n × H·d_v matrix", "the per-head outputs given for concat",
                   r.export("heads"))
            yield ("heads-order", "matches the heads concatenated in the wrong (reversed) order",
                   "the heads concatenated in reversed order",
                   r.view(merge_heads(r.heads[:, ::-1]), "concat"))
        if wo:
            yield ("output-for-concat", "matches the output, the step after concat: W_O was applied; give the "
                   "heads side by side, before W_O", "the output given for concat", r.export("output"))
    if what in ("q", "k", "v", "heads") and getattr(r, what).shape[1] > 1:
        of = {"heads": "the per-head outputs", "q": "Q", "k": "K", "v": "V"}[what]
        yield ("concat-for-heads", f"matches {of} as one matrix with the heads side by side (n × H·d) where one "
               "n × d matrix per head (H × n × d) was asked", f"{of} with the heads side by side",
               r.view(merge_heads(getattr(r, what)), "output"))
