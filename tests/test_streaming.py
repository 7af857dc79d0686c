"""The streaming path (blocks of query rows, several threads) against the dense path: the same numbers
for every variant, mask, normalizer and empty row; and memory that does not grow with n_q × n_k."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from test_catalogue import VARIANTS

from attncli import Plan, Spec, attend
from attncli.cli.pipeline import compute_attention as attention
from attncli.errors import AttnError

RNG = np.random.default_rng(21)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("rows,threads", [(1, 1), (2, 2), (3, 1)])
def test_streaming_equals_dense(name, rows, threads):
    x = RNG.normal(size=(2, 5, 4))
    w = RNG.normal(size=(3, 4, 4))
    mask = np.ones((5, 5), bool)
    mask[:, 1] = False
    mask[3] = False  # an empty row
    kw = dict(x=x, wq=w[0], wk=w[1], wv=w[2], heads=2, mask=mask, **VARIANTS[name])
    dense = attention(**kw)
    streamed = attention(**kw, need=["output", "heads"], block_rows=rows, threads=threads)
    assert streamed.weights is None and streamed.scores is None
    np.testing.assert_allclose(streamed.output, dense.output, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(streamed.heads, dense.heads, rtol=1e-12, atol=1e-14)
    assert streamed.empty_rows == dense.empty_rows


def test_streaming_empty_row_policies():
    q = np.eye(3)
    mask = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    s = attend(q, q, q, Spec(mask=mask, empty_rows="nan"), Plan(need=["output"], block_rows=1))
    assert np.isnan(s.export("output")[1]).all() and not np.isnan(s.export("output")[[0, 2]]).any()
    with pytest.raises(AttnError, match="every key masked"):
        attend(q, q, q, Spec(mask=mask, empty_rows="error"), Plan(need=["output"], block_rows=1))
    with pytest.raises(AttnError, match="weights was not computed"):
        s.export("weights")


def test_threads_and_block_size_do_not_change_results():
    q, k, v = (RNG.normal(size=(2, 3, 64, 8)).astype(np.float32) for _ in range(3))
    ref = attend(q, k, v, Spec(causal=True)).output
    for rows, threads in ((1, 1), (7, 2), (64, 2), (13, 3)):
        out = attend(q, k, v, Spec(causal=True), Plan(need=["output"], block_rows=rows, threads=threads)).output
        # float32 matmuls of other shapes round differently: 1e-6 relative to the output's scale
        assert np.max(np.abs(out - ref)) <= 1e-6 * np.max(np.abs(ref))


@pytest.mark.parametrize("extra", ["", ", alibi=True"])  # ALiBi's biases are made per block too
def test_output_only_memory_stays_bounded(tmp_path, extra):
    # n = 16384: the dense float32 map of one head would take 1 GiB; streaming needs a few blocks of 32 MB
    code = (
        "import numpy as np, resource\n"
        "from attncli import Plan, Spec, attend\n"
        "rng = np.random.default_rng(0)\n"
        "q, k, v = (rng.standard_normal((16384, 64), dtype=np.float32) for _ in range(3))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"o = attend(q, k, v, Spec(causal=True{extra}), Plan(need=['output'])).output\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) // 1024)\n"
    )
    grown_mb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert grown_mb < 400, f"peak RSS grew by {grown_mb} MB"


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy's, from the dense path's GEMM
def test_fused_kernel_refuses_overflowing_scores_like_the_dense_path():
    q = np.full((1, 2, 300, 8), 1e20, dtype=np.float32)
    for need in (None, ["output"]):
        with pytest.raises(AttnError, match="scores overflow float32 .batch 0 head 0 query 0 key 0"):
            attend(q, q, q, plan=Plan(need=need))


def test_fused_kernel_matches_dense_for_grouped_heads_and_temperature():
    q = RNG.normal(size=(2, 4, 200, 8)).astype(np.float32)
    k, v = (RNG.normal(size=(2, 2, 200, 8)).astype(np.float32) for _ in range(2))
    for kw in ({"temperature": 0.3}, {"score": "dot"}, {"scale": 2.5, "key_lens": [200, 31]}):
        truth = attention(*(a.astype(np.float64) for a in (q, k, v)), **kw).output
        dense = attention(q, k, v, **kw).output
        fused = attention(q, k, v, need=["output"], **kw).output

        def err(a, truth=truth):
            return np.max(np.abs(a - truth)) / np.max(np.abs(truth))

        # both round float32 scores of size ~10 (in another order): as close to the truth as the dense path
        assert err(fused) <= max(2 * err(dense), 1e-6), (kw, err(fused), err(dense))


@pytest.mark.parametrize("causal,window", [(True, None), (False, (3, 5)), (True, (4, 0)), (False, (0, 2)), (True, 9)])
def test_partial_keys_cover_every_masked_column(causal, window):
    """Outside masks.partial_keys every key is allowed for every row of the block (checked cell by cell)."""
    from attncli.core.masks import combine

    n_q, n_k = 23, 29
    m = combine((1, 1, n_q, n_k), Spec(causal=causal, window=window))
    full = np.broadcast_to(m.allowed, (1, 1, n_q, n_k))[0, 0]
    for i0 in range(n_q):
        for i1 in range(i0 + 1, n_q + 1):
            for j0, j1 in ((0, n_k), (max(0, i0 - 4), min(n_k, i1 + 6))):
                p0, p1 = m.partial_keys(i0, i1, j0, j1)
                assert j0 <= p0 <= p1 <= j1
                outside = np.ones(n_k, bool)
                outside[:j0] = outside[j1:] = False
                outside[p0:p1] = False
                assert full[i0:i1, outside].all(), (i0, i1, j0, j1, p0, p1)


def test_default_threads_leave_the_cores_to_a_multithreaded_blas(monkeypatch):
    from attncli.core.threads import default_threads

    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert default_threads() == 1  # BLAS threads share each product; a second pool would oversubscribe
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what the CLI sets before numpy loads
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_threads() == usable  # the CPUs this process may use (taskset, containers), not the machine's
