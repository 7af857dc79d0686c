"""attncli against PyTorch golden files (tests/golden/*.npz, made by tests/golden/generate.py).

Each case file holds the input arrays (named like the CLI options without dashes), the expected
`weights` in canonical shape (B, H, n_q, n_k) and `output` in canonical shape (B, n_q, d_out), and
`options` (a 0-d string array holding JSON). PyTorch itself is not needed to run these tests.

Checked for every case: (a) the command line's keyword pipeline (`attncli.cli.pipeline.compute_attention`; the
library's `attend` and `attention` on the same files: tests/test_attend.py), (b) the `attncli` console
script (`attncli compute ...`) in a subprocess with `--format json`, (c) for nn.MultiheadAttention
cases, the CLI loading the raw torch state_dict via `--weights <case>.torch.safetensors`, and (d)
for float32 cases, the CLI writing `--format npy`.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
CASE_FILES = sorted(GOLDEN.glob("*.npz"))
SIDECAR_SUFFIX = ".torch.safetensors"

INPUT_NAMES = ("x", "x_kv", "wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo",
               "q", "k", "v", "mask", "bias")
WEIGHT_NAMES = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo")
OPTION_NAMES = ("heads", "kv_heads", "causal", "key_lens", "mask_invert", "batched", "scale",
                "score")
MHA_KEYS = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")


@dataclass
class Case:
    name: str
    inputs: dict[str, np.ndarray]
    options: dict
    weights: np.ndarray  # canonical (B, H, n_q, n_k)
    output: np.ndarray  # canonical (B, n_q, d_out)

    @property
    def batched(self) -> bool:
        return bool(self.options["batched"])

    @property
    def heads(self) -> int:
        return self.weights.shape[1]

    @property
    def atol(self) -> float:
        return 1e-5 if self.output.dtype == np.float32 else 1e-6

    @property
    def sidecar(self) -> Path:
        return sidecar_of(GOLDEN / f"{self.name}.npz")

    def library_options(self) -> dict:
        return {k: v for k, v in self.options.items() if k != "batched"}

    def user_weights(self) -> np.ndarray:
        """[batch][heads][n_q][n_k]: batch axis only when batched, heads axis only when H > 1."""
        w = self.weights
        if self.heads == 1:
            w = w[:, 0]
        return w if self.batched else w[0]

    def user_output(self) -> np.ndarray:
        """[batch][n_q][d_out]: batch axis only when batched."""
        return self.output if self.batched else self.output[0]


def load_case(path: Path) -> Case:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    options = json.loads(str(arrays.pop("options")[()]))
    inputs = {k: arrays.pop(k) for k in INPUT_NAMES if k in arrays}
    weights, output = arrays.pop("weights"), arrays.pop("output")
    assert not arrays, f"{path.name}: unexpected arrays {sorted(arrays)}"
    return Case(path.name.removesuffix(".npz"), inputs, options, weights, output)


def params(paths: list[Path]) -> list:
    return [pytest.param(p, id=p.name.removesuffix(".npz")) for p in paths]


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".npz") + SIDECAR_SUFFIX)


def is_float32(path: Path) -> bool:
    with np.load(path) as data:
        return data["output"].dtype == np.float32


CASES = params(CASE_FILES)
SIDECAR_CASES = params([p for p in CASE_FILES if sidecar_of(p).exists()])
FLOAT32_CASES = params([p for p in CASE_FILES if is_float32(p)])


def assert_matches(actual, expected: np.ndarray, atol: float, what: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != expected {expected.shape}")
    np.testing.assert_allclose(actual, expected.astype(np.float64), rtol=0, atol=atol,
                               err_msg=what)


# --------------------------------------------------------------------------------------------
# CLI helpers
# --------------------------------------------------------------------------------------------


def cli_command() -> tuple[list[str], dict[str, str]]:
    """The installed `attncli` console script next to this Python, else `python -m attncli`
    (then with the directory holding the importable attncli package put on PYTHONPATH, so an
    uninstalled checkout works even though the subprocess runs in a temporary directory)."""
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    for exe in (bindir / "attncli", bindir / "attncli.exe"):
        if exe.exists():
            return [str(exe)], env
    spec = importlib.util.find_spec("attncli")
    if spec is not None and spec.origin:
        root = str(Path(spec.origin).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "attncli"], env


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def input_args(inputs: dict[str, np.ndarray], tmp_path: Path) -> list[str]:
    args = []
    for name, arr in inputs.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, arr)
        args += [flag(name), str(path)]
    return args


def option_args(options: dict) -> list[str]:
    args = []
    for name, value in options.items():
        if name == "batched":
            continue  # not an option: attncli reads it off the input shapes
        if isinstance(value, bool):
            if value:
                args.append(flag(name))
        elif name == "key_lens":
            args += [flag(name), ",".join(str(n) for n in value)]
        elif name == "scale":
            args += [flag(name), repr(float(value))]
        else:
            args += [flag(name), str(value)]
    return args


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd, env = cli_command()
    proc = subprocess.run(cmd + ["compute"] + args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)
    assert proc.returncode == 0, (
        f"attncli exited {proc.returncode}\nargs: {args}\nstdout: {proc.stdout[-2000:]}\n"
        f"stderr: {proc.stderr[-2000:]}"
    )
    return proc


def check_json(case: Case, stdout: str, what: str) -> None:
    doc = json.loads(stdout)
    assert {"weights", "output", "meta"} <= set(doc), f"{what}: keys {sorted(doc)}"
    # JSON null (an undefined value) -> NaN, which never matches a finite expected value
    weights = np.array(doc["weights"], dtype=np.float64)
    output = np.array(doc["output"], dtype=np.float64)
    assert_matches(weights, case.user_weights(), case.atol, f"{what}: weights")
    assert_matches(output, case.user_output(), case.atol, f"{what}: output")


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_golden_files_present():
    assert len(CASE_FILES) >= 20, "run tests/golden/generate.py (needs torch==2.13.0)"
    total = sum(p.stat().st_size for p in GOLDEN.iterdir() if p.is_file())
    assert total < 1_000_000, f"tests/golden holds {total} bytes; keep it under ~1 MB"


def test_generator_documents_torch_version():
    script = GOLDEN / "generate.py"
    assert script.is_file()
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert doc and "torch==2.13.0" in doc and "generate.py" in doc


@pytest.mark.parametrize("path", CASES)
def test_golden_file_well_formed(path: Path):
    """The files themselves (no attncli needed): shapes, dtypes, options, row sums, sidecars."""
    case = load_case(path)
    assert set(case.options) <= set(OPTION_NAMES), case.options
    assert isinstance(case.options["batched"], bool)
    assert case.weights.ndim == 4 and case.output.ndim == 3
    B, H, n_q, _ = case.weights.shape
    assert case.output.shape[:2] == (B, n_q)
    assert H == case.options.get("heads", 1)
    assert np.all(np.isfinite(case.weights)) and np.all(np.isfinite(case.output))
    sums = case.weights.sum(-1)
    assert np.all((np.abs(sums - 1) < 1e-6) | (sums == 0)), "weight rows sum to 1 (0 if empty)"
    assert ("x" in case.inputs) != ("q" in case.inputs)
    for name, arr in case.inputs.items():
        expected_dtype = np.bool_ if name == "mask" else case.output.dtype
        assert arr.dtype == expected_dtype, (name, arr.dtype)
    if case.sidecar.exists():
        from safetensors.numpy import load_file

        sd = load_file(str(case.sidecar))
        assert set(sd) <= set(MHA_KEYS) and {"in_proj_weight", "out_proj.weight"} <= set(sd)
        w_rows = np.concatenate([case.inputs[n] for n in ("wq", "wk", "wv")], axis=1)
        np.testing.assert_array_equal(sd["in_proj_weight"], w_rows.T)  # torch's (out, in)
        np.testing.assert_array_equal(sd["out_proj.weight"], case.inputs["wo"].T)
        if "in_proj_bias" in sd:
            b = np.concatenate([case.inputs[n] for n in ("bq", "bk", "bv")])
            np.testing.assert_array_equal(sd["in_proj_bias"], b)
            np.testing.assert_array_equal(sd["out_proj.bias"], case.inputs["bo"])


@pytest.mark.parametrize("path", CASES)
def test_library_matches_torch(path: Path):
    from attncli.cli.pipeline import compute_attention as attention

    case = load_case(path)
    res = attention(**case.inputs, **case.library_options())
    assert_matches(res.weights, case.weights, case.atol, f"{case.name}: weights")
    assert_matches(res.output, case.output, case.atol, f"{case.name}: output")


@pytest.mark.parametrize("path", CASES)
def test_cli_json_matches_torch(path: Path, tmp_path: Path):
    case = load_case(path)
    args = input_args(case.inputs, tmp_path) + option_args(case.options)
    args += ["--show", "weights,output", "--format", "json"]
    proc = run_cli(args, tmp_path)
    check_json(case, proc.stdout, f"{case.name} (CLI json)")


@pytest.mark.parametrize("path", SIDECAR_CASES)
def test_cli_torch_state_dict_matches_torch(path: Path, tmp_path: Path):
    case = load_case(path)
    inputs = {k: v for k, v in case.inputs.items() if k not in WEIGHT_NAMES}
    args = input_args(inputs, tmp_path) + ["--weights", str(case.sidecar)]
    args += option_args(case.options)  # includes --heads N
    assert "--heads" in args
    args += ["--show", "weights,output", "--format", "json"]
    proc = run_cli(args, tmp_path)
    check_json(case, proc.stdout, f"{case.name} (CLI --weights {case.sidecar.name})")


@pytest.mark.parametrize("path", FLOAT32_CASES)
def test_cli_npy_float32(path: Path, tmp_path: Path):
    case = load_case(path)
    out = tmp_path / "out.npy"
    args = input_args(case.inputs, tmp_path) + option_args(case.options)
    args += ["--show", "output", "--format", "npy", "-o", str(out)]
    run_cli(args, tmp_path)
    saved = np.load(out)
    assert saved.dtype == np.float32, saved.dtype
    assert_matches(saved, case.user_output(), 1e-5, f"{case.name}: --format npy output")
