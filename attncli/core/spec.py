"""Which attention, and how to run it: two small frozen values, separate from the arrays.

`Spec` says *which* attention (the math): the score and its parameters, the normalizer, temperature and softcap,
the masks, the positions (RoPE, ALiBi), an additive bias and what an empty row gives. `Plan` says *how* to run
it (core/plan.py): which results are needed, the backend, the dtype, blocks, threads, memory. Both (values.py) are
validated when made (errors name the field, e.g. ‹spec.window›), print readably (arrays as shape and dtype),
compare equal and hash (arrays by value), and `replace(field=value)` makes a variant:

    >>> spec = Spec(causal=True, rope=Rope(base=10000.0))
    >>> spec.replace(scale=1.0)          # the homework mistake "forgot 1/√d_k"
    >>> Spec.from_dict(spec.to_dict()) == spec
    True

`to_dict()` gives only the fields that differ from the defaults, as plain JSON/TOML values (arrays as nested
lists, RoPE and graphs as tables), so a problem file's or a model layer's attention is a small table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attncli.core.disentangled import Disentangled
from attncli.core.masks import as_bool_mask
from attncli.core.normalize import NORMALIZERS
from attncli.core.positions import ROPE_LAYOUTS
from attncli.core.scores import SCORES
from attncli.core.values import Value, choice, flag, frozen_array, integer, number
from attncli.errors import AttnError, param

EMPTY_ROWS = ("zero", "nan", "error")  # a query row with every key masked: zeros, NaN, or refuse
NORMALIZE_OVER = ("keys", "queries")  # queries: only to reproduce that mistake (core/diagnose.py)


# ---- the parts of a spec ------------------------------------------------------------------------------------

class Rope(Value):
    """Rotary positions (Su et al. 2021) on Q and K per head: token t at position `start + t`, each pair of
    features rotated by θ_i = position · ω_i, ω_i = base^(−2i/dim); `layout` "half" pairs x_i with x_{i+dim/2}
    (GPT-NeoX, LLaMA), "interleaved" x_2i with x_2i+1 (GPT-J). `dim` (partial rotary, transformers'
    partial_rotary_factor · d_head): only the first `dim` features of each head turn; None = all of them.
    `inv_freq` (dim/2,): the frequencies ω as given (a scaled RoPE's: linear, dynamic, YaRN, LongRoPE, Llama 3;
    core/positions.py computes them), instead of base^(−2i/dim). `attention_factor` m multiplies cos and sin
    (YaRN's and LongRoPE's), so the rotated q·k by m²."""

    base: float
    layout: str
    start: int
    dim: int | None
    inv_freq: np.ndarray | None
    attention_factor: float
    _fields = ("base", "layout", "start", "dim", "inv_freq", "attention_factor")
    _defaults = {"base": 10000.0, "layout": "half", "start": 0, "dim": None, "inv_freq": None,
                 "attention_factor": 1.0}

    def __init__(self, base: float = 10000.0, layout: str = "half", start: int = 0, dim: int | None = None,
                 inv_freq: Any = None, attention_factor: float = 1.0) -> None:
        start_ok = isinstance(start, (int, np.integer)) and not isinstance(start, bool) and abs(start) < 2**53
        if not start_ok:
            raise AttnError(f"{param('spec.rope.start')} must be an integer below 2^53 in size; got {start!r}")
        dim = integer(dim, "spec.rope.dim", low=2)
        if dim is not None and dim % 2:
            raise AttnError(f"{param('spec.rope.dim')} must be even (features turn in pairs); got {dim}")
        inv_freq = frozen_array(inv_freq, "spec.rope.inv_freq", kinds="fiu")
        if inv_freq is not None and (inv_freq.ndim != 1 or not np.all(np.isfinite(inv_freq))):
            raise AttnError(f"{param('spec.rope.inv_freq')} must be one finite frequency per pair of features "
                            f"(dim/2,); got shape {inv_freq.shape}")
        self._set(base=number(base, "spec.rope.base", positive=True, optional=False),
                  layout=choice(layout, ROPE_LAYOUTS, "spec.rope.layout"), start=int(start), dim=dim,
                  inv_freq=inv_freq,
                  attention_factor=number(attention_factor, "spec.rope.attention_factor", positive=True,
                                          optional=False))


class QKNorm(Value):
    """Each head's query and key through an RMSNorm over its d_k features, before RoPE (Qwen3's `q_norm` and
    `k_norm`, Gemma 3's, OLMo 2's per head): q_h ← q_h / √(mean(q_h²) + eps) · q, k_h likewise with `k`; `q` and
    `k` are weight vectors (d_k,) shared by every head (Gemma's (1 + w) is given as that sum)."""

    q: np.ndarray
    k: np.ndarray
    eps: float
    _fields = ("q", "k", "eps")
    _defaults: dict[str, Any] = {"eps": 1e-6}

    def __init__(self, q: Any, k: Any, eps: float = 1e-6) -> None:
        weights = {}
        for name, w in (("q", q), ("k", k)):
            a = frozen_array(w, f"spec.qk_norm.{name}", kinds="fiu")
            if a is None or a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
                shape = None if a is None else a.shape
                raise AttnError(f"{param('spec.qk_norm.' + name)} must be one finite weight per feature of a head "
                                f"(d_k,); got {'nothing' if shape is None else 'shape ' + str(shape)}")
            weights[name] = a
        if weights["q"].shape != weights["k"].shape:
            raise AttnError(f"{param('spec.qk_norm.q')} has {weights['q'].size} weights and "
                            f"{param('spec.qk_norm.k')} {weights['k'].size}: queries and keys have the same d_k")
        self._set(q=weights["q"], k=weights["k"], eps=number(eps, "spec.qk_norm.eps", positive=True, optional=False))


class Graph(Value):
    """Graph attention's mask: node i attends to j when adjacency[i, j] ≠ 0 (n_q × n_k) or (i, j) is one of the
    `edges` (m × 2 integer pairs); `undirected` adds j → i for each i → j, `self_loops` i → i."""

    adjacency: np.ndarray | None
    edges: np.ndarray | None
    undirected: bool
    self_loops: bool
    _fields = ("adjacency", "edges", "undirected", "self_loops")
    _defaults = {"adjacency": None, "edges": None, "undirected": False, "self_loops": False}

    def __init__(self, adjacency: Any = None, edges: Any = None, undirected: bool = False,
                 self_loops: bool = False) -> None:
        if adjacency is None and edges is None:
            raise AttnError(f"{param('spec.graph')} needs {param('spec.graph.adjacency')} or "
                            f"{param('spec.graph.edges')}")
        adjacency = frozen_array(adjacency, "spec.graph.adjacency", what="real numbers (nonzero = may attend)")
        if adjacency is not None and adjacency.ndim != 2:
            raise AttnError(f"{param('spec.graph.adjacency')} must be n_q × n_k; got shape {adjacency.shape}")
        edges = frozen_array(edges, "spec.graph.edges", what="integer node indices")
        if edges is not None:
            if edges.size == 0:
                edges = frozen_array(edges.reshape(0, 2), "spec.graph.edges")
            if edges.ndim != 2 or edges.shape[1] != 2:
                raise AttnError(f"{param('spec.graph.edges')} must be pairs (i, j), m × 2; got shape {edges.shape}")
        self._set(adjacency=adjacency, edges=edges, undirected=flag(undirected, "spec.graph.undirected"),
                  self_loops=flag(self_loops, "spec.graph.self_loops"))


class Window2d(Value):
    """Local attention over an image's pixels (tokens r·width + c, row-major): pixel (r, c) sees (r′, c′) when
    |r − r′| ≤ size//2 and |c − c′| ≤ size//2; `size` odd, `grid` = (height, width)."""

    size: int
    grid: tuple[int, int]
    _fields = ("size", "grid")
    _defaults: dict[str, Any] = {}

    def __init__(self, size: int, grid: Sequence[int]) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
            raise AttnError(f"{param('spec.window2d')} must be an odd size ≥ 1 (a K × K neighbourhood); got {size}")
        try:
            h, w = (int(g) for g in grid)
        except (TypeError, ValueError):
            raise AttnError(f"{param('spec.window2d.grid')} must be (height, width); got {grid!r}") from None
        if h < 1 or w < 1:
            raise AttnError(f"{param('spec.window2d.grid')} must be positive; got {(h, w)}")
        self._set(size=size, grid=(h, w))


def _window(window: Any) -> tuple[int, int] | None:
    """L -> (L, L); (L, R) stays; both ints ≥ 0."""
    if window is None:
        return None
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        pair: tuple[Any, ...] = (window, window)
    elif isinstance(window, (tuple, list)) and len(window) == 2:
        pair = tuple(window)
    else:
        raise AttnError(f"{param('spec.window')} takes L (|i − j| ≤ L) or a pair (L, R) (i − L ≤ j ≤ i + R); "
                        f"got {window!r}")
    if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in pair):
        raise AttnError(f"{param('spec.window')} takes integers; got {window!r}")
    left, right = int(pair[0]), int(pair[1])
    if left < 0 or right < 0:
        raise AttnError(f"{param('spec.window')} sizes must be ≥ 0; got {left}:{right}")
    return left, right


