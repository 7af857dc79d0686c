"""A tokenizer.json's own padding and truncation settings are not applied (issue 22): sentence-transformers
checkpoints ship `"padding": {"strategy": {"Fixed": 24}, ...}` and `"truncation": {"max_length": 16, ...}`, and
transformers' tokenizer call pads and truncates only when asked (padding=, truncation=), so `--text` must give the
ids of the same tokenizer.json without those blocks. Expected values: the unmodified tokenizer's ids (through
the `tokenizers` library directly) and the golden maps transformers computed for the unmodified files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from test_models_golden import GOLDEN, compare, load, model_run, text_args

tokenizers = pytest.importorskip("tokenizers")

PADDING = {"strategy": {"Fixed": 24}, "direction": "Right", "pad_to_multiple_of": None, "pad_id": 0,
           "pad_type_id": 0, "pad_token": "[PAD]"}
MULTIPLE = {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": 32, "pad_id": 0,
            "pad_type_id": 0, "pad_token": "[PAD]"}  # pads even one text, on the left
TRUNCATION = {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0}
SETTINGS = {"fixed padding": {"padding": PADDING},
            "padding to a multiple": {"padding": MULTIPLE},
            "truncation": {"truncation": TRUNCATION},
            "both": {"padding": PADDING, "truncation": TRUNCATION}}


def with_settings(case: str, tmp_path: Path, settings: dict) -> Path:
    """A copy of a golden checkpoint whose tokenizer.json carries `settings` (padding / truncation blocks)."""
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    tok = json.loads((folder / "tokenizer.json").read_text())
    tok.update(settings)
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    return folder


def plain_ids(case: str, text: str, special: bool = True) -> list[int]:
    """The unmodified tokenizer.json's ids, through the library itself."""
    tok = tokenizers.Tokenizer.from_file(str(GOLDEN / case / "tokenizer.json"))
    return tok.encode(text, add_special_tokens=special).ids


def test_the_settings_change_what_the_library_gives() -> None:
    """The construction works: the library applies both blocks when they are in the file."""
    case, text = "bert", load("bert")[0]["texts"][0]
    tok = json.loads((GOLDEN / case / "tokenizer.json").read_text())
    tok.update(SETTINGS["fixed padding"])
    padded = tokenizers.Tokenizer.from_str(json.dumps(tok)).encode(text).ids
    assert len(padded) == 24 and padded[18:] == [0] * 6 and padded[:18] == plain_ids(case, text)
    tok.update(padding=None, **SETTINGS["truncation"])
    assert len(tokenizers.Tokenizer.from_str(json.dumps(tok)).encode(text).ids) == 8


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("case", ["bert", "gpt2"])  # WordPiece with [CLS]/[SEP], byte-level BPE
def test_model_text_ignores_the_tokenizers_padding_and_truncation(case: str, setting: str, tmp_path: Path) -> None:
    folder = with_settings(case, tmp_path, SETTINGS[setting])
    golden, expected = load(case)
    got = model_run(folder, text_args(golden), tmp_path)
    assert got["ids"].reshape(-1).tolist() == plain_ids(case, golden["texts"][0]) == golden["ids"][0]
    compare(case, golden, expected, got)


def test_a_batch_of_texts_keeps_each_texts_own_length(tmp_path: Path) -> None:
    folder = with_settings("bert", tmp_path, SETTINGS["both"])
    texts = ["the cat sat on the mat and the dog sat on the log", "the cat"]
    out = tmp_path / "b.npz"
    run(["model", folder, *[a for t in texts for a in ("--text", t)], "--format", "npz", "-o", out])
    with np.load(out) as z:
        ids = z["ids"]
    want = [plain_ids("bert", t) for t in texts]
    assert ids.shape == (2, max(map(len, want)))
    for row, w in zip(ids, want, strict=True):
        assert row[:len(w)].tolist() == w


def test_a_text_longer_than_the_models_positions_is_still_refused(tmp_path: Path) -> None:
    """Truncation in the file does not cut a long text to fit: it is refused as before (bert: 40 positions)."""
    folder = with_settings("bert", tmp_path, {"truncation": dict(TRUNCATION, max_length=16)})
    text = "the cat sat on the mat " * 8
    assert len(plain_ids("bert", text)) > 40
    err = run_error(["model", folder, "--text", text, "--show", "attentions", "--format", "npz",
                     "-o", tmp_path / "o.npz"])
    assert "40" in err
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_compute_tokenizer_ignores_the_tokenizers_padding_and_truncation(setting: str, tmp_path: Path) -> None:
    folder = with_settings("bert", tmp_path, SETTINGS[setting])
    text = "the cat sat on the mat, sitting still."
    tok = tokenizers.Tokenizer.from_file(str(GOLDEN / "bert" / "tokenizer.json"))
    want = tok.encode(text, add_special_tokens=False).tokens
    assert len(want) > 8
    got = json.loads(run(["compute", "--text", text, "--tokenizer", folder / "tokenizer.json", "--embeddings",
                          "onehot", "--show", "weights", "--format", "json"]).stdout)
    assert got["meta"]["tokens"] == want
