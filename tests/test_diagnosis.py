"""Diagnosis of wrong answers (issue 14): each mistake's answer is built here by a small numpy reference written
for the test (not attncli's code), and `attncli check` (or the Diagnoser it uses) must name that mistake, with
the answer in the expected shape and in another one (one line of numbers, transposed, another array).

Timing (not a test): `python tests/test_diagnosis.py` diagnoses a class of 200 problems × 5 answers and prints
how long it took."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

# ---- the reference: attention with a student's mistakes, written for the test --------------------------------


def reference(p: dict, what: str = "output", *, scale: float | None = None, norm: str = "row",
              causal: bool | None = None, shift: int = 0, pad: str = "keys", transposed_w: bool = False,
              biases: bool = True, split: str = "blocks", merge: str = "blocks", wo: bool = True,
              round_w: int | None = None) -> np.ndarray:
    """Multi-head attention of problem `p` (x, wq, wk, wv, optional wo, b*, heads, causal, key_lens) as a student
    who made the named mistakes would compute it. norm: row | col | whole | none; shift: the causal mask allows
    j ≤ i + shift; pad: keys | queries | none; split/merge: blocks | interleaved (merge also: reversed)."""
    H = p.get("heads", 1)
    x = p.get("x")
    ws = [p.get(n) for n in ("wq", "wk", "wv")]
    if ws[0] is None:
        q = k = v = x
    else:
        ws = [w.T if transposed_w else w for w in ws]
        bs = [p.get(n, 0) if biases else 0 for n in ("bq", "bk", "bv")]
        q, k, v = (x @ w + b for w, b in zip(ws, bs, strict=True))
    n = x.shape[0]
    dk, dv = q.shape[1] // H, v.shape[1] // H

    def columns(h: int, d: int) -> np.ndarray:
        return np.arange(h * d, (h + 1) * d) if split == "blocks" else np.arange(h, H * d, H)

    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = np.ones((n, n), dtype=bool)
    if p.get("causal", False) if causal is None else causal:
        allowed &= j <= i + shift
    lens = p.get("key_lens")
    if lens is not None and pad == "keys":
        allowed &= j < lens
    padded_queries = (i[:, 0] >= lens) if lens is not None and pad == "queries" else np.zeros(n, dtype=bool)
    allowed &= ~padded_queries[:, None]
    scores, weights, heads = [], [], []
    for h in range(H):
        s = q[:, columns(h, dk)] @ k[:, columns(h, dk)].T * (1 / math.sqrt(dk) if scale is None else scale)
        s = np.where(allowed, s, -np.inf)
        if norm == "none":
            a = np.where(allowed, s, 0.0)
        else:
            axes = {"row": 1, "col": 0, "whole": (0, 1)}[norm]
            top = np.max(np.where(allowed, s, -1e300), axis=axes, keepdims=True)
            e = np.where(allowed, np.exp(s - top), 0.0)
            total = e.sum(axis=axes, keepdims=True)
            a = np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # a row with every key masked: zeros
        if round_w is not None:
            a = np.round(a, round_w)
        scores.append(s)
        weights.append(a)
        heads.append(a @ v[:, columns(h, dv)])
    if merge == "interleaved":
        cat = np.stack(heads, axis=2).reshape(n, H * dv)  # column j·H + h is head h's column j
    else:
        cat = np.concatenate(heads[::-1] if merge == "reversed" else heads, axis=1)
    out = cat @ p["wo"] + (p.get("bo", 0) if biases else 0) if wo and p.get("wo") is not None else cat
    out = np.where(padded_queries[:, None], 0.0, out)
    maps = {"scores": np.stack(scores), "weights": np.stack(weights)}
    if what in maps:
        return maps[what][0] if H == 1 else maps[what]
    return {"q": q, "k": k, "v": v, "heads": np.stack(heads), "output": out, "concat": cat}[what]


# ---- problems of several sizes -------------------------------------------------------------------------------

RNG = np.random.default_rng(14)


def _m(*shape: int, s: float = 0.8) -> np.ndarray:
    return RNG.normal(size=shape) * s


PROBLEMS = {
    # n 3, d_model 5, d_k 2, d_v 4, one head, biases: √n, √d_model, √d_v all differ from √d_k
    "p1": dict(x=_m(3, 5, s=1), wq=_m(5, 2), wk=_m(5, 2), wv=_m(5, 4, s=2), bq=_m(2), bk=_m(2), bv=_m(4), heads=1),
    # n 4, d_model 6, two heads of 3, W_O and biases, causal, the last key padded
    "p2": dict(x=_m(4, 6, s=1), wq=_m(6, 6), wk=_m(6, 6), wv=_m(6, 6, s=2), wo=_m(6, 6), bq=_m(6), bk=_m(6),
               bv=_m(6), bo=_m(6), heads=2, causal=True, key_lens=3),
    # n 4, d_model 4, d_k 4, d_v 2, causal, the last key padded
    "p3": dict(x=_m(4, 4, s=1), wq=_m(4, 4), wk=_m(4, 4), wv=_m(4, 2, s=3), heads=1, causal=True, key_lens=3),
    # n 3, d_model 4, two heads of 2, W_O, no biases
    "p4": dict(x=_m(3, 4, s=1), wq=_m(4, 4), wk=_m(4, 4), wv=_m(4, 4, s=2), wo=_m(4, 4), heads=2),
}

# mistake id -> (the reference's arguments, the problems it applies to, a phrase of its message)
MISTAKES = {
    "no-scaling": (dict(scale=1.0), "p1 p2 p3 p4", "1/√d_k was left out"),
    "sqrt-n": (lambda p: dict(scale=1 / math.sqrt(p["x"].shape[0])), "p1 p2 p4", "1/√n"),
    "sqrt-d-model": (lambda p: dict(scale=1 / math.sqrt(p["x"].shape[1])), "p1 p2 p4", "1/√d_model"),
    "sqrt-d-v": (lambda p: dict(scale=1 / math.sqrt(p["wv"].shape[1] // p["heads"])), "p1 p3", "1/√d_v"),
    "softmax-axis": (dict(norm="col"), "p1 p2 p3 p4", "wrong axis"),
    "softmax-whole": (dict(norm="whole"), "p1 p2 p3 p4", "whole score matrix"),
    "no-softmax": (dict(norm="none"), "p1 p2 p3 p4", "softmax was left out"),
    "no-softmax-no-scaling": (dict(norm="none", scale=1.0), "p1 p2 p3 p4", "scaling and the softmax"),
    "transposed-weights": (dict(transposed_w=True), "p2 p4", "X·Wᵀ"),
    "no-biases": (dict(biases=False), "p1 p2", "without the biases"),
    "causal": (lambda p: dict(causal=not p.get("causal", False)), "p1 p2 p3 p4", "causal"),
    "causal-diagonal": (dict(shift=-1), "p2 p3", "diagonal was masked"),
    "causal-plus-one": (dict(shift=1), "p2 p3", "future key was let in"),
    "no-padding": (dict(pad="none"), "p2 p3", "without the padding"),
    "padding-queries": (dict(pad="queries"), "p2 p3", "queries instead of the keys"),
    "heads-interleaved": (dict(split="interleaved"), "p2 p4", "interleaved columns"),
    "heads-order": (dict(merge="reversed"), "p2 p4", "reversed"),
    "no-wo": (dict(wo=False), "p2 p4", "W_O was left out"),
}
OUTPUT_ONLY = {"heads-order", "no-wo"}  # the weights are the same


def args_of(mistake: str, p: dict) -> dict:
    a = MISTAKES[mistake][0]
    return a(p) if callable(a) else a


def cases(what: str) -> list[tuple[str, str]]:
    return [(m, name) for m, (_, names, _) in MISTAKES.items() for name in names.split()
            if what == "output" or m not in OUTPUT_ONLY]


def write_problem(tmp_path: Path, name: str, what: str = "output") -> Path:
    p = PROBLEMS[name]
    lines = ["[inputs]"]
    for key in ("x", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo"):
        if key in p:
            np.save(tmp_path / f"{name}_{key}.npy", p[key])
            lines.append(f'{key} = "{name}_{key}.npy"')
    lines += ["[options]", f"heads = {p['heads']}", f"causal = {str(p.get('causal', False)).lower()}"]
    if "key_lens" in p:
        lines.append(f"key_lens = [{p['key_lens']}]")
    lines += ["[check]", f'what = "{what}"']
    path = tmp_path / f"{name}_{what}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def save(path: Path, a: np.ndarray) -> Path:
    np.save(path, a)
    return path


def write_csv(path: Path, a: np.ndarray, decimals: int | None = None) -> Path:
    rows = a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1, a.shape[-1])
    fmt = (lambda v: f"{v:.{decimals}f}") if decimals is not None else repr
    path.write_text("".join(",".join(fmt(float(v)) for v in row) + "\n" for row in rows))
    return path


def check_report(tmp_path: Path, problem: Path, answers: list[Path], *extra: str) -> list[dict]:
    proc = run(["check", *answers, problem, "--report", tmp_path / "r.json", *extra], cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr.decode()
    return json.loads((tmp_path / "r.json").read_text())["answers"]


# ---- the reference agrees with attncli when no mistake is made ------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_reference_agrees_with_attncli(tmp_path, name):
    d = json.loads(run(["compute", write_problem(tmp_path, name), "--format", "json", "--show",
                        "weights,heads,output"], cwd=tmp_path).stdout)
    p = PROBLEMS[name]
    for what in ("weights", "heads", "output"):
        np.testing.assert_allclose(d[what], reference(p, what), atol=1e-12, err_msg=what)


# ---- every mistake through the CLI: the expected shape, and one line of numbers --------------------------------

@pytest.mark.parametrize("what", ["output", "weights"])
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_each_mistake_through_check(tmp_path, name, what):
    p = PROBLEMS[name]
    todo = [m for m, prob in cases(what) if prob == name]
    answers = []
    for m in todo:
        a = reference(p, what, **args_of(m, p))
        answers.append(write_csv(tmp_path / f"{m}.csv", a) if a.ndim == 2 else save(tmp_path / f"{m}.npy", a))
        answers.append(write_csv(tmp_path / f"{m}_line.csv", a.reshape(-1)))  # typed as one line
    rows = check_report(tmp_path, write_problem(tmp_path, name, what), answers)
    for m, row_equal, row_line in zip(todo, rows[::2], rows[1::2], strict=True):
        phrase = MISTAKES[m][2]
        assert row_equal["diagnosis"] == [m] and phrase in row_equal["diagnosis_text"], (m, row_equal)
        assert row_line["diagnosis"] == [m, "flattened"], (m, row_line)
        assert phrase in row_line["diagnosis_text"] and "given in one line, are reshaped to" in \
            row_line["diagnosis_text"], (m, row_line)


# ---- another array, or the right one in another shape -----------------------------------------------------------

def qk(p: dict) -> np.ndarray:
    """Q·Kᵀ of each head, unscaled and unmasked."""
    q, k, H = reference(p, "q"), reference(p, "k"), p["heads"]
    d = q.shape[1] // H
    s = np.stack([q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T for h in range(H)])
    return s[0] if H == 1 else s


@pytest.mark.parametrize("name", ["p1", "p2"])
def test_other_arrays_given_for_the_output(tmp_path, name):
    p = PROBLEMS[name]
    given = {
        "weights": (reference(p, "weights"), "·V was left out"),  # n × n (× heads) against n × d_v
        "weights_t": (np.swapaxes(reference(p, "weights"), -1, -2), "once transposed, the attention weights"),
        "scores": (np.where(np.isfinite(reference(p, "scores")), reference(p, "scores"), -np.inf),
                   "the softmax and ·V were left out"),
        "qk": (qk(p), "Q·Kᵀ given where the output was asked"),  # unscaled, unmasked
        "output_t": (reference(p, "output").T, "transposed"),  # Vᵀ-shaped: d_v × n
        "output_line": (reference(p, "output").reshape(1, -1), "has the right values, given as one line"),
    }
    if p.get("wo") is not None:
        given["heads"] = (reference(p, "heads"), "per-head outputs before W_O")
    paths = [save(tmp_path / f"{k}.npy", a) for k, (a, _) in given.items()]
    rows = check_report(tmp_path, write_problem(tmp_path, name), paths)
    for (k, (_, phrase)), row in zip(given.items(), rows, strict=True):
        assert phrase in row["diagnosis_text"], (k, row)


@pytest.mark.parametrize("name", ["p1", "p4"])
def test_other_arrays_and_transposes_for_each_what(tmp_path, name):
    p = PROBLEMS[name]
    for what, answer, phrase in [
        ("weights", reference(p, "output"), "output was given where the weights were asked"),
        ("weights", np.swapaxes(reference(p, "weights"), -1, -2), "transposed"),
        ("heads", np.swapaxes(reference(p, "heads"), -1, -2), "transposed"),
        ("q", reference(p, "q").T, "transposed"),
        ("k", reference(p, "k").T, "transposed"),
        ("v", reference(p, "v").T, "transposed"),
    ] + ([("heads", reference(p, "concat"), "the per-head outputs as one matrix with the heads side by side"),
          ("q", reference(p, "q"), "Q as one matrix with the heads side by side")] if p["heads"] > 1 else []):
        np.save(tmp_path / "a.npy", answer)
        out = run(["check", tmp_path / "a.npy", write_problem(tmp_path, name, what)], cwd=tmp_path,
                  check=False).stdout.decode()
        assert "diagnosis:" in out and phrase in out, (what, out)


def test_one_line_typed_inline(tmp_path):
    p = PROBLEMS["p1"]
    line = " ".join(repr(float(v)) for v in reference(p, "output", scale=1.0).reshape(-1))
    out = run(["check", line, write_problem(tmp_path, "p1")], cwd=tmp_path, check=False).stdout.decode()
    assert "1/√d_k was left out" in out and "once its 12 numbers, given in one line, are reshaped to 3 × 4" in out


# ---- weights rounded before ·V, at the answer's own decimals ----------------------------------------------------

@pytest.mark.parametrize("name,decimals", [("p1", 2), ("p3", 1), ("p4", 2)])
def test_weights_rounded_before_v(tmp_path, name, decimals):
    p = PROBLEMS[name]
    right = reference(p, "output")
    mistaken = np.round(reference(p, "output", round_w=decimals), decimals)
    assert np.abs(mistaken - right).max() > 0.5 * 10.0 ** -decimals  # the premise: it fails at that precision
    answers = [write_csv(tmp_path / "rounded.csv", mistaken, decimals),
               write_csv(tmp_path / "right.csv", np.round(right, decimals), decimals),
               write_csv(tmp_path / "rounded_line.csv", mistaken.reshape(-1), decimals)]
    rows = check_report(tmp_path, write_problem(tmp_path, name), answers)
    assert rows[0]["diagnosis"] == ["rounded-weights"] and rows[2]["diagnosis"] == ["rounded-weights", "flattened"]
    assert f"rounded to {decimals} decimals before multiplying by V" in rows[0]["diagnosis_text"]
    assert rows[1]["diagnosis_text"] == f"matches when rounded to {decimals} decimals: pass --decimals {decimals} " \
        f"(or decimals = {decimals} in the problem)"  # the right values, rounded: no mistake
    rows = check_report(tmp_path, write_problem(tmp_path, name), answers[:1], "--decimals", str(decimals))
    assert rows[0]["diagnosis"] == ["rounded-weights"]


# ---- two mistakes, and mistakes that coincide --------------------------------------------------------------------

PAIRS = [  # (problem, what, reference's arguments, both phrases)
    ("p1", "weights", dict(scale=1.0, norm="col"), ("1/√d_k left out", "wrong axis")),
    ("p2", "output", dict(scale=1.0, norm="col"), ("1/√d_k left out", "wrong axis")),
    ("p1", "output", dict(causal=True, scale=1.0), ("a causal mask added", "1/√d_k left out")),
    ("p3", "weights", dict(shift=1, pad="none"), ("one future key let in", "padding mask left out")),
    ("p4", "output", dict(split="interleaved", wo=False), ("interleaved columns", "W_O left out")),
    ("p2", "output", dict(transposed_w=True, norm="whole"), ("X·Wᵀ", "whole matrix")),
]


@pytest.mark.parametrize("name,what,args,phrases", PAIRS)
def test_pairs_are_named_as_both(tmp_path, name, what, args, phrases):
    a = reference(PROBLEMS[name], what, **args)
    np.save(tmp_path / "a.npy", a)
    write_csv(tmp_path / "line.csv", a.reshape(-1))
    rows = check_report(tmp_path, write_problem(tmp_path, name, what), [tmp_path / "a.npy", tmp_path / "line.csv"])
    for row in rows:
        text = row["diagnosis_text"]
        assert len(row["diagnosis"]) >= 2 and "two mistakes" in text and all(ph in text for ph in phrases), row


@pytest.mark.parametrize("x", [np.array([[1.0, 0, 1], [0, 2, 1], [1, 1, 0]]), np.array([[1.0, 0.5], [0, 1], [1, 2],
                                                                                        [0.5, -1]])])
def test_symmetric_scores_make_transposed_and_wrong_axis_coincide(tmp_path, x):
    p = dict(x=x, heads=1)  # no projections: S = X·Xᵀ/√d is symmetric
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "a.npy", reference(p, "weights", norm="col"))
    out = run(["check", tmp_path / "a.npy", "--x", tmp_path / "x.npy", "--what", "weights"], check=False)
    text = out.stdout.decode()
    assert "coincide for this problem" in text and "wrong axis" in text and "transposed" in text, text


# ---- the Diagnoser itself: names --------------------------------------------------------------------------------

def _doctor(p: dict, what: str):
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.core import diagnose as dg

    kw = {k: v for k, v in p.items() if k not in ("key_lens",)}
    if "key_lens" in p:
        kw["key_lens"] = [p["key_lens"]]
    result = attention(**kw)
    want = result.export(what).astype(np.float64)

    from attncli.cli.grader import Tolerance

    return dg.Diagnoser(want, dg.candidates(kw, what, result, attention), Tolerance.of(None, None, None).close)


@pytest.mark.parametrize("what", ["output", "weights"])
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_names_of_every_mistake_in_every_shape(name, what):
    p = PROBLEMS[name]
    doctor = _doctor(p, what)
    for m, prob in cases(what):
        if prob != name:
            continue
        a = reference(p, what, **args_of(m, p))
        assert doctor.diagnose(a).names == [m], m
        assert doctor.diagnose(a.reshape(-1)).names == [m, "flattened"], m
        assert set(doctor.diagnose(np.swapaxes(a, -1, -2)).names) == {m, "layout"}, m


def test_names_of_pairs_and_coincidences():
    p4 = PROBLEMS["p4"]
    doctor = _doctor(p4, "output")
    assert doctor.diagnose(reference(p4, scale=1.0, norm="col")).names == ["no-scaling", "softmax-axis"]
    assert doctor.diagnose(reference(p4, "weights", scale=1.0)).names == ["weights-for-output", "no-scaling"]
    assert doctor.diagnose(reference(p4, merge="interleaved", split="interleaved")).names == ["heads-interleaved"]
    assert doctor.diagnose(np.ones((3, 4))) is None  # matches nothing
    assert doctor.diagnose(np.ones((2, 5, 7))) is None
    assert doctor.diagnose(np.array(1.5)) is None
    x = np.array([[1.0, 0.5, 2], [0, 1, -1], [1, 2, 0]])
    sym = _doctor(dict(x=x), "weights")
    assert set(sym.diagnose(reference(dict(x=x), "weights", norm="col")).names) == {"softmax-axis", "layout"}
    # n = d_model = 4 with two heads of 2: 1/√n and 1/√d_model are the same mistake here
    p = dict(x=_m(4, 4, s=1), wq=_m(4, 4), wk=_m(4, 4), wv=_m(4, 4), heads=2)
    found = _doctor(p, "weights").diagnose(reference(p, "weights", scale=0.5))
    assert found.names == ["sqrt-n", "sqrt-d-model"] and "coincide for this problem" in found.message


def test_a_mistake_that_cannot_be_computed_is_skipped():
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.core import diagnose as dg

    p = PROBLEMS["p3"]
    kw = dict(x=p["x"], wq=p["wq"], wk=p["wk"], wv=p["wv"], causal=True, empty_rows="error")
    result = attention(**kw)  # the diagonal masked too leaves query 0 with no key: that mistake raises

    def close(a, b):
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-6))

    doctor = dg.Diagnoser(result.export("output"), dg.candidates(kw, "output", result, attention), close)
    assert doctor.diagnose(reference(dict(p, key_lens=None), scale=1.0)).names == ["no-scaling"]
    assert doctor.diagnose(reference(dict(p, key_lens=None), shift=1)).names == ["causal-plus-one"]


def test_expected_mode_shapes():
    from attncli.core import diagnose as dg

    want = np.arange(6.0).reshape(2, 3)
    doctor = dg.Diagnoser(want, dg.expected_candidates(want), lambda a, b: a.shape == b.shape and np.allclose(a, b))
    assert doctor.diagnose(want.T).names == ["layout"]
    assert doctor.diagnose(want.reshape(-1)).names == ["flattened"]
    assert doctor.diagnose(want + 1) is None


def test_fast_tail_equals_attention():
    """Mistakes made after the projections are recomputed from Q, K, V (recompute.tail), not by attention():
    the two agree on batched, grouped-query, cols-layout and masked problems."""
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.cli.pipeline import rows_problem
    from attncli.core import mistakes as mm
    from attncli.core import recompute as rc

    problems = [
        dict(x=_m(2, 4, 4), wq=_m(4, 4), wk=_m(4, 2), wv=_m(4, 2), wo=_m(4, 3), bo=_m(3), heads=2, kv_heads=1,
             causal=True, key_lens=[3, 4], query_lens=[4, 3]),
        dict(x=_m(4, 3), wq=_m(4, 4), wk=_m(4, 4), wv=_m(4, 4), wo=_m(5, 4), heads=2, layout="cols", window=1,
             mask=np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]]), causal=True),
        dict(x=_m(3, 4), heads=2, score="dot", normalize="sparsemax", key_lens=[2]),
    ]
    checked = 0
    for kw in problems:
        res = attention(**kw)
        kw, compute = rows_problem(kw)  # mistakes work in rows layout; compute shows the cols problem's arrays
        kw = mm.with_spec(kw, res)  # mistakes change the spec it ran with
        for m in mm.MISTAKES:
            changed = m.change(kw, res)
            if changed is None or not rc.tail_covers(kw, changed):
                continue
            fast, slow = rc.tail(res, changed), compute(**changed)
            for what in ("weights", "output"):
                np.testing.assert_allclose(fast.export(what), slow.export(what), atol=1e-12, err_msg=m.name)
            checked += 1
    assert checked >= 20


def test_a_cols_problem_is_diagnosed_in_rows_layout():
    """check's diagnosis (core/mistakes.py) works in rows layout: the command line translates a cols problem in
    (rows_problem: every matrix transposed, as compute does) and shows the mistakes' arrays as the student wrote
    the problem. The mistakes that change arrays (W_O's row blocks reversed or permuted, the weights transposed,
    d_model read off X) name the transposed reference answers, and the words follow the columns."""
    from attncli.cli.grader import Tolerance
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.cli.pipeline import rows_problem
    from attncli.core import diagnose as dg

    p = PROBLEMS["p4"]  # n 3, d_model 4, two heads of 2, W_O

    def t(a: np.ndarray) -> np.ndarray:
        return np.swapaxes(a, -1, -2)

    cols = dict(x=t(p["x"]), wq=t(p["wq"]), wk=t(p["wk"]), wv=t(p["wv"]), wo=t(p["wo"]), heads=2, layout="cols")
    rows, compute = rows_problem(cols)
    assert rows["layout"] == "rows"
    for name in ("x", "wq", "wk", "wv", "wo"):
        np.testing.assert_array_equal(rows[name], p[name])  # the rows problem the cols one was written from
    result = attention(**cols)
    doctor = dg.Diagnoser(result.export("output"), dg.candidates(rows, "output", result, compute),
                          Tolerance.of(None, None, None).close)
    for m in ("heads-order", "heads-interleaved", "sqrt-d-model", "softmax-axis", "no-wo", "transposed-weights"):
        assert doctor.diagnose(t(reference(p, **args_of(m, p)))).names == [m], m
    assert "(along each row of A instead of down each column)" in doctor.diagnose(t(reference(p, norm="col"))).message
    assert "instead of a softmax of each column" in doctor.diagnose(t(reference(p, norm="whole"))).message
    assert rows_problem(p) == (p, attention)  # a rows problem is left as it is


# ---- timing: python tests/test_diagnosis.py -----------------------------------------------------------------------

def _class_of(count: int, seed: int = 0) -> list[tuple[dict, list[np.ndarray]]]:
    """`count` small problems (3–4 tokens, d 4, 1–2 heads), each with 5 answers: right, right, one mistake,
    two mistakes, nothing."""
    rng = np.random.default_rng(seed)
    singles = [dict(scale=1.0), dict(norm="col"), dict(norm="none"), dict(transposed_w=True), dict(causal=True),
               dict(norm="whole"), dict(split="interleaved")]
    pairs = [dict(scale=1.0, norm="col"), dict(causal=True, scale=1.0), dict(norm="whole", transposed_w=True)]
    out = []
    for i in range(count):
        n, H = 3 + i % 2, 1 + (i // 2) % 2
        p = dict(x=rng.normal(size=(n, 4)), wq=rng.normal(size=(4, 4)), wk=rng.normal(size=(4, 4)),
                 wv=rng.normal(size=(4, 4)), heads=H)
        right = reference(p)
        single = singles[i % len(singles)] if H > 1 else singles[i % (len(singles) - 1)]
        answers = [right, right, reference(p, **single), reference(p, **pairs[i % len(pairs)]),
                   right + rng.normal(size=right.shape)]
        out.append((p, answers))
    return out


def main() -> None:
    import time

    klass = _class_of(200)
    t0 = time.perf_counter()
    named = {0: 0, 1: 0, 2: 0}
    for p, answers in klass:
        doctor = _doctor(p, "output")
        for a in answers[2:]:
            found = doctor.diagnose(a)
            named[min(2, len(found.names)) if found else 0] += 1
    took = time.perf_counter() - t0
    print(f"{len(klass)} problems, {3 * len(klass)} wrong answers diagnosed (plus {2 * len(klass)} right ones not "
          f"asked): {took:.2f} s; one mistake named: {named[1]}, two or more: {named[2]}, nothing: {named[0]}")


if __name__ == "__main__":
    main()


def test_mistakes_are_spec_variants():
    """A mistake the spec can say is the problem's spec replaced: 1/√d_k left out is spec.replace(scale=1.0), the
    causal mask left out causal=False, the wrong axis normalize_over="queries"; the arrays are left alone."""
    from attncli.cli.pipeline import compute_attention as attention
    from attncli.core import mistakes as mm

    kw = dict(x=_m(4, 4), wq=_m(4, 4), wk=_m(4, 4), wv=_m(4, 4), heads=2, causal=True)
    res = attention(**kw)
    problem = mm.with_spec(kw, res)
    assert problem["spec"] is res.spec and res.spec.causal
    by_name = {m.name: m for m in mm.MISTAKES}
    for name, want in (("no-scaling", res.spec.replace(scale=1.0)), ("causal", res.spec.replace(causal=False)),
                       ("softmax-axis", res.spec.replace(normalize_over="queries")),
                       ("no-softmax", res.spec.replace(normalize="none"))):
        changed = by_name[name].change(problem, res)
        assert changed["spec"] == want, name
        assert all(changed[n] is problem[n] for n in kw), name  # the arrays and options untouched
