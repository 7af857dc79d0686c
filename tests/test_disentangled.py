"""Disentangled attention (DeBERTa) in the core: the log buckets against transformers' own function (a golden
table made by tests/golden/models/generate.py), and attend's scores against independent numpy loops written from
the formula in core/disentangled.py's docstring (and the README)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.core.attend import attend
from attncli.core.disentangled import log_buckets, relative_positions
from attncli.core.spec import Disentangled, Plan, Spec
from attncli.errors import AttnError

GOLDEN = Path(__file__).parent / "golden" / "models" / "deberta_v3"


def test_log_buckets_equal_transformers_make_log_bucket_position():
    """DeBERTa-v3's (256 buckets, 512 positions) and the golden case's (8, 64), over distances −1100..1100."""
    with np.load(GOLDEN / "buckets.npz") as z:
        rel = z["relative"]
        for buckets, most in ((256, 512), (8, 64)):
            expected = z[f"b{buckets}_m{most}"]
            got = log_buckets(rel, buckets, most)
            assert np.array_equal(got, expected), (buckets, most, rel[got != expected][:5])


def bucket(r: int, buckets: int, most: int) -> int:
    """The bucket of one distance, from the formula, in float64."""
    mid = buckets // 2
    if abs(r) < mid:
        return r
    return int(math.copysign(math.ceil(math.log(abs(r) / mid) / math.log((most - 1) / mid) * (mid - 1)) + mid, r))


def test_log_buckets_follow_the_formula():
    rel = np.arange(-300, 301)
    assert log_buckets(rel, 16, 128).tolist() == [bucket(int(r), 16, 128) for r in rel]
    assert np.array_equal(log_buckets(rel, 16, 128), -log_buckets(-rel, 16, 128))  # odd: δ(j, i) = −δ(i, j)
    assert relative_positions(3, 3).tolist() == [[0, -1, -2], [1, 0, -1], [2, 1, 0]]  # no buckets: i − j


def reference(q, k, v, pos_key, pos_query, kinds, buckets, most, scale=None, key_lens=None):
    """Weights and heads from loops over i, j: S_ij = (q_i·k_j + q_i·K_r[c(i,j)] + k_j·Q_r[c′(j,i)])·scale."""
    B, H, n, d = q.shape
    G = k.shape[1]
    span = (pos_key if pos_key is not None else pos_query).shape[-2] // 2
    scale = 1 / math.sqrt(d * (1 + len(kinds))) if scale is None else scale

    def delta(i, j):
        return bucket(i - j, buckets, most) if buckets > 0 else i - j

    def row(table, h):
        return table if table.ndim == 2 else table[h]

    s = np.zeros((B, H, n, n))
    for b in range(B):
        for h in range(H):
            kh = k[b, h // (H // G)]
            for i in range(n):
                for j in range(n):
                    total = q[b, h, i] @ kh[j]
                    if "c2p" in kinds:
                        total += q[b, h, i] @ row(pos_key, h)[min(max(delta(i, j) + span, 0), 2 * span - 1)]
                    if "p2c" in kinds:
                        total += kh[j] @ row(pos_query, h)[min(max(-delta(j, i) + span, 0), 2 * span - 1)]
                    s[b, h, i, j] = total * scale
            if key_lens is not None:
                s[b, :, :, key_lens[b]:] = -np.inf
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    vv = np.repeat(v, H // G, axis=1)
    return w, w @ vv


@pytest.mark.parametrize("kinds,per_head,buckets,most,G", [
    (("c2p", "p2c"), True, 8, 16, 3),
    (("c2p",), False, 0, 0, 3),
    (("p2c",), True, 6, 10, 1),
    (("c2p", "p2c"), True, 0, 0, 1),
])
def test_attend_adds_c2p_and_p2c_as_the_formula_says(kinds, per_head, buckets, most, G):
    rng = np.random.default_rng(7)
    B, H, n, d, span = 2, 3, 19, 5, 4
    q = rng.normal(size=(B, H, n, d))
    k, v = rng.normal(size=(B, G, n, d)), rng.normal(size=(B, G, n, d))
    shape = (H, 2 * span, d) if per_head else (2 * span, d)
    pos_key, pos_query = rng.normal(size=shape), rng.normal(size=shape)
    dis = Disentangled(kinds, pos_key if "c2p" in kinds else None, pos_query if "p2c" in kinds else None,
                       buckets, most)
    w_ref, heads_ref = reference(q, k, v, pos_key, pos_query, kinds, buckets, most)
    res = attend(q, k, v, Spec(disentangled=dis), Plan(dtype="float64"))
    assert np.abs(res.weights - w_ref).max() < 1e-12
    assert np.abs(res.heads - heads_ref).max() < 1e-12
    assert res.meta["scale"] == pytest.approx(1 / math.sqrt(d * (1 + len(kinds))))
    assert res.meta["positions"]["disentangled"] == {"kinds": list(kinds), "span": span, "buckets": buckets,
                                                     "max_position": most}
    fast = attend(q, k, v, Spec(disentangled=dis), Plan(dtype="float64", need=("output",), block_rows=4))
    assert np.abs(fast.heads - heads_ref).max() < 1e-12  # blocks of rows, the maps never held
    traced = attend(q, k, v, Spec(disentangled=dis), Plan(dtype="float64", backend="trace"))
    assert "disentangled" in [step.key for step in traced.steps]


def test_a_given_scale_and_padding_masks_apply_to_the_whole_score():
    rng = np.random.default_rng(8)
    q, k, v = (rng.normal(size=(2, 2, 9, 4)) for _ in range(3))
    pk, pq = rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 4))
    dis = Disentangled(("c2p", "p2c"), pk, pq)
    w_ref, _ = reference(q, k, v, pk, pq, ("c2p", "p2c"), 0, 0, scale=0.3, key_lens=[9, 5])
    res = attend(q, k, v, Spec(disentangled=dis, scale=0.3, key_lens=[9, 5]), Plan(dtype="float64"))
    assert np.abs(res.weights[1, :, :5] - w_ref[1, :, :5]).max() < 1e-12
    assert np.abs(res.weights[0] - w_ref[0]).max() < 1e-12


def test_the_spec_round_trips_through_json():
    rng = np.random.default_rng(9)
    dis = Disentangled("p2c|c2p", rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3)), buckets=4, max_position=9)
    spec = Spec(disentangled=dis)
    d = spec.to_dict()
    assert set(d) == {"disentangled"} and set(d["disentangled"]) == {"pos_key", "pos_query", "buckets", "max_position"}
    again = Spec.from_dict(json.loads(json.dumps(d)))
    assert again == spec and hash(again) == hash(spec) and again.disentangled.buckets == 4
    assert again.disentangled.kinds == ("c2p", "p2c")
    one = Spec(disentangled=Disentangled(["p2c"], pos_query=np.ones((2, 3))))
    assert one.to_dict()["disentangled"]["kinds"] == ["p2c"] and Spec.from_dict(one.to_dict()) == one


@pytest.mark.parametrize("kwargs,says", [
    (dict(kinds=("c2p", "p2p"), pos_key=np.ones((4, 2))), "c2p, p2c or both"),
    (dict(kinds=("c2p",)), "spec.disentangled.pos_key"),
    (dict(kinds=("p2c",), pos_query=np.ones((3, 2))), "2k finite rows"),
    (dict(kinds=("c2p", "p2c"), pos_key=np.ones((4, 2)), pos_query=np.ones((6, 2))), "same rows"),
    (dict(kinds=("c2p",), pos_key=np.ones((4, 2)), buckets=8, max_position=5), "max_position"),
])
def test_bad_settings_are_refused_naming_the_field(kwargs, says):
    with pytest.raises(AttnError) as err:
        Disentangled(**kwargs)
    assert says in str(err.value)


def test_cross_attention_and_wrong_widths_are_refused():
    x = np.ones((1, 1, 3, 2))
    dis = Disentangled(("c2p",), np.ones((4, 2)))
    with pytest.raises(AttnError, match="as many queries as keys"):
        attend(np.ones((1, 1, 2, 2)), x, x, Spec(disentangled=dis))
    with pytest.raises(AttnError, match="features per row"):
        attend(x, x, x, Spec(disentangled=Disentangled(("c2p",), np.ones((4, 3)))))
    with pytest.raises(AttnError, match="heads"):
        attend(x, x, x, Spec(disentangled=Disentangled(("c2p",), np.ones((2, 4, 2)))))


# ---------------------------------------------------------------- the command line: compute's options


def test_compute_rel_embeddings_projects_the_table_with_the_layers_own_weights(tmp_path):
    """--rel-embeddings R with --wq/--wk (+ biases), 2 heads: K_r = R·W_K + b_K, Q_r = R·W_Q + b_Q per head, as
    DeBERTa's share_att_key; weights against the loops above."""
    rng = np.random.default_rng(11)
    n, d_model, H, d, span = 7, 6, 2, 3, 3
    x, r = rng.normal(size=(n, d_model)), rng.normal(size=(2 * span, d_model))
    w = {name: rng.normal(size=(d_model, H * d)) for name in ("wq", "wk", "wv")}
    b = {name: rng.normal(size=(H * d,)) for name in ("bq", "bk")}
    for name, a in {"x": x, "rel": r, **w, **b}.items():
        np.save(tmp_path / f"{name}.npy", a)

    def heads(a):  # (m, H·d) -> (1, H, m, d)
        return a.reshape(a.shape[0], H, d).transpose(1, 0, 2)[None]

    q, k, v = heads(x @ w["wq"] + b["bq"]), heads(x @ w["wk"] + b["bk"]), heads(x @ w["wv"])
    pos_query, pos_key = heads(r @ w["wq"] + b["bq"])[0], heads(r @ w["wk"] + b["bk"])[0]
    expected, _ = reference(q, k, v, pos_key, pos_query, ("c2p", "p2c"), 4, 6)
    out = tmp_path / "w.npy"
    run(["compute", "--x", tmp_path / "x.npy", *[a for name in ("wq", "wk", "wv", "bq", "bk")
                                                 for a in (f"--{name}", tmp_path / f"{name}.npy")],
         "--heads", "2", "--rel-embeddings", tmp_path / "rel.npy", "--position-buckets", "4",
         "--max-relative-positions", "6", "--dtype", "float64", "--show", "weights", "--format", "npy", "-o", out])
    assert np.abs(np.load(out) - expected[0]).max() < 1e-12
    run(["compute", "--x", tmp_path / "x.npy", *[a for name in ("wq", "wk", "wv", "bq", "bk")
                                                 for a in (f"--{name}", tmp_path / f"{name}.npy")],
         "--heads", "2", "--rel-embeddings", tmp_path / "rel.npy", "--pos-att-type", "c2p", "--dtype", "float64",
         "--show", "weights", "--format", "npy", "-o", out])
    expected, _ = reference(q, k, v, pos_key, None, ("c2p",), 0, 0)
    assert np.abs(np.load(out) - expected[0]).max() < 1e-12


