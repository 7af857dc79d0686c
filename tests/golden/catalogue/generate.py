"""Generate the attention-variant catalogue's golden files: tests/golden/catalogue/<case>.npz.

How to run (from the repository root; PyTorch is NOT a runtime or CI dependency of attncli, so it
lives in a separate virtual environment -- never install it next to attncli):

    /work/torchenv/bin/python tests/golden/catalogue/generate.py

(any venv made with `python -m venv torchenv && torchenv/bin/pip install torch==2.13.0 numpy` will do).
Requires torch==2.13.0 exactly and numpy; never imports attncli. Output is deterministic: every case
has its own fixed seed, everything is float64. The script deletes and rewrites every *.npz here.

What each file holds (the convention of tests/golden/generate.py, extended)
-------------------------------------------------------------------------
<case>.npz:
  inputs, named like the CLI options without dashes, in the user-facing shape (no batch axis when
  unbatched; cols-layout cases hold every matrix transposed in its last two axes):
    x, x_kv, image (H x W x C or B x H x W x C), wq, wk, wv, wo, bq, bk, bv, bo, q, k, v,
    mask (bool, True = may attend), bias, w_score, wa_q, wa_k, va, adjacency (float, nonzero = may
    attend), edges (int64, m x 2, row "i j" = query i may attend key j), pe (a learned table), sinks
    (one attention-sink logit per head, H).
    Weight matrices are in rows orientation: Q = X @ wq + bq.
  options: 0-d unicode array holding JSON with the non-array options (attncli's keyword names):
    batched (always; not an attncli option), heads, score, scale, normalize, temperature, softcap,
    causal, window (int L or [L, R]), key_lens, query_lens, undirected, self_loops, window2d,
    pe ("sinusoidal"; a learned table is the input `pe`), pe_base, pe_layout, rope, rope_base,
    rope_layout, start_pos, alibi, layout.
  expected, canonical (rows layout, every axis present -- also for the cols cases):
    weights (B, H, n_q, n_k), output (B, n_q, d_out),
    q_rotated, k_rotated (B, H, n, d): attncli's res.q / res.k, i.e. after RoPE (RoPE cases only;
      not named q / k, which are inputs),
    scores (B, H, n_q, n_k): what the normalizer sees, -inf where masked (a few cases only),
    output_image (H x W x C or B x H x W x C; image cases only).
_functions.npz: references for the direct functions attncli.core.positions.{sinusoidal, rope,
  alibi_slopes, alibi_bias} and attncli.core.normalize.sparsemax (see `functions_file`).

How the references are made
---------------------------
`reference` below evaluates the pipeline the catalogue specifies, in float64 torch, from the saved
arrays and options alone:
    X <- X + PE -> Q, K, V (column blocks are heads) -> RoPE(Q), RoPE(K) (positions start_pos + 0..n-1)
    -> score -> x scale -> softcap C*tanh(s/C) -> + bias + ALiBi -> masked = -inf -> / temperature
    -> normalize over the allowed keys (masked weights exactly 0; with sinks, gpt-oss's concatenate the sink
       column, softmax, drop it) -> A_h V_h -> concat -> W_O, b_O
    -> query rows >= query_lens[b] set to 0.
Masks are written out as loops over (i, j) straight from their definitions; the scores and
normalizers from their formulas (sparsemax: the sorting algorithm of Martins & Astudillo 2016, Alg. 1);
positions from published code paraphrased (the Annotated Transformer's PositionalEncoding, HF LLaMA's
rotate_half, GPT-J's rotate_every_two, Press et al.'s get_slopes for ALiBi; the additive score from
d2l's AdditiveAttention). Every case is then checked against a second, independent torch evaluation:
F.scaled_dot_product_attention (math backend) or nn.MultiheadAttention with masks built by torch ops
(tril/triu, coordinate grids), F.bilinear for the general score, F.cosine_similarity, d2l's
AdditiveAttention with its masked_softmax, Meta LLaMA's complex-number RoPE, a bisection sparsemax,
logaddexp for softmax1 -- agreeing to 1e-12 before the file is written.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sums import write_sums  # noqa: E402  (tests/golden/sums.py)

TORCH_VERSION = "2.13.0"
HERE = Path(__file__).resolve().parent
F64 = torch.float64
TOL = 1e-12

if torch.__version__.split("+")[0] != TORCH_VERSION:
    sys.exit(f"tests/golden/catalogue/generate.py needs torch=={TORCH_VERSION}, found {torch.__version__}")

torch.use_deterministic_algorithms(True)
WRITTEN: list[str] = []
NEG_INF = float("-inf")


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int, std: float = 1.0) -> np.ndarray:
    return (torch.randn(*shape, generator=g, dtype=F64) * std).numpy().copy()


def tt(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a))


def assert_differs(a, b, what: str, by: float = 1e-3) -> None:
    """The case tells the right semantics from a plausible wrong one."""
    err = (tt(a) - tt(b)).abs().max().item()
    assert err > by, f"{what}: the case does not discriminate (max difference {err:.1e})"


def assert_close(actual, expected, what: str, atol: float = TOL) -> None:
    actual, expected = tt(actual).to(F64), tt(expected).to(F64)
    assert actual.shape == expected.shape, (what, tuple(actual.shape), tuple(expected.shape))
    a_inf, e_inf = torch.isneginf(actual), torch.isneginf(expected)
    assert torch.equal(a_inf, e_inf), f"{what}: -inf pattern differs"
    assert torch.isfinite(expected[~e_inf]).all(), f"{what}: non-finite expected values"
    diff = (actual[~e_inf] - expected[~e_inf]).abs()
    err = diff.max().item() if diff.numel() else 0.0
    assert err <= atol, f"{what}: max abs error {err:.3e} > {atol:.0e}"


def sdpa(q, k, v, mask=None, scale=None, is_causal=False):
    """torch's SDPA, math backend (it returns 0 for query rows whose every key is masked)."""
    with sdpa_kernel([SDPBackend.MATH]):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, is_causal=is_causal)


def merge_heads(o: torch.Tensor) -> torch.Tensor:
    """(B, H, n, d) -> (B, n, H*d): the heads side by side."""
    B, H, n, d = o.shape
    return o.transpose(1, 2).reshape(B, n, H * d)


