"""The fused output-only kernel (core/fused.py) skips the row maximum when a Cauchy–Schwarz bound proves the
exponentials cannot overflow; rows the bound does not clear are recomputed with their maximum subtracted.
These cases sit on both sides of that bound, where the per-group bounds (Kᵀ, max |k|, max |v|) are computed
on the kernel's threads, and over several key chunks: each against softmax written out here in float64."""

from __future__ import annotations

import numpy as np
import pytest

from attncli import Plan, Spec, attend
from attncli.cli.pipeline import compute_attention as attention
from attncli.core import fused

RNG = np.random.default_rng(1515)


def reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, key_lens=None, causal: bool = False) -> np.ndarray:
    """softmax(Q·Kᵀ/√d)·V in float64, row maximum subtracted; kv heads shared by groups of query heads."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    H, G = q.shape[1], k.shape[1]
    k, v = np.repeat(k, H // G, axis=1), np.repeat(v, H // G, axis=1)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    n_q, n_k = s.shape[-2:]
    allowed = np.ones(s.shape, dtype=bool)
    if key_lens is not None:
        allowed &= (np.arange(n_k)[None, :] < np.array(key_lens)[:, None])[:, None, None, :]
    if causal:
        allowed &= np.arange(n_k)[None, :] <= np.arange(n_q)[:, None]
    s = np.where(allowed, s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


def err(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def close(got: np.ndarray, want: np.ndarray, tol: float = 2e-6) -> None:
    assert err(got, want) <= tol, err(got, want)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_on_both_sides_of_the_bound(threads):
    """Every third query row is scaled so its scores reach a few hundred (2^S' would overflow float32 unshifted):
    those rows take the exact path, the rest the shortcut, in the same blocks."""
    q, k, v = (RNG.standard_normal((2, 4, 300, 16)).astype(np.float32) for _ in range(3))
    q[:, :, ::3] *= 60
    want = reference(q, k, v)
    heads = attend(q, k, v, plan=Plan(need=["heads"], threads=threads, block_rows=64)).heads
    dense = attend(q, k, v).heads  # every intermediate kept: the row maximum subtracted everywhere
    # scores of a few hundred rounded to float32 lose digits in either path: as close to float64 as the dense one
    assert err(heads, want) <= max(1.5 * err(dense, want), 2e-6), (err(heads, want), err(dense, want))


def test_keys_all_zero_give_the_mean_of_the_values():
    """max |k| = 0: every score is 0 whatever the query (the bound is 0 · |q|), the weights are uniform."""
    q = RNG.standard_normal((1, 2, 40, 8)).astype(np.float32) * 1e6
    k = np.zeros((1, 2, 50, 8), dtype=np.float32)
    v = RNG.standard_normal((1, 2, 50, 8)).astype(np.float32)
    heads = attend(q, k, v, plan=Plan(need=["heads"])).heads
    close(heads, np.broadcast_to(v.astype(np.float64).mean(axis=2, keepdims=True), heads.shape), 1e-6)


def test_values_too_large_for_the_shortcut_still_give_the_right_output():
    """max |v| near float32's limit leaves no room for Σ 2^S'·v: the bound clears no row; every row is shifted."""
    q, k = (RNG.standard_normal((1, 2, 64, 8)).astype(np.float32) for _ in range(2))
    v = RNG.standard_normal((1, 2, 64, 8)).astype(np.float32) * np.float32(1e37)
    out = attend(q, k, v, plan=Plan(need=["heads"])).heads
    close(out, reference(q, k, v))


@pytest.mark.parametrize("causal", [False, True])
def test_many_key_chunks_with_grouped_heads_and_padding(causal):
    """More keys than one GEMM takes (fused.KEY_CHUNK): the chunks' sums add up; padded keys and the causal
    diagonal fall inside and across chunks."""
    n = 2 * fused.KEY_CHUNK + 333
    q = RNG.standard_normal((2, 4, 96, 8)).astype(np.float32)
    k, v = (RNG.standard_normal((2, 2, n, 8)).astype(np.float32) for _ in range(2))
    lens = [n, fused.KEY_CHUNK + 5]
    if causal:  # queries at the end of the keys (bottom-right): give them the last rows of a square problem
        q = RNG.standard_normal((2, 4, n, 8)).astype(np.float32)
    heads = attend(q, k, v, Spec(key_lens=lens, causal=causal), Plan(need=["heads"], threads=2)).heads
    want = reference(q, k, v, key_lens=lens, causal=causal)
    close(heads, want)


@pytest.mark.parametrize("rows", [None, 100, 33])
def test_thread_counts_give_identical_heads(rows):
    """The per-group bounds are computed on however many threads run, blocks land on any thread: with the same
    blocks the numbers are the same bit for bit (other block sizes round the GEMMs differently: 1e-6 of scale)."""
    q, k, v = (RNG.standard_normal((1, 8, 700, 32)).astype(np.float32) for _ in range(3))
    q[:, :, ::7] *= 40
    runs = [attend(q, k, v, plan=Plan(need=["heads"], threads=t, block_rows=rows or 700)).heads for t in (1, 2, 3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])
    close(attend(q, k, v, plan=Plan(need=["heads"], threads=2, block_rows=rows)).heads, runs[0], 1e-6)


def test_finiteness_check_takes_finite_values_whose_sum_overflows():
    """check_finite sums the array in one pass; a sum that overflows (finite values near the dtype's limit) is no
    proof of a NaN or an infinity: those are then looked for value by value."""
    from attncli.core.validate import check_finite
    from attncli.errors import AttnError

    big = np.full((4, 10), 3e38, dtype=np.float32)
    check_finite(big, "v")
    check_finite(-big, "v")
    for bad, where in ((np.inf, "[2, 3]"), (np.nan, "[2, 3]")):
        a = big.copy()
        a[2, 3] = bad
        with pytest.raises(AttnError, match=rf"^v holds {bad} at position \{where}"):
            check_finite(a, "v")
    b = np.zeros(5)
    b[4] = -np.inf
    check_finite(b, "bias", allow_neg_inf=True)


@pytest.mark.parametrize("which", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_non_finite_inputs_are_named_where_they_are_whichever_path_runs(which, bad, layout):
    """The fused path checks Q, K and V finite in its own passes over them: the error is the one the dense path
    gives (the option, the value, its position in the array as given), for 2-D and grouped 4-D inputs."""
    from attncli.errors import AttnError

    for shape_q, shape_kv in (((6, 4), (6, 4)), ((1, 4, 6, 4), (1, 2, 6, 4))):
        arrays = {"q": RNG.standard_normal(shape_q), "k": RNG.standard_normal(shape_kv),
                  "v": RNG.standard_normal(shape_kv)}
        if layout == "cols":
            arrays = {n: np.swapaxes(a, -1, -2).copy() for n, a in arrays.items()}
        target = arrays[which]
        pos = (0,) * (target.ndim - 2) + (2, 3)
        target[pos] = bad
        messages = []
        for need in (None, ["output"]):
            with pytest.raises(AttnError) as e:
                attention(**arrays, layout=layout, need=need)
            messages.append(str(e.value))
        assert messages[0] == messages[1]
        assert f"--{which} holds {bad}" in messages[1] and str(list(pos)) in messages[1], messages[1]


def test_huge_finite_inputs_are_not_taken_for_non_finite_ones():
    """Squares of values near float32's limit overflow in the preparation's norms: those values are then looked at one
    by one, and the run goes on (here to the shifted path, which gives the right output)."""
    q = RNG.standard_normal((1, 2, 50, 8)).astype(np.float32)
    k = RNG.standard_normal((1, 2, 50, 8)).astype(np.float32)
    v = RNG.standard_normal((1, 2, 50, 8)).astype(np.float32)
    v[0, 1, 7, 3] = 3e38  # |v|² overflows; max |v| does not
    out = attend(q, k, v, plan=Plan(need=["heads"])).heads
    close(out, reference(q, k, v))


def test_one_pass_finiteness_reads_any_axis_order_and_leaves_strided_arrays_to_the_slow_check():
    from attncli.core.validate import check_finite, check_output, finite
    from attncli.errors import AttnError

    a = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    assert finite(a) and finite(a.transpose(2, 0, 1))  # the heads' (B, H, n, d) view of (B, n, H, d) memory
    assert not finite(a[:, ::2])  # not one run of memory: the caller looks value by value
    b = a.copy()
    b[1, 2, 3] = np.inf
    assert not finite(b.transpose(2, 0, 1))
    with pytest.raises(AttnError, match=r"at \(3, 1, 2\)"):
        check_output(b.transpose(2, 0, 1), "outputs", np.float32)
    c = a.copy()
    c[0, 2, 1] = np.nan
    with pytest.raises(AttnError, match=r"position \[0, 1, 1\]"):
        check_finite(c[:, ::2], "v")