def _lengths(lens: Any, name: str) -> tuple[int, ...] | None:
    if lens is None:
        return None
    try:
        out = tuple(int(x) for x in lens if not isinstance(x, bool) and int(x) == x)
    except (TypeError, ValueError):
        out = ()
    if isinstance(lens, (str, bytes)) or len(out) != len(lens) or not out:
        raise AttnError(f"{param(name)} takes one integer length per batch item; got {lens!r}")
    return out  # each within 0..n: checked against the arrays (masks.combine)


def _mask(mask: Any) -> np.ndarray | None:
    """A boolean mask, True = may attend; 0/1 numbers are read as booleans, anything else refused."""
    if mask is None:
        return None
    m = as_bool_mask(np.asarray(mask), param("spec.mask"))
    if m.ndim > 4:
        raise AttnError(f"{param('spec.mask')} has {m.ndim} dimensions {m.shape}; at most 4 "
                        "(batch × heads × n_q × n_k)")
    return frozen_array(m, "spec.mask")


def _bias(bias: Any) -> np.ndarray | None:
    """An additive bias (−inf masks; NaN and +inf are refused when attend runs, unless plan.allow_nonfinite)."""
    b = frozen_array(bias, "spec.bias")
    if b is not None and b.ndim > 4:
        raise AttnError(f"{param('spec.bias')} has {b.ndim} dimensions {b.shape}; at most 4 "
                        "(batch × heads × n_q × n_k)")
    return b