def split_heads(t: torch.Tensor, H: int) -> torch.Tensor:
    """(B, n, H*d) -> (B, H, n, d): head h is the h-th block of d columns."""
    B, n, c = t.shape
    return t.reshape(B, n, H, c // H).transpose(1, 2)


# --------------------------------------------------------------------------------------------
# published reference code, paraphrased
# --------------------------------------------------------------------------------------------


def annotated_transformer_pe(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The Annotated Transformer's PositionalEncoding table (its `pe` buffer), base made a parameter."""
    pe = torch.zeros(max_len, d_model, dtype=F64)
    position = torch.arange(0, max_len, dtype=F64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=F64) * -(math.log(base) / d_model))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def concat_pe(n: int, d: int, base: float = 10000.0) -> torch.Tensor:
    """PE(pos, i) = sin(pos / base^(2i/d)), PE(pos, d/2 + i) = cos(pos / base^(2i/d)), i < d/2: loops."""
    pe = torch.zeros(n, d, dtype=F64)
    for p in range(n):
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            pe[p, i] = math.sin(angle)
            pe[p, d // 2 + i] = math.cos(angle)
    return pe


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF transformers, modeling_llama.rotate_half."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_llama_rope(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """HF LlamaRotaryEmbedding + apply_rotary_pos_emb: x*cos + rotate_half(x)*sin, cos of [θ, θ]."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(F64) / dim))
    freqs = torch.outer(positions.to(F64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (x * emb.cos()) + (rotate_half(x) * emb.sin())


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """HF transformers, modeling_gptj.rotate_every_two."""
    x1 = x[..., ::2]
    x2 = x[..., 1::2]
    x = torch.stack((-x2, x1), dim=-1)
    return x.flatten(-2)


def gptj_rope(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """GPT-J: create_sinusoidal_positions + apply_rotary_pos_emb with repeat_interleave(2)."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(F64) / dim))
    sinusoid_inp = torch.einsum("i , j -> i j", positions.to(F64), inv_freq)
    sin, cos = torch.sin(sinusoid_inp), torch.cos(sinusoid_inp)
    sin, cos = sin.repeat_interleave(2, dim=-1), cos.repeat_interleave(2, dim=-1)
    return (x * cos) + (rotate_every_two(x) * sin)


def complex_rope(x: torch.Tensor, positions: torch.Tensor, base: float, layout: str) -> torch.Tensor:
    """Su et al. as complex multiplication (Meta LLaMA's reference apply_rotary_emb for interleaved
    pairs (x_2i, x_2i+1); pairs (x_i, x_i+d/2) for half): z_i * e^{i pos θ_i}."""
    d = x.shape[-1]
    freqs = 1.0 / (base ** (torch.arange(0, d, 2, dtype=F64)[: d // 2] / d))
    angles = torch.outer(positions.to(F64), freqs)
    freqs_cis = torch.polar(torch.ones_like(angles), angles)
    if layout == "interleaved":
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(z * freqs_cis).flatten(-2)
    z = torch.complex(x[..., : d // 2], x[..., d // 2:])
    r = z * freqs_cis
    return torch.cat([r.real, r.imag], dim=-1)


def get_slopes(n: int) -> list[float]:
    """Press et al., ALiBi (ofirpress/attention_with_linear_biases), verbatim in substance."""

    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio**i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])


def sparsemax_sort(z: list[float]) -> list[float]:
    """Martins & Astudillo (2016), Algorithm 1: sort, find k(z), threshold τ, p = [z − τ]_+."""
    zs = sorted(z, reverse=True)
    cumsum, k_z, s_k = 0.0, 0, 0.0
    for k, zk in enumerate(zs, start=1):
        cumsum += zk
        if 1 + k * zk > cumsum:
            k_z, s_k = k, cumsum
    tau = (s_k - 1) / k_z
    return [max(zi - tau, 0.0) for zi in z]


def sparsemax_bisect(z: torch.Tensor, iters: int = 200) -> torch.Tensor:
    """Independent check: τ solves Σ max(z − τ, 0) = 1, found by bisection on [max z − 1, max z]."""
    lo, hi = z.max() - 1, z.max()
    for _ in range(iters):
        mid = (lo + hi) / 2
        if torch.clamp(z - mid, min=0).sum() > 1:
            lo = mid
        else:
            hi = mid
    tau = (lo + hi) / 2
    p = torch.clamp(z - tau, min=0)
    return p / p.sum()  # removes the last ~1e-16 of bisection slack


def d2l_masked_softmax(X: torch.Tensor, valid_lens: torch.Tensor | None) -> torch.Tensor:
    """d2l.ai 11.3 masked_softmax: entries past valid_lens get -1e6 before the softmax."""
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    shape = X.shape
    valid_lens = torch.repeat_interleave(valid_lens, shape[1]) if valid_lens.dim() == 1 else valid_lens.reshape(-1)
    X = X.reshape(-1, shape[-1])
    maxlen = X.size(1)
    mask = torch.arange(maxlen, dtype=torch.float32)[None, :] < valid_lens[:, None]
    X[~mask] = -1e6
    return F.softmax(X.reshape(shape), dim=-1)


def d2l_additive(queries, keys, values, valid_lens, wa_q, wa_k, va):
    """d2l.ai 11.3 AdditiveAttention.forward (no dropout); W_q/W_k/w_v are bias-free nn.Linear with
    torch's (out, in) weights, i.e. the transposes of the rows-orientation wa_q, wa_k."""
    W_q = torch.nn.Linear(wa_q.shape[0], wa_q.shape[1], bias=False, dtype=F64)
    W_k = torch.nn.Linear(wa_k.shape[0], wa_k.shape[1], bias=False, dtype=F64)
    w_v = torch.nn.Linear(va.shape[0], 1, bias=False, dtype=F64)
    with torch.no_grad():
        W_q.weight.copy_(wa_q.T)
        W_k.weight.copy_(wa_k.T)
        w_v.weight.copy_(va[None])
        queries, keys = W_q(queries), W_k(keys)
        features = queries.unsqueeze(2) + keys.unsqueeze(1)
        features = torch.tanh(features)
        scores = w_v(features).squeeze(-1)
        attention_weights = d2l_masked_softmax(scores, valid_lens)
        return attention_weights, torch.bmm(attention_weights, values)


def mha_check(name, x, xkv, wq, wk, wv, heads, attn_mask, expected, wo=None, b=None, bo=None):
    """nn.MultiheadAttention (batch_first, eval) with the rows-orientation weights transposed into
    in_proj_weight; no W_O given -> out_proj = identity. attn_mask: bool True = blocked, or float."""
    E = x.shape[-1]
    mha = torch.nn.MultiheadAttention(E, heads, bias=b is not None, batch_first=True, dtype=F64).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([tt(wq).T, tt(wk).T, tt(wv).T]))
        mha.out_proj.weight.copy_(torch.eye(E, dtype=F64) if wo is None else tt(wo).T)
        if b is not None:
            mha.in_proj_bias.copy_(torch.cat([tt(a) for a in b]))
            mha.out_proj.bias.copy_(torch.zeros(E, dtype=F64) if bo is None else tt(bo))
        o, w = mha(tt(x), tt(xkv), tt(xkv), attn_mask=attn_mask, need_weights=True, average_attn_weights=False)
    assert_close(w, expected["weights"], f"{name}: nn.MultiheadAttention weights")
    assert_close(o, expected["output"], f"{name}: nn.MultiheadAttention output")


# --------------------------------------------------------------------------------------------
# the catalogue's pipeline, from the saved arrays and options alone
# --------------------------------------------------------------------------------------------


def allowed_map(opts: dict, inputs: dict, B: int, H: int, n_q: int, n_k: int, grid) -> torch.Tensor:
    """bool (B, H, n_q, n_k): every mask written as its definition, intersected."""
    ok = torch.ones(B, H, n_q, n_k, dtype=torch.bool)
    window = opts.get("window")
    if window is not None:
        L, R = (window, window) if isinstance(window, int) else window
    graph = None
    if "adjacency" in inputs or "edges" in inputs:
        graph = [[False] * n_k for _ in range(n_q)]
        if "adjacency" in inputs:
            adj = inputs["adjacency"]
            for i in range(n_q):
                for j in range(n_k):
                    graph[i][j] = bool(adj[i, j] != 0)
        if "edges" in inputs:
            for i, j in inputs["edges"].tolist():
                graph[i][j] = True
        if opts.get("undirected"):
            pairs = [(i, j) for i in range(n_q) for j in range(n_k) if graph[i][j]]
            for i, j in pairs:
                graph[j][i] = True
        if opts.get("self_loops"):
            for i in range(n_q):
                graph[i][i] = True
    mask = inputs.get("mask")
    if mask is not None:
        mask = np.broadcast_to(mask, (B, H, n_q, n_k))
    for b in range(B):
        for h in range(H):
            for i in range(n_q):
                for j in range(n_k):
                    a = True
                    if opts.get("causal"):
                        a &= j <= i
                    if window is not None:
                        a &= i - L <= j <= i + R
                    if "key_lens" in opts:
                        a &= j < opts["key_lens"][b]
                    if "query_lens" in opts:
                        a &= i < opts["query_lens"][b]
                    if mask is not None:
                        a &= bool(mask[b, h, i, j])
                    if graph is not None:
                        a &= graph[i][j]
                    if "window2d" in opts:
                        half = opts["window2d"] // 2
                        (ri, ci), (rj, cj) = divmod(i, grid[1]), divmod(j, grid[1])
                        a &= abs(ri - rj) <= half and abs(ci - cj) <= half
                    ok[b, h, i, j] = a
    return ok


def raw_scores(score: str, q: torch.Tensor, k: torch.Tensor, p: dict, h: int) -> torch.Tensor:
    """(n_q, n_k) scores of one head from its q (n_q, d_q) and k (n_k, d_k)."""

    def per_head(a):  # a shared matrix, or a stack with one per head
        return a[h] if a.ndim == 3 else a

    if score in ("scaled", "dot"):
        return q @ k.T
    if score == "general":
        return q @ per_head(p["w_score"]) @ k.T
    if score == "location":
        return q @ per_head(p["w_score"])
    if score == "cosine":
        s = torch.empty(q.shape[0], k.shape[0], dtype=F64)
        for i in range(q.shape[0]):
            for j in range(k.shape[0]):
                s[i, j] = q[i] @ k[j] / (q[i].norm() * k[j].norm())
        return s
    if score == "additive":
        wa_q, wa_k, va = per_head(p["wa_q"]), per_head(p["wa_k"]), p["va"]  # va: shared vector
        s = torch.empty(q.shape[0], k.shape[0], dtype=F64)
        for i in range(q.shape[0]):
            for j in range(k.shape[0]):
                s[i, j] = va @ torch.tanh(q[i] @ wa_q + k[j] @ wa_k)
        return s
    raise ValueError(score)


def normalize_row(s: torch.Tensor, ok: torch.Tensor, how: str) -> torch.Tensor:
    """One row of scores -> weights over the allowed keys; masked keys get exactly 0."""
    w = torch.zeros_like(s)
    if not ok.any():
        return w
    z = s[ok]
    if how == "softmax":
        e = torch.exp(z - z.max())
        w[ok] = e / e.sum()
    elif how == "softmax1":  # exp(s_j) / (1 + Σ exp(s_k)), shifted by m = max(0, max s)
        m = max(0.0, z.max().item())
        e = torch.exp(z - m)
        w[ok] = e / (math.exp(-m) + e.sum())
    elif how == "sparsemax":
        w[ok] = torch.tensor(sparsemax_sort(z.tolist()), dtype=F64)
    elif how == "relu":
        w[ok] = torch.clamp(z, min=0)
    elif how == "sigmoid":
        w[ok] = 1 / (1 + torch.exp(-z))
    elif how == "none":
        w[ok] = z
    else:
        raise ValueError(how)
    return w


def reference(inputs: dict[str, np.ndarray], opts: dict) -> dict[str, torch.Tensor]:
    t = {name: tt(a) for name, a in inputs.items()}
    batched = opts["batched"]
    H = opts.get("heads", 1)
    score = opts.get("score", "scaled")
    grid = None

    # tokens
    x = xkv = None
    if "image" in t:
        img = t["image"] if batched else t["image"][None]
        B, gh, gw, C = img.shape
        grid = (gh, gw)
        x = torch.empty(B, gh * gw, C, dtype=F64)
        for r in range(gh):
            for c in range(gw):
                x[:, r * gw + c] = img[:, r, c]  # token index r*W + c
    elif "x" in t:
        x = t["x"] if batched else t["x"][None]
        if "x_kv" in t:
            xkv = t["x_kv"] if batched else t["x_kv"][None]

    if x is not None:
        def add_pe(a):
            n, d = a.shape[1], a.shape[2]
            if opts.get("pe") == "sinusoidal":
                base = opts.get("pe_base", 10000.0)
                if opts.get("pe_layout", "interleaved") == "interleaved":
                    return a + annotated_transformer_pe(n, d, base)
                return a + concat_pe(n, d, base)
            if "pe" in t:
                return a + t["pe"][:n]
            return a

        x = add_pe(x)
        xkv = x if xkv is None else add_pe(xkv)

        def proj(a, w, b):
            y = a if w not in t else a @ t[w]
            return y if b not in t else y + t[b]

        q = split_heads(proj(x, "wq", "bq"), H)
        k = split_heads(proj(xkv, "wk", "bk"), H)
        v = split_heads(proj(xkv, "wv", "bv"), H)
    else:
        def to4(a):
            if a.ndim == 2:
                return a[None, None]
            if a.ndim == 3:
                return a[:, None] if batched else a[None]
            return a

        q, k, v = to4(t["q"]), to4(t["k"]), to4(t["v"])
    B, _, n_q, _ = q.shape
    n_k, d_k = k.shape[2], k.shape[3]
    assert q.shape[1] == H and k.shape[1] == H

    # RoPE
    if opts.get("rope"):
        base = opts.get("rope_base", 10000.0)
        p0 = opts.get("start_pos", 0)
        rope_fn = hf_llama_rope if opts.get("rope_layout", "half") == "half" else gptj_rope
        q = rope_fn(q, torch.arange(n_q) + p0, base)
        k = rope_fn(k, torch.arange(n_k) + p0, base)

    # scores -> scale -> softcap -> bias -> mask -> temperature
    params = {n: t[n] for n in ("w_score", "wa_q", "wa_k", "va") if n in t}
    s = torch.empty(B, H, n_q, n_k, dtype=F64)
    for b in range(B):
        for h in range(H):
            s[b, h] = raw_scores(score, q[b, h], k[b, h], params, h)
    scale = opts.get("scale", 1 / math.sqrt(d_k) if score == "scaled" else 1.0)
    s = s * scale
    if "softcap" in opts:
        C = opts["softcap"]
        s = C * torch.tanh(s / C)
    if "bias" in t:
        s = s + t["bias"]
    if opts.get("alibi"):
        slopes = get_slopes(H)
        ab = torch.empty(H, n_q, n_k, dtype=F64)
        for h in range(H):
            for i in range(n_q):
                for j in range(n_k):
                    ab[h, i, j] = -slopes[h] * ((i - j) if opts.get("causal") else abs(i - j))
        s = s + ab
    ok = allowed_map(opts, inputs, B, H, n_q, n_k, grid)
    s = s.masked_fill(~ok, NEG_INF)
    s = s / opts.get("temperature", 1.0)

    # normalize, weight the values, concat, W_O
    how = opts.get("normalize", "softmax")
    w = torch.zeros_like(s)
    if "sinks" in t:  # gpt-oss's eager_attention_forward: the sink column joins, the row max off, softmax, dropped
        assert how == "softmax"
        sinks = t["sinks"].reshape(1, H, 1, 1).expand(B, H, n_q, 1)
        combined = torch.cat([s, sinks], dim=-1)
        combined = combined - combined.max(dim=-1, keepdim=True).values
        w = torch.softmax(combined, dim=-1)[..., :-1]
    for b in range(B) if "sinks" not in t else ():
        for h in range(H):
            for i in range(n_q):
                w[b, h, i] = normalize_row(s[b, h, i], ok[b, h, i], how)
    out = merge_heads(w @ v)
    if "wo" in t:
        out = out @ t["wo"]
    if "bo" in t:
        out = out + t["bo"]
    if "query_lens" in opts:
        for b, n in enumerate(opts["query_lens"]):
            out[b, n:] = 0
    res = {"weights": w, "output": out, "q": q, "k": k, "scores": s}
    if grid is not None:
        img_out = out.reshape(B, *grid, out.shape[-1])
        res["output_image"] = img_out if batched else img_out[0]
    return res


# --------------------------------------------------------------------------------------------
# writing cases
# --------------------------------------------------------------------------------------------

OPTION_KEYS = {"batched", "heads", "score", "scale", "normalize", "temperature", "softcap", "causal", "window",
               "key_lens", "query_lens", "undirected", "self_loops", "window2d", "pe", "pe_base", "pe_layout",
               "rope", "rope_base", "rope_layout", "start_pos", "alibi", "layout"}


def save_case(name: str, inputs: dict, opts: dict, exp: dict, scores: bool = False) -> None:
    assert set(opts) <= OPTION_KEYS, set(opts) - OPTION_KEYS
    keep = ["weights", "output"]
    if opts.get("rope"):
        exp = {**exp, "q_rotated": exp["q"], "k_rotated": exp["k"]}
        keep += ["q_rotated", "k_rotated"]
    if scores:
        keep.append("scores")
    if "output_image" in exp:
        keep.append("output_image")
    arrays = {n: np.asarray(a) for n, a in inputs.items()}
    assert not set(arrays) & set(keep), set(arrays) & set(keep)
    for n in keep:
        arrays[n] = exp[n].detach().numpy().astype(np.float64)
    assert np.isfinite(arrays["weights"]).all() and np.isfinite(arrays["output"]).all()
    arrays["options"] = np.array(json.dumps(opts, sort_keys=True))
    path = HERE / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    WRITTEN.append(path.name)


def cols_case(name: str, inputs: dict, opts: dict, exp: dict) -> None:
    """The same case in cols layout: every matrix input transposed in its last two axes (vectors
    pass); the canonical expected arrays are unchanged (user-facing results are their transposes)."""
    t_inputs = {n: (np.swapaxes(a, -1, -2).copy() if a.ndim >= 2 else a) for n, a in inputs.items()}
    save_case(name, t_inputs, {**opts, "layout": "cols"}, exp)


def qkv4(inputs: dict, batched: bool):
    """q, k, v as (B, H, n, d) tensors from direct inputs."""
    out = []
    for n in ("q", "k", "v"):
        a = tt(inputs[n])
        out.append(a[None, None] if a.ndim == 2 else (a[:, None] if batched else a[None]) if a.ndim == 3 else a)
    return out


def bool_window(n_q: int, n_k: int, left: int, right: int) -> torch.Tensor:
    """jax-style local window built from tril/triu: i − left ≤ j ≤ i + right."""
    ones = torch.ones(n_q, n_k, dtype=torch.bool)
    return ones.tril(right) & ones.triu(-left)


def alibi_torch(H: int, n_q: int, n_k: int, causal: bool) -> torch.Tensor:
    """(H, n_q, n_k) ALiBi bias by broadcasting, slopes from get_slopes."""
    m = torch.tensor(get_slopes(H), dtype=F64)[:, None, None]
    rel = torch.arange(n_q, dtype=F64)[:, None] - torch.arange(n_k, dtype=F64)[None, :]
    return -m * (rel if causal else rel.abs())


# --------------------------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------------------------


def score_cases():
    # general, 2 heads sharing W (d_q = d_k = 3)
    g = gen(1001)
    inputs = {"q": randn(g, 2, 4, 3), "k": randn(g, 2, 5, 3), "v": randn(g, 2, 5, 2), "w_score": randn(g, 3, 3)}
    opts = {"batched": False, "heads": 2, "score": "general"}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    W = tt(inputs["w_score"])
    for h in range(2):
        qq = q[0, h][:, None].expand(4, 5, 3).reshape(-1, 3)
        kk = k[0, h][None].expand(4, 5, 3).reshape(-1, 3)
        s = F.bilinear(qq, kk, W[None]).reshape(4, 5)
        assert_close(torch.softmax(s, -1), exp["weights"][0, h], "general: F.bilinear")
    assert_close(merge_heads(exp["weights"] @ v), exp["output"], "general: output")
    save_case("general_shared_heads2", inputs, opts, exp)

    # general, per-head W (heads x d_q x d_k), batched tokens with projections, causal
    g = gen(1002)
    inputs = {"x": randn(g, 2, 4, 6), "wq": randn(g, 6, 6, std=0.5), "wk": randn(g, 6, 6, std=0.5),
              "wv": randn(g, 6, 6, std=0.5), "w_score": randn(g, 2, 3, 3)}
    opts = {"batched": True, "heads": 2, "score": "general", "causal": True}
    exp = reference(inputs, opts)
    x = tt(inputs["x"])
    q = split_heads(x @ tt(inputs["wq"]), 2)
    k = split_heads(x @ tt(inputs["wk"]), 2)
    v = split_heads(x @ tt(inputs["wv"]), 2)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    for b in range(2):
        for h in range(2):
            W = tt(inputs["w_score"])[h]
            qq = q[b, h][:, None].expand(4, 4, 3).reshape(-1, 3)
            kk = k[b, h][None].expand(4, 4, 3).reshape(-1, 3)
            s = F.bilinear(qq, kk, W[None]).reshape(4, 4).masked_fill(~causal, NEG_INF)
            assert_close(torch.softmax(s, -1), exp["weights"][b, h], "general per-head: F.bilinear")
    assert_close(merge_heads(exp["weights"] @ v), exp["output"], "general per-head: output")
    save_case("general_per_head_batched", inputs, opts, exp)

    # additive, cross-attention with d_q = 3, d_k = 5, n_q = 2, n_k = 4, hidden 6
    g = gen(1003)
    inputs = {"q": randn(g, 2, 3), "k": randn(g, 4, 5), "v": randn(g, 4, 2),
              "wa_q": randn(g, 3, 6, std=0.7), "wa_k": randn(g, 5, 6, std=0.7), "va": randn(g, 6)}
    opts = {"batched": False, "score": "additive"}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    w, o = d2l_additive(t["q"][None], t["k"][None], t["v"][None], None, t["wa_q"], t["wa_k"], t["va"])
    assert_close(w, exp["weights"][:, 0], "additive: d2l AdditiveAttention weights")
    assert_close(o, exp["output"], "additive: d2l AdditiveAttention output")
    save_case("additive_cross", inputs, opts, exp)
    cols_case("additive_cross_cols", inputs, opts, exp)

    # additive, batch of 2, 2 heads from x and projections (d_k = 2 per head, d_v = 3), key_lens
    g = gen(1004)
    inputs = {"x": randn(g, 2, 4, 6), "wq": randn(g, 6, 4, std=0.6), "wk": randn(g, 6, 4, std=0.6),
              "wv": randn(g, 6, 6, std=0.6), "wa_q": randn(g, 2, 5), "wa_k": randn(g, 2, 5), "va": randn(g, 5)}
    opts = {"batched": True, "heads": 2, "score": "additive", "key_lens": [4, 2]}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    q, k, v = (split_heads(t["x"] @ t[n], 2) for n in ("wq", "wk", "wv"))
    outs = []
    for h in range(2):
        w, o = d2l_additive(q[:, h], k[:, h], v[:, h], torch.tensor([4, 2]), t["wa_q"], t["wa_k"], t["va"])
        assert_close(w, exp["weights"][:, h], "additive batched: d2l weights")
        outs.append(o)
    assert_close(torch.cat(outs, -1), exp["output"], "additive batched: d2l output")
    save_case("additive_batched_heads2", inputs, opts, exp)

    # cosine with a logit scale of 5
    g = gen(1005)
    inputs = {"q": randn(g, 3, 4), "k": randn(g, 4, 4), "v": randn(g, 4, 3)}
    opts = {"batched": False, "score": "cosine", "scale": 5.0}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    s = 5.0 * F.cosine_similarity(t["q"][:, None], t["k"][None], dim=-1)
    assert_close(torch.softmax(s, -1), exp["weights"][0, 0], "cosine: F.cosine_similarity")
    assert_close(torch.softmax(s, -1) @ t["v"], exp["output"][0], "cosine: output")
    save_case("cosine_scale5", inputs, opts, exp)

    # location: S = Q·W_a with W_a d_q x n_k; the keys do not enter the scores
    g = gen(1006)
    inputs = {"q": randn(g, 3, 3), "k": randn(g, 4, 3), "v": randn(g, 4, 2), "w_score": randn(g, 3, 4)}
    opts = {"batched": False, "score": "location"}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    w = torch.softmax(F.linear(t["q"], t["w_score"].T), -1)
    assert_close(w, exp["weights"][0, 0], "location: softmax(F.linear)")
    other = reference({**inputs, "k": randn(g, 4, 3)}, opts)
    assert_close(other["weights"], exp["weights"], "location: keys ignored")
    save_case("location", inputs, opts, exp)


def normalizer_cases():
    # softmax1 (Miller's "attention is off by one"), 2 heads, causal
    g = gen(2001)
    inputs = {"q": randn(g, 2, 5, 3), "k": randn(g, 2, 5, 3), "v": randn(g, 2, 5, 3)}
    opts = {"batched": False, "heads": 2, "normalize": "softmax1", "causal": True}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    s = (q @ k.transpose(-1, -2) / math.sqrt(3)).masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), NEG_INF)
    lse = torch.logsumexp(s, -1, keepdim=True)
    w = torch.exp(s - torch.logaddexp(torch.zeros_like(lse), lse))  # exp(s) / (1 + Σ exp(s))
    assert_close(w, exp["weights"], "softmax1: logaddexp form")
    assert (exp["weights"].sum(-1) < 1).all()
    assert_close(merge_heads(w @ v), exp["output"], "softmax1: output")
    save_case("softmax1_causal_heads2", inputs, opts, exp)

    # sparsemax hand case: score dot with d = 1 gives rows [1, .5, .1], [0, 0, 0], [3, 1.5, .3]
    inputs = {"q": np.array([[1.0], [0.0], [3.0]]), "k": np.array([[1.0], [0.5], [0.1]]), "v": np.eye(3)}
    opts = {"batched": False, "score": "dot", "normalize": "sparsemax"}
    exp = reference(inputs, opts)
    hand = torch.tensor([[0.75, 0.25, 0.0], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]], dtype=F64)
    assert_close(exp["weights"][0, 0], hand, "sparsemax hand case")
    assert_close(exp["output"][0], hand, "sparsemax hand case: V = I")
    save_case("sparsemax_hand", inputs, opts, exp)

    # sparsemax, random scores (large enough for exact zeros) with a mask, 2 heads
    g = gen(2002)
    inputs = {"q": randn(g, 2, 5, 4, std=1.5), "k": randn(g, 2, 5, 4, std=1.5), "v": randn(g, 2, 5, 3)}
    inputs["mask"] = np.array([[1, 1, 0, 1, 1],
                               [0, 1, 1, 1, 0],
                               [0, 0, 1, 0, 0],  # one allowed key: weight exactly 1
                               [1, 1, 1, 1, 1],
                               [1, 0, 1, 0, 1]], dtype=bool)
    opts = {"batched": False, "heads": 2, "normalize": "sparsemax"}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    s = q @ k.transpose(-1, -2) / 2.0
    m = tt(inputs["mask"])
    for h in range(2):
        for i in range(5):
            row = torch.zeros(5, dtype=F64)
            row[m[i]] = sparsemax_bisect(s[0, h, i][m[i]])
            assert_close(row, exp["weights"][0, h, i], "sparsemax: bisection", atol=1e-11)
    nz_zero = ((exp["weights"] == 0) & m).sum().item()
    assert nz_zero >= 5, f"sparsemax case has only {nz_zero} exact zeros on allowed keys"
    assert torch.all(exp["weights"][0, :, 2, 2] == 1)
    save_case("sparsemax_mask_heads2", inputs, opts, exp)

    # relu / sigmoid / none, each with a mask (n_q = 4, n_k = 5)
    mask = np.array([[1, 0, 1, 1, 0],
                     [1, 1, 0, 1, 1],
                     [0, 1, 1, 0, 1],
                     [1, 1, 1, 1, 0]], dtype=bool)
    for seed, how, fn in ((2003, "relu", torch.relu), (2004, "sigmoid", torch.sigmoid), (2005, "none", None)):
        g = gen(seed)
        inputs = {"q": randn(g, 4, 3), "k": randn(g, 5, 3), "v": randn(g, 5, 2), "mask": mask}
        opts = {"batched": False, "normalize": how}
        exp = reference(inputs, opts)
        t = {n: tt(a) for n, a in inputs.items()}
        s = t["q"] @ t["k"].T / math.sqrt(3)
        w = (s if fn is None else fn(s)) * t["mask"]
        assert_close(w, exp["weights"][0, 0], f"{how}: formula")
        assert_close(w @ t["v"], exp["output"][0], f"{how}: output")
        if how == "relu":
            assert ((s < 0) & t["mask"]).any(), "relu case has no negative allowed score"
        save_case(f"{how}_mask", inputs, opts, exp)

    # softcap 2.0 after an explicit scale, BEFORE the bias and the causal mask
    g = gen(2006)
    inputs = {"q": randn(g, 5, 4, std=1.5), "k": randn(g, 5, 4, std=1.5), "v": randn(g, 5, 3),
              "bias": randn(g, 5, 5)}
    opts = {"batched": False, "scale": 0.9, "softcap": 2.0, "causal": True}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    capped = 2.0 * torch.tanh(t["q"] @ t["k"].T * 0.9 / 2.0)
    assert (capped.abs() > 1.5).any(), "softcap does not bite"
    am = (capped + t["bias"]).masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), NEG_INF)
    assert_close(am, exp["scores"][0, 0], "softcap: scores")
    assert_close(torch.softmax(am, -1), exp["weights"][0, 0], "softcap: weights")
    assert_close(torch.softmax(am, -1) @ t["v"], exp["output"][0], "softcap: output")
    late = 2.0 * torch.tanh((t["q"] @ t["k"].T * 0.9 + t["bias"]) / 2.0)
    late = late.masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), NEG_INF)
    assert_differs(torch.softmax(late, -1), exp["weights"][0, 0], "softcap after the bias")
    save_case("softcap_scale_bias_causal", inputs, opts, exp, scores=True)

    # temperature 0.5 (scores / T before the softmax), 2 heads, causal cross (n_q = 4, n_k = 6)
    g = gen(2007)
    inputs = {"q": randn(g, 2, 4, 3), "k": randn(g, 2, 6, 3), "v": randn(g, 2, 6, 3)}
    opts = {"batched": False, "heads": 2, "temperature": 0.5, "causal": True}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    o = sdpa(q, k, v, scale=1 / math.sqrt(3) / 0.5, is_causal=True)
    assert_close(merge_heads(o), exp["output"], "temperature: SDPA with scale/T")
    save_case("temperature_half", inputs, opts, exp, scores=True)


