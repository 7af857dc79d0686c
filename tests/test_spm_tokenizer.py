"""SentencePiece tokenizers (a model's spm.model or tokenizer.model, no tokenizer.json): ids as transformers'
tokenizer gives them.

The golden cases with one (tests/golden/models/deberta_*, llama_spm, made by generate.py) keep, in case.json's
tokenizer_checks, texts and the ids transformers 5.24's DebertaV2Tokenizer or LlamaTokenizer gave for them
(whitespace runs, tabs, uppercase under do_lower_case, punctuation under split_by_punct, characters only byte
fallback spells, special tokens typed in the text); attncli's tokenizer must give the same ids."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run, run_error

pytest.importorskip("sentencepiece")
pytest.importorskip("tokenizers")

from attncli.errors import AttnError  # noqa: E402
from attncli.models.checkpoint import open_checkpoint  # noqa: E402
from attncli.models.tokens import _tokenizer, encode_texts  # noqa: E402
from attncli.text.spm import piece_types  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "models"
SPM_CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file()
                   and not (p / "tokenizer.json").is_file())


def test_there_are_sentencepiece_cases():
    assert SPM_CASES == ["deberta_v2_absolute", "deberta_v3", "deberta_v3_pos_proj", "llama_spm"]
    assert (GOLDEN / "llama_spm" / "tokenizer.model").is_file()


@pytest.mark.parametrize("name", SPM_CASES)
def test_ids_equal_transformers_tokenizer(name):
    case = json.loads((GOLDEN / name / "case.json").read_text())
    checks = case["tokenizer_checks"] + [[t, ids] for t, ids in zip(case["texts"], case["ids"], strict=True)]
    ckpt = open_checkpoint(str(GOLDEN / name))
    for text, ids in checks:
        assert encode_texts(ckpt, [text]).ids == [ids], text


@pytest.mark.parametrize("name", ["deberta_v3", "llama_spm"])
def test_ids_equal_transformers_under_other_tokenizer_settings(name, tmp_path):
    """The same SentencePiece model under other tokenizer_config.json settings (case.json's tokenizer_variants:
    add_prefix_space false, legacy, add_bos_token / add_eos_token, a mask token the model lacks, another unknown
    token): the ids transformers gave."""
    variants = json.loads((GOLDEN / name / "case.json").read_text())["tokenizer_variants"]
    assert len(variants) == 4
    folder = copy_case(tmp_path, name)
    for settings, checks in variants:
        (folder / "tokenizer_config.json").write_text(json.dumps(settings))
        ckpt = open_checkpoint(str(folder))
        for text, ids in checks:
            assert encode_texts(ckpt, [text]).ids == [ids], (settings, text)


def test_the_settings_the_checks_cover():
    """do_lower_case and split_by_punct change the ids (so the checks above test them), and [MASK] is a
    user-defined piece of the model (an added token, matched in the raw text)."""
    plain = json.loads((GOLDEN / "deberta_v3" / "case.json").read_text())["tokenizer_checks"]
    lowered = json.loads((GOLDEN / "deberta_v3_pos_proj" / "case.json").read_text())["tokenizer_checks"]
    assert dict(map(tuple, [(t, tuple(i)) for t, i in plain])) != dict((t, tuple(i)) for t, i in lowered)
    types = piece_types((GOLDEN / "deberta_v3" / "spm.model").read_bytes())
    assert types[:6] == [3, 3, 3, 2, 4, 1]  # [PAD] [CLS] [SEP] control, [UNK] unknown, [MASK] user-defined
    mask_id = 4
    assert any(mask_id in ids for text, ids in plain if "[MASK]" in text)


def test_labels_show_the_word_starts(tmp_path):
    out = tmp_path / "out.json"
    run(["model", GOLDEN / "deberta_v3", "--text", "the cat sat", "--layers", "0", "--heads", "0",
         "--format", "json", "-o", out])
    meta = json.loads(out.read_text())["meta"]
    assert meta["tokens"][0] == "[CLS]" and meta["tokens"][-1] == "[SEP]"
    assert meta["labels"][1].startswith("␣") and meta["tokens"][1].startswith("▁")


@pytest.mark.parametrize("name", SPM_CASES)
def test_every_token_is_labelled_as_the_rebuilt_decoder_writes_it(name):
    """As tests/test_model_labels.py does for tokenizer.json: every id's label is what the Metaspace decoder
    writes for it (␣ for a word start), special and added tokens as they are."""
    folder = GOLDEN / name
    tok = _tokenizer(open_checkpoint(str(folder)), True)  # the tokenizers.Tokenizer attncli rebuilt
    added = {int(i) for i in tok.get_added_tokens_decoder()}
    ids = list(range(tok.get_vocab_size(with_added_tokens=True)))
    rows = [ids[k:k + 32] for k in range(0, len(ids), 32)]
    out = run(["model", folder, *(a for row in rows for a in ("--ids", " ".join(map(str, row)))), "--layers", "0",
               "--heads", "0", "--format", "json"])
    meta = json.loads(out.stdout)["meta"]
    tokens = [t for row in meta["tokens"] for t in row]
    labels = [t for row in meta["labels"] for t in row]
    assert tokens == [tok.id_to_token(i) for i in ids]
    for i, token, label in zip(ids, tokens, labels, strict=True):
        if i in added:
            assert label == token
        elif not token.startswith("<0x"):  # byte pieces: tests/test_model_labels.py's rule for Llama's bytes
            shown = label.replace("␣", " ").replace("⏎", "\n").replace("⇥", "\t").replace("␍", "\r")
            assert shown == tok.decoder.decode(["a", token])[1:], (i, token, label)
    assert sum(label.startswith("␣") for label in labels) > 5


def copy_case(tmp_path: Path, name: str = "deberta_v3") -> Path:
    folder = tmp_path / name
    shutil.copytree(GOLDEN / name, folder)
    return folder


def test_a_class_attncli_does_not_rebuild_is_refused_by_name(tmp_path):
    folder = copy_case(tmp_path)
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    err = run_error(["model", folder, "--text", "the cat"])
    assert "T5Tokenizer" in err and "DebertaV2Tokenizer, LlamaTokenizer" in err and "--ids" in err
    run(["model", folder, "--ids", "1 6 7 2"])  # ids need no tokenizer


def test_a_damaged_model_file_is_one_line(tmp_path):
    folder = copy_case(tmp_path)
    (folder / "spm.model").write_bytes(b"\x0a\xff\xff\xff garbage")
    err = run_error(["model", folder, "--text", "the cat"])
    assert "spm.model" in err and "SentencePiece" in err


def test_an_added_token_with_an_id_the_model_does_not_give_is_refused(tmp_path):
    folder = copy_case(tmp_path)
    (folder / "added_tokens.json").write_text(json.dumps({"[NEW]": 500}))
    with pytest.raises(AttnError, match=r"'\[NEW\]' with id 500"):
        encode_texts(open_checkpoint(str(folder)), ["the cat"])
    (folder / "added_tokens.json").write_text(json.dumps({"[MASK]": 4}))  # already there with that id: fine
    assert encode_texts(open_checkpoint(str(folder)), ["the [MASK]"]).ids[0][-2] == 4


def test_missing_sentencepiece_extra_is_named(tmp_path):
    code = ("import sys; sys.modules['sentencepiece'] = None; from attncli.cli import main; "
            f"main(['model', {str(GOLDEN / 'deberta_v3')!r}, '--text', 'the cat'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2 and "attncli[sentencepiece]" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
