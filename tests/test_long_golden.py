"""Long sequences against PyTorch (tests/golden/long, made by its generate.py): the output-only request
runs the fused kernel (core/fused.py), including its two ways back to the exact arithmetic: rows whose
sums underflow and rows whose bound is too large to skip the row maximum."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

from attncli import Plan, Spec, attend
from attncli.core import fused

GOLDEN = Path(__file__).parent / "golden" / "long"
_spec = importlib.util.spec_from_file_location("long_generate", GOLDEN / "generate.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)
CASES = sorted(p.stem for p in GOLDEN.glob("*.npz"))
TOL = {"float64": 1e-12, "float32": 1e-6}  # × max |output|


def load(name: str):
    with np.load(GOLDEN / f"{name}.npz") as z:
        c = json.loads(str(z["options"]))
        expected, sha = z["output"], str(z["sha256"])
    q, k, v = gen.draw(c)
    assert gen.digest((q, k, v)) == sha, "numpy's random stream changed: regenerate tests/golden/long"
    kw = {key: c[key] for key in ("causal", "window", "key_lens", "query_lens") if key in c}
    if "window" in kw:
        kw["window"] = tuple(kw["window"])
    return c, q, k, v, Spec(**kw), expected


def test_every_case_is_there():
    assert CASES == sorted(gen.CASES)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("rows,threads,key_chunk", [(None, None, None), (7, 2, None), (64, 1, 97), (None, 2, 500)])
def test_fused_output_matches_torch(name, rows, threads, key_chunk, monkeypatch):
    c, q, k, v, kw, expected = load(name)
    if key_chunk:  # rows longer than a chunk add their chunks up
        monkeypatch.setattr(fused, "KEY_CHUNK", key_chunk)
    exact_rows = []
    original = fused.Fused._exact

    def spy(self, qr, *args):
        exact_rows.append(qr.shape[0])
        return original(self, qr, *args)

    monkeypatch.setattr(fused.Fused, "_exact", spy)
    got = attend(q, k, v, kw, Plan(need=["heads"], block_rows=rows, threads=threads)).heads
    assert got.dtype == np.dtype(c["dtype"])
    err = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    # float32: as close to the float64 truth as PyTorch's own float32 kernel is (scores near −60 lose digits);
    # odd block sizes make OpenBLAS use other float32 kernels, whose sums over 1,000+ keys round differently
    tol = max(TOL[c["dtype"]], 1.5 * c.get("torch_f32_error", 0.0)) * (1 if rows is None else 3)
    assert err <= tol, f"{name}: relative error {err:.1e}"
    if c.get("far"):  # the 50 far rows of each head went back to the exact arithmetic, and only they
        assert sum(exact_rows) == 50 * c["H"]
    elif c.get("large"):
        assert exact_rows
    elif kw.query_lens is None:
        assert not exact_rows, "no row should need the exact path"


def test_fused_equals_dense_path():
    c, q, k, v, kw, _ = load("causal_gqa_f32")
    dense = attend(q, k, v, kw)  # maps requested: the general kernel
    streamed = attend(q, k, v, kw, Plan(need=["output"]))
    assert np.max(np.abs(streamed.output - dense.output)) <= 1e-6 * np.max(np.abs(dense.output))


def test_cli_long_output(tmp_path):
    c, q, k, v, kw, expected = load("padding_f32")
    for name, a in zip("qkv", (q, k, v), strict=True):
        np.save(tmp_path / f"{name}.npy", a)
    run(["compute", "--q", tmp_path / "q.npy", "--k", tmp_path / "k.npy", "--v", tmp_path / "v.npy",
         "--key-lens", ",".join(map(str, c["key_lens"])), "--query-lens", ",".join(map(str, c["query_lens"])),
         "--show", "heads", "-o", tmp_path / "heads.npy"])
    got = np.load(tmp_path / "heads.npy")
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= TOL["float32"] * np.max(np.abs(expected))


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_groups_many_small_heads_per_item(threads, monkeypatch):
    """Small maps: one work item holds several (batch, kv head) groups, each with its own masks."""
    rng = np.random.default_rng(5)
    q = rng.normal(size=(8, 4, 40, 8)).astype(np.float32)
    k, v = (rng.normal(size=(8, 2, 40, 8)).astype(np.float32) for _ in range(2))
    mask = rng.random((4, 40, 40)) < 0.8  # one per head
    plans = []
    plan = fused.Fused.plan
    monkeypatch.setattr(fused.Fused, "plan", lambda self, *a: plans.append(plan(self, *a)) or plans[-1])
    for kw in ({}, {"causal": True, "key_lens": [40, 3, 17, 40, 1, 40, 40, 9]}, {"mask": mask}):
        dense = attend(q, k, v, Spec(**kw))
        got = attend(q, k, v, Spec(**kw), Plan(need=["output"], threads=threads))
        assert np.max(np.abs(got.output - dense.output)) <= 1e-6 * np.max(np.abs(dense.output)), kw
        assert got.empty_rows == dense.empty_rows
        assert max(g1 - g0 for g0, g1, _, _ in plans[-1]) > 1  # groups were batched