def mask_cases():
    # window L = 1: |i - j| <= 1
    g = gen(3001)
    inputs = {"q": randn(g, 6, 4), "k": randn(g, 6, 4), "v": randn(g, 6, 4)}
    opts = {"batched": False, "window": 1}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    assert_close(sdpa(q, k, v, mask=bool_window(6, 6, 1, 1))[:, 0], exp["output"], "window 1: SDPA")
    save_case("window_1", inputs, opts, exp)

    # window (2, 0): i - 2 <= j <= i (a causal sliding window), 2 heads
    g = gen(3002)
    inputs = {"q": randn(g, 2, 6, 3), "k": randn(g, 2, 6, 3), "v": randn(g, 2, 6, 3)}
    opts = {"batched": False, "heads": 2, "window": [2, 0]}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    assert_close(merge_heads(sdpa(q, k, v, mask=bool_window(6, 6, 2, 0))), exp["output"], "window 2:0: SDPA")
    save_case("window_2_0_heads2", inputs, opts, exp)

    # window (1, 2) with causal: the causal mask cuts the right side to 0
    g = gen(3003)
    inputs = {"q": randn(g, 6, 3), "k": randn(g, 6, 3), "v": randn(g, 6, 3)}
    opts = {"batched": False, "window": [1, 2], "causal": True}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    assert_close(sdpa(q, k, v, mask=bool_window(6, 6, 1, 0))[:, 0], exp["output"], "window 1:2 causal: SDPA")
    save_case("window_1_2_causal", inputs, opts, exp)

    # window with x, projections, 2 heads and W_O -- also in cols layout
    g = gen(3004)
    inputs = {"x": randn(g, 5, 6), "wq": randn(g, 6, 6, std=0.5), "wk": randn(g, 6, 6, std=0.5),
              "wv": randn(g, 6, 6, std=0.5), "wo": randn(g, 6, 6, std=0.5)}
    opts = {"batched": False, "heads": 2, "window": [1, 2]}
    exp = reference(inputs, opts)
    mha_check("window x", tt(inputs["x"])[None], tt(inputs["x"])[None], inputs["wq"], inputs["wk"], inputs["wv"], 2,
              ~bool_window(5, 5, 1, 2), exp, wo=inputs["wo"])
    assert_differs(reference(inputs, {**opts, "window": [2, 1]})["weights"], exp["weights"], "window L, R swapped")
    save_case("window_x_heads2", inputs, opts, exp)
    cols_case("window_x_heads2_cols", inputs, opts, exp)

    # query_lens [3, 2] with W_O and b_O: padded query rows -> weights 0 and output 0 (not b_O)
    g = gen(3005)
    inputs = {"x": randn(g, 2, 4, 6), "wq": randn(g, 6, 6, std=0.5), "wk": randn(g, 6, 6, std=0.5),
              "wv": randn(g, 6, 6, std=0.5), "wo": randn(g, 6, 5, std=0.5), "bo": randn(g, 5)}
    opts = {"batched": True, "heads": 2, "query_lens": [3, 2]}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    q, k, v = (split_heads(t["x"] @ t[n], 2) for n in ("wq", "wk", "wv"))
    valid = torch.arange(4)[None, :] < torch.tensor([3, 2])[:, None]  # (B, n_q)
    o = sdpa(q, k, v, mask=valid[:, None, :, None].expand(2, 2, 4, 4))
    out = torch.where(valid[:, :, None], merge_heads(o) @ t["wo"] + t["bo"], 0.0)
    assert_close(out, exp["output"], "query_lens: SDPA + W_O")
    assert torch.all(exp["weights"][0, :, 3] == 0) and torch.all(exp["output"][1, 2:] == 0)
    save_case("query_lens_wo_bo", inputs, opts, exp)

    # directed adjacency + self loops (node 3 has no out-edge but itself); one entry is 0.5 (nonzero)
    g = gen(3006)
    adj = np.array([[0, 1, 0, 0, 1],
                    [1, 0, 0.5, 0, 0],
                    [0, 0, 0, 1, 1],
                    [0, 0, 0, 0, 0],
                    [0, 1, 1, 0, 0]], dtype=np.float64)
    inputs = {"x": randn(g, 5, 4), "wq": randn(g, 4, 4), "wk": randn(g, 4, 4), "wv": randn(g, 4, 4),
              "adjacency": adj}
    opts = {"batched": False, "self_loops": True}
    exp = reference(inputs, opts)
    allowed = (tt(adj) != 0) | torch.eye(5, dtype=torch.bool)
    mha_check("adjacency", tt(inputs["x"])[None], tt(inputs["x"])[None], inputs["wq"], inputs["wk"], inputs["wv"],
              1, ~allowed, exp)
    transposed = reference({**inputs, "adjacency": adj.T.copy()}, opts)
    assert_differs(transposed["weights"], exp["weights"], "adjacency read as j -> i")
    save_case("adjacency_self_loops", inputs, opts, exp)

    # undirected edges; node 4 is isolated -> an empty row (weights 0, output 0)
    g = gen(3007)
    inputs = {"q": randn(g, 5, 3), "k": randn(g, 5, 3), "v": randn(g, 5, 2),
              "edges": np.array([[0, 1], [1, 2], [3, 1], [2, 0]], dtype=np.int64)}
    opts = {"batched": False, "score": "dot", "undirected": True}
    exp = reference(inputs, opts)
    a = torch.zeros(5, 5, dtype=torch.bool)
    a[tt(inputs["edges"])[:, 0], tt(inputs["edges"])[:, 1]] = True
    a = a | a.T
    q, k, v = qkv4(inputs, False)
    assert_close(sdpa(q, k, v, mask=a, scale=1.0)[:, 0], exp["output"], "edges undirected: SDPA")
    assert torch.all(exp["weights"][0, 0, 4] == 0) and torch.all(exp["output"][0, 4] == 0)
    save_case("edges_undirected", inputs, opts, exp)

    # combination: batch 2, heads 2, ALiBi + window (2, 1) + softcap + key_lens, with W_O and b_O
    g = gen(3008)
    inputs = {"x": randn(g, 2, 6, 8), "wq": randn(g, 8, 8, std=0.6), "wk": randn(g, 8, 8, std=0.6),
              "wv": randn(g, 8, 8, std=0.5), "wo": randn(g, 8, 8, std=0.5), "bo": randn(g, 8)}
    opts = {"batched": True, "heads": 2, "alibi": True, "window": [2, 1], "softcap": 2.0, "key_lens": [6, 4]}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    q, k, v = (split_heads(t["x"] @ t[n], 2) for n in ("wq", "wk", "wv"))
    s = 2.0 * torch.tanh(q @ k.transpose(-1, -2) / 2.0 / 2.0) + alibi_torch(2, 6, 6, False)
    keep = bool_window(6, 6, 2, 1) & (torch.arange(6)[None, :] < torch.tensor([6, 4])[:, None])[:, None, None, :]
    s = s.masked_fill(~keep, NEG_INF)
    assert_close(s, exp["scores"], "combination: scores")
    w = torch.softmax(s, -1)
    assert_close(w, exp["weights"], "combination: weights")
    assert_close(merge_heads(w @ v) @ t["wo"] + t["bo"], exp["output"], "combination: output")
    save_case("combo_alibi_window_softcap_keylens", inputs, opts, exp, scores=True)

    # attention sinks (gpt-oss): batch 2, 3 heads, causal + key_lens, one sink logit per head
    g = gen(3009)
    inputs = {"x": randn(g, 2, 6, 6), "wq": randn(g, 6, 6, std=0.8), "wk": randn(g, 6, 6, std=0.8),
              "wv": randn(g, 6, 6), "sinks": np.array([1.5, -1.0, 0.25])}
    opts = {"batched": True, "heads": 3, "causal": True, "key_lens": [6, 4]}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    q, k, v = (split_heads(t["x"] @ t[n], 3) for n in ("wq", "wk", "wv"))
    keep = torch.ones(6, 6, dtype=torch.bool).tril() & (torch.arange(6)[None, :] < torch.tensor([6, 4])[:, None]
                                                         )[:, None, None, :]
    s = (q @ k.transpose(-1, -2) / math.sqrt(2)).masked_fill(~keep, NEG_INF)
    e = torch.exp(s)  # the formula as written: exp(s_ij) / (exp(s_h) + Σ_j exp(s_ij)), no shift (small scores)
    w = e / (torch.exp(t["sinks"]).reshape(1, 3, 1, 1) + e.sum(-1, keepdim=True))
    assert_close(w, exp["weights"], "sinks: weights")
    assert_close(merge_heads(w @ v), exp["output"], "sinks: output")
    assert (exp["weights"].sum(-1) < 0.9).any(), "the sinks take no visible share"
    save_case("sinks_heads3_causal_keylens", inputs, opts, exp)


