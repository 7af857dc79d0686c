"""Generate attncli's PyTorch golden files: tests/golden/<case>.npz (+ <case>.torch.safetensors).

How to run (from the repository root; PyTorch is NOT a runtime or CI dependency of attncli, so it
lives in a separate virtual environment):

    python -m venv /path/to/torchenv
    /path/to/torchenv/bin/pip install torch==2.13.0 numpy safetensors
    /path/to/torchenv/bin/python tests/golden/generate.py

Requires torch==2.13.0 exactly (the script refuses to run with another version, because the
behaviours recorded here -- fully masked rows, top-left causal alignment -- are version facts),
plus numpy and safetensors. Output is deterministic: every case has its own fixed seed.

What each file holds
--------------------
<case>.npz:
  inputs, named like the CLI options without dashes: x, x_kv, wq, wk, wv, wo, bq, bk, bv, bo,
  q, k, v, mask (bool, True = may attend, SDPA's convention -- except with mask_invert, where it is
  nn.MultiheadAttention's True = blocked), bias (float, added to the scaled scores, may hold -inf).
  Inputs are stored in the user-facing shape (unbatched cases have no batch axis). Weight matrices
  are in attncli's rows orientation (d_in, d_out): Q = X @ wq + bq, the transpose of torch's
  nn.Linear / in_proj_weight layout (out, in).
  expected outputs, canonical shapes:
    weights (B, H, n_q, n_k)
    output  (B, n_q, d_out); for q/k/v cases (no W_O) the heads are merged: torch's (B, H, n, d_v)
            output transposed to (B, n, H, d_v) and reshaped to (B, n, H * d_v).
  options: 0-d unicode array holding JSON with the non-array options, keys among
    heads, kv_heads, causal, key_lens, mask_invert, batched (always present), scale, score.
<case>.torch.safetensors (nn.MultiheadAttention cases only): the module's raw state_dict as
  torch saves it (in_proj_weight (3E, E), in_proj_bias, out_proj.weight (E, E), out_proj.bias).
SHA256SUMS: sha256sum-style lines for every file written (sums.py; checked by tests/test_golden_sums.py).

How the references are made
---------------------------
* SDPA cases: F.scaled_dot_product_attention returns no weights, so the weights are computed the
  way the reference implementation in PyTorch's SDPA documentation does (softmax(q @ k^T * scale +
  attn_bias)), and the generator asserts weights @ v == SDPA's output (1e-10) before saving.
* Fully masked query rows: torch 2.13's SDPA returns an output row of exact zeros (its math
  backend uses a "safe softmax"; the CPU flash backend does the same -- checked at generation time
  below), while the documentation's reference softmax gives NaN weights there. attncli's contract
  is weights row 0 and output row 0, so those NaN weight rows are set to 0 here (see
  `docs_reference`), and SDPA's zero output row is asserted.
* Causal with n_q != n_k: torch's is_causal is top-left aligned, tril(ones(L, S)) i.e. key j is
  allowed for query i iff j <= i; asserted below against explicit top-left / bottom-right masks.
* nn.MultiheadAttention cases use batch_first=True, need_weights=True,
  average_attn_weights=False, eval mode (no dropout), with all parameters re-drawn from a seeded
  normal (torch's default init makes the biases zero, which would hide orientation mistakes).
* float32 cases: inputs are float32; the expected values are the float64 evaluation of the same
  (float32-representable) inputs, cast to float32; torch's own float32 run is asserted to agree
  to 1e-5.
* Every case is finally re-derived from the saved arrays and options alone by `rows_reference`
  (an independent, attncli-style evaluation: rows orientation, column split into heads, key_lens,
  mask_invert, ...), which must agree with the torch reference; this checks the file semantics.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from sums import write_sums  # tests/golden/sums.py: this script's folder is first on sys.path
from torch.nn.attention import SDPBackend, sdpa_kernel

TORCH_VERSION = "2.13.0"
HERE = Path(__file__).resolve().parent
F64 = torch.float64
F32 = torch.float32

if torch.__version__.split("+")[0] != TORCH_VERSION:
    sys.exit(f"tests/golden/generate.py needs torch=={TORCH_VERSION}, found {torch.__version__}")

torch.use_deterministic_algorithms(True)
WRITTEN: list[str] = []


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int, dtype: torch.dtype = F64, std: float = 1.0):
    return torch.randn(*shape, generator=g, dtype=F64).mul(std).to(dtype)


def to_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def docs_reference(query, key, value, attn_mask=None, is_causal=False, scale=None,
                   enable_gqa=False):
    """The reference implementation from torch.nn.functional.scaled_dot_product_attention's docs.

    Differences: returns (weights, output); the mask fill is not in place (so masks broadcast to
    more than (L, S)); and rows whose every key is masked get weights 0 instead of the NaN the
    plain softmax gives (SDPA itself returns 0 for them in torch 2.13; attncli's contract is 0).
    """
    L, S = query.size(-2), key.size(-2)
    scale_factor = 1 / math.sqrt(query.size(-1)) if scale is None else scale
    attn_bias = torch.zeros(L, S, dtype=query.dtype)
    if is_causal:
        assert attn_mask is None
        temp_mask = torch.ones(L, S, dtype=torch.bool).tril(diagonal=0)
        attn_bias = attn_bias.masked_fill(temp_mask.logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_bias = attn_bias.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            attn_bias = attn_mask + attn_bias
    if enable_gqa:
        key = key.repeat_interleave(query.size(-3) // key.size(-3), -3)
        value = value.repeat_interleave(query.size(-3) // value.size(-3), -3)
    attn_weight = query @ key.transpose(-2, -1) * scale_factor
    attn_weight = attn_weight + attn_bias
    empty = torch.isneginf(attn_weight).all(dim=-1, keepdim=True)
    attn_weight = torch.softmax(attn_weight, dim=-1)
    # Fully masked rows: softmax gives NaN; PyTorch 2.13's SDPA returns output 0 there (asserted
    # by the caller), and attncli's contract is weights 0 -> set them to 0 here.
    attn_weight = torch.where(empty, torch.zeros_like(attn_weight), attn_weight)
    return attn_weight, attn_weight @ value


def softmax_rows(s: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis; rows of only -inf give 0."""
    m = s.amax(dim=-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(s - m)
    tot = e.sum(dim=-1, keepdim=True)
    return e / torch.where(tot == 0, torch.ones_like(tot), tot)


def rows_reference(arrays: dict[str, np.ndarray], opts: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """attncli's semantics, evaluated in float64 from the stored arrays and options alone."""

    def a(name):
        return torch.from_numpy(arrays[name]).to(F64) if name in arrays else None

    batched = opts["batched"]
    H = opts.get("heads", 1)
    G = opts.get("kv_heads", H)
    if "x" in arrays:
        x = a("x")
        xkv = a("x_kv") if "x_kv" in arrays else x
        if not batched:
            x, xkv = x[None], xkv[None]

        def proj(inp, w, b):
            y = inp if w is None else inp @ w
            return y if b is None else y + b

        def split(t, h):  # (B, n, h*d) -> (B, h, n, d): heads are column blocks
            B, n, c = t.shape
            return t.reshape(B, n, h, c // h).transpose(1, 2)

        q = split(proj(x, a("wq"), a("bq")), H)
        k = split(proj(xkv, a("wk"), a("bk")), G)
        v = split(proj(xkv, a("wv"), a("bv")), G)
    else:

        def to4(t):
            if t.ndim == 2:
                return t[None, None]
            if t.ndim == 3:
                return t[:, None] if batched else t[None]
            return t

        q, k, v = to4(a("q")), to4(a("k")), to4(a("v"))
    assert q.shape[1] == H and k.shape[1] == G, (q.shape, k.shape, H, G)
    B, _, nq, dk = q.shape
    nk = k.shape[2]
    if "scale" in opts:
        scale = opts["scale"]
    else:
        scale = 1.0 if opts.get("score", "scaled") == "dot" else 1 / math.sqrt(dk)
    k = k.repeat_interleave(H // G, dim=1)
    v = v.repeat_interleave(H // G, dim=1)
    s = q @ k.transpose(-1, -2) * scale
    allowed = torch.ones(B, H, nq, nk, dtype=torch.bool)
    if opts.get("causal"):
        allowed &= torch.ones(nq, nk, dtype=torch.bool).tril()
    if "key_lens" in opts:
        lens = torch.tensor(opts["key_lens"])
        allowed &= (torch.arange(nk)[None, :] < lens[:, None])[:, None, None, :]
    if "mask" in arrays:
        m = torch.from_numpy(arrays["mask"])
        assert m.dtype == torch.bool
        if opts.get("mask_invert"):
            m = ~m
        allowed &= m.reshape((1,) * (4 - m.ndim) + tuple(m.shape))
    if "bias" in arrays:
        bias = a("bias")
        s = s + bias.reshape((1,) * (4 - bias.ndim) + tuple(bias.shape))
    s = s.masked_fill(~allowed, float("-inf"))
    w = softmax_rows(s)
    out = (w @ v).transpose(1, 2).reshape(B, nq, -1)
    if "wo" in arrays:
        out = out @ a("wo")
    if "bo" in arrays:
        out = out + a("bo")
    return w, out


def assert_close(actual, expected, atol, what):
    actual = torch.as_tensor(actual).to(F64)
    expected = torch.as_tensor(expected).to(F64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    assert torch.isfinite(expected).all(), (what, "non-finite expected values")
    err = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert err <= atol, f"{what}: max abs error {err:.3e} > {atol:.0e}"


def save_case(name, arrays, opts, weights, output, dtype=F64, state_dict=None):
    """Write <name>.npz (and the safetensors sidecar), after the rows_reference self-check."""
    assert "batched" in opts
    allowed_keys = {"heads", "kv_heads", "causal", "key_lens", "mask_invert", "batched", "scale",
                    "score"}
    assert set(opts) <= allowed_keys, set(opts) - allowed_keys
    np_dtype = np.float64 if dtype == F64 else np.float32
    arrays = {
        k: (v if v.dtype == np.bool_ else v.astype(np_dtype)) for k, v in arrays.items()
    }
    weights, output = weights.to(F64), output.to(F64)
    assert weights.ndim == 4 and output.ndim == 3, (name, weights.shape, output.shape)
    # the row sums are 1, or 0 for fully masked rows
    sums = weights.sum(-1)
    assert torch.all(((sums - 1).abs() < 1e-12) | (sums == 0)), name
    rw, ro = rows_reference(arrays, opts)
    tol = 1e-10 if dtype == F64 else 1e-5
    assert_close(rw, weights, tol, f"{name}: rows_reference weights")
    assert_close(ro, output, tol, f"{name}: rows_reference output")
    payload = dict(arrays)
    payload["weights"] = to_np(weights).astype(np_dtype)
    payload["output"] = to_np(output).astype(np_dtype)
    payload["options"] = np.array(json.dumps(opts, sort_keys=True))
    np.savez_compressed(HERE / f"{name}.npz", **payload)
    WRITTEN.append(f"{name}.npz")
    if state_dict is not None:
        sd = {k: v.detach().contiguous().clone() for k, v in state_dict.items()}
        save_file(sd, str(HERE / f"{name}.torch.safetensors"))
        WRITTEN.append(f"{name}.torch.safetensors")


# --------------------------------------------------------------------------------------------
# SDPA cases
# --------------------------------------------------------------------------------------------


def to4d(t: torch.Tensor, batched: bool) -> torch.Tensor:
    """User-facing q/k/v -> (B, H, n, d): 2-D is one head, unbatched 3-D is (H, n, d)."""
    if t.ndim == 2:
        return t[None, None]
    if t.ndim == 3:
        assert not batched
        return t[None]
    assert batched
    return t


def sdpa_case(name, seed, q_shape, k_shape, v_shape, *, batched=False, dtype=F64, mask=None,
              bias=None, causal=False, scale=None, score=None, gqa=False, extra_opts=None):
    g = gen(seed)
    q_u = randn(g, *q_shape, dtype=dtype)
    k_u = randn(g, *k_shape, dtype=dtype)
    v_u = randn(g, *v_shape, dtype=dtype)
    q, k, v = (to4d(t, batched) for t in (q_u, k_u, v_u))
    attn_mask = mask if mask is not None else bias
    if attn_mask is not None and attn_mask.dtype != torch.bool:
        attn_mask = attn_mask.to(dtype)
    sdpa_scale = 1.0 if score == "dot" else scale
    kw = dict(attn_mask=attn_mask, is_causal=causal, scale=sdpa_scale, enable_gqa=gqa)

    # torch's own SDPA, math backend and default dispatch
    with sdpa_kernel([SDPBackend.MATH]):
        out_math = F.scaled_dot_product_attention(q, k, v, **kw)
    out_default = F.scaled_dot_product_attention(q, k, v, **kw)

    # exact reference in float64 (the documentation's implementation)
    am64 = None if attn_mask is None else (
        attn_mask if attn_mask.dtype == torch.bool else attn_mask.to(F64))
    w_ref, o_ref = docs_reference(q.to(F64), k.to(F64), v.to(F64), attn_mask=am64,
                                  is_causal=causal, scale=sdpa_scale, enable_gqa=gqa)
    tol = 1e-10 if dtype == F64 else 1e-5
    # the file carries both: weights @ v must equal SDPA's output
    assert_close(out_math, o_ref, tol, f"{name}: SDPA(math) vs weights @ v")
    assert_close(out_default, o_ref, tol, f"{name}: SDPA(default) vs weights @ v")
    if dtype == F64:
        with sdpa_kernel([SDPBackend.MATH]):
            o64 = F.scaled_dot_product_attention(q, k, v, **kw)
        assert_close(o64, o_ref, 1e-12, f"{name}: SDPA exactness")

    B, H, nq, dv = o_ref.shape
    output = o_ref.transpose(1, 2).reshape(B, nq, H * dv)
    arrays = {"q": to_np(q_u), "k": to_np(k_u), "v": to_np(v_u)}
    if mask is not None:
        arrays["mask"] = to_np(mask)
    if bias is not None:
        arrays["bias"] = to_np(bias.to(F64))
    opts: dict = {"batched": batched}
    if H > 1:
        opts["heads"] = H
    if gqa:
        opts["kv_heads"] = k.shape[1]
    if causal:
        opts["causal"] = True
    if scale is not None:
        opts["scale"] = float(scale)
    if score is not None:
        opts["score"] = score
    opts.update(extra_opts or {})
    save_case(name, arrays, opts, w_ref, output, dtype=dtype)
    return w_ref, output, out_math


def sdpa_cases():
    # 1. one head, unbatched: the user passes n x d matrices
    sdpa_case("sdpa_1head", 101, (5, 4), (5, 4), (5, 4))
    # 2. unbatched, 3 heads: (H, n, d)
    sdpa_case("sdpa_heads3", 102, (3, 4, 2), (3, 4, 2), (3, 4, 2))
    # 3. batched 4-D (B, H, n, d)
    sdpa_case("sdpa_batched_4d", 103, (2, 2, 6, 3), (2, 2, 6, 3), (2, 2, 6, 3), batched=True)
    # 4. cross attention, n_q != n_k and d_v != d_k
    sdpa_case("sdpa_cross", 104, (3, 4), (7, 4), (7, 5))

    # 5. causal (square, 2 heads) and causal with n_q != n_k (top-left aligned, j <= i)
    sdpa_case("sdpa_causal", 105, (2, 5, 3), (2, 5, 3), (2, 5, 3), causal=True)
    sdpa_case("sdpa_causal_cross", 106, (3, 4), (5, 4), (5, 4), causal=True)
    sdpa_case("sdpa_causal_cross_tall", 107, (5, 4), (3, 4), (3, 2), causal=True)
    check_causal_alignment()

    # 6. boolean mask (n_q, n_k) broadcast over batch and heads, with one query row fully masked
    mask = torch.tensor(
        [[1, 1, 0, 1, 0, 1],
         [0, 1, 1, 1, 1, 0],
         [0, 0, 0, 0, 0, 0],  # every key masked: torch 2.13 SDPA returns output 0 here
         [1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    w, _, out_math = sdpa_case("sdpa_bool_mask", 108, (2, 2, 4, 3), (2, 2, 6, 3), (2, 2, 6, 3),
                               batched=True, mask=mask)
    assert torch.all(out_math[:, :, 2] == 0), "torch SDPA: fully masked row is no longer 0"
    assert torch.all(w[:, :, 2] == 0)
    check_fully_masked_row_behaviour()

    # 7. float additive bias with some -inf entries: (n_q, n_k), and 4-D (1, H, n_q, n_k)
    g = gen(1090)
    bias = randn(g, 4, 5)
    bias[0, 1] = bias[2, 0] = bias[2, 4] = bias[3, 3] = float("-inf")
    sdpa_case("sdpa_float_bias", 109, (2, 4, 3), (2, 5, 3), (2, 5, 3), bias=bias)
    bias4 = randn(g, 1, 2, 4, 5)
    bias4[0, 0, 1, 2] = bias4[0, 1, 1, 2] = bias4[0, 1, 3, 0] = bias4[0, 0, 0, 4] = float("-inf")
    sdpa_case("sdpa_float_bias_4d", 110, (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3), batched=True,
              bias=bias4)

    # 8. grouped-query attention: 4 query heads share 2 key/value heads (head h uses h // 2)
    sdpa_case("sdpa_gqa", 111, (2, 4, 5, 3), (2, 2, 5, 3), (2, 2, 5, 2), batched=True, gqa=True)

    # 9. explicit scale, and the plain dot score (scale 1)
    sdpa_case("sdpa_scale", 112, (5, 4), (5, 4), (5, 4), scale=0.3)
    sdpa_case("sdpa_dot", 113, (5, 4), (6, 4), (6, 3), score="dot")

    # 16a. float32 SDPA: batched, causal
    sdpa_case("sdpa_float32", 114, (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), batched=True,
              dtype=F32, causal=True)


def check_causal_alignment():
    """is_causal with n_q != n_k is top-left aligned in torch 2.13: tril(ones(L, S)), j <= i."""
    g = gen(7)
    for L, S in ((3, 5), (5, 3)):
        q, k, v = randn(g, 1, 1, L, 4), randn(g, 1, 1, S, 4), randn(g, 1, 1, S, 4)
        with sdpa_kernel([SDPBackend.MATH]):
            c = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            tl = F.scaled_dot_product_attention(
                q, k, v, attn_mask=torch.ones(L, S, dtype=torch.bool).tril(0))
            br = F.scaled_dot_product_attention(
                q, k, v, attn_mask=torch.ones(L, S, dtype=torch.bool).tril(S - L))
        assert torch.allclose(c, tl, rtol=0, atol=1e-14), "is_causal is not top-left aligned"
        assert not torch.allclose(c, br, rtol=0, atol=1e-6) or L == S


def check_fully_masked_row_behaviour():
    """torch 2.13 SDPA: a query row with every key masked gives output 0 (bool and -inf masks),
    on the math backend and on the CPU flash backend; the documented reference softmax gives NaN;
    nn.MultiheadAttention (need_weights=True) gives NaN weights and output."""
    g = gen(8)
    q, k, v = randn(g, 1, 1, 3, 4), randn(g, 1, 1, 5, 4), randn(g, 1, 1, 5, 4)
    m = torch.ones(3, 5, dtype=torch.bool)
    m[1] = False
    fm = torch.zeros(3, 5, dtype=F64).masked_fill(~m, float("-inf"))
    for backend in (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION):
        for am in (m, fm):
            with sdpa_kernel([backend]):
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=am)
            assert torch.all(out[0, 0, 1] == 0) and torch.isfinite(out).all(), backend
    plain = torch.softmax(q @ k.transpose(-1, -2) + fm, dim=-1)
    assert torch.isnan(plain[0, 0, 1]).all()
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True, dtype=F64).eval()
    x = randn(g, 1, 3, 4)
    with torch.no_grad():
        o, w = mha(x, x, x, attn_mask=~m[:, :3], need_weights=True, average_attn_weights=False)
    assert torch.isnan(o[0, 1]).all() and torch.isnan(w[0, :, 1]).all()


# --------------------------------------------------------------------------------------------
# projection / nn.MultiheadAttention cases
# --------------------------------------------------------------------------------------------


def make_mha(g, E, heads, bias=True, dtype=F64):
    mha = torch.nn.MultiheadAttention(E, heads, bias=bias, batch_first=True, dtype=F64).eval()
    with torch.no_grad():
        for p in mha.parameters():
            # weights std ~ 1/sqrt(E) keeps the scores moderate; biases non-zero
            p.copy_(randn(g, *p.shape, std=1.0 / math.sqrt(E) if p.ndim == 2 else 0.5))
    return mha.to(dtype)


def mha_rows_arrays(mha) -> dict[str, np.ndarray]:
    """Split in_proj_weight (3E, E) into wq/wk/wv, transposed to rows orientation (E_in, E_out)."""
    E = mha.embed_dim
    W = mha.in_proj_weight.detach()
    out = {
        "wq": to_np(W[:E].T), "wk": to_np(W[E:2 * E].T), "wv": to_np(W[2 * E:].T),
        "wo": to_np(mha.out_proj.weight.detach().T),
    }
    if mha.in_proj_bias is not None:
        b = mha.in_proj_bias.detach()
        out.update(bq=to_np(b[:E]), bk=to_np(b[E:2 * E]), bv=to_np(b[2 * E:]))
    if mha.out_proj.bias is not None:
        out["bo"] = to_np(mha.out_proj.bias.detach())
    return out


def mha_case(name, seed, E, heads, n, *, batch=None, n_kv=None, bias=True, dtype=F64,
             key_lens=None, causal=False, mha_mask=None, store_mask_invert=False):
    """nn.MultiheadAttention reference. mha_mask: bool (n_q, n_k), True = blocked (MHA's)."""
    g = gen(seed)
    mha = make_mha(g, E, heads, bias=bias, dtype=dtype)
    xs = (batch, n, E) if batch else (n, E)
    x = randn(g, *xs, dtype=dtype)
    x_kv = randn(g, *((batch, n_kv, E) if batch else (n_kv, E)), dtype=dtype) if n_kv else None
    kv = x if x_kv is None else x_kv
    nk = kv.shape[-2]
    kpm = None
    if key_lens is not None:
        assert batch == len(key_lens)
        kpm = torch.arange(nk)[None, :] >= torch.tensor(key_lens)[:, None]  # True = padding
    attn_mask = None
    if causal:
        attn_mask = torch.ones(n, nk, dtype=torch.bool).tril().logical_not()  # True = blocked
    if mha_mask is not None:
        assert attn_mask is None
        attn_mask = mha_mask

    def run(module, xq, xk):
        with torch.no_grad():
            return module(xq, xk, xk, key_padding_mask=kpm, attn_mask=attn_mask,
                          need_weights=True, average_attn_weights=False, is_causal=causal)

    out, w = run(mha, x, kv)
    if batch is None:
        out, w = out[None], w[None]  # canonical (1, n, E), (1, H, n_q, n_k)
    if dtype == F32:  # the float64 evaluation of the same inputs is the stored reference
        out32, w32 = out, w
        out, w = run(mha.to(F64), x.to(F64), kv.to(F64))
        if batch is None:
            out, w = out[None], w[None]
        assert_close(out32, out, 1e-5, f"{name}: float32 vs float64 output")
        assert_close(w32, w, 1e-5, f"{name}: float32 vs float64 weights")
        mha = mha.to(F32)

    # independent check with the functional SDPA on the explicit projections
    w_sd = mha_rows_arrays(mha)
    x64 = (x if batch else x[None]).to(F64)
    kv64 = (kv if batch else kv[None]).to(F64)

    def lin(inp, wn, bn):
        y = inp @ torch.from_numpy(w_sd[wn]).to(F64)
        return y + torch.from_numpy(w_sd[bn]).to(F64) if bn in w_sd else y

    def heads_of(t):
        B, m, _ = t.shape
        return t.reshape(B, m, heads, E // heads).transpose(1, 2)

    Q, K, V = heads_of(lin(x64, "wq", "bq")), heads_of(lin(kv64, "wk", "bk")), heads_of(
        lin(kv64, "wv", "bv"))
    allowed = torch.ones(1, 1, n, nk, dtype=torch.bool)
    if kpm is not None:
        allowed = allowed & ~kpm[:, None, None, :]
    if attn_mask is not None:
        allowed = allowed & ~attn_mask
    ws, os_ = docs_reference(Q, K, V, attn_mask=allowed)
    os_ = lin(os_.transpose(1, 2).reshape(Q.shape[0], n, E), "wo", "bo")
    assert_close(ws, w, 1e-10, f"{name}: MHA weights vs SDPA reference")
    assert_close(os_, out, 1e-10, f"{name}: MHA output vs SDPA reference")

    arrays = {"x": to_np(x)}
    if x_kv is not None:
        arrays["x_kv"] = to_np(x_kv)
    arrays.update(w_sd)
    opts: dict = {"batched": batch is not None, "heads": heads}
    if key_lens is not None:
        opts["key_lens"] = list(key_lens)
    if causal:
        opts["causal"] = True  # stored as the option, not as a mask
    if mha_mask is not None:
        if store_mask_invert:
            arrays["mask"] = to_np(mha_mask)  # MHA's convention: True = blocked
            opts["mask_invert"] = True
        else:
            arrays["mask"] = to_np(~mha_mask)  # SDPA's convention: True = may attend
    save_case(name, arrays, opts, w, out, dtype=dtype, state_dict=mha.state_dict())


def proj_case(name, seed, n, d_model, d_k=None, d_v=None, bias=True):
    """Single head, projections without W_O (wq, wk: d_model x d_k; wv: d_model x d_v), or none."""
    g = gen(seed)
    x = randn(g, n, d_model)
    arrays = {"x": to_np(x)}
    if d_k is None:
        q = k = v = x  # no weights: Q = K = V = X
    else:
        wq, wk, wv = randn(g, d_model, d_k), randn(g, d_model, d_k), randn(g, d_model, d_v)
        arrays.update(wq=to_np(wq), wk=to_np(wk), wv=to_np(wv))
        q, k, v = x @ wq, x @ wk, x @ wv
        if bias:
            bq, bk, bv = randn(g, d_k), randn(g, d_k), randn(g, d_v)
            arrays.update(bq=to_np(bq), bk=to_np(bk), bv=to_np(bv))
            q, k, v = q + bq, k + bk, v + bv
    with sdpa_kernel([SDPBackend.MATH]):
        out = F.scaled_dot_product_attention(q[None, None], k[None, None], v[None, None])
    w, o = docs_reference(q[None, None], k[None, None], v[None, None])
    assert_close(out, o, 1e-10, f"{name}: SDPA vs weights @ v")
    save_case(name, arrays, {"batched": False}, w, o[:, 0])


def proj_batched_heads2_keylens():
    """17. batched x (2, 4, 6), heads=2 by splitting the columns of 6 x 6 wq/wk/wv, W_O 6 x 6,
    no biases, key_lens [4, 2]: computed with explicit projections + SDPA, cross-checked against
    nn.MultiheadAttention(bias=False) holding the same matrices (state_dict saved as sidecar)."""
    name, g = "proj_batched_heads2_keylens", gen(117)
    B, n, E, H = 2, 4, 6, 2
    x = randn(g, B, n, E)
    wq, wk, wv, wo = (randn(g, E, E, std=1 / math.sqrt(E)) for _ in range(4))
    lens = [4, 2]

    def heads_of(t):
        return t.reshape(B, n, H, E // H).transpose(1, 2)

    allowed = (torch.arange(n)[None, :] < torch.tensor(lens)[:, None])[:, None, None, :]
    with sdpa_kernel([SDPBackend.MATH]):
        o = F.scaled_dot_product_attention(heads_of(x @ wq), heads_of(x @ wk), heads_of(x @ wv),
                                           attn_mask=allowed)
    w, o_ref = docs_reference(heads_of(x @ wq), heads_of(x @ wk), heads_of(x @ wv),
                              attn_mask=allowed)
    assert_close(o, o_ref, 1e-10, f"{name}: SDPA vs weights @ v")
    output = o_ref.transpose(1, 2).reshape(B, n, E) @ wo

    mha = torch.nn.MultiheadAttention(E, H, bias=False, batch_first=True, dtype=F64).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([wq.T, wk.T, wv.T]))
        mha.out_proj.weight.copy_(wo.T)
        mo, mw = mha(x, x, x, key_padding_mask=~allowed[:, 0, 0, :], need_weights=True,
                     average_attn_weights=False)
    assert_close(mw, w, 1e-10, f"{name}: MHA weights")
    assert_close(mo, output, 1e-10, f"{name}: MHA output")
    arrays = {"x": to_np(x), "wq": to_np(wq), "wk": to_np(wk), "wv": to_np(wv), "wo": to_np(wo)}
    save_case(name, arrays, {"batched": True, "heads": H, "key_lens": lens}, w, output,
              state_dict=mha.state_dict())


def mha_cases():
    # 10. self-attention, unbatched x (5, 8), 2 heads, all biases
    mha_case("mha_selfattn", 201, 8, 2, 5)
    # 11. batched, 4 heads, key padding from key lengths [5, 3]
    mha_case("mha_batched_padding", 202, 8, 4, 5, batch=2, key_lens=[5, 3])
    # 12. causal attn_mask (True = blocked) with W_O; stored as option causal=true, no mask
    mha_case("mha_causal_w_o", 203, 8, 2, 5, batch=2, causal=True)
    # 13. cross attention: x (3, 6) queries, x_kv (4, 6) keys/values, 3 heads
    mha_case("mha_cross", 204, 6, 3, 3, n_kv=4)
    # 14. a mask in MHA's convention (True = blocked) stored with mask_invert=true
    blocked = torch.tensor(
        [[0, 1, 0, 0, 1],
         [1, 0, 1, 0, 0],
         [0, 0, 0, 1, 1],
         [1, 1, 1, 0, 0],
         [0, 1, 0, 1, 0]], dtype=torch.bool)
    mha_case("mha_mask_invert", 205, 6, 2, 5, mha_mask=blocked, store_mask_invert=True)
    # 16b. float32 MHA: batched, 2 heads, key padding
    mha_case("mha_float32", 206, 8, 2, 5, batch=2, key_lens=[4, 5], dtype=F32)
    # 15. single-head projections without W_O, and the no-weights case (Q = K = V = X)
    proj_case("proj_single_head", 301, 4, 3, d_k=2, d_v=5)
    proj_case("x_only", 302, 4, 3)
    # 17.
    proj_batched_heads2_keylens()


def main():
    for old in list(HERE.glob("*.npz")) + list(HERE.glob("*.torch.safetensors")):
        old.unlink()
    sdpa_cases()
    mha_cases()
    write_sums(HERE)
    total = sum((HERE / f).stat().st_size for f in WRITTEN)
    print(f"wrote {len(WRITTEN)} files ({total / 1024:.1f} KiB) and SHA256SUMS to {HERE}")
    for f in WRITTEN:
        print("  ", f)


if __name__ == "__main__":
    main()
