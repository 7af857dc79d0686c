"""attncli.attend(q, k, v, spec, plan) against PyTorch's golden files, the catalogue, and across backends.

The expected values come from elsewhere: tests/golden/sdpa_*.npz (F.scaled_dot_product_attention, made by
tests/golden/generate.py), tests/golden/catalogue/*.npz (independent torch references, see its generate.py),
and, for what neither covers, numpy written out here from the formulas. Projections the catalogue cases start
from (X·W + b, heads as column blocks) are computed here in numpy, so attend sees only Q, K and V.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from catalogue_spec import CASE_FILES, load, spec_fields

from attncli import Plan, Spec, attend
from attncli.core.spec import Rope
from attncli.errors import AttnError

GOLDEN = Path(__file__).resolve().parent / "golden"
SDPA = sorted(GOLDEN.glob("sdpa_*.npz"))
RNG = np.random.default_rng(21)


def sdpa_case(path: Path) -> tuple[dict, dict, dict]:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    options = json.loads(str(arrays.pop("options")[()]))
    expected = {k: arrays.pop(k) for k in ("weights", "output")}
    return arrays, options, expected


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in SDPA])
def test_attend_matches_sdpa(path: Path):
    """attend(q, k, v, Spec(...)) equals torch's scaled_dot_product_attention: causal, GQA, bias, bool mask,
    scale, dot scores, cross attention, 4-D batches, float32."""
    arrays, o, want = sdpa_case(path)
    spec = Spec(causal=o.get("causal", False), scale=o.get("scale"), score=o.get("score", "scaled"),
                mask=arrays.get("mask"), bias=arrays.get("bias"))
    res = attend(arrays["q"], arrays["k"], arrays["v"], spec)
    atol = 1e-5 if want["output"].dtype == np.float32 else 1e-6
    np.testing.assert_allclose(res.weights, want["weights"], rtol=0, atol=atol)
    np.testing.assert_allclose(res.output, want["output"], rtol=0, atol=atol)
    assert res.output.dtype == want["output"].dtype


def test_attend_causal_is_sdpa_to_1e6():
    arrays, _, want = sdpa_case(GOLDEN / "sdpa_causal.npz")
    res = attend(arrays["q"], arrays["k"], arrays["v"], Spec(causal=True))
    assert np.max(np.abs(res.output - want["output"])) < 1e-6
    assert res.export("output").shape == (5, 6)  # 3-D input: no batch axis for the caller


def _heads(y: np.ndarray, h: int) -> np.ndarray:
    """(B, n, h·d) -> (B, h, n, d): heads as column blocks."""
    B, n, w = y.shape
    return y.reshape(B, n, h, w // h).transpose(0, 2, 1, 3)


def _project(inputs: dict, o: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V (B, H, n, d) of a catalogue case, in numpy: X (+ PE) · W + b, heads as column blocks."""
    h = o.get("heads", 1)
    if "q" in inputs:
        q, k, v = (inputs[n] for n in ("q", "k", "v"))
        if q.ndim == 2:
            q, k, v = (_heads(a[None], h)[0] for a in (q, k, v))
        return q, k, v
    x = inputs["image"].reshape(*inputs["image"].shape[:-3], -1, inputs["image"].shape[-1]) if "image" in inputs \
        else inputs["x"]
    x3 = x if x.ndim == 3 else x[None]
    xkv3 = x3 if "x_kv" not in inputs else (inputs["x_kv"] if inputs["x_kv"].ndim == 3 else inputs["x_kv"][None])
    if "pe" in o or "pe" in inputs:  # positions added to X: the caller's step (the CLI's), here in numpy
        x3, xkv3 = x3 + _table(inputs, o, x3.shape[1], x3.shape[2]), xkv3 + _table(inputs, o, xkv3.shape[1],
                                                                                   xkv3.shape[2])
    if "wq" not in inputs:
        return _heads(x3, h), _heads(xkv3, h), _heads(xkv3, h)
    zero = np.zeros(1)
    qf = x3 @ inputs["wq"] + inputs.get("bq", zero)
    kf = xkv3 @ inputs["wk"] + inputs.get("bk", zero)
    vf = xkv3 @ inputs["wv"] + inputs.get("bv", zero)
    return _heads(qf, h), _heads(kf, h), _heads(vf, h)


