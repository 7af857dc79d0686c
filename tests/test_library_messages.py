"""The library speaks Python, the command line speaks options (issue 21, "Errors name parameters, not options").

(a) No string literal in attncli/core, attncli/models or attncli/text (docstrings included) holds command-line
    option text: `--` then a letter. A library message names the parameter with `param("wq")` (attncli/errors.py)
    and the CLI writes it as its option (attncli/cli/params.py).
(b) Library functions called with bad arguments raise an AttnError whose `str()` names the parameter (`wq`,
    `dtype=float64`, `stream_maps=weights`) and no option.
(c) The same mistakes made on the command line give today's `error:` line, byte for byte, with the options. The
    expected lines were printed by attncli before the library stopped naming options (main at e1e4aa0).
"""

from __future__ import annotations

import io
import math
import os
import re
import tokenize
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.core import generate, heads, positions, scores, validate
from attncli.core.diagnose import Finding
from attncli.core.mistakes import MISTAKES
from attncli.core.steps import Tracer, trace_budget
from attncli.core.suspects import LAYOUT
from attncli.errors import AttnError

ROOT = Path(__file__).parent.parent
LIBRARY = ("attncli/core", "attncli/models", "attncli/text")

# `--` then a letter, not inside a word or a longer run of dashes: `--wq`, `--show output`. A formula's `a--b` or
# a rule `----` is not an option.
OPTION = re.compile(r"(?<![\w-])--[A-Za-z]")

# Being converted on another branch; the lead empties this at merge.
NOT_YET: set[str] = set()  # files still being converted on another branch (empty: all landed)

# (file, literal text) pairs that are legitimately `--` then a letter and not an option. Keep it tiny.
ALLOWED: set[tuple[str, str]] = set()


def option_text(source: str, rel: str = "") -> list[tuple[int, str]]:
    """(line, literal) of each string literal in the Python `source` of file `rel` that holds option text
    (docstrings are literals; an f-string is one token; comments are not looked at)."""
    return [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.STRING and OPTION.search(tok.string) and (rel, tok.string) not in ALLOWED]


def library_files() -> dict[str, Path]:
    return {p.relative_to(ROOT).as_posix(): p for d in LIBRARY for p in sorted((ROOT / d).rglob("*.py"))}


def test_the_scan_sees_option_text_and_only_that() -> None:
    source = ('"""Q — K: a--b, ----, x − −y, pre-norm, x_kv, 1e-6."""\n'
              "# a comment naming --wq is not a message\n"
              'A = f"{n} must divide --d-model"\n'
              "B = ('see '\n     '--show output')\n")
    assert [line for line, _ in option_text(source)] == [3, 5]


def test_no_option_text_in_the_library() -> None:
    files = library_files()
    assert len(files) > 20, "the scan found too few files: did the layout change?"
    bad = [f"{rel}:{line}: {text[:80]}" for rel, path in files.items() if rel not in NOT_YET
           for line, text in option_text(path.read_text(encoding="utf-8"), rel)]
    assert not bad, "command-line option text in the library (write param(\"name\") instead):\n" + "\n".join(bad)


def test_not_yet_lists_only_files_still_naming_options() -> None:
    """An entry whose file no longer names options (or is gone) is stale: take it out of NOT_YET."""
    files = library_files()
    stale = sorted(f for f in NOT_YET if f not in files or not option_text(files[f].read_text(encoding="utf-8"), f))
    assert not stale, f"converted (or gone), take out of NOT_YET: {stale}"


# ---- (b) the library names parameters; (c) the command line names options, as it always did -------------------


def _raises(call: Callable[[], object]) -> str:
    with pytest.raises(AttnError) as info:
        call()
    return str(info.value)


def _tracer_over_budget() -> None:
    with trace_budget(1000):
        Tracer(True).add("x", np.zeros((40, 4)), "tokens")


def _project(w: np.ndarray, **kw: object) -> Callable[[], object]:
    x = np.array([[1.0, 2, 3], [4, 5, 6]])
    return lambda: heads.project(x[None], w, None, ("x", "wq", "bq"), x.shape, **kw)