def image_cases():
    # 3 x 4 image with 2 channels, Q = K = V = pixels, 3 x 3 windows
    g = gen(4001)
    inputs = {"image": randn(g, 3, 4, 2)}
    opts = {"batched": False, "window2d": 3}
    exp = reference(inputs, opts)
    px = tt(inputs["image"]).reshape(1, 1, 12, 2)  # row-major: token r*W + c
    r, c = torch.arange(12) // 4, torch.arange(12) % 4
    m = ((r[:, None] - r[None, :]).abs() <= 1) & ((c[:, None] - c[None, :]).abs() <= 1)
    o = sdpa(px, px, px, mask=m)
    assert_close(o[:, 0], exp["output"], "image window2d: SDPA")
    assert_close(o[0, 0].reshape(3, 4, 2), exp["output_image"], "image window2d: H x W x C")
    assert m.sum(-1).tolist()[0] == 4 and m.sum(-1).tolist()[5] == 9
    save_case("image_3x4x2_window2d_3", inputs, opts, exp)

    # a batch of two 3 x 3 images, projections to 2 heads of d_k = 2, W_O back to C = 2 channels
    g = gen(4002)
    inputs = {"image": randn(g, 2, 3, 3, 2), "wq": randn(g, 2, 4), "wk": randn(g, 2, 4), "wv": randn(g, 2, 4),
              "wo": randn(g, 4, 2, std=0.5), "bo": randn(g, 2)}
    opts = {"batched": True, "heads": 2}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    px = t["image"].reshape(2, 9, 2)
    q, k, v = (split_heads(px @ t[n], 2) for n in ("wq", "wk", "wv"))
    out = merge_heads(sdpa(q, k, v)) @ t["wo"] + t["bo"]
    assert_close(out, exp["output"], "batched image: SDPA")
    assert_close(out.reshape(2, 3, 3, 2), exp["output_image"], "batched image: B x H x W x C")
    save_case("image_batched_2x3x3x2_heads2", inputs, opts, exp)