def test_compute_reads_the_table_transposed_in_cols_layout():
    x, rel = "1 0 1 0; 0 2 0 2; 1 1 1 1", "0.5 0 0 0; 0 0.5 0 0; 0 0 0.5 0; 0 0 0 0.5; 1 1 0 0; 0 0 1 1"
    x_cols = "1 0 1; 0 2 1; 1 0 1; 0 2 1"
    rel_cols = "0.5 0 0 0 1 0; 0 0.5 0 0 1 0; 0 0 0.5 0 0 1; 0 0 0 0.5 0 1"
    rows = json.loads(run(["compute", "--x", x, "--rel-embeddings", rel, "--show", "weights", "--format",
                           "json"]).stdout)["weights"]
    cols = json.loads(run(["compute", "--layout", "cols", "--x", x_cols, "--rel-embeddings", rel_cols, "--show",
                           "weights", "--format", "json"]).stdout)["weights"]
    assert np.allclose(np.array(rows), np.array(cols).T, atol=1e-6)


@pytest.mark.parametrize("args,says", [
    (["--position-buckets", "4"], "give the relative position table with --rel-embeddings"),
    (["--rel-embeddings", "1 0; 0 1", "--pos-att-type", "c2q"], "--pos-att-type takes c2p, p2c or both"),
    (["--rel-embeddings", "1 0 0; 0 1 0"], "--rel-embeddings has 3 columns"),
    (["--rel-embeddings", "1 0; 0 1; 1 1"], "--rel-embeddings has 3 rows"),
    (["--rel-embeddings", "1 0; 0 1", "--position-buckets", "8", "--max-relative-positions", "4"],
     "--max-relative-positions must be more than 5"),
])
def test_compute_refuses_what_it_cannot_compute_in_one_line(args, says):
    err = run_error(["compute", "--x", "1 0; 0 1", *args])
    assert says in err, err