# id -> (library call, its message)
LIBRARY_CASES: dict[str, tuple[Callable[[], object], str]] = {
    "nonfinite": (lambda: validate.check_finite(np.array([[1.0, np.nan], [0.0, 1.0]]), "x"),
                  "x holds nan at position [0, 1] (shape (2, 2)); fix the input or pass allow_nonfinite=True to "
                  "compute anyway"),
    "complex": (lambda: validate.as_real(np.ones((2, 2)) * 1j, "x"),
                "x must hold real numbers; got dtype complex128"),
    "no tokens": (lambda: validate.check_tokens(np.zeros((0, 3)), "x"),
                  "x has 0 tokens (shape (0, 3)); attention needs at least one"),
    "ndim": (lambda: validate.check_ndim(np.ones(3), "wo", (2,), "a matrix (H·d_v × d_out)"),
             "wo must be a matrix (H·d_v × d_out); got shape (3,)"),
    "heads 0": (lambda: validate.positive_int(0, "heads"), "heads must be a positive integer; got 0"),
    "scale inf": (lambda: validate.finite_number(math.inf, "scale"), "scale must be a finite number; got inf"),
    "dtype": (lambda: validate.compute_dtype("float16", []),
              "dtype must be one of auto, float32, float64; got 'float16'"),
    "scores overflow": (lambda: validate.check_scores(np.full((1, 1, 1, 1), np.inf, np.float32), np.float32),
                        "the scores overflow float32 (batch 0 head 0 query 0 key 0 is inf): the inputs or scale are "
                        "too large; rescale them, or compute in float64 (dtype=float64)"),
    "output overflow": (lambda: validate.check_output(np.full((1, 1, 1, 1), np.inf, np.float32),
                                                         "attention outputs", np.float32),
                        "the attention outputs overflow float32 at (0, 0, 0, 0): the weights times the values are too "
                        "large (a normalizer that does not sum to 1, or huge v/x); rescale the inputs, or compute in "
                        "float64 (dtype=float64)"),
    "memory": (lambda: validate.check_dense_memory(1, 1, 40, 40, 8, 1, 1024, streaming=True, to_disk="weights"),
               "the dense attention maps would need about 1.2e-05 GB (batch 1 × heads 1 × 40 queries × 40 keys × 8 "
               "bytes × 1 copies) but only 9.5e-07 GB of memory is available; try fewer tokens (split the sequence "
               'or the batch), or dtype=float32 (half the memory), or need=["output"] alone (computed in blocks, '
               "without the dense map), or stream_maps=weights (one map, streamed to disk in blocks)"),
    "trace budget": (_tracer_over_budget,
                     "explain keeps every step: with step 1 (input tokens, 40 × 4 per map) they would need about "
                     "1.2e-06 GB but only 9.3e-07 GB of memory is available; try fewer tokens, or trace=False (it "
                     "keeps no steps) stream_maps=weights"),
    "weights transposed": (_project(np.array([[1.0, 0, 0], [0, 1, 0]])),
                           "x has d_model = 3 columns (shape (2, 3)) but wq has 2 rows (shape (2, 3)); wq must be "
                           "d_model × d_out; wq transposed would fit: is it stored (out, in) like PyTorch's "
                           "Linear.weight? wq=wq.T"),
    "tokens as columns": (_project(np.ones((2, 2))),  # the library has no layout: no hint of one (the CLI's below)
                          "x has d_model = 3 columns (shape (2, 3)) but wq has 2 rows (shape (2, 2)); wq must be "
                          "d_model × d_out"),
    "heads split": (lambda: heads.split_heads(np.ones((1, 2, 3)), 2, "k", "kv_heads"),
                    "k has 3 columns, which 2 heads cannot split evenly; kv_heads must divide 3"),
    "score needs": (lambda: scores.check_params("additive", {"wa_q": None, "wa_k": None, "va": None}, 2, 2),
                    "score=additive needs wa_q, wa_k, va"),
    "score extra": (lambda: scores.check_params("dot", {"w_score": np.eye(2)}, 2, 2),
                    "w_score is a parameter of another score; score=dot does not use it"),
    "score widths": (lambda: scores.check_params("scaled", {}, 4, 2),
                     "score=scaled needs queries and keys of the same width per head, but q/k give d_q = 4 and d_k = "
                     "2; fix the shapes, or use score=general or additive, which handle different widths; if keys "
                     "and values have fewer heads than queries (grouped-query attention), give kv_heads"),
    "general w": (lambda: scores.check_params("general", {"w_score": np.ones((2, 3))}, 2, 2),
                  "w_score must be d_q × d_k = 2 × 2 for score=general; got (2, 3)"),
    "location w": (lambda: scores.location(np.ones((2, 2)), np.ones((2, 2)), {"w_score": np.ones((2, 3))}),
                   "score=location: w_score has 3 columns but there are 2 keys; W_a must be d_q × n_k"),
    "sinusoidal": (lambda: positions.sinusoidal(3, 3),
                   "pe=sinusoidal needs an even d_model ≥ 2; got 3"),
    "rope width": (lambda: positions.rope_angles(np.arange(2), 3),
                   "rope needs an even per-head dimension d_k ≥ 2; got 3"),
    "rope layout": (lambda: positions.rope(np.ones((2, 4)), np.arange(2), layout="pairs"),
                    "rope_layout must be half or interleaved; got 'pairs'"),
    "init heads": (lambda: generate.default_head_dim(4, 3),
                   "init: heads=3 does not divide d_model=4, so d_k = d_model / heads is not a whole number; give "
                   "d_k and d_v (e.g. d_k=2 d_v=2), or heads=2 or 4"),
    "init tokens": (lambda: generate.validate(generate.ProblemSize(tokens=1)),
                    "init: tokens must be 2 to 16 (one token has every weight 1; more than 16 is not computed by "
                    "hand); got 1"),
    "init columns": (lambda: generate.validate(generate.ProblemSize(heads=4, d_k=5, d_model=4)),
                     "init: heads=4 × d_k=5 = 20 columns in the projection; at most 16 are computed by hand"),
}