def position_cases():
    # sinusoidal PE, interleaved (the paper's), x (5, 6) with biased projections, 2 heads, W_O and b_O
    g = gen(5001)
    inputs = {"x": randn(g, 5, 6, std=0.5), "wq": randn(g, 6, 6, std=0.5), "wk": randn(g, 6, 6, std=0.5),
              "wv": randn(g, 6, 6, std=0.5), "bq": randn(g, 6, std=0.3), "bk": randn(g, 6, std=0.3),
              "bv": randn(g, 6, std=0.3), "wo": randn(g, 6, 6, std=0.5), "bo": randn(g, 6, std=0.3)}
    opts = {"batched": False, "heads": 2, "pe": "sinusoidal"}
    exp = reference(inputs, opts)
    xp = tt(inputs["x"])[None] + annotated_transformer_pe(5, 6)
    mha_check("pe interleaved", xp, xp, inputs["wq"], inputs["wk"], inputs["wv"], 2, None, exp, wo=inputs["wo"],
              b=(inputs["bq"], inputs["bk"], inputs["bv"]), bo=inputs["bo"])
    save_case("pe_sinusoidal_interleaved", inputs, opts, exp)

    # sinusoidal PE, concat layout (all sines then all cosines), base 100; batched cross-attention:
    # x (2, 3, 6) gets positions 0..2, x_kv (2, 5, 6) its own positions 0..4; 3 heads
    g = gen(5002)
    inputs = {"x": randn(g, 2, 3, 6, std=0.5), "x_kv": randn(g, 2, 5, 6, std=0.5), "wq": randn(g, 6, 6, std=0.6),
              "wk": randn(g, 6, 6, std=0.6), "wv": randn(g, 6, 6, std=0.6)}
    opts = {"batched": True, "heads": 3, "pe": "sinusoidal", "pe_layout": "concat", "pe_base": 100.0}
    exp = reference(inputs, opts)
    inter = annotated_transformer_pe(5, 6, 100.0)
    concat = torch.cat([inter[:, 0::2], inter[:, 1::2]], dim=-1)
    assert_close(concat, concat_pe(5, 6, 100.0), "concat PE = interleaved PE with columns regrouped")
    mha_check("pe concat", tt(inputs["x"]) + concat[:3], tt(inputs["x_kv"]) + concat, inputs["wq"], inputs["wk"],
              inputs["wv"], 3, None, exp)
    for wrong in ({"pe_layout": "interleaved"}, {"pe_base": 10000.0}):
        assert_differs(reference(inputs, {**opts, **wrong})["output"], exp["output"], f"pe concat vs {wrong}")
    save_case("pe_sinusoidal_concat_base100_cross", inputs, opts, exp)

    # a learned position table (7 rows >= n) for cross-attention: x gets rows 0..3, x_kv rows 0..5
    g = gen(5003)
    inputs = {"x": randn(g, 4, 6), "x_kv": randn(g, 6, 6), "pe": randn(g, 7, 6, std=0.5),
              "wq": randn(g, 6, 6, std=0.5), "wk": randn(g, 6, 6, std=0.5), "wv": randn(g, 6, 6, std=0.5)}
    opts = {"batched": False, "heads": 2}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    mha_check("learned pe", (t["x"] + t["pe"][:4])[None], (t["x_kv"] + t["pe"][:6])[None], inputs["wq"],
              inputs["wk"], inputs["wv"], 2, None, exp)
    save_case("pe_learned_table_cross", inputs, opts, exp)

    # RoPE, half layout (default), start_pos 3: x (5, 8), 2 heads of d_k = 4, causal
    g = gen(5004)
    inputs = {"x": randn(g, 5, 8), "wq": randn(g, 8, 8, std=0.5), "wk": randn(g, 8, 8, std=0.5),
              "wv": randn(g, 8, 8, std=0.5)}
    opts = {"batched": False, "heads": 2, "rope": True, "start_pos": 3, "causal": True}
    exp = reference(inputs, opts)
    t = {n: tt(a) for n, a in inputs.items()}
    q, k, v = (split_heads(t["x"][None] @ t[n], 2) for n in ("wq", "wk", "wv"))
    pos = torch.arange(3, 8)
    qr, kr = complex_rope(q, pos, 10000.0, "half"), complex_rope(k, pos, 10000.0, "half")
    assert_close(qr, exp["q"], "rope half: q vs complex form")
    assert_close(kr, exp["k"], "rope half: k vs complex form")
    assert not torch.allclose(qr, q), "rope did nothing"
    assert_close(merge_heads(sdpa(qr, kr, v, is_causal=True)), exp["output"], "rope half: SDPA")
    other = reference(inputs, {**opts, "rope_layout": "interleaved"})
    assert_differs(other["weights"], exp["weights"], "rope half vs interleaved")
    # equal shifts of q and k positions cancel in q·k: start_pos shows only in res.q / res.k
    shifted = reference(inputs, {**opts, "start_pos": 0})
    assert_close(shifted["weights"], exp["weights"], "rope: weights depend on relative positions only", 1e-12)
    assert_differs(shifted["q"], exp["q"], "rope start_pos in q")
    save_case("rope_half_start3_heads2", inputs, opts, exp)

    # RoPE, interleaved (GPT-J) layout, base 100, start_pos 3: direct q (2, 3, 4), k (2, 5, 4) --
    # q rows get positions 3..5, k rows 3..7
    g = gen(5005)
    inputs = {"q": randn(g, 2, 3, 4), "k": randn(g, 2, 5, 4), "v": randn(g, 2, 5, 3)}
    opts = {"batched": False, "heads": 2, "rope": True, "rope_layout": "interleaved", "rope_base": 100.0,
            "start_pos": 3}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    qr = complex_rope(q, torch.arange(3, 6), 100.0, "interleaved")
    kr = complex_rope(k, torch.arange(3, 8), 100.0, "interleaved")
    assert_close(qr, exp["q"], "rope interleaved: q vs Meta's complex form")
    assert_close(kr, exp["k"], "rope interleaved: k vs Meta's complex form")
    assert_close(merge_heads(sdpa(qr, kr, v)), exp["output"], "rope interleaved: SDPA")
    save_case("rope_interleaved_base100_start3_cross", inputs, opts, exp)

    # ALiBi, 4 heads, no causal: -m_h |i - j| on a 4 x 6 map
    g = gen(5006)
    inputs = {"q": randn(g, 4, 4, 3), "k": randn(g, 4, 6, 3), "v": randn(g, 4, 6, 2)}
    opts = {"batched": False, "heads": 4, "alibi": True}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, False)
    assert_close(merge_heads(sdpa(q, k, v, mask=alibi_torch(4, 4, 6, False)[None])), exp["output"], "alibi: SDPA")
    save_case("alibi_heads4", inputs, opts, exp)

    # ALiBi, 4 heads, causal (-m_h (i - j)), batched
    g = gen(5007)
    inputs = {"q": randn(g, 2, 4, 5, 3), "k": randn(g, 2, 4, 5, 3), "v": randn(g, 2, 4, 5, 3)}
    opts = {"batched": True, "heads": 4, "alibi": True, "causal": True}
    exp = reference(inputs, opts)
    q, k, v = qkv4(inputs, True)
    am = alibi_torch(4, 5, 5, True).masked_fill(~torch.ones(5, 5, dtype=torch.bool).tril(), NEG_INF)
    assert_close(merge_heads(sdpa(q, k, v, mask=am[None])), exp["output"], "alibi causal: SDPA")
    save_case("alibi_heads4_causal_batched", inputs, opts, exp, scores=True)


