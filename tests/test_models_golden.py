"""`attncli model` against transformers (issue 13): tiny random checkpoints of every family, and the attention
maps and hidden states transformers computes for them (tests/golden/models, made by its generate.py with torch
and transformers in a separate venv; CI never installs them).

Each tests/golden/models/<case>/ holds config.json, model.safetensors and tokenizer.json as a Hugging Face
checkpoint folder, case.json (the ids or texts to give, and notes) and expected.npz:
attentions (L, B, H, n, n) and hidden (L+1, B, n, d), float64 holding transformers' float32 values.

What is compared, for every layer, head and sequence:
* attention maps: |attncli - transformers| <= 1e-5, absolute (the maps lie in [0, 1]);
* hidden states: |attncli - transformers| <= 1e-4 * max(1, |transformers|) elementwise, i.e. absolute for
  values up to 1 and relative beyond: float32 rounding grows with the magnitude of the residual stream
  (values here reach about 10, so at most 1e-3 there, still ~1000x float32's own error);
* padded batches: only the valid block of each sequence, attentions[l, b, :, :len_b, :len_b] and
  hidden[l, b, :len_b] (transformers computes the padded query rows too; case.json's "padded" says what they
  hold, and attncli need not match them);
* ids: attncli's npz `ids` (n,) for one sequence, (B, n) for several (valid prefix of each row compared)
  equal transformers' tokenizer's input_ids; with --text the special tokens are added ([CLS]/[SEP],
  <s>/</s>, <s>; none for gpt2, qwen2, bloom).
Output shapes: one sequence -> attentions (L, H, n, n), hidden (L+1, n, d); several -> the batch axis first,
(B, L, H, n_max, n_max) and (B, L+1, n_max, d).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from safetensors import safe_open
from safetensors.numpy import save_file

GOLDEN = Path(__file__).parent / "golden" / "models"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())
TEXT_CASES = [c for c in CASES if json.loads((GOLDEN / c / "case.json").read_text())["texts"]]
# sentence pairs (token types 0 and 1): their ids alone would run as type 0; --text with --pair covers them
PAIR_CASES = [c for c in CASES if json.loads((GOLDEN / c / "case.json").read_text()).get("pairs")]
ATT_TOL = 1e-5
HID_TOL = 1e-4
FAMILIES = {"bert", "roberta", "distilbert", "gpt2", "llama", "mistral", "qwen2", "qwen3", "bloom",
            "gpt_neox", "phi", "xlm-roberta", "electra", "albert", "modernbert",
            "gemma", "gemma2", "gemma3_text", "gemma3", "olmo2",
            "mixtral", "qwen3_moe", "gpt_oss", "deberta-v2",
            "phi3", "opt", "granite"}
# the cases whose tokenizer is a SentencePiece model (spm.model or tokenizer.model, no tokenizer.json), read with
# `sentencepiece`
SPM_CASES = [c for c in CASES if not (GOLDEN / c / "tokenizer.json").is_file()]


def load(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    case = json.loads((GOLDEN / name / "case.json").read_text())
    with np.load(GOLDEN / name / "expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    return case, expected


def ids_args(case: dict) -> list[str]:
    return [arg for seq in case["ids"] for arg in ("--ids", " ".join(map(str, seq)))]


def text_args(case: dict) -> list[str]:
    pairs = [arg for pair in case.get("pairs") or [] for arg in ("--pair", pair)]
    return [arg for text in case["texts"] for arg in ("--text", text)] + pairs


def model_run(folder: Path, inputs: list[str], tmp_path: Path) -> dict[str, np.ndarray]:
    out = tmp_path / "out.npz"
    run(["model", folder, *inputs, "--show", "attentions,hidden", "--format", "npz", "-o", out])
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def compare(name: str, case: dict, expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    att_e, hid_e = expected["attentions"], expected["hidden"]  # (L, B, H, n, n), (L+1, B, n, d)
    L, B, H, n, _ = att_e.shape
    d = hid_e.shape[-1]
    for key in ("attentions", "hidden", "ids"):
        assert key in got, f"{name}: the npz has no '{key}' array (it has {sorted(got)})"
    att, hid = np.asarray(got["attentions"], np.float64), np.asarray(got["hidden"], np.float64)
    if B == 1:
        assert att.shape == (L, H, n, n), f"{name}: attentions {att.shape}, expected {(L, H, n, n)}"
        assert hid.shape == (L + 1, n, d), f"{name}: hidden {hid.shape}, expected {(L + 1, n, d)}"
        att, hid = att[:, None], hid[:, None]  # (L, 1, H, n, n), (L+1, 1, n, d)
    else:
        assert att.shape == (B, L, H, n, n), f"{name}: attentions {att.shape}, expected {(B, L, H, n, n)}"
        assert hid.shape == (B, L + 1, n, d), f"{name}: hidden {hid.shape}, expected {(B, L + 1, n, d)}"
        att, hid = att.transpose(1, 0, 2, 3, 4), hid.transpose(1, 0, 2, 3)

    ids = np.asarray(got["ids"])
    for b, (seq, lb) in enumerate(zip(case["ids"], case["lengths"], strict=True)):
        assert expected["input_ids"][b, :lb].tolist() == seq and expected["attention_mask"][b].sum() == lb
        row = ids.reshape(-1) if B == 1 else ids[b]
        assert row[:lb].tolist() == seq and (B > 1 or row.size == lb), \
            f"{name}: ids of sequence {b + 1} are {row.tolist()}, transformers gives {seq}"
        for layer in range(L):
            diff = np.abs(att[layer, b, :, :lb, :lb] - att_e[layer, b, :, :lb, :lb])
            h, i, j = np.unravel_index(np.argmax(diff), diff.shape)
            assert diff.max() <= ATT_TOL, (f"{name}: layer {layer} head {h} (sequence {b + 1}) query {i} key {j}: "
                                           f"{att[layer, b, h, i, j]:.7f}, transformers {att_e[layer, b, h, i, j]:.7f}")
        for layer in range(L + 1):
            e, a = hid_e[layer, b, :lb], hid[layer, b, :lb]
            excess = np.abs(a - e) / np.maximum(1.0, np.abs(e))
            i, k = np.unravel_index(np.argmax(excess), excess.shape)
            assert excess.max() <= HID_TOL, (f"{name}: hidden state {layer} (sequence {b + 1}) token {i} feature {k}: "
                                             f"{a[i, k]:.6f}, transformers {e[i, k]:.6f}")


# --------------------------------------------------------------------------------------------------------------
# the golden files themselves
# --------------------------------------------------------------------------------------------------------------


def test_sha256sums():
    lines = (GOLDEN / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
    for rel, digest in listed.items():
        assert hashlib.sha256((GOLDEN / rel).read_bytes()).hexdigest() == digest, \
            f"{rel} changed since tests/golden/models/generate.py wrote it"
    present = {p.relative_to(GOLDEN).as_posix() for c in CASES for p in (GOLDEN / c).iterdir()}
    assert present == set(listed), f"not listed: {present - set(listed)}, missing: {set(listed) - present}"


def test_every_family_and_setting_is_covered():
    cases = {name: load(name)[0] for name in CASES}
    assert {c["family"] for c in cases.values()} == FAMILIES
    assert any(c["n_heads"] & (c["n_heads"] - 1) for c in cases.values()), "a head count not a power of two"
    assert any(c["n_kv_heads"] < c["n_heads"] for c in cases.values()), "grouped kv heads"
    assert any(len(c["lengths"]) > 1 and len(set(c["lengths"])) > 1 for c in cases.values()), "a padded batch"
    assert any(c["dtype"] == ["BF16"] for c in cases.values()), "a BF16 checkpoint"
    assert any(c["prefix"] for c in cases.values()) and any(not c["prefix"] for c in cases.values())
    window = json.loads((GOLDEN / "mistral_window" / "config.json").read_text())["sliding_window"]
    assert window < cases["mistral_window"]["lengths"][0]
    for name in cases:
        tokenizer = next((f for f in ("spm.model", "tokenizer.model") if (GOLDEN / name / f).is_file()),
                         "tokenizer.json")
        for needed in ("config.json", "model.safetensors", tokenizer, "expected.npz"):
            assert (GOLDEN / name / needed).is_file(), (name, needed)


@pytest.mark.parametrize("name", [c for c in TEXT_CASES if c not in SPM_CASES])
def test_golden_ids_are_what_tokenizers_gives(name):
    """The ids transformers' tokenizer gave at generation time = tokenizers' encode(text, add_special_tokens=True)
    with the installed tokenizers (what attncli uses for --text)."""
    from tokenizers import Tokenizer

    case, _ = load(name)
    tok = Tokenizer.from_file(str(GOLDEN / name / "tokenizer.json"))
    pairs = case.get("pairs") or [None] * len(case["texts"])
    assert [tok.encode(t, p, add_special_tokens=True).ids for t, p in zip(case["texts"], pairs, strict=True)] \
        == case["ids"]


# --------------------------------------------------------------------------------------------------------------
# attncli model against transformers
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [c for c in CASES if c not in PAIR_CASES])
def test_model_ids_match_transformers(name, tmp_path):
    case, expected = load(name)
    got = model_run(GOLDEN / name, ids_args(case), tmp_path)
    compare(name, case, expected, got)


@pytest.mark.parametrize("name", TEXT_CASES)
def test_model_text_matches_transformers(name, tmp_path):
    """--text: the tokenizer.json in the folder, special tokens added, gives transformers' ids and maps."""
    case, expected = load(name)
    got = model_run(GOLDEN / name, text_args(case), tmp_path)
    compare(name, case, expected, got)