@pytest.mark.parametrize("case", LIBRARY_CASES)
def test_library_errors_name_parameters(case: str) -> None:
    call, said = LIBRARY_CASES[case]
    text = _raises(call)
    assert text == said
    assert not OPTION.search(text) and "‹" not in text and "›" not in text, text


def test_a_diagnosis_names_parameters_for_the_library() -> None:
    assert Finding(["layout"], LAYOUT).message == ("matches the expected array transposed: tokens as rows vs columns "
                                                   "mixed up (K used where Kᵀ belongs, or the other layout)")
    padding = next(m for m in MISTAKES if m.name == "no-padding")
    assert Finding(["no-padding"], padding.text({}, "weights")).message == (
        "matches the computation without the padding mask (key_lens/query_lens/mask)")


def test_names_the_caller_gives_are_kept() -> None:
    """A name that is not a parameter ("Q (X·W_Q)", an answer's path) is said as given."""
    assert _raises(lambda: heads.split_heads(np.ones((1, 2, 3)), 2, "Q (X·W_Q)")).startswith("Q (X·W_Q) has 3 columns")
    said = _raises(lambda: validate.check_finite(np.array([np.inf]), "ANSWER a/b.csv"))
    assert said.startswith("ANSWER a/b.csv holds inf")


def test_names_already_written_as_parameters_are_kept() -> None:
    """A caller may pass param("wq") (‹wq›) where a name is asked for: it is not wrapped twice."""
    from attncli.errors import param

    x = np.array([[1.0, 2, 3], [4, 5, 6]])
    said = _raises(lambda: heads.project(x[None], np.array([[1.0, 0, 0], [0, 1, 0]]), None,
                                         (param("x"), param("wq"), param("bq")), x.shape))
    assert said.endswith("; wq transposed would fit: is it stored (out, in) like PyTorch's Linear.weight? wq=wq.T")
    assert _raises(lambda: validate.check_finite(np.array([np.inf]), param("spec.bias"))).startswith("spec.bias holds")
    assert _raises(lambda: scores.check_params("scaled", {}, 4, 2, f"{param('q')}/{param('k')}")).startswith(
        "score=scaled needs queries and keys of the same width per head, but q/k give d_q = 4")


X2 = "1 0; 0 1"
X23 = "1 2 3; 4 5 6"
W32 = "1 0; 0 1; 1 1"

