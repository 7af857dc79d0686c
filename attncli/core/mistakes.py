"""The common mistakes in computing attention, each as the change a student made to the computation.

A mistake either changes the problem: its spec (`spec.replace(scale=1.0)`: left out 1/√d_k; `causal=False`:
forgot the causal mask) or its arrays (split the heads from interleaved columns: W's columns permuted), or, for
what a spec cannot say, recomputes the tail from the weights on (one softmax over the whole matrix; the weights
rounded before ·V):

    A′ = f(A or S),   head_h = A′_h·V_h,   O = concat(head_1 … head_N)·W_O + b_O

A mistake made after the projections (scale, masks, normalizer, W_O) need not run attention() again:
core/recompute.py's `tail` recomputes S = Q·Kᵀ·scale → masks → normalize → ·V → W_O from a result's Q, K, V.

Pure numpy: takes the problem in rows layout (the command's keywords, its arrays, with "spec": the Spec it ran, see
with_spec) and the correct AttentionResult, returns new ones. A caller that writes its arrays another way translates
the problem in (cli/pipeline.py's rows_problem) and its results show the arrays its way (their `view`); the
messages' words for the student's arrays (a row, a column) follow that view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from attncli.core.neighbours import (
    along,
    default_scaling,
    in_order,
    masked,
    normalizer,
    query_axis,
    spec_of,
    sqrt_dk,
    towards_scores,
)
from attncli.core.recompute import Kwargs, rebuild, wo_rows
from attncli.errors import param

Change = Callable[[Kwargs, Any], "Kwargs | None"]  # (kwargs, correct result) -> new kwargs, None: impossible here
Post = Callable[[Any, Kwargs], Any]  # (result, kwargs) -> result with new weights, heads and output
# the arrays of the vocabulary (attncli/vocabulary.py) in pipeline order: a mistake made at one stage shows in it and
# every later one
STAGES = {"x": 0, "q": 1, "k": 1, "v": 1, "qk": 2, "scores": 3, "weights": 4, "heads": 5, "concat": 6, "output": 7}


@dataclass(frozen=True)
class Mistake:
    """One mistake: `name` (the id in reports), `message` (what a student reads when it is the only match),
    `short` (how it is named next to another mistake), and how it changes the computation."""

    name: str
    message: str | Callable[[Kwargs, str, Any], str]  # (kwargs, what, correct result) -> text
    short: str | Callable[[Kwargs], str]
    change: Change
    stage: str  # the first array it changes (STAGES: "q" = the projections, then qk, scores, weights, ...)
    post: Post | None = None  # recompute from the weights on, after `change`
    groups: frozenset[str] = frozenset()  # two mistakes of one group never pair (both set the scale, ...)
    shown: str = ""  # the first array where it differs from the mistakes of its stage (default: `stage`)

    def changes(self, what: str) -> bool:
        return STAGES.get(what, STAGES["output"]) >= STAGES[self.shown or self.stage]

    def text(self, kw: Kwargs, what: str, res: Any = None) -> str:
        return self.message(kw, what, res) if callable(self.message) else self.message

    def phrase(self, kw: Kwargs) -> str:
        return self.short(kw) if callable(self.short) else self.short


def with_spec(kw: Kwargs, res: Any) -> Kwargs:
    """The problem's keywords with "spec": the Spec `res` was computed with (mistakes change it by replace)."""
    return kw if "spec" in kw or res is None or res.spec is None else {**kw, "spec": res.spec}


def _spec(kw: Kwargs, **changes: Any) -> Kwargs:
    """The problem with its spec changed: a mistake that the spec says."""
    return {**kw, "spec": spec_of(kw).replace(**changes)}


def _softmax(kw: Kwargs) -> bool:
    return spec_of(kw).normalize == "softmax"


def _keep(kw: Kwargs, res: Any) -> Kwargs:
    return kw


def _set(**changes: Any) -> Change:
    return lambda kw, res: _spec(kw, **changes)


def _scale_by(size: Callable[[Kwargs, Any], int | None]) -> Change:
    """1/√size instead of 1/√d_k, when the problem uses the default scale and size differs from d_k."""
    def change(kw: Kwargs, res: Any) -> Kwargs | None:
        if not default_scaling(kw):
            return None
        n = size(kw, res)
        return None if not n or n == res.k.shape[3] else _spec(kw, scale=1 / math.sqrt(n))
    return change