def _sinks(sinks: Any) -> np.ndarray | None:
    """One finite logit per head, (H,) (a scalar is one head's)."""
    a = frozen_array(sinks, "spec.sinks", kinds="fiu")
    if a is None:
        return None
    if a.ndim == 0:
        a = frozen_array(a.reshape(1), "spec.sinks")
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise AttnError(f"{param('spec.sinks')} must be one finite logit per head (H,); got "
                        f"{'shape ' + str(a.shape) if a.ndim != 1 or a.size == 0 else 'a value that is not finite'}")
    return a


# ---- the spec -----------------------------------------------------------------------------------------------

SPEC_DEFAULTS: dict[str, Any] = {
    "score": "scaled", "scale": None, "w_score": None, "wa_q": None, "wa_k": None, "va": None,
    "normalize": "softmax", "normalize_over": "keys", "temperature": 1.0, "softcap": None,
    "causal": False, "window": None, "key_lens": None, "query_lens": None, "mask": None, "graph": None,
    "window2d": None, "rope": None, "alibi": False, "bias": None, "empty_rows": "zero", "qk_norm": None,
    "sinks": None, "disentangled": None,
}


class Spec(Value):
    """Which attention, as one frozen, validated value (see the module docstring and the README's formulas):

        Q, K ← RMSNorm per head (qk_norm), then RoPE (rope)
        S = score(Q, K) · scale → softcap·tanh(S/softcap) → + bias + ALiBi → −∞ where masked → ÷ temperature
        A = normalize(S) over the keys,   head = A·V

    score: scaled (scale 1/√d_k by default), dot, general (w_score d_q × d_k), additive (wa_q d_q × h,
    wa_k d_k × h, va h), cosine, location (wa_q d_q × n_k); a parameter may be per head (a leading axis H).
    normalize: softmax, softmax1, sparsemax, relu, sigmoid, none. normalize_over: "keys" (always, but to
    reproduce the mistake of normalizing down the queries). Masks combine by AND: causal (j ≤ i), window
    (L, R): i − L ≤ j ≤ i + R, key_lens/query_lens (one per batch item: padding), mask (bool, broadcastable to
    (B, H, n_q, n_k), True = may attend), graph (Graph), window2d (Window2d over an image's pixels).
    rope: Rope or None; alibi: ALiBi's per-head linear bias. bias: additive (B, H, n_q, n_k)-broadcastable,
    −inf masks. empty_rows: what a query row with every key masked gives: "zero", "nan" or "error".
    qk_norm: QKNorm (each head's q and k through an RMSNorm over d_k, before RoPE) or None.
    sinks: attention sinks (gpt-oss), one logit s_h per head (H,) that joins each row's softmax denominator:
    A_ij = exp(S_ij − m) / (exp(s_h − m) + Σ_j' exp(S_ij' − m)), m = max(max_j' S_ij', s_h) (softmax only; a
    row with every key masked is all 0: its weight is on the sink). softmax1 is a sink at logit 0.
    disentangled: DeBERTa's relative-position terms (core/disentangled.py), added to the score before the scale:
    S = (q_i·k_j + q_i·K_r[c(i, j)] + k_j·Q_r[c′(j, i)])·scale, scale 1/√(d_k·(1 + terms)) unless given.
    """

    score: str
    scale: float | None
    w_score: np.ndarray | None
    wa_q: np.ndarray | None
    wa_k: np.ndarray | None
    va: np.ndarray | None
    normalize: str
    normalize_over: str
    temperature: float
    softcap: float | None
    causal: bool
    window: tuple[int, int] | None
    key_lens: tuple[int, ...] | None
    query_lens: tuple[int, ...] | None
    mask: np.ndarray | None
    graph: Graph | None
    window2d: Window2d | None
    rope: Rope | None
    alibi: bool
    bias: np.ndarray | None
    empty_rows: str
    qk_norm: QKNorm | None
    sinks: np.ndarray | None
    disentangled: Disentangled | None
    _fields = tuple(SPEC_DEFAULTS)
    _defaults = SPEC_DEFAULTS

    def __init__(self, *, score: str = "scaled", scale: float | None = None, w_score: Any = None, wa_q: Any = None,
                 wa_k: Any = None, va: Any = None, normalize: str = "softmax", normalize_over: str = "keys",
                 temperature: float = 1.0, softcap: float | None = None, causal: bool = False,
                 window: int | Sequence[int] | None = None, key_lens: Sequence[int] | None = None,
                 query_lens: Sequence[int] | None = None, mask: Any = None, graph: Graph | Mapping | None = None,
                 window2d: Window2d | Mapping | None = None, rope: Rope | Mapping | bool | None = None,
                 alibi: bool = False, bias: Any = None, empty_rows: str = "zero",
                 qk_norm: QKNorm | Mapping | None = None, sinks: Any = None,
                 disentangled: Disentangled | Mapping | None = None) -> None:
        va = frozen_array(va, "spec.va")
        if va is not None and va.ndim == 0:
            va = frozen_array(va.reshape(1), "spec.va")  # h = 1
        self._set(
            score=choice(score, tuple(SCORES), "spec.score"),
            scale=number(scale, "spec.scale"),
            w_score=frozen_array(w_score, "spec.w_score"), wa_q=frozen_array(wa_q, "spec.wa_q"),
            wa_k=frozen_array(wa_k, "spec.wa_k"), va=va,
            normalize=choice(normalize, tuple(NORMALIZERS), "spec.normalize"),
            normalize_over=choice(normalize_over, NORMALIZE_OVER, "spec.normalize_over"),
            temperature=number(temperature, "spec.temperature", positive=True, optional=False),
            softcap=number(softcap, "spec.softcap", positive=True),
            causal=flag(causal, "spec.causal"), window=_window(window),
            key_lens=_lengths(key_lens, "spec.key_lens"), query_lens=_lengths(query_lens, "spec.query_lens"),
            mask=_mask(mask), graph=_part(graph, Graph, "spec.graph"),
            window2d=_part(window2d, Window2d, "spec.window2d"),
            rope=Rope() if rope is True else (None if rope is False else _part(rope, Rope, "spec.rope")),
            alibi=flag(alibi, "spec.alibi"), bias=_bias(bias),
            empty_rows=choice(empty_rows, EMPTY_ROWS, "spec.empty_rows"),
            qk_norm=_part(qk_norm, QKNorm, "spec.qk_norm"), sinks=_sinks(sinks),
            disentangled=_part(disentangled, Disentangled, "spec.disentangled"))
        if self.sinks is not None and (self.normalize != "softmax" or self.normalize_over != "keys"):
            raise AttnError(f"{param('spec.sinks')} join a softmax's denominator over the keys; got "
                            f"{param('spec.normalize')} {self.normalize} over the {self.normalize_over}: use softmax "
                            "(softmax1 is softmax with one sink at logit 0 in every head)")

    def replace(self, **changes: Any) -> Spec:
        """A copy with `changes`, validated again: `spec.replace(scale=1.0)`."""
        unknown = [k for k in changes if k not in self._fields]
        if unknown:
            raise AttnError(f"{param('spec.' + unknown[0])} is not a field of Spec; the fields are "
                            f"{', '.join(self._fields)}")
        return Spec(**({f: getattr(self, f) for f in self._fields} | changes))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], name: str = "spec") -> Spec:
        """A spec from `to_dict()`'s plain values (or a problem file's [attention] table)."""
        return super().from_dict(values, name)

    @property
    def masked(self) -> bool:
        """True when some mask may block a key (causal, window, lengths, mask, graph, 2-D window)."""
        return bool(self.causal or self.window is not None or self.key_lens is not None
                    or self.query_lens is not None or self.mask is not None or self.graph is not None
                    or self.window2d is not None)


def _part(value: Any, kind: type, name: str) -> Any:
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        return kind.from_dict(value, name)
    raise AttnError(f"{param(name)} must be a {kind.__name__} (or a table of its fields); got {value!r}")


from attncli.core.plan import BACKENDS, DTYPES, Plan  # noqa: E402 - Spec and Plan come together (the plan after)

__all__ = ["Spec", "Rope", "QKNorm", "Graph", "Window2d", "Disentangled", "Plan", "BACKENDS", "DTYPES",
           "EMPTY_ROWS", "NORMALIZE_OVER"]