# (arguments, environment, the error line as attncli printed it before this change)
CLI_CASES: list[tuple[list[str], dict[str, str], str]] = [
    (["compute", "--x", "1 nan; 0 1"], {},
     "--x holds nan at position [0, 1] (shape (2, 2)); fix the input or pass --allow-nonfinite to compute anyway"),
    (["compute", "--x", "{tmp}/complex.npy"], {}, "--x must hold real numbers; got dtype complex128"),
    (["compute", "--x", "{tmp}/empty.npy"], {}, "--x has 0 tokens (shape (0, 3)); attention needs at least one"),
    (["compute", "--x", X2, "--heads", "0"], {}, "--heads must be a positive integer; got 0"),
    (["compute", "--x", X2, "--scale", "inf"], {}, "--scale must be a finite number; got inf"),
    (["compute", "--x", "[[1e30, 0], [0, 1]]", "--score", "dot", "--dtype", "float32"], {},
     "the scores overflow float32 (batch 0 head 0 query 0 key 0 is inf): the inputs or --scale are too large; "
     "rescale them, or compute in float64 (--dtype float64)"),
    (["compute", "--q", "1 0", "--k", "1 0; 1 0", "--v", "3e38; 3e38", "--dtype", "float32", "--score", "dot",
      "--normalize", "relu"], {},
     "the attention outputs overflow float32 at (0, 0, 0, 0): the weights times the values are too large (a "
     "normalizer that does not sum to 1, or huge --v/--x); rescale the inputs, or compute in float64 (--dtype "
     "float64)"),
    (["compute", "--x", "{tmp}/x40.npy", "--show", "weights,output", "-o", "{tmp}/out.npz"],
     {"ATTNCLI_MEMORY_LIMIT": "1K"},
     "the dense attention maps would need about 1.2e-05 GB (batch 1 × heads 1 × 40 queries × 40 keys × 8 bytes × 1 "
     "copies) but only 9.5e-07 GB of memory is available; try fewer tokens (split the sequence or the batch), or "
     "--dtype float32 (half the memory), or --show output alone (computed in blocks, without the dense map), or "
     "--show weights -o weights.npy (one map, streamed to disk in blocks)"),
    (["compute", "--x", "{tmp}/x40.npy", "--show", "scores", "-o", "{tmp}/scores.json"],
     {"ATTNCLI_MEMORY_LIMIT": "1K"},
     "the dense attention maps would need about 2.4e-05 GB (batch 1 × heads 1 × 40 queries × 40 keys × 8 bytes × 2 "
     "copies) but only 9.5e-07 GB of memory is available; try fewer tokens (split the sequence or the batch), or "
     "--dtype float32 (half the memory), or --show output alone (computed in blocks, without the dense map), or "
     "--show scores -o scores.npy (one map, streamed to disk in blocks)"),
    (["explain", "--x", "{tmp}/x40.npy"], {"ATTNCLI_MEMORY_LIMIT": "1K"},
     "explain keeps every step: with step 1 (input tokens, 40 × 4 per map) they would need about 1.2e-06 GB but "
     "only 9.5e-07 GB of memory is available; try fewer tokens, or attncli compute with the same options (it keeps "
     "no steps) --show weights -o weights.npy"),
    (["compute", "--x", X23, "--wq", "1 0 0; 0 1 0", "--wk", W32, "--wv", W32], {},
     "--x has d_model = 3 columns (shape (2, 3)) but --wq has 2 rows (shape (2, 3)); --wq must be d_model × d_out; "
     "--wq transposed would fit: is it stored (out, in) like PyTorch's Linear.weight? --weights-layout torch reads "
     "weights that way"),
    (["compute", "--x", X23, "--wq", W32, "--wk", W32, "--wv", W32, "--weights-layout", "torch"], {},
     "--x has d_model = 3 columns (shape (2, 3)) but --wq has 2 rows (shape (2, 3)); --wq must be d_model × d_out; "
     "--wq as stored would fit: it is (in, out) already, so drop --weights-layout torch"),
    (["compute", "--x", "1 0 1; 0 1 1", "--wq", X2, "--wk", X2, "--wv", X2], {},
     "--x has d_model = 3 columns (shape (2, 3)) but --wq has 2 rows (shape (2, 2)); --wq must be d_model × d_out; "
     "or, if tokens are columns, add --layout cols"),
    (["compute", "--x", "1 0 1; 0 1 1; 1 1 0; 0 0 1", "--wq", "1 0 1; 0 1 1", "--wk", "1 0 1 1; 0 1 1 1",
      "--wv", "1 0 1 1; 0 1 1 1", "--layout", "cols"], {},
     "--x has d_model = 4 rows (shape (4, 3); cols layout: d_model × n) but --wq has 3 columns (shape (2, 3)); in "
     "the lecture layout (--layout cols) W_Q is d_k × d_model (it maps a column token to a query: Q = W_q·I)"),
    (["compute", "--q", "1 0 1 1; 0 1 1 1", "--k", "1 0 1; 0 1 1", "--v", "1 0 1; 0 1 1", "--heads", "2"], {},
     "--k has 3 columns, which 2 heads cannot split evenly; --heads must divide 3"),
    (["compute", "--x", X2, "--score", "additive"], {}, "--score additive needs --wa-q, --wa-k, --va"),
    (["compute", "--x", X2, "--score", "dot", "--w-score", X2], {},
     "--w-score is a parameter of another score; --score dot does not use it"),
    (["compute", "--x", "1 0 1; 0 1 1", "--wq", "1 0 0 1; 0 1 0 1; 1 1 0 0", "--wk", W32, "--wv", W32], {},
     "--score scaled needs queries and keys of the same width per head, but --wq/--wk give d_q = 4 and d_k = 2; "
     "fix the shapes, or use --score general or additive, which handle different widths; if keys and values have "
     "fewer heads than queries (grouped-query attention), give --kv-heads"),
    (["compute", "--x", X2, "--score", "general", "--w-score", "1 0 0; 0 1 0"], {},
     "--w-score must be d_q × d_k = 2 × 2 for --score general; got (2, 3)"),
    (["compute", "--x", X2, "--score", "location", "--w-score", "1 0 0; 0 1 0"], {},
     "--score location: --w-score has 3 columns but there are 2 keys; W_a must be d_q × n_k"),
    (["compute", "--x", X2, "--score", "additive", "--wa-q", "1;1", "--wa-k", "1 1;1 1", "--va", "1"], {},
     "--score additive needs --wa-q d_q × h = 2 × h, --wa-k d_k × h = 2 × h and --va of length h; got (2, 1), "
     "(2, 2) and (1,)"),
    (["compute", "--x", "1 0 1; 0 1 0", "--pe", "sinusoidal"], {}, "--pe sinusoidal needs an even d_model ≥ 2; got 3"),
    (["compute", "--x", "1 0 0; 0 1 0", "--rope"], {}, "--rope needs an even per-head dimension d_k ≥ 2; got 3"),
    # messages of files in NOT_YET whose library tests (test_core.py, test_catalogue.py) now match the parameter
    (["compute", "--q", X2, "--k", X2, "--v", X2, "--mask", "0 -inf; 0 0"], {},
     "--mask holds values other than 0 and 1 (e.g. -inf); a boolean mask marks who may attend with 1/true; for an "
     "additive float mask (0 / -inf) use --bias"),
    (["compute", "--q", "1 0; 1 1; 0 1", "--k", "1 0; 1 1; 0 1", "--v", "1 0; 1 1; 0 1", "--key-lens", "5"], {},
     "--key-lens value 5 is outside 0..3 (there are 3 keys)"),
    (["compute", "--q", X2, "--k", X2], {}, "--q, --k given without --v; give all of --q, --k, --v"),
    (["compute", "--x", "1 1 1 1; 1 1 1 1; 1 1 1 1", "--wq", W32, "--wk", "1 1; 1 1; 1 1; 1 1",
      "--wv", "1 1; 1 1; 1 1; 1 1"], {},
     "--x has d_model = 4 columns (shape (3, 4)) but --wq has 3 rows (shape (3, 2)); --wq must be d_model × d_out"),
    (["init", "--random", "--heads", "3", "-"], {},
     "init: --heads 3 does not divide --d-model 4, so d_k = d_model / heads is not a whole number; give --d-k and "
     "--d-v (e.g. --d-k 2 --d-v 2), or --heads 2 or 4"),
    (["init", "--random", "--tokens", "1", "-"], {},
     "init: --tokens must be 2 to 16 (one token has every weight 1; more than 16 is not computed by hand); got 1"),
    (["init", "--random", "--heads", "4", "--d-k", "5", "--d-model", "4", "-"], {},
     "init: --heads 4 × --d-k 5 = 20 columns in the projection; at most 16 are computed by hand"),
    (["init", "--random", "--what", "scores", "-"], {}, "init: --what must be weights or output; got 'scores'"),
]


