"""`attncli model --show scores,q,k,v`: what each layer's attention saw, against transformers.

tests/golden/models/*_seen (generate.py, transformers 5.24 in a separate environment) hold seen.npz: for every
layer, q (L, B, H, n, hd) after q/k norms and RoPE, k and v (L, B, G, n, hd) before repeat_kv, and the scores
(L, B, H, n, n) = q·kᵀ·scaling + the additive mask (float32's min where masked), recorded by an attention
function registered with transformers that calls the model's own eager_attention_forward (what TransformerLens
users read from hooks). attncli gives k and v per query head (the kv head it reads, h·G//H), masked scores as −inf.
Compared on each text's valid rows (and keys): q, k, v and the unmasked scores within 1e-5·max(1, |x|).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

GOLDEN = Path(__file__).parent / "golden" / "models"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "seen.npz").is_file())
TOL = 1e-5


def test_the_cases_exist():
    assert {"llama_seen", "qwen3_seen", "gpt2_seen", "bert_seen"} <= set(CASES)


def seen(name: str, tmp_path: Path, *extra: str) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    with np.load(GOLDEN / name / "seen.npz") as z:
        expected = {k: z[k] for k in z.files}
    out = tmp_path / "seen.npz"
    texts = [a for t in case["texts"] for a in ("--text", t)]
    run(["model", GOLDEN / name, *texts, "--show", "scores,q,k,v", *extra, "-o", out])
    with np.load(out) as z:
        got = {k: np.asarray(z[k], np.float64) for k in z.files}
    if len(case["lengths"]) == 1:
        got = {k: v[None] for k, v in got.items()}
    return case, expected, got


def close(name: str, what: str, got: np.ndarray, expected: np.ndarray) -> None:
    excess = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert excess.max() <= TOL, f"{name} {what}: off by {excess.max():.2e} (relative to max(1, |x|))"


@pytest.mark.parametrize("name", CASES)
def test_q_k_v_and_scores_match_transformers(name: str, tmp_path: Path):
    case, e, got = seen(name, tmp_path)
    L, B, H, n, hd = e["q"].shape
    G = e["k"].shape[2]
    kv = [h * G // H for h in range(H)]
    assert got["q"].shape == got["k"].shape == got["v"].shape == (B, L, H, n, hd)
    assert got["scores"].shape == (B, L, H, n, n)
    for b, lb in enumerate(case["lengths"]):
        for layer in range(L):
            at = f"layer {layer}, text {b}"
            close(name, f"q {at}", got["q"][b, layer, :, :lb], e["q"][layer, b, :, :lb])
            close(name, f"k {at}", got["k"][b, layer, :, :lb], e["k"][layer, b, kv, :lb])
            close(name, f"v {at}", got["v"][b, layer, :, :lb], e["v"][layer, b, kv, :lb])
            sc, sc_e = got["scores"][b, layer, :, :lb, :lb], e["scores"][layer, b, :, :lb, :lb]
            masked = sc_e < -1e30  # transformers adds float32's min where a key is masked
            assert np.array_equal(np.isneginf(sc), masked), f"{name} scores {at}: masked cells differ"
            close(name, f"scores {at}", np.where(masked, 0, sc), np.where(masked, 0, sc_e))


def test_chosen_layers_and_heads(tmp_path: Path):
    """--layers and --heads pick the same numbers out of the whole."""
    _, e, got = seen("llama_seen", tmp_path, "--layers", "1", "--heads", "4,1")
    assert got["q"].shape[1:3] == (1, 2)
    close("llama_seen", "q of layer 1, heads 4 and 1", got["q"][0, 0, :, :12], e["q"][1, 0, [4, 1], :12])
    close("llama_seen", "k of layer 1, heads 4 and 1", got["k"][0, 0, :, :12], e["k"][1, 0, [1, 0], :12])


def test_json_writes_masked_scores_as_null(tmp_path: Path):
    out = run(["model", GOLDEN / "gpt2_seen", "--ids", "5 9 12", "--show", "scores", "--layers", "0", "--heads", "0",
               "--format", "json"]).stdout
    rows = json.loads(out)["scores"][0][0]
    assert [r[1:] for r in rows] == [[None, None], [rows[1][1], None], rows[2][1:]]
    assert all(isinstance(x, float) for r in rows for x in r if x is not None)


def test_scores_tables_mark_masked_cells(tmp_path: Path):
    out = run(["model", GOLDEN / "gpt2_seen", "--ids", "5 9 12", "--show", "scores,q", "--layers", "0", "--heads",
               "0"]).stdout.decode()
    assert "scores · layer 0 · head 0" in out and "q · layer 0 · head 0" in out and "·" in out


def test_pictures_still_need_the_attentions(tmp_path: Path):
    err = run_error(["model", GOLDEN / "gpt2_seen", "--ids", "5 9 12", "--show", "scores", "-o",
                     tmp_path / "x.png"])
    assert "--show attentions" in err and not (tmp_path / "x.png").exists()
