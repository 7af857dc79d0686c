"""attncli.core.spec: Spec and Plan are frozen, validated values that print, compare, hash and round-trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from catalogue_spec import CASE_FILES, load, spec_fields

from attncli import Plan, Spec
from attncli.core.spec import Graph, Rope, Window2d
from attncli.errors import AttnError


def error(fn, *args, **kw) -> str:
    with pytest.raises(AttnError) as info:
        fn(*args, **kw)
    return str(info.value)


# ---- validation names the field -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, words", [
    ({"score": "dotty"}, ["spec.score must be one of", "scaled", "'dotty'"]),
    ({"normalize": "softmin"}, ["spec.normalize must be one of", "sparsemax"]),
    ({"normalize_over": "rows"}, ["spec.normalize_over must be one of keys, queries"]),
    ({"scale": math.inf}, ["spec.scale must be a finite number; got inf"]),
    ({"scale": "2"}, ["spec.scale must be a number"]),
    ({"temperature": 0}, ["spec.temperature must be a positive finite number; got 0"]),
    ({"softcap": -1.0}, ["spec.softcap must be a positive finite number"]),
    ({"causal": "yes"}, ["spec.causal must be true or false"]),
    ({"window": "2:1"}, ["spec.window takes L", "pair (L, R)", "'2:1'"]),
    ({"window": (2, -1)}, ["spec.window sizes must be ≥ 0; got 2:-1"]),
    ({"window": (1.5, 2)}, ["spec.window takes integers"]),
    ({"key_lens": "3,4"}, ["spec.key_lens takes one integer length per batch item"]),
    ({"query_lens": [2.5]}, ["spec.query_lens takes one integer length"]),
    ({"mask": [[0, 2]]}, ["spec.mask holds values other than 0 and 1 (e.g. 2.0)", "use spec.bias"]),
    ({"mask": [["a"]]}, ["spec.mask must hold 0/1 or true/false"]),
    ({"mask": np.zeros((1, 1, 1, 1, 2))}, ["spec.mask has 5 dimensions"]),
    ({"bias": np.array(["a"])}, ["spec.bias must hold real numbers; got dtype <U1"]),
    ({"w_score": np.array([1j])}, ["spec.w_score must hold real numbers"]),
    ({"empty_rows": "drop"}, ["spec.empty_rows must be one of zero, nan, error"]),
    ({"rope": 3}, ["spec.rope must be a Rope"]),
    ({"rope": {"base": 0}}, ["spec.rope.base must be a positive finite number; got 0"]),
    ({"rope": {"layout": "paired"}}, ["spec.rope.layout must be one of half, interleaved"]),
    ({"rope": {"start": 2.5}}, ["spec.rope.start must be an integer below 2^53"]),
    ({"rope": {"dim": 3}}, ["spec.rope.dim must be even"]),
    ({"rope": {"turns": 3}}, ["spec.rope.turns is not a field of Rope"]),
    ({"graph": {}}, ["spec.graph needs spec.graph.adjacency or spec.graph.edges"]),
    ({"graph": {"edges": [[0, 1, 2]]}}, ["spec.graph.edges must be pairs (i, j), m × 2; got shape (1, 3)"]),
    ({"window2d": {"size": 2, "grid": [3, 3]}}, ["spec.window2d must be an odd size ≥ 1"]),
    ({"window2d": {"size": 3, "grid": [3]}}, ["spec.window2d.grid must be (height, width)"]),
    ({"sinks": [[0.5, 1.0]]}, ["spec.sinks must be one finite logit per head (H,); got shape (1, 2)"]),
    ({"sinks": [0.5, math.nan]}, ["spec.sinks must be one finite logit per head", "not finite"]),
    ({"sinks": ["a"]}, ["spec.sinks must hold real numbers"]),
    ({"sinks": [0.5], "normalize": "sparsemax"}, ["spec.sinks join a softmax's denominator", "sparsemax"]),
    ({"sinks": [0.5], "normalize_over": "queries"}, ["spec.sinks join a softmax's denominator", "queries"]),
])
def test_spec_refuses_naming_the_field(kw, words):
    text = error(Spec, **kw)
    for w in words:
        assert w in text, text


def test_messages_write_fields_as_parameters_for_the_cli():
    """The CLI writes ‹spec.window› as --window (attncli/cli/params.py): the library message carries the mark."""
    from attncli.cli.params import message

    with pytest.raises(AttnError) as info:
        Spec(window=(2, -1))
    assert "‹spec.window›" in info.value.args[0]
    assert message(info.value) == "--window sizes must be ≥ 0; got 2:-1"
    with pytest.raises(AttnError) as info:
        Spec(rope=Rope(base=-1.0))
    assert message(info.value).startswith("--rope-base must be a positive finite number")


@pytest.mark.parametrize("kw, words", [
    ({"backend": "gpu"}, ["plan.backend must be one of auto, dense, fused, trace"]),
    ({"dtype": "float16"}, ["plan.dtype must be one of auto, float32, float64"]),
    ({"need": ["weights", "attn"]}, ["plan.need names 'attn'; the results are", "scores"]),
    ({"block_rows": 0}, ["plan.block_rows must be a positive integer; got 0"]),
    ({"threads": 1.5}, ["plan.threads must be a positive integer"]),
    ({"memory_limit": -1}, ["plan.memory_limit must be an integer ≥ 0"]),
    ({"stream_maps": "file.npy"}, ["plan.stream_maps must be callable"]),
    ({"allow_nonfinite": 1}, ["plan.allow_nonfinite must be true or false"]),
])
def test_plan_refuses_naming_the_field(kw, words):
    text = error(Plan, **kw)
    for w in words:
        assert w in text, text


def test_unknown_fields_are_refused_by_name():
    assert "spec.scaling is not a field of Spec" in error(Spec().replace, scaling=1.0)
    assert "spec.scaling is not a field of Spec" in error(Spec.from_dict, {"scaling": 1.0})
    assert "plan.cores is not a field of Plan" in error(Plan().replace, cores=2)
    with pytest.raises(TypeError):
        Spec(scaling=1.0)


# ---- values: frozen, read-only arrays, printing, equality, hashing -----------------------------------------------

def test_spec_is_frozen_and_its_arrays_are_read_only_copies():
    bias = np.zeros((2, 2))
    spec = Spec(bias=bias)
    bias[0, 0] = 5.0  # the caller's array changes; the spec's does not
    assert spec.bias[0, 0] == 0.0
    with pytest.raises(ValueError):
        spec.bias[0, 0] = 1.0
    with pytest.raises(AttributeError):
        spec.causal = True  # type: ignore[misc]


def test_defaults_and_canonical_values():
    spec = Spec()
    assert (spec.score, spec.scale, spec.normalize, spec.temperature, spec.causal, spec.window) == (
        "scaled", None, "softmax", 1.0, False, None)
    assert Spec(window=3).window == (3, 3) and Spec(window=[2, 0]).window == (2, 0)
    assert Spec(key_lens=[3, np.int64(2)]).key_lens == (3, 2)
    assert Spec(rope=True).rope == Rope()
    m = Spec(mask=[[1, 0], [1, 1]]).mask
    assert m.dtype == bool and m.tolist() == [[True, False], [True, True]]
    assert Spec(va=np.float64(2.0)).va.shape == (1,)  # h = 1


def test_repr_shows_what_differs_and_arrays_as_shapes():
    spec = Spec(causal=True, window=(2, 0), bias=np.zeros((3, 3), np.float32), rope=Rope(base=500.0))
    text = repr(spec)
    assert text == ("Spec(causal=True, window=(2, 0), rope=Rope(base=500.0), "
                    "bias=array(shape=(3, 3), dtype=float32))")
    assert repr(Spec()) == "Spec()"
    assert repr(Plan(backend="fused", need=["output"])) == "Plan(need=('output',), backend='fused')"


def test_equality_and_hash_compare_arrays_by_value():
    a = Spec(bias=np.array([[0.0, -np.inf]]), mask=[[1, 1]])
    b = Spec(bias=[[0, -math.inf]], mask=np.array([[True, True]]))
    assert a == b and hash(a) == hash(b)
    assert a != Spec(bias=np.array([[0.0, 1.0]]), mask=[[1, 1]])
    assert Spec(bias=np.zeros((1, 2))) != Spec(bias=np.zeros((2, 1)))  # same values, other shape
    assert len({Spec(), Spec(), Spec(causal=True)}) == 2
    assert Spec(graph=Graph(edges=[[0, 1]])) == Spec(graph={"edges": [[0, 1]]})
    assert Plan(need=["output"]) == Plan(need=("output",)) and hash(Plan()) == hash(Plan())
    assert Spec() != Plan() and Spec() != {}


def test_replace_makes_a_validated_variant():
    spec = Spec(causal=True, score="dot")
    mistake = spec.replace(scale=1.0)
    assert mistake.scale == 1.0 and mistake.causal and mistake.score == "dot"
    assert spec.scale is None  # the original is unchanged
    assert "spec.temperature" in error(spec.replace, temperature=-1)
    assert Plan().replace(backend="trace").backend == "trace"


# ---- plain dicts: JSON and TOML values ----------------------------------------------------------------------------

def test_to_dict_holds_only_plain_values():
    spec = Spec(score="general", w_score=np.eye(2), causal=True, window=(1, 0), key_lens=[2, 1],
                mask=np.ones((2, 2), bool), graph=Graph(adjacency=np.eye(2), undirected=True),
                window2d=Window2d(3, (2, 1)), rope=Rope(base=100.0, layout="interleaved", start=3, dim=2),
                bias=np.array([[0.0, -np.inf], [0.0, 0.0]]), empty_rows="nan")
    d = spec.to_dict()
    assert d == {"score": "general", "w_score": [[1.0, 0.0], [0.0, 1.0]], "causal": True, "window": [1, 0],
                 "key_lens": [2, 1], "mask": [[True, True], [True, True]],
                 "graph": {"adjacency": [[1.0, 0.0], [0.0, 1.0]], "undirected": True},
                 "window2d": {"size": 3, "grid": [2, 1]},
                 "rope": {"base": 100.0, "layout": "interleaved", "start": 3, "dim": 2},
                 "bias": [[0.0, -math.inf], [0.0, 0.0]], "empty_rows": "nan"}
    assert Spec.from_dict(json.loads(json.dumps(d))) == spec
    assert Spec().to_dict() == {}


def test_round_trip_through_toml():
    tomllib = pytest.importorskip("tomllib")
    text = 'score = "scaled"\ncausal = true\nwindow = [2, 0]\nbias = [[0.0, -inf], [0.0, 0.0]]\n[rope]\nbase = 500.0\n'
    spec = Spec.from_dict(tomllib.loads(text))
    assert spec == Spec(causal=True, window=(2, 0), bias=[[0, -math.inf], [0, 0]], rope=Rope(base=500.0))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in CASE_FILES])
def test_every_catalogue_variant_round_trips_through_json(path):
    inputs, options, _ = load(path)
    spec = Spec(**spec_fields(inputs, options))
    again = Spec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and hash(again) == hash(spec)
    assert again.to_dict() == spec.to_dict()
    for name in ("score", "normalize", "causal", "alibi", "softcap", "scale", "temperature"):
        if name in options:
            assert getattr(again, name) == options[name], name


def test_replace_keeps_the_spec_own_arrays():
    """A variant shares the arrays it did not change (read-only copies the spec owns): no copy per mistake."""
    spec = Spec(bias=np.zeros((3, 3)), mask=np.ones((3, 3), bool))
    variant = spec.replace(scale=1.0)
    assert variant.bias is spec.bias and variant.mask is spec.mask
    view = np.zeros((3, 3))[:, :2]
    view.flags.writeable = False  # read-only, but a view of memory someone else may write: copied
    assert Spec(bias=view).bias.base is None