def _d_model(kw: Kwargs, res: Any) -> int | None:
    x = kw.get("x")
    if x is None or kw.get("wq") is None or np.ndim(x) < 2:
        return None
    return int(np.shape(x)[-1])


def _no_scale_no_softmax(kw: Kwargs, res: Any) -> Kwargs | None:
    return _spec(kw, scale=1.0, normalize="none") if default_scaling(kw) else None


def _transposed_weights(kw: Kwargs, res: Any) -> Kwargs | None:
    ws = [kw.get(n) for n in ("wq", "wk", "wv")]
    if any(w is None or isinstance(w, list) or np.ndim(w) != 2 or np.shape(w)[0] != np.shape(w)[1] for w in ws):
        return None
    return {**kw, **{n: np.asarray(w).T for n, w in zip(("wq", "wk", "wv"), ws, strict=True)}}


def _no_biases(kw: Kwargs, res: Any) -> Kwargs | None:
    names = [n for n in ("bq", "bk", "bv", "bo") if kw.get(n) is not None]
    return {**kw, **dict.fromkeys(names)} if names else None


def _toggle_causal(kw: Kwargs, res: Any) -> Kwargs:
    return _spec(kw, causal=not spec_of(kw).causal)


def _causal_text(kw: Kwargs, what: str, res: Any) -> str:
    return ("matches the computation without the causal mask: it is missing" if spec_of(kw).causal else
            "matches a causal mask (j ≤ i) that the problem does not ask for")


def _shifted_causal(offset: int) -> Change:
    """The causal mask moved by `offset`: query i sees keys j ≤ i + offset (−1: the diagonal masked too)."""
    def change(kw: Kwargs, res: Any) -> Kwargs | None:
        if not spec_of(kw).causal or spec_of(kw).mask is not None:
            return None
        n_q, n_k = res.q.shape[2], res.k.shape[2]
        allowed = np.arange(n_k)[None, :] <= np.arange(n_q)[:, None] + offset  # (n_q, n_k), rows layout
        return _spec(kw, causal=False, mask=allowed)
    return change


def _no_padding(kw: Kwargs, res: Any) -> Kwargs | None:
    spec = spec_of(kw)
    names = [n for n in ("key_lens", "query_lens", "mask") if getattr(spec, n) is not None]
    return _spec(kw, **dict.fromkeys(names)) if names else None


def _padding_on_queries(kw: Kwargs, res: Any) -> Kwargs | None:
    spec = spec_of(kw)
    if spec.key_lens is None or spec.query_lens is not None:
        return None
    return _spec(kw, key_lens=None, query_lens=spec.key_lens)


def _no_wo(kw: Kwargs, res: Any) -> Kwargs | None:
    return {**kw, "wo": None, "bo": None} if kw.get("wo") is not None else None


def _with_wo(kw: Kwargs, w: np.ndarray) -> Kwargs:
    return {**kw, "wo": w}


def _heads_reversed(kw: Kwargs, res: Any) -> Kwargs | None:
    """concat(head_N, …, head_1)·W_O equals concat(head_1, …, head_N)·W_O′ with W_O′'s row blocks reversed."""
    w, H = wo_rows(kw), res.q.shape[1]
    if w is None or H < 2 or w.shape[0] % H:
        return None
    return _with_wo(kw, w.reshape(H, -1, w.shape[1])[::-1].reshape(w.shape))


def interleaved(width: int, heads: int) -> np.ndarray:
    """Column order that makes contiguous blocks of heads out of interleaved ones: new column h·d + j is
    old column h + H·j (head h taking columns h, h+H, h+2H, … of a width-H·d matrix)."""
    d = width // heads
    return np.array([h + heads * j for h in range(heads) for j in range(d)])