# --------------------------------------------------------------------------------------------------------------
# broken checkpoints: exit 2, one `error:` line naming the problem, nothing written
# --------------------------------------------------------------------------------------------------------------


def broken_copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(GOLDEN / name, folder)
    return folder


def rewrite_tensors(folder: Path, edit) -> None:
    path = folder / "model.safetensors"
    with safe_open(str(path), "np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    edit(tensors)
    save_file(tensors, str(path), metadata=meta)


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg, indent=2))


def model_error(folder: Path, inputs: list[str], tmp_path: Path) -> str:
    out = tmp_path / "out.npz"
    err = run_error(["model", folder, *inputs, "--show", "attentions,hidden", "--format", "npz", "-o", out])
    assert not out.exists(), "a failed run wrote -o"
    return err


@pytest.mark.parametrize("name,tensor", [
    ("bert_batch", "bert.encoder.layer.1.attention.self.key.weight"),
    ("gpt2", "h.1.attn.c_attn.weight"),
    ("llama_gqa", "model.layers.1.self_attn.k_proj.weight"),
    ("bloom", "transformer.h.1.self_attention.query_key_value.weight"),
])
def test_missing_tensor(name, tensor, tmp_path):
    case, _ = load(name)
    folder = broken_copy(name, tmp_path)
    rewrite_tensors(folder, lambda t: t.pop(tensor))
    err = model_error(folder, ids_args(case), tmp_path)
    unprefixed = tensor.removeprefix(case["prefix"]).removesuffix(".weight")
    assert unprefixed in err, f"the error should name the missing tensor {tensor}: {err}"


