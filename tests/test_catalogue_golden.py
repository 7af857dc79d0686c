"""attncli's attention-variant catalogue against independent references (tests/golden/catalogue/).

The case files are written by tests/golden/catalogue/generate.py (PyTorch 2.13.0 in a separate venv;
see its docstring). Each holds the inputs named like the CLI options without dashes, `options` (a 0-d
string array holding JSON; `batched` is not an attncli option) and the expected arrays in canonical
shape: weights (B, H, n_q, n_k), output (B, n_q, d_out), and when present q_rotated, k_rotated
(B, H, n, d; res.q and res.k, after RoPE), scores (B, H, n_q, n_k; -inf where masked) and
output_image (H x W x C or B x H x W x C).
Cols-layout cases hold their matrix inputs transposed; their canonical expected arrays are the rows
results, and what the user sees is transposed in the last two axes.

Checked: the files themselves (no attncli needed), the command line's keyword pipeline
(`attncli.cli.pipeline.compute_attention`; the library's `attend` from a Spec: tests/test_attend.py), the
installed console script with `--format json`, and the direct functions attncli.core.positions.*
and attncli.core.normalize.sparsemax against published formulas (_functions.npz) and hand cases.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run

CATALOGUE = Path(__file__).resolve().parent / "golden" / "catalogue"
CASE_FILES = sorted(p for p in CATALOGUE.glob("*.npz") if not p.name.startswith("_"))
FUNCTIONS = CATALOGUE / "_functions.npz"
ATOL = 1e-10  # float64 everywhere

EXPECTED_NAMES = ("weights", "output", "q_rotated", "k_rotated", "scores", "output_image")
INPUT_NAMES = ("x", "x_kv", "image", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo", "q", "k", "v", "mask",
               "bias", "w_score", "wa_q", "wa_k", "va", "adjacency", "edges", "pe", "sinks")
OPTION_NAMES = ("batched", "heads", "score", "scale", "normalize", "temperature", "softcap", "causal", "window",
                "key_lens", "query_lens", "undirected", "self_loops", "window2d", "pe", "pe_base", "pe_layout",
                "rope", "rope_base", "rope_layout", "start_pos", "alibi", "layout")


@dataclass
class Case:
    name: str
    inputs: dict[str, np.ndarray]
    options: dict
    expected: dict[str, np.ndarray]

    @property
    def batched(self) -> bool:
        return bool(self.options["batched"])

    @property
    def cols(self) -> bool:
        return self.options.get("layout") == "cols"

    def library_options(self) -> dict:
        return {k: v for k, v in self.options.items() if k != "batched"}

    def user_weights(self) -> np.ndarray:
        """Batch axis only when batched, heads axis only when H > 1, last two axes swapped in cols."""
        w = self.expected["weights"]
        if w.shape[1] == 1:
            w = w[:, 0]
        w = w if self.batched else w[0]
        return np.swapaxes(w, -1, -2) if self.cols else w

    def user_output(self) -> np.ndarray:
        """Images: H x W x C (B x H x W x C); otherwise (B x) n_q x d_out, swapped in cols."""
        if "output_image" in self.expected:
            return self.expected["output_image"]
        o = self.expected["output"]
        o = o if self.batched else o[0]
        return np.swapaxes(o, -1, -2) if self.cols else o


def load_case(path: Path) -> Case:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    options = json.loads(str(arrays.pop("options")[()]))
    expected = {k: arrays.pop(k) for k in EXPECTED_NAMES if k in arrays}
    inputs = {k: arrays.pop(k) for k in INPUT_NAMES if k in arrays}
    assert not arrays, f"{path.name}: unexpected arrays {sorted(arrays)}"
    return Case(path.name.removesuffix(".npz"), inputs, options, expected)


def assert_matches(actual, expected: np.ndarray, what: str, atol: float = ATOL) -> None:
    """Same shape; same -inf pattern; the rest within atol (rtol 0)."""
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    masked = np.isneginf(expected)
    np.testing.assert_array_equal(np.isneginf(actual), masked, err_msg=f"{what}: -inf (masked) entries")
    np.testing.assert_allclose(actual[~masked], expected[~masked], rtol=0, atol=atol, err_msg=what)


CASES = [pytest.param(p, id=p.name.removesuffix(".npz")) for p in CASE_FILES]


# --------------------------------------------------------------------------------------------
# the files themselves
# --------------------------------------------------------------------------------------------


def test_catalogue_files_present():
    assert len(CASE_FILES) >= 30 and FUNCTIONS.is_file(), (
        "run /work/torchenv/bin/python tests/golden/catalogue/generate.py (needs torch==2.13.0)")
    total = sum(p.stat().st_size for p in CATALOGUE.iterdir() if p.is_file())
    assert total < 500_000, f"tests/golden/catalogue holds {total} bytes; keep it under ~500 KB"


def test_generator_says_how_to_run():
    script = CATALOGUE / "generate.py"
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source))
    assert doc and "torch==2.13.0" in doc and "tests/golden/catalogue/generate.py" in doc
    assert "import attncli" not in source and "from attncli" not in source, "references must not use attncli"


@pytest.mark.parametrize("path", CASES)
def test_case_file_well_formed(path: Path):
    case = load_case(path)
    assert set(case.options) <= set(OPTION_NAMES), case.options
    assert isinstance(case.options["batched"], bool)
    w, o = case.expected["weights"], case.expected["output"]
    assert w.ndim == 4 and o.ndim == 3 and w.shape[0] == o.shape[0] and w.shape[2] == o.shape[1]
    assert w.shape[1] == case.options.get("heads", 1)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(o))
    sums = w.sum(-1)
    how = case.options.get("normalize", "softmax")
    if "sinks" in case.inputs:  # the sink takes the rest of each row
        assert how == "softmax" and np.all(sums < 1)
    elif how in ("softmax", "sparsemax"):
        assert np.all((np.abs(sums - 1) < 1e-12) | (sums == 0)), "rows sum to 1 (0 if empty)"
    if how == "softmax1":
        assert np.all(sums < 1)
    if how in ("sparsemax", "relu", "sigmoid", "softmax", "softmax1"):
        assert np.all(w >= 0)
    if "scores" in case.expected:  # masked scores are -inf, and their weights exactly 0
        assert np.all(w[np.isneginf(case.expected["scores"])] == 0)
    if case.options.get("rope"):
        assert case.expected["q_rotated"].shape[:3] == w.shape[:3]
        assert case.expected["k_rotated"].shape[2] == w.shape[3]
    if "image" in case.inputs:
        img = case.inputs["image"]
        assert case.expected["output_image"].shape[:-1] == img.shape[:-1]
        flat = case.expected["output_image"].reshape(o.shape)
        np.testing.assert_array_equal(flat, o)  # pixel (r, c) is token r*W + c
    for name, arr in case.inputs.items():
        want = {"mask": np.bool_, "edges": np.int64}.get(name, np.float64)
        assert arr.dtype == want, (name, arr.dtype)


# --------------------------------------------------------------------------------------------
# the library
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES)
def test_library_matches_reference(path: Path):
    from attncli.cli.pipeline import compute_attention as attention

    case = load_case(path)
    res = attention(**case.inputs, **case.library_options())
    assert_matches(res.weights, case.expected["weights"], f"{case.name}: weights")
    assert_matches(res.output, case.expected["output"], f"{case.name}: output")
    for attr, name in (("q", "q_rotated"), ("k", "k_rotated"), ("scores", "scores")):
        if name in case.expected:
            assert_matches(getattr(res, attr), case.expected[name], f"{case.name}: res.{attr}")
    assert_matches(res.export("output"), case.user_output(), f"{case.name}: export('output')")
    assert_matches(res.export("weights"), case.user_weights(), f"{case.name}: export('weights')")


# --------------------------------------------------------------------------------------------
# the console script
# --------------------------------------------------------------------------------------------


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def input_args(inputs: dict[str, np.ndarray], tmp_path: Path, edges_as: str = "txt") -> list[str]:
    args = []
    for name, arr in inputs.items():
        if name == "edges" and edges_as == "txt":  # "i j" lines
            path = tmp_path / "edges.txt"
            path.write_text("".join(f"{i} {j}\n" for i, j in arr.tolist()), encoding="utf-8")
        else:
            path = tmp_path / f"{name}.npy"
            np.save(path, arr)
        args += [flag(name), str(path)]
    return args


def option_args(options: dict) -> list[str]:
    args = []
    for name, value in options.items():
        if name == "batched":
            continue  # read off the input shapes
        if isinstance(value, bool):
            if value:
                args.append(flag(name))
        elif name in ("key_lens", "query_lens"):
            args += [flag(name), ",".join(str(n) for n in value)]
        elif name == "window":
            args += [flag(name), str(value) if isinstance(value, int) else f"{value[0]}:{value[1]}"]
        elif isinstance(value, float):
            args += [flag(name), repr(value)]
        else:
            args += [flag(name), str(value)]
    return args


def check_cli(case: Case, tmp_path: Path, edges_as: str = "txt") -> None:
    args = ["compute", *input_args(case.inputs, tmp_path, edges_as), *option_args(case.options),
            "--show", "weights,output", "--format", "json"]
    proc = run(args, cwd=tmp_path)
    doc = json.loads(proc.stdout)
    what = f"{case.name} (attncli {' '.join(a for a in args if not a.endswith(('.npy', '.txt')))})"
    # JSON null (an undefined value) -> NaN, which never matches a finite expected value
    assert_matches(np.array(doc["weights"], dtype=np.float64), case.user_weights(), f"{what}: weights")
    assert_matches(np.array(doc["output"], dtype=np.float64), case.user_output(), f"{what}: output")


@pytest.mark.parametrize("path", CASES)
def test_cli_json_matches_reference(path: Path, tmp_path: Path):
    check_cli(load_case(path), tmp_path)


@pytest.mark.parametrize("path", [p for p in CASE_FILES if p.name.startswith("edges")])
def test_cli_edges_npy(path: Path, tmp_path: Path):
    """--edges also reads an m x 2 integer .npy."""
    check_cli(load_case(path), tmp_path, edges_as="npy")


# --------------------------------------------------------------------------------------------
# the direct functions
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def functions() -> dict[str, np.ndarray]:
    with np.load(FUNCTIONS) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("layout", ["interleaved", "concat"])
@pytest.mark.parametrize(("n", "d", "base"), [(7, 6, 10000.0), (9, 8, 100.0)])
def test_sinusoidal_matches_annotated_transformer(functions, layout, n, d, base):
    from attncli.core.positions import sinusoidal

    expected = functions[f"sinusoidal_{layout}_n{n}_d{d}_base{int(base)}"]
    kwargs = {"layout": layout} if layout == "concat" else {}  # interleaved is the default
    if base != 10000.0:
        kwargs["base"] = base
    assert_matches(sinusoidal(n, d, **kwargs), expected, f"sinusoidal {layout} n={n} d={d} base={base}")


def test_sinusoidal_first_rows_by_hand():
    """Position 0 is (sin 0, cos 0, ...) = (0, 1, 0, 1, ...); position 1, column 0 is sin(1)."""
    from attncli.core.positions import sinusoidal

    pe = sinusoidal(2, 4)
    assert_matches(pe[0], np.array([0.0, 1.0, 0.0, 1.0]), "PE(0)")
    assert_matches(pe[1], np.array([math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)]), "PE(1)")
    pe = sinusoidal(2, 4, layout="concat")
    assert_matches(pe[1], np.array([math.sin(1), math.sin(0.01), math.cos(1), math.cos(0.01)]), "concat PE(1)")


@pytest.mark.parametrize("layout", ["half", "interleaved"])
@pytest.mark.parametrize("base", [10000.0, 100.0])
def test_rope_matches_hf_and_gptj(functions, layout, base):
    """half = HF LLaMA's rotate_half; interleaved = GPT-J's rotate_every_two (refs in _functions.npz)."""
    from attncli.core.positions import rope

    x, positions = functions["rope_x"], functions["rope_positions"]
    kwargs = {"layout": layout} if layout != "half" else {}
    if base != 10000.0:
        kwargs["base"] = base
    out = rope(x, positions, **kwargs)
    assert_matches(out, functions[f"rope_{layout}_base{int(base)}"], f"rope {layout} base={base}")
    # a rotation: every pair keeps its length, so every row keeps its norm
    assert_matches(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), "rope preserves norms")


def test_rope_position_zero_is_identity():
    from attncli.core.positions import rope

    x = np.arange(8.0).reshape(2, 4)
    for layout in ("half", "interleaved"):
        assert_matches(rope(x, np.zeros(2, dtype=np.int64), layout=layout), x, f"rope {layout} at position 0")


def test_alibi_slopes_match_press(functions):
    from attncli.core.positions import alibi_slopes

    assert_matches(alibi_slopes(8), functions["alibi_slopes_8"], "alibi_slopes(8) vs get_slopes(8)")
    assert_matches(alibi_slopes(4), functions["alibi_slopes_4"], "alibi_slopes(4) vs get_slopes(4)")
    assert_matches(alibi_slopes(8), np.array([1 / 2 ** h for h in range(1, 9)]), "alibi_slopes(8) = 1/2 .. 1/256")
    # not a power of two (the paper's get_slopes and BLOOM's build_alibi_tensor): the 4 slopes of 4 heads,
    # 2^(-2h), then every other slope of 8 heads, 2^(-h) for h = 1, 3
    assert_matches(alibi_slopes(6), np.array([1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]),
                   "alibi_slopes(6) as get_slopes(6)")


@pytest.mark.parametrize("causal", [False, True])
def test_alibi_bias(functions, causal):
    """-m_h |i - j| (causal: -m_h (i - j)); above the diagonal a causal map is masked anyway, so only
    j <= i is compared there."""
    from attncli.core.positions import alibi_bias

    expected = functions["alibi_bias_4_3x5" + ("_causal" if causal else "")]
    got = np.asarray(alibi_bias(4, 3, 5, causal=causal))
    assert got.shape == expected.shape == (4, 3, 5)
    keep = np.tril(np.ones((3, 5), dtype=bool)) if causal else np.ones((3, 5), dtype=bool)
    keep = np.broadcast_to(keep, expected.shape)
    assert_matches(got[keep], expected[keep], f"alibi_bias(4, 3, 5, causal={causal})")


@pytest.mark.parametrize(("z", "p"), [
    ([1.0, 0.5, 0.1], [0.75, 0.25, 0.0]),
    ([0.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]),
    ([3.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
    ([0.5, -math.inf, 0.0], [0.75, 0.0, 0.25]),
    ([-math.inf, 2.0, -math.inf], [0.0, 1.0, 0.0]),
])
def test_sparsemax_hand_cases(z, p):
    """Martins & Astudillo: τ from the sorted scores, p = [z - τ]_+; -inf (masked) entries are 0."""
    from attncli.core.normalize import sparsemax

    out = np.asarray(sparsemax(np.array(z)))
    assert_matches(out, np.array(p), f"sparsemax({z})")
    assert np.all(out[np.array(p) == 0] == 0), "exact zeros"


def test_sparsemax_random_rows(functions):
    """Rows with -inf (masked) entries, vs the sorting algorithm (checked by bisection); also axis=0."""
    from attncli.core.normalize import sparsemax

    z, p = functions["sparsemax_z"], functions["sparsemax_p"]
    assert_matches(sparsemax(z), p, "sparsemax(z)")
    assert_matches(sparsemax(z.T, axis=0), p.T, "sparsemax(z.T, axis=0)")
    assert np.all(np.asarray(sparsemax(z))[p == 0] == 0), "exact zeros"