def _heads_interleaved(merge_too: bool) -> Change:
    """Heads split from the wrong axis: Q, K, V's columns h, h+H, h+2H, … go to head h. `merge_too`: the
    heads are merged back the same way (interleaved) before W_O, which is W_O's rows permuted alike."""
    def change(kw: Kwargs, res: Any) -> Kwargs | None:
        H, G = res.q.shape[1], res.k.shape[1]
        if H < 2 or (merge_too and kw.get("wo") is None):
            return None
        new = dict(kw)

        def permute(name: str, heads: int, matrix: bool = True) -> bool:
            a = kw.get(name)
            if a is None or isinstance(a, list) or np.ndim(a) != (2 if matrix else 1):
                return False
            a = np.asarray(a)
            if a.shape[-1] % heads:
                return False
            new[name] = a[..., interleaved(a.shape[-1], heads)]
            return True

        if kw.get("wq") is not None:
            if not all(permute(n, h) for n, h in (("wq", H), ("wk", G), ("wv", G))):
                return None  # per-head weights: the split is given, not made
            for name, h in (("bq", H), ("bk", G), ("bv", G)):
                if kw.get(name) is not None and not permute(name, h, matrix=False):
                    return None
        elif kw.get("x") is not None:
            if G != H or kw.get("x_kv") is not None or not permute("x", H):
                return None
        elif not all(permute(n, h) for n, h in (("q", H), ("k", G), ("v", G))):
            return None
        if merge_too:
            w = wo_rows(kw)
            if w is None or w.shape[0] % H:
                return None
            new.update(_with_wo(new, w[interleaved(w.shape[0], H)]))
        return new
    return change


def _softmax_whole(res: Any, kw: Kwargs) -> Any:
    """One softmax over each whole n_q × n_k map instead of one per row."""
    s = res.scores  # (B, H, n_q, n_k), −inf where masked
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        e = np.exp(s - s.max(axis=(-2, -1), keepdims=True))
        return rebuild(res, kw, e / e.sum(axis=(-2, -1), keepdims=True))


def rounded(decimals: int) -> Mistake:
    """The weights rounded to `decimals` before ·V (the answer's own precision)."""
    def post(res: Any, kw: Kwargs) -> Any:
        return rebuild(res, kw, np.round(res.weights, decimals))

    return Mistake("rounded-weights", f"matches the weights rounded to {decimals} decimals before multiplying by V: "
                   "round only the final answer", f"the weights rounded to {decimals} decimals before ·V",
                   _keep, "heads", post)


def _axis_text(kw: Kwargs, what: str, res: Any) -> str:
    if query_axis(res) == "column":
        return "matches softmax over the wrong axis (along each row of A instead of down each column)"
    return "matches softmax over the wrong axis (down each column of S instead of along each row)"


def _no_scaling_text(kw: Kwargs, what: str, res: Any) -> str:
    divide = f"divide by {sqrt_dk(res)}"
    if what == "scores" and len(towards_scores(kw, res)) == 1:  # only the scaling between: the answer is qk itself
        return f"matches qk = Q·Kᵀ, the step before the scores: 1/√d_k was left out; {divide}"
    if what == "scores":
        return f"matches the scores without the scaling: 1/√d_k was left out; {divide} first"
    if what == "weights":
        return f"matches the {normalizer(kw)} of qk = Q·Kᵀ instead of the scores S: 1/√d_k was left out; {divide} first"
    return f"matches the computation without the scaling: 1/√d_k was left out; {divide} before the {normalizer(kw)}"


def _no_softmax_text(kw: Kwargs, what: str, res: Any) -> str:
    norm = normalizer(kw)
    if what == "weights":
        zero = " (0 where masked)" if masked(res) else ""
        return (f"matches the scores S{zero}, the step before the weights: the {norm} was left out; apply it "
                f"{along(res)}")
    return f"matches S·V: the {norm} was left out (the scores used as the weights); apply it {along(res)} first"


def _raw_text(kw: Kwargs, what: str, res: Any) -> str:
    if what == "weights":
        return (f"matches qk = Q·Kᵀ itself, steps before the weights: both the scaling and the {normalizer(kw)} were "
                f"left out; {in_order(towards_scores(kw, res) + [f'apply the {normalizer(kw)} {along(res)}'])}")
    return f"matches Q·Kᵀ·V: both the scaling and the {normalizer(kw)} were left out"


SCALE, NORM, CAUSAL, PAD, OUT, PROJ = (frozenset({g}) for g in ("scale", "norm", "causal", "pad", "out", "proj"))