@pytest.mark.parametrize("name,key", [("bert", "hidden_size"), ("llama_gqa", "hidden_size"), ("gpt2", "n_embd")])
def test_shapes_disagree_with_config(name, key, tmp_path):
    case, _ = load(name)
    folder = broken_copy(name, tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    edit_config(folder, **{key: cfg[key] + 8})
    err = model_error(folder, ids_args(case), tmp_path)
    assert key in err or "shape" in err.lower() or "config.json" in err, err


def test_unknown_model_type(tmp_path):
    case, _ = load("bert")
    folder = broken_copy("bert", tmp_path)
    edit_config(folder, model_type="frobnitz")
    err = model_error(folder, ids_args(case), tmp_path)
    assert "frobnitz" in err, err


def test_tokenizer_larger_than_embedding(tmp_path):
    """A consistent model (embedding rows = config vocab_size = 20) whose tokenizer.json has ~100 tokens, and
    whose text encodes to ids >= 20: refused, naming the vocabulary/tokenizer/embedding."""
    case, _ = load("bert")
    folder = broken_copy("bert", tmp_path)
    rows = 20
    assert max(case["ids"][0]) >= rows

    def truncate(t):
        t["embeddings.word_embeddings.weight"] = np.ascontiguousarray(t["embeddings.word_embeddings.weight"][:rows])

    rewrite_tensors(folder, truncate)
    edit_config(folder, vocab_size=rows)
    err = model_error(folder, text_args(case), tmp_path)
    assert any(w in err.lower() for w in ("vocab", "tokenizer", "embedding")), err