def functions_file():
    """_functions.npz: references for attncli.core.positions and attncli.core.normalize.sparsemax."""
    arrays = {}
    for n, d, base in ((7, 6, 10000.0), (9, 8, 100.0)):
        tag = f"n{n}_d{d}_base{int(base)}"
        inter = annotated_transformer_pe(n, d, base)
        concat = concat_pe(n, d, base)
        for p in range(n):  # one more, scalar spelling of the interleaved formula
            for i in range(d // 2):
                assert abs(inter[p, 2 * i] - math.sin(p / base ** (2 * i / d))) < TOL
                assert abs(inter[p, 2 * i + 1] - math.cos(p / base ** (2 * i / d))) < TOL
        arrays[f"sinusoidal_interleaved_{tag}"] = inter.numpy()
        arrays[f"sinusoidal_concat_{tag}"] = concat.numpy()
    g = gen(6001)
    x = torch.from_numpy(randn(g, 2, 5, 6))
    pos = torch.tensor([0, 1, 2, 7, 30])
    arrays["rope_x"], arrays["rope_positions"] = x.numpy(), pos.numpy()
    for base in (10000.0, 100.0):
        half, inter = hf_llama_rope(x, pos, base), gptj_rope(x, pos, base)
        assert_close(half, complex_rope(x, pos, base, "half"), "rope half: HF vs complex")
        assert_close(inter, complex_rope(x, pos, base, "interleaved"), "rope interleaved: GPT-J vs complex")
        arrays[f"rope_half_base{int(base)}"] = half.numpy()
        arrays[f"rope_interleaved_base{int(base)}"] = inter.numpy()
    for H in (4, 8):
        arrays[f"alibi_slopes_{H}"] = np.array(get_slopes(H))
        assert np.allclose(arrays[f"alibi_slopes_{H}"], 2.0 ** (-8.0 * np.arange(1, H + 1) / H), rtol=0, atol=TOL)
    arrays["alibi_bias_4_3x5"] = alibi_torch(4, 3, 5, False).numpy()
    arrays["alibi_bias_4_3x5_causal"] = alibi_torch(4, 3, 5, True).numpy()
    # sparsemax of random rows (some entries -inf = masked): sorting algorithm, checked by bisection
    z = torch.from_numpy(randn(g, 4, 6, std=1.5))
    z[0, 1] = z[2, 0] = z[2, 5] = z[3, 2] = NEG_INF
    p = torch.zeros_like(z)
    for i in range(4):
        ok = torch.isfinite(z[i])
        p[i, ok] = torch.tensor(sparsemax_sort(z[i, ok].tolist()), dtype=F64)
        assert_close(p[i, ok], sparsemax_bisect(z[i, ok]), "sparsemax: sort vs bisection", atol=1e-11)
    assert (p[torch.isfinite(z)] == 0).sum() >= 4
    arrays["sparsemax_z"], arrays["sparsemax_p"] = z.numpy(), p.numpy()
    np.savez_compressed(HERE / "_functions.npz", **arrays)
    WRITTEN.append("_functions.npz")


def main():
    for old in HERE.glob("*.npz"):
        old.unlink()
    score_cases()
    normalizer_cases()
    mask_cases()
    image_cases()
    position_cases()
    functions_file()
    write_sums(HERE)
    total = sum((HERE / f).stat().st_size for f in WRITTEN)
    print(f"wrote {len(WRITTEN)} files ({total / 1024:.1f} KiB) and SHA256SUMS to {HERE}")
    for f in WRITTEN:
        print("  ", f)


if __name__ == "__main__":
    main()