MISTAKES: list[Mistake] = [
    Mistake("no-scaling", _no_scaling_text, "1/√d_k left out",
            lambda kw, res: _spec(kw, scale=1.0) if default_scaling(kw) else None, "scores", groups=SCALE),
    Mistake("sqrt-n", "matches scaling by 1/√n (the sequence length) instead of 1/√d_k", "1/√n used for 1/√d_k",
            _scale_by(lambda kw, res: res.k.shape[2]), "scores", groups=SCALE),
    Mistake("sqrt-d-model", "matches scaling by 1/√d_model (the width of X) instead of 1/√d_k (the width of each "
            "head's queries and keys)",
            "1/√d_model used for 1/√d_k", _scale_by(_d_model), "scores", groups=SCALE),
    Mistake("sqrt-d-v", "matches scaling by 1/√d_v (the width of the values) instead of 1/√d_k (the width of the "
            "queries and keys)", "1/√d_v used for 1/√d_k",
            _scale_by(lambda kw, res: res.v.shape[3]), "scores", groups=SCALE),
    Mistake("softmax-axis", _axis_text, "the softmax over the wrong axis",
            lambda kw, res: _spec(kw, normalize_over="queries") if _softmax(kw) else None, "weights",
            groups=NORM),
    Mistake("softmax-whole", lambda kw, what, res: "matches one softmax over the whole score matrix instead of a "
            f"softmax of each {query_axis(res)}",
            "one softmax over the whole matrix", lambda kw, res: kw if _softmax(kw) else None, "weights",
            _softmax_whole, groups=NORM),
    Mistake("no-softmax", _no_softmax_text, "the softmax left out", _set(normalize="none"), "weights", groups=NORM),
    Mistake("no-softmax-no-scaling", _raw_text, "the scaling and the softmax left out", _no_scale_no_softmax,
            "scores", groups=SCALE | NORM, shown="weights"),
    Mistake("transposed-weights", "matches X·Wᵀ: the weight matrices were applied transposed", "X·Wᵀ used for X·W",
            _transposed_weights, "q", groups=PROJ),
    Mistake("no-biases", "matches the computation without the biases b_Q, b_K, b_V, b_O", "the biases left out",
            _no_biases, "q"),
    Mistake("no-padding", "matches the computation without the padding mask "
            f"({param('key_lens')}/{param('query_lens')}/{param('mask')})",
            "the padding mask left out", _no_padding, "scores", groups=PAD),
    Mistake("padding-queries", "matches the padding applied to the queries instead of the keys (the key lengths "
            "used as query lengths)", "the padding applied to queries instead of keys", _padding_on_queries,
            "weights", groups=PAD),
    Mistake("causal", _causal_text, lambda kw: "the causal mask left out" if spec_of(kw).causal else
            "a causal mask added", _toggle_causal, "scores", groups=CAUSAL),
    Mistake("causal-diagonal", "matches the causal mask shifted by one: the diagonal was masked too (j < i "
            "instead of j ≤ i)", "the causal mask shifted (diagonal masked)", _shifted_causal(-1), "scores",
            groups=CAUSAL),
    Mistake("causal-plus-one", "matches the causal mask shifted by one: one future key was let in (j ≤ i+1 "
            "instead of j ≤ i)", "the causal mask shifted (one future key let in)", _shifted_causal(1), "scores",
            groups=CAUSAL),
    Mistake("heads-interleaved", "matches heads split from the wrong axis: head h took the interleaved columns h, "
            "h+H, h+2H, … of Q, K and V instead of a block of d_k neighbouring columns",
            "the heads split from interleaved columns", _heads_interleaved(False), "q", groups=PROJ),
    Mistake("heads-interleaved", "matches heads split from the wrong axis: head h took the interleaved columns h, "
            "h+H, h+2H, … of Q, K and V (and went back to them before W_O) instead of a block of neighbouring "
            "columns", "the heads split from interleaved columns", _heads_interleaved(True), "q",
            groups=PROJ | OUT),
    Mistake("heads-order", "matches the heads concatenated in the wrong (reversed) order before W_O",
            "the heads concatenated in reversed order", _heads_reversed, "output", groups=OUT),
    Mistake("no-wo", "matches concat(head_1, …, head_H), the step before the output: the output projection W_O was "
            "left out; multiply by W_O (+ b_O)", "W_O left out", _no_wo, "output", groups=OUT),
]