@pytest.mark.parametrize("case", ["deberta_v3", "deberta_v3_pos_proj"])
@pytest.mark.parametrize("layer", [0, 1])
def test_compute_config_runs_one_deberta_layer_as_the_model_does(case, layer, tmp_path):
    """compute --config MODEL/config.json --layer L --x hidden_states[L]: transformers' maps of that layer."""
    folder = GOLDEN.parent / case
    expected = np.load(folder / "expected.npz")
    n = json.loads((folder / "case.json").read_text())["lengths"][0]
    np.save(tmp_path / "h.npy", expected["hidden"][layer, 0, :n].astype(np.float32))
    out = tmp_path / "w.npy"
    run(["compute", "--config", folder / "config.json", "--layer", str(layer), "--x", tmp_path / "h.npy",
         "--show", "weights", "--format", "npy", "-o", out])
    assert np.abs(np.load(out) - expected["attentions"][layer, 0, :, :n, :n]).max() < 1e-5
    err = run_error(["compute", "--config", folder / "config.json", "--layer", str(layer), "--x", tmp_path / "h.npy",
                     "--rel-embeddings", "1 0; 0 1"])
    assert "--rel-embeddings" in err and "--config decides" in err


def test_a_problem_file_holds_the_relative_table_and_its_settings(tmp_path):
    np.save(tmp_path / "rel.npy", np.eye(4)[:4] * 0.5)
    (tmp_path / "problem.toml").write_text('x = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1], [0, 1, 0, 1]]\n'
                                            'rel_embeddings = "rel.npy"\npos_att_type = "p2c"\n'
                                            'position_buckets = 2\nmax_relative_positions = 4\n')
    got = json.loads(run(["compute", tmp_path / "problem.toml", "--show", "weights", "--format", "json"],
                         cwd=tmp_path.parent).stdout)["weights"]
    given = json.loads(run(["compute", "--x", "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1", "--rel-embeddings",
                            tmp_path / "rel.npy", "--pos-att-type", "p2c", "--position-buckets", "2",
                            "--max-relative-positions", "4", "--show", "weights", "--format", "json"]).stdout)
    assert got == given["weights"]
    plain = json.loads(run(["compute", "--x", "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1", "--show", "weights",
                            "--format", "json"]).stdout)["weights"]
    assert got != plain