def _table(inputs: dict, o: dict, n: int, d: int) -> np.ndarray:
    """The positional table (n, d) added to X: a learned one (its first n rows), or the sinusoidal one of
    Vaswani et al., sin and cos of position · base^(−2i/d) interleaved, or all sines then all cosines (concat)."""
    if "pe" in inputs:
        return inputs["pe"][:n]
    angle = np.arange(n)[:, None] * o.get("pe_base", 10000.0) ** (-np.arange(0, d, 2) / d)[None, :]  # (n, d/2)
    if o.get("pe_layout", "interleaved") == "concat":
        return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1).reshape(n, d)


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in CASE_FILES])
def test_every_catalogue_variant_from_the_spec_alone(path: Path):
    """Each variant of the catalogue is reachable from a Spec: attend on the projected arrays gives the golden
    weights, and the output once W_O (numpy, here) is applied."""
    inputs, o, want = load(path)
    q, k, v = _project(inputs, o)
    spec = Spec(**spec_fields(inputs, o))
    res = attend(q, k, v, spec, Plan(dtype="float64"))
    np.testing.assert_allclose(res.weights, want["weights"], rtol=0, atol=1e-10)
    out = res.output
    if "wo" in inputs:
        out = out @ inputs["wo"] + inputs.get("bo", 0)
        if spec.query_lens is not None:
            out = np.where(np.arange(out.shape[1])[None, :, None] < np.array(spec.query_lens)[:, None, None], out, 0)
    np.testing.assert_allclose(out, want["output"], rtol=0, atol=1e-10)
    if "q_rotated" in want:
        np.testing.assert_allclose(res.q, want["q_rotated"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(res.k, want["k_rotated"], rtol=0, atol=1e-10)


# ---- backends: the same numbers whichever runs ---------------------------------------------------------------

GRID = [
    ("plain", {}, (2, 4, 4)),
    ("causal", {"causal": True}, (2, 4, 4)),
    ("window", {"window": (3, 1)}, (2, 4, 4)),
    ("causal window", {"causal": True, "window": (5, 0)}, (1, 2, 2)),
    ("key_lens", {"key_lens": (37, 9)}, (2, 2, 2)),
    ("key_lens empty rows", {"causal": True, "key_lens": (37, 0)}, (2, 2, 1)),
    ("gqa", {"causal": True}, (2, 6, 2)),
    ("gqa 1 kv head", {}, (1, 4, 1)),
    ("dot", {"score": "dot"}, (2, 2, 2)),
    ("scale", {"scale": 0.05}, (2, 2, 2)),
    ("temperature", {"temperature": 0.7, "causal": True}, (2, 2, 2)),
    ("bool mask", {"mask": RNG.random((41, 37)) < 0.7}, (2, 2, 2)),
]


@pytest.mark.parametrize("name, fields, shape", [pytest.param(*g, id=g[0]) for g in GRID])
@pytest.mark.parametrize("block_rows", [None, 5])
def test_backends_agree_to_1e12(name, fields, shape, block_rows):
    """dense == fused == trace (and auto) for the output and heads, in float64, over a grid of variants."""
    B, H, G = shape
    q = RNG.standard_normal((B, H, 41, 8))
    k = RNG.standard_normal((B, G, 37, 8))
    v = RNG.standard_normal((B, G, 37, 5))
    spec = Spec(**fields)
    got = {b: attend(q, k, v, spec, Plan(backend=b, need=("output", "heads"), block_rows=block_rows))
           for b in ("dense", "fused", "trace", "auto")}
    for b in ("fused", "trace", "auto"):
        np.testing.assert_allclose(got[b].output, got["dense"].output, rtol=0, atol=1e-12, err_msg=b)
        np.testing.assert_allclose(got[b].heads, got["dense"].heads, rtol=0, atol=1e-12, err_msg=b)
    assert got["trace"].steps and not got["dense"].steps  # trace records the steps, and only trace
    assert got["dense"].empty_rows == got["fused"].empty_rows == got["trace"].empty_rows
    maps = attend(q, k, v, spec)  # the maps asked for: dense
    np.testing.assert_allclose(maps.output, got["dense"].output, rtol=0, atol=1e-12)


def test_backends_refuse_what_they_cannot_compute():
    q = np.ones((3, 2))
    with pytest.raises(AttnError, match="plan.backend=fused cannot run this: the scores or weights are asked for"):
        attend(q, q, q, Spec(), Plan(backend="fused"))
    with pytest.raises(AttnError, match="computes softmax over scaled or dot scores"):
        attend(q, q, q, Spec(alibi=True), Plan(backend="fused", need=["output"]))
    res = attend(q, q, q, Spec(alibi=True), Plan(backend="dense", need=["output"]))
    assert res.weights is None and res.output.shape == (1, 3, 2)


def test_nonfinite_inputs_are_named_by_parameter_on_every_backend():
    q = np.ones((4, 2))
    k = q.copy()
    k[2, 1] = np.nan
    for backend in ("dense", "fused", "trace"):
        with pytest.raises(AttnError, match=r"^k holds nan at position \[2, 1\]"):
            attend(q, k, q, Spec(), Plan(backend=backend, need=["output"]))
    res = attend(q, k, q, Spec(), Plan(allow_nonfinite=True))
    assert np.isnan(res.output).any()


# ---- what only attend's spec says --------------------------------------------------------------------------------

def _rotate_half(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """transformers' apply_rotary_pos_emb with rotate_half, written out: x (..., n, d)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2) / d)  # (d/2,)
    ang = positions[:, None] * inv[None, :]  # (n, d/2)
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], -1)
    return x * cos + rot * sin


def test_partial_rotary_turns_only_the_first_dim_features():
    """Rope(dim=4) on heads of 10 features: features 0..3 rotated (rotate_half over 4), 4..9 unchanged, as
    transformers does with partial_rotary_factor = 0.4."""
    q = RNG.standard_normal((1, 2, 6, 10))
    k = RNG.standard_normal((1, 2, 6, 10))
    res = attend(q, k, k, Spec(rope=Rope(base=100.0, start=2, dim=4)))
    pos = 2 + np.arange(6.0)
    want_q = np.concatenate([_rotate_half(q[..., :4], pos, 100.0), q[..., 4:]], -1)
    want_k = np.concatenate([_rotate_half(k[..., :4], pos, 100.0), k[..., 4:]], -1)
    np.testing.assert_allclose(res.q, want_q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.k, want_k, rtol=0, atol=1e-12)
    s = want_q @ np.swapaxes(want_k, -1, -2) / np.sqrt(10)
    w = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(res.weights, w / w.sum(-1, keepdims=True), rtol=0, atol=1e-12)
    with pytest.raises(AttnError, match="spec.rope.dim 12 is more than the 10 features of a head"):
        attend(q, k, k, Spec(rope=Rope(dim=12)))


def test_attend_errors_name_parameters():
    q = np.ones((3, 4))
    with pytest.raises(AttnError, match=r"^keys and values must have the same number of tokens"):
        attend(q, q, np.ones((2, 4)))
    with pytest.raises(AttnError, match="spec must be an attncli.Spec"):
        attend(q, q, q, {"causal": True})
    with pytest.raises(AttnError) as info:
        attend(q, q, q, Spec(key_lens=(5,)))
    assert str(info.value) == "spec.key_lens value 5 is outside 0..3 (there are 3 keys)"
    with pytest.raises(AttnError) as info:
        attend(q, q, q, Spec(empty_rows="error", key_lens=(0,)))
    assert "pass empty_rows=zero|nan" in str(info.value) and "--" not in str(info.value)


# ---- project and attention: tokens and weights ---------------------------------------------------------------

PROJECTED = sorted(p for p in GOLDEN.glob("*.npz") if not p.name.startswith("sdpa_"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in PROJECTED])
def test_attention_matches_torch_multihead_attention(path: Path):
    """attention(x, weights, spec, heads=...) equals nn.MultiheadAttention (and the projection cases of
    tests/golden/generate.py): in-projections, heads, key padding, an inverted mask, cross attention, W_O."""
    from attncli import attention

    arrays, o, want = sdpa_case(path)
    weights = {n: arrays[n] for n in ("wq", "wk", "wv", "bq", "bk", "bv", "wo", "bo") if n in arrays}
    mask = arrays.get("mask")
    spec = Spec(causal=o.get("causal", False), key_lens=o.get("key_lens"),
                mask=None if mask is None else (~mask.astype(bool) if o.get("mask_invert") else mask))
    res = attention(arrays["x"], weights, spec, heads=o.get("heads"), x_kv=arrays.get("x_kv"))
    atol = 1e-5 if want["output"].dtype == np.float32 else 1e-6
    np.testing.assert_allclose(res.weights, want["weights"], rtol=0, atol=atol)
    np.testing.assert_allclose(res.output, want["output"], rtol=0, atol=atol)
    assert res.export("output").shape == (want["output"] if o["batched"] else want["output"][0]).shape


def test_project_splits_heads_as_column_blocks():
    """Q = X·W_Q + b_Q, head h = columns h·d_k .. (h+1)·d_k; K and V with 1 kv head (grouped), from x_kv."""
    from attncli import project

    x, x_kv = RNG.standard_normal((2, 5, 6)), RNG.standard_normal((2, 7, 6))
    w = {"wq": RNG.standard_normal((6, 8)), "wk": RNG.standard_normal((6, 4)), "wv": RNG.standard_normal((6, 3)),
         "bq": RNG.standard_normal(8)}
    q, k, v = project(x, w, heads=2, kv_heads=1, x_kv=x_kv)
    assert q.shape == (2, 2, 5, 4) and k.shape == (2, 1, 7, 4) and v.shape == (2, 1, 7, 3)
    full = x @ w["wq"] + w["bq"]
    np.testing.assert_allclose(q[:, 1], full[..., 4:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(v[:, 0], x_kv @ w["wv"], rtol=0, atol=1e-12)
    per_head = project(x[0], {"wq": [w["wq"][:, :4], w["wq"][:, 4:]], "wk": [w["wk"]], "wv": [w["wv"]]},
                       kv_heads=1)[0]
    np.testing.assert_allclose(per_head[0], (x[0] @ w["wq"]).reshape(5, 2, 4).transpose(1, 0, 2), atol=1e-12)
    q0, k0, v0 = project(x)  # no weights: Q = K = V = X
    assert q0.shape == (2, 1, 5, 6) and np.array_equal(k0[:, 0], x)


def test_attention_is_project_then_attend_then_wo():
    from attncli import attention, project

    x = RNG.standard_normal((6, 8))
    w = {n: RNG.standard_normal((8, 8)) for n in ("wq", "wo")} | {"bo": RNG.standard_normal(8)}
    w |= {n: RNG.standard_normal((8, 4)) for n in ("wk", "wv")}  # 2 kv heads of 2 features for 4 query heads
    spec = Spec(causal=True, window=(2, 0), rope=Rope())
    res = attention(x, w, spec, heads=4, kv_heads=2)
    q, k, v = project(x, {n: w[n] for n in ("wq", "wk", "wv")}, heads=4, kv_heads=2)
    assert q.shape == (1, 4, 6, 2) and k.shape == (1, 2, 6, 2)
    heads = attend(q, k, v, spec).output  # (1, 6, 8): the heads side by side
    np.testing.assert_allclose(res.output, heads @ w["wo"] + w["bo"], rtol=0, atol=1e-12)
    assert res.export("output").shape == (6, 8)


def test_project_and_attention_errors_name_parameters():
    from attncli import attention, project

    x = np.ones((3, 4))
    with pytest.raises(AttnError) as info:
        project(x, {"wq": np.ones((4, 2)), "wk": np.ones((4, 2))})
    assert str(info.value) == "wq, wk given without wv; give all three projections"
    with pytest.raises(AttnError, match="weights has 'w_q'; the weights are wq, wk, wv"):
        project(x, {"w_q": np.ones((4, 2))})
    with pytest.raises(AttnError, match="^bq needs the projections wq/wk/wv"):
        project(x, {"bq": np.ones(4)})
    with pytest.raises(AttnError, match="^bo needs wo"):
        attention(x, {"bo": np.ones(4)})
    with pytest.raises(AttnError, match="^heads must be a positive integer"):
        attention(x, heads=0)
    bad = x.copy()
    bad[1, 2] = np.inf
    with pytest.raises(AttnError, match=r"^x holds inf at position \[1, 2\]"):
        attention(bad)


# ---- --backend on the command line --------------------------------------------------------------------------------

CLI_GRID = [
    ["--causal"],
    ["--window", "1:0", "--heads", "2"],
    ["--score", "dot", "--key-lens", "3"],
    ["--temperature", "0.5", "--causal", "--heads", "2"],
]


@pytest.mark.parametrize("options", [pytest.param(o, id=" ".join(o)) for o in CLI_GRID])
def test_compute_backend_gives_the_same_output(options):
    """compute --backend dense|fused|trace|auto: the output (float64) equal to 1e-12 whichever kernel ran."""
    from cli_helpers import run

    x = "1 0 1 0; 0 2 0 2; 1 1 1 1; 0.5 -1 2 0"
    outs = {}
    for backend in ("auto", "dense", "fused", "trace"):
        proc = run(["compute", "--x", x, *options, "--show", "output,heads", "--format", "json", "--backend", backend])
        doc = json.loads(proc.stdout)
        outs[backend] = np.array(doc["output"])
    for backend in ("dense", "fused", "trace"):
        np.testing.assert_allclose(outs[backend], outs["auto"], rtol=0, atol=1e-12, err_msg=backend)


def test_compute_backend_fused_refuses_the_maps():
    from cli_helpers import run_error

    err = run_error(["compute", "--x", "1 0; 0 1", "--show", "weights", "--backend", "fused"])
    assert err == ("error: --backend fused cannot run this: the scores or weights are asked for (it keeps no maps); "
                   "use --backend dense or --backend auto\n")
