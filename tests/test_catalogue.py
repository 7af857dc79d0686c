"""The variant catalogue against hand-derived values and closed forms (PyTorch references live in
test_catalogue_golden.py), and every variant combined with heads, a batch, a mask and --layout cols."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.cli.pipeline import compute_attention as attention
from attncli.core.normalize import sparsemax
from attncli.core.positions import alibi_slopes, rope, sinusoidal
from attncli.errors import AttnError

ONE_QUERY = np.array([[1.0]])
THREE_KEYS = np.zeros((3, 1))
V3 = np.eye(3)


def weights_for_scores(scores, **kw):
    """Attention whose raw scores are exactly `scores` (location score: S = Q·W_a with Q = [[1]])."""
    r = attention(ONE_QUERY, THREE_KEYS, V3, score="location", w_score=np.array([scores], float), **kw)
    np.testing.assert_allclose(r.export("output"), r.export("weights"))  # V = I
    return r.export("weights")[0]


def test_sparsemax_hand_cases():
    np.testing.assert_allclose(sparsemax(np.array([1.0, 0.5, 0.1])), [0.75, 0.25, 0.0], atol=1e-15)
    np.testing.assert_allclose(sparsemax(np.array([0.0, 0.0, 0.0])), [1 / 3] * 3, atol=1e-15)
    np.testing.assert_allclose(sparsemax(np.array([3.0, 0.0, 0.0])), [1.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_array_equal(sparsemax(np.array([1.0, -np.inf, 1.0])), [0.5, 0.0, 0.5])
    np.testing.assert_allclose(weights_for_scores([1.0, 0.5, 0.1], normalize="sparsemax"), [0.75, 0.25, 0])


def test_softmax1_can_attend_to_nothing():
    np.testing.assert_allclose(weights_for_scores([0, 0, 0], normalize="softmax1"), [0.25] * 3, atol=1e-15)
    w = weights_for_scores([-30, -30, -30], normalize="softmax1")
    assert w.sum() < 1e-12  # exp(-30)·3 / (1 + ...)
    w = weights_for_scores([1e4, 0, 0], normalize="softmax1")  # stays finite
    np.testing.assert_allclose(w, [1, 0, 0], atol=1e-15)


@pytest.mark.parametrize("name,fn", [
    ("relu", lambda s: max(s, 0.0)), ("sigmoid", lambda s: 1 / (1 + math.exp(-s))), ("none", lambda s: s)])
def test_elementwise_normalizers_with_mask(name, fn):
    scores = [2.0, -1.0, 0.5]
    w = weights_for_scores(scores, normalize=name, mask=np.array([[1, 1, 0]]))
    np.testing.assert_allclose(w, [fn(2.0), fn(-1.0), 0.0], atol=1e-15)
    assert w[2] == 0.0


def test_softcap_and_temperature_closed_form():
    s = [3.0, 1.0, -2.0]
    capped = [2 * math.tanh(x / 2) for x in s]
    e = [math.exp(c) for c in capped]
    np.testing.assert_allclose(weights_for_scores(s, softcap=2.0), [x / sum(e) for x in e], atol=1e-15)
    e = [math.exp(x / 0.5) for x in s]
    np.testing.assert_allclose(weights_for_scores(s, temperature=0.5), [x / sum(e) for x in e], atol=1e-15)


def test_cosine_and_general_and_additive_closed_forms():
    q = np.array([[2.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    r = attention(q, k, V3, score="cosine", scale=2.0)
    np.testing.assert_allclose(r.export("scores"), [[2.0, 0.0, 2 / math.sqrt(2)]], atol=1e-15)
    w = np.array([[1.0, 2.0], [0.0, 1.0]])
    r = attention(q, k, V3, score="general", w_score=w)
    np.testing.assert_allclose(r.export("scores"), q @ w @ k.T, atol=1e-15)  # [[2, 12, 6]]
    np.testing.assert_allclose(r.export("scores"), [[2.0, 12.0, 6.0]], atol=1e-15)
    # additive with h = 1: S_ij = v·tanh(q_i·w_q + k_j·w_k)
    r = attention(q, k, V3, score="additive", wa_q=np.array([[0.5], [0.0]]), wa_k=np.array([[1.0], [-1.0]]),
                  va=np.array([2.0]))
    want = [2 * math.tanh(1.0 + 1.0), 2 * math.tanh(1.0 - 3.0), 2 * math.tanh(1.0 + 0.0)]
    np.testing.assert_allclose(r.export("scores")[0], want, atol=1e-15)


def test_additive_handles_different_widths_and_chunks(monkeypatch):
    from attncli.core import scores

    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(5, 3)), rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    wq, wk, va = rng.normal(size=(3, 6)), rng.normal(size=(4, 6)), rng.normal(size=6)
    want = np.array([[va @ np.tanh(qi @ wq + kj @ wk) for kj in k] for qi in q])
    whole = attention(q, k, v, score="additive", wa_q=wq, wa_k=wk, va=va)
    monkeypatch.setattr(scores, "ADDITIVE_CHUNK_BYTES", 1)  # one query at a time
    chunked = attention(q, k, v, score="additive", wa_q=wq, wa_k=wk, va=va)
    np.testing.assert_allclose(whole.export("scores"), want, atol=1e-13)
    np.testing.assert_array_equal(chunked.export("scores"), whole.export("scores"))


def test_windows_match_their_definition():
    x = np.random.default_rng(1).normal(size=(6, 2))
    for window, causal, rule in [(1, False, lambda i, j: abs(i - j) <= 1),
                                 ((2, 0), False, lambda i, j: i - 2 <= j <= i),
                                 ((1, 2), True, lambda i, j: i - 1 <= j <= i)]:
        r = attention(x=x, window=window, causal=causal)
        want = np.array([[rule(i, j) for j in range(6)] for i in range(6)])
        np.testing.assert_array_equal(r.export("weights") > 0, want)


def test_query_lens_zero_padded_rows_even_after_w_o():
    x = np.random.default_rng(2).normal(size=(2, 4, 3))
    wo, bo = np.ones((3, 2)), np.array([1.0, -1.0])
    r = attention(x=x, query_lens=[4, 2], wo=wo, bo=bo)
    assert np.all(r.export("output")[1, 2:] == 0) and np.all(r.export("weights")[1, 2:] == 0)
    assert r.empty_rows == []  # padding is not an accident worth a warning
    alone = attention(x=x[1, :2], x_kv=x[1], wo=wo, bo=bo)  # keys are not padded, only queries
    np.testing.assert_allclose(r.export("output")[1, :2], alone.export("output"), atol=1e-14)


def test_graph_masks():
    x = np.eye(4)
    r = attention(x=x, edges=np.array([[0, 1], [1, 2]]), undirected=True, self_loops=True)
    want = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], bool)
    np.testing.assert_array_equal(r.export("weights") > 0, want)
    adj = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
    r = attention(x=x, adjacency=adj)
    np.testing.assert_array_equal(r.export("weights"), adj)  # one neighbour each: weight 1
    with pytest.raises(AttnError, match="spec.graph.edges line 1"):  # the CLI's --edges: test_messages.py
        attention(x=x, edges=np.array([[0, 9]]))


def test_image_window2d_one_is_identity():
    img = np.random.default_rng(3).normal(size=(2, 3, 2))
    r = attention(image=img, window2d=1)  # each pixel sees only itself: output = V = the image
    np.testing.assert_allclose(r.export("output"), img, atol=1e-15)
    assert r.export("output").shape == (2, 3, 2) and r.export("weights").shape == (6, 6)
    r = attention(image=img, window2d=3)
    w = r.export("weights") > 0
    assert w[0].sum() == 4 and w[4].sum() == 6  # a corner sees 2×2 pixels, (1,1) sees 2×3
    with pytest.raises(AttnError, match="odd"):
        attention(image=img, window2d=2)


def test_sinusoidal_values():
    pe = sinusoidal(3, 4)
    np.testing.assert_allclose(pe[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], atol=1e-15)
    pe = sinusoidal(3, 4, layout="concat")
    np.testing.assert_allclose(pe[2], [math.sin(2), math.sin(0.02), math.cos(2), math.cos(0.02)], atol=1e-15)
    x = np.zeros((3, 4))
    np.testing.assert_allclose(attention(x=x, pe="sinusoidal").export("q"), sinusoidal(3, 4))


def test_rope_rotates_and_scores_depend_on_relative_position():
    v = np.array([[1.0, 0.0]] * 3)
    np.testing.assert_allclose(rope(v, np.arange(3)), [[math.cos(p), math.sin(p)] for p in range(3)], atol=1e-15)
    rng = np.random.default_rng(4)
    q, k = rng.normal(size=(2, 5, 8))
    a = attention(q, k, k, rope=True, start_pos=0).export("scores")
    b = attention(q, k, k, rope=True, start_pos=17).export("scores")
    np.testing.assert_allclose(a, b, atol=1e-12)
    for layout in ("half", "interleaved"):
        rot = rope(q, np.arange(5) + 3.0, layout=layout)
        np.testing.assert_allclose(np.linalg.norm(rot, axis=-1), np.linalg.norm(q, axis=-1))


def test_alibi():
    np.testing.assert_allclose(alibi_slopes(8), [2.0 ** -i for i in range(1, 9)])
    x = np.zeros((3, 4))  # all scores 0: the bias alone decides
    r = attention(x=x, heads=2, alibi=True, score="dot")
    m1 = 2.0 ** -4
    np.testing.assert_allclose(r.export("scores")[0][0], [0, -m1, -2 * m1], atol=1e-15)


# ---- every variant, composed with heads, a batch, a mask and both layouts ------------------------

RNG = np.random.default_rng(7)
VARIANTS = {
    "scaled": {}, "dot": {"score": "dot"},
    "general": {"score": "general", "w_score": RNG.normal(size=(2, 2))},
    "additive": {"score": "additive", "wa_q": RNG.normal(size=(2, 3)), "wa_k": RNG.normal(size=(2, 3)),
                 "va": RNG.normal(size=3)},
    "cosine": {"score": "cosine", "scale": 3.0},
    "location": {"score": "location", "w_score": RNG.normal(size=(2, 5))},
    "softmax1": {"normalize": "softmax1"}, "sparsemax": {"normalize": "sparsemax"}, "relu": {"normalize": "relu"},
    "sigmoid": {"normalize": "sigmoid"}, "none": {"normalize": "none"}, "temperature": {"temperature": 0.5},
    "softcap": {"softcap": 1.5}, "window": {"window": (1, 2)}, "causal_window": {"causal": True, "window": 2},
    "query_lens": {"query_lens": [5, 3]}, "key_lens": {"key_lens": [4, 5]},
    "adjacency": {"adjacency": RNG.random((5, 5)) < 0.5, "self_loops": True},
    "edges": {"edges": np.array([[0, 1], [2, 3], [4, 0]]), "undirected": True, "self_loops": True},
    "pe_sinusoidal": {"pe": "sinusoidal"}, "pe_table": {"pe": RNG.normal(size=(6, 4))},
    "rope": {"rope": True, "rope_layout": "interleaved", "start_pos": 2}, "alibi": {"alibi": True},
    "bias": {"bias": RNG.normal(size=(5, 5))}, "sinks": {"sinks": [0.5, -1.0]},
}
MATRIX_PARAMS = ("w_score", "wa_q", "wa_k", "adjacency", "pe", "bias")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_with_heads_batch_mask_and_cols(name):
    x = RNG.normal(size=(2, 5, 4))
    w = RNG.normal(size=(3, 4, 4))
    mask = np.ones((5, 5), bool)
    mask[:, 1] = False  # key 1 is masked for everyone
    kw = dict(VARIANTS[name])
    rows = attention(x=x, wq=w[0], wk=w[1], wv=w[2], heads=2, mask=mask, **kw)
    t = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731
    kw_cols = {k: (t(np.asarray(v)) if k in MATRIX_PARAMS and isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    cols = attention(x=t(x), wq=t(w[0]), wk=t(w[1]), wv=t(w[2]), heads=2, mask=t(mask), layout="cols", **kw_cols)
    assert rows.weights.shape == (2, 2, 5, 5)
    for n in ("weights", "output", "scores"):
        np.testing.assert_allclose(cols.export(n), t(rows.export(n)), atol=1e-12)
    assert np.all(rows.weights[..., 1] == 0)  # masked under every normalizer
    assert np.all(np.isfinite(rows.output))
    if rows.meta["rows_sum_to"] == "1":
        sums = rows.weights.sum(-1)
        assert np.allclose(sums[sums > 0], 1)


def test_cli_variants_and_meta(tmp_path):
    np.save(tmp_path / "x.npy", RNG.normal(size=(2, 5, 4)))
    (tmp_path / "edges.txt").write_text("# i j\n0 1\n2 3\n")
    doc = json.loads(run(["compute", "--x", tmp_path / "x.npy", "--heads", "2", "--score", "cosine", "--scale", "4",
                          "--normalize", "sparsemax", "--window", "1:0", "--edges", tmp_path / "edges.txt",
                          "--undirected", "--self-loops", "--alibi", "--rope", "--softcap", "3", "--query-lens", "5,4",
                          "--format", "json"]).stdout)
    meta = doc["meta"]
    assert meta["variant"] == "cosine" and meta["normalize"] == "sparsemax"
    assert meta["masks"]["window"] == [1, 0] and meta["masks"]["graph"]["undirected"] is True
    assert meta["masks"]["query_lens"] == [5, 4] and meta["positions"]["alibi"] is True
    assert np.array(doc["weights"]).shape == (2, 2, 5, 5)


def test_cli_image_output_is_an_image(tmp_path):
    np.save(tmp_path / "img.npy", RNG.normal(size=(3, 4, 2)))
    doc = json.loads(run(["compute", "--image", tmp_path / "img.npy", "--window2d", "3", "--format", "json"]).stdout)
    assert np.array(doc["output"]).shape == (3, 4, 2) and np.array(doc["weights"]).shape == (12, 12)


def test_pe_and_mask_commands():
    doc = json.loads(run(["pe", "--kind", "sinusoidal", "--length", "3", "--dim", "4", "--format", "json"]).stdout)
    np.testing.assert_allclose(doc["pe"][1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], atol=1e-15)
    doc = json.loads(run(["pe", "--kind", "alibi", "--length", "3", "--heads", "2", "--format", "json"]).stdout)
    assert np.array(doc["pe"]).shape == (2, 3, 3) and doc["pe"][0][0][2] == -2 * 2.0 ** -4
    doc = json.loads(run(["pe", "--kind", "rope", "--length", "2", "--dim", "4", "--start-pos", "1",
                          "--format", "json"]).stdout)
    np.testing.assert_allclose(doc["pe"], [[1, 0.01], [2, 0.02]], atol=1e-15)
    doc = json.loads(run(["mask", "--length", "4", "--causal", "--window", "1", "--format", "json"]).stdout)
    assert doc["mask"] == [[True, False, False, False], [True, True, False, False], [False, True, True, False],
                           [False, False, True, True]]
    doc = json.loads(run(["mask", "--length", "3", "--key-lens", "3,1", "--format", "json"]).stdout)
    assert doc["mask"][1] == [[True, False, False]] * 3
    table = run(["mask", "--grid", "2,2", "--window2d", "1"]).stdout.decode()
    assert "·" in table and "q3" in table


@pytest.mark.parametrize("args,needle", [
    (["compute", "--x", "1 0; 0 1", "--window", "-1"], "--window"),
    (["compute", "--x", "1 0; 0 1", "--window", "a:b"], "--window"),
    (["compute", "--image", "[[[1],[2]],[[3],[4]]]", "--window2d", "2"], "--window2d"),
    (["compute", "--x", "1 0; 0 1", "--window2d", "3"], "--image"),
    (["compute", "--x", "1 0; 0 1", "--score", "general"], "--w-score"),
    (["compute", "--x", "1 0; 0 1", "--score", "additive", "--wa-q", "1;1", "--wa-k", "1 1;1 1", "--va", "1"],
     "additive"),
    (["compute", "--x", "1 0; 0 1", "--score", "location", "--w-score", "1 0 0; 0 1 0"], "--w-score"),
    (["compute", "--x", "1 0 1; 0 1 1", "--pe", "sinusoidal"], "even"),
    (["compute", "--x", "1 0; 0 1", "--pe", "nosuchfile.npy"], "--pe"),
    (["compute", "--x", "1 0; 0 1", "--undirected"], "--adjacency"),
    (["compute", "--x", "1 0; 0 1", "--edges", "0 5;"], "--edges"),
    (["compute", "--x", "1 0; 0 1", "--temperature", "0"], "--temperature"),
    (["compute", "--x", "1 0; 0 1", "--query-lens", "3"], "--query-lens"),
    (["compute", "--x", "1 0 0; 0 1 0", "--rope"], "--rope"),
    (["pe", "--kind", "rope", "--length", "4"], "--dim"),
    (["mask", "--causal"], "--length"),
])
def test_catalogue_errors(args, needle, tmp_path):
    assert needle in run_error(args, cwd=tmp_path)


@pytest.mark.parametrize("args,needle", [
    (["compute", "--x", "1 0; 0 1", "--scale", "inf"], "--scale"),
    (["compute", "--x", "1 0; 0 1", "--softcap", "inf"], "--softcap"),
    (["compute", "--x", "1 0; 0 1", "--start-pos", "99999999999999999999"], "--start-pos"),
    (["compute", "--x", "1 0; 0 1", "--score", "location", "--w-score", "1 2"], "--w-score"),
    (["compute", "--x", "[[1e30, 0], [0, 1]]", "--score", "dot", "--dtype", "float32"], "overflow"),
    (["compute", "--x", "1 0; 0 1", "--pe", "[[1, NaN], [0, 0]]"], "--pe"),
    (["embed", "--text", "a", "--embeddings", "onehot", "--precision", "-1"], "--precision"),
])
def test_numbers_that_would_go_wrong_are_refused(args, needle, tmp_path):
    assert needle in run_error(args, cwd=tmp_path)


def test_scalar_va_is_one_hidden_unit():
    r = attention(np.eye(2), np.eye(2), np.eye(2), score="additive", wa_q=np.array([[1.0], [0.0]]),
                  wa_k=np.array([[1.0], [0.0]]), va=np.array(2.0))
    np.testing.assert_allclose(r.export("scores")[0], [2 * math.tanh(2.0), 2 * math.tanh(1.0)])