@pytest.fixture(scope="module")
def arrays(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("arrays")
    np.save(tmp / "complex.npy", np.ones((2, 2)) * 1j)
    np.save(tmp / "empty.npy", np.zeros((0, 3)))
    np.save(tmp / "x40.npy", np.random.default_rng(0).normal(size=(40, 4)))
    return tmp


@pytest.mark.parametrize("args, env, line", CLI_CASES, ids=[" ".join(a)[:60] for a, _, _ in CLI_CASES])
def test_the_command_line_says_options_as_before(arrays: Path, args: list[str], env: dict[str, str],
                                                 line: str) -> None:
    args = [a.replace("{tmp}", str(arrays)) for a in args]
    if env:  # run_error has no env: the same checks by hand
        proc = run(args, check=False, env={**os.environ, **env})
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    else:
        err = run_error(args)
    assert err == f"error: {line}\n"


def test_a_diagnosis_on_the_command_line_says_options_as_before(tmp_path: Path) -> None:
    """check's diagnosis of a transposed answer and of a padding mask left out, as it was printed before."""
    x = np.array([[1.0, 0, 1], [0, 2, 1], [1, 1, 0]])
    wq, wk = np.array([[1.0, 0], [0, 1], [1, 1]]), np.array([[0.0, 1], [1, 1], [1, 0]])
    for name, a in (("x", x), ("wq", wq), ("wk", wk)):
        np.save(tmp_path / f"{name}.npy", a)

    def weights(q: np.ndarray, k: np.ndarray, keys: int) -> np.ndarray:  # softmax(Q·Kᵀ/√d) over the first keys
        s = q @ k.T / np.sqrt(q.shape[1])
        s[:, keys:] = -np.inf
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    np.save(tmp_path / "transposed.npy", weights(x @ wq, x @ wk, 3).T)
    np.save(tmp_path / "unpadded.npy", weights(x, x, 3))
    args = ["--x", tmp_path / "x.npy", "--what", "weights"]
    out = run(["check", tmp_path / "transposed.npy", *args, "--wq", tmp_path / "wq.npy", "--wk", tmp_path / "wk.npy",
               "--wv", tmp_path / "wq.npy"], check=False).stdout.decode()
    assert ("\ndiagnosis: matches the expected array transposed: tokens as rows vs columns mixed up (K used where Kᵀ "
            "belongs, or the other --layout)\n") in out, out
    out = run(["check", tmp_path / "unpadded.npy", *args, "--key-lens", "2"], check=False).stdout.decode()
    assert "\ndiagnosis: matches the computation without the padding mask (--key-lens/--query-lens/--mask)\n" in out


def test_a_weight_that_does_not_fit_carries_its_shapes() -> None:
    """The core's shape error is data (the parameters, both shapes, whether Wᵀ fits), so the command line words it
    for its lecture layout and --weights-layout torch (cli/layout.py, CLI_CASES above); the library's message
    speaks rows layout and parameters."""
    from attncli import project

    x = np.ones((3, 4))
    with pytest.raises(heads.WeightShapeError) as info:
        project(x, {"wq": np.ones((2, 4)), "wk": np.ones((4, 2)), "wv": np.ones((4, 2))})
    e = info.value
    assert (e.x, e.w, e.x_shape, e.w_shape, e.fits_transposed) == ("x", "wq", (3, 4), (2, 4), True)
    assert str(e) == ("x has d_model = 4 columns (shape (3, 4)) but wq has 2 rows (shape (2, 4)); wq must be d_model × "
                      "d_out; wq transposed would fit: is it stored (out, in) like PyTorch's Linear.weight? wq=wq.T")
    with pytest.raises(heads.WeightShapeError) as info:
        project(x, {"wq": np.ones((4, 2)), "wk": np.ones((3, 2)), "wv": np.ones((4, 2))}, x_kv=np.ones((2, 4)))
    e = info.value
    assert (e.x, e.w, e.x_shape, e.w_shape, e.fits_transposed) == ("x_kv", "wk", (2, 4), (3, 2), False)
    assert str(e) == ("x_kv has d_model = 4 columns (shape (2, 4)) but wk has 3 rows (shape (3, 2)); wk must be "
                      "d_model × d_out")
