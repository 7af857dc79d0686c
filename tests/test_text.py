"""Text in: tokenizers, every embedding source, labels, batches of sentences, OOV and malformed files.

Expected values are hand-computed from the sample embeddings (猫 = (7, 7, 6), 鱼 = (6, 4, 5): 猫·鱼 = 100)
or come from running each sentence alone (a batch must change nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

ROOT = Path(__file__).resolve().parent.parent
EMB = ROOT / "samples" / "text" / "embeddings.txt"
SENTENCES = ROOT / "samples" / "text" / "sentences.txt"


def doc(args) -> dict:
    return json.loads(run([*args, "--format", "json"]).stdout)


def test_lecture_example_cat_fish_is_100():
    d = doc(["compute", "--text", "猫爱吃鱼", "--tokenizer", "chars", "--embeddings", EMB, "--score", "dot",
             "--show", "scores"])
    assert d["meta"]["tokens"] == ["猫", "爱", "吃", "鱼"]
    assert d["scores"][0][3] == 100.0 and d["scores"][3][0] == 100.0
    table = run(["compute", "--text", "猫爱吃鱼", "--tokenizer", "chars", "--embeddings", EMB, "--score", "dot",
                 "--show", "scores", "--precision", "0"]).stdout.decode()
    row = next(line for line in table.splitlines() if line.startswith("│ 猫"))
    assert row.split("│")[-2].strip() == "100"  # the 鱼 column of the 猫 row


def test_chars_tokenizer_drops_whitespace():
    d = doc(["compute", "--text", "猫 爱\t吃鱼", "--tokenizer", "chars", "--embeddings", EMB, "--show", "weights"])
    assert d["meta"]["tokens"] == ["猫", "爱", "吃", "鱼"]


def test_batch_equals_each_sentence_alone():
    batch = doc(["compute", "--tokens", SENTENCES, "--embeddings", EMB, "--show", "weights,output"])
    lines = SENTENCES.read_text().splitlines()
    assert batch["meta"]["tokens"] == [line.split() for line in lines]
    for b, line in enumerate(lines):
        alone = doc(["compute", "--text", line, "--embeddings", EMB, "--show", "weights,output"])
        n = len(line.split())
        w, o = np.array(batch["weights"][b]), np.array(batch["output"][b])
        np.testing.assert_allclose(w[:n, :n], alone["weights"], atol=1e-12)
        np.testing.assert_allclose(o[:n], alone["output"], atol=1e-12)
        assert np.all(w[n:] == 0) and np.all(w[:, n:] == 0) and np.all(o[n:] == 0)


def test_repeated_tokens_are_disambiguated_in_tables():
    out = run(["compute", "--text", "the cat sat on the mat", "--embeddings", EMB]).stdout.decode()
    assert "the#1" in out and "the#2" in out and "mat" in out


def test_word2vec_header_and_vocab_matrix_and_onehot_and_random(tmp_path):
    (tmp_path / "w2v.txt").write_text("2 3\ncat 1 0 0\nfish 0 1 0\n", encoding="utf-8")
    d = doc(["compute", "--text", "cat fish", "--embeddings", tmp_path / "w2v.txt", "--score", "dot",
             "--show", "scores"])
    assert d["scores"] == [[1.0, 0.0], [0.0, 1.0]]
    (tmp_path / "vocab.txt").write_text("<unk>\ncat\nfish\n", encoding="utf-8")
    np.save(tmp_path / "emb.npy", np.array([[0, 0], [1, 2], [3, 4]], dtype=np.float32))
    d = doc(["compute", "--text", "fish cat", "--vocab", tmp_path / "vocab.txt", "--embeddings",
             tmp_path / "emb.npy", "--score", "dot", "--show", "scores"])
    assert d["scores"] == [[25.0, 11.0], [11.0, 5.0]]  # (3,4)·(3,4), (3,4)·(1,2), (1,2)·(1,2)
    d = doc(["compute", "--text", "b a b", "--embeddings", "onehot", "--score", "dot", "--show", "scores"])
    assert d["scores"] == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]  # one-hot: only identical tokens match
    r1 = doc(["embed", "--text", "a b a", "--embeddings", "random:5", "--seed", "3"])["x"]
    r2 = doc(["embed", "--text", "b a", "--embeddings", "random:5", "--seed", "3"])["x"]
    r3 = doc(["embed", "--text", "a", "--embeddings", "random:5", "--seed", "4"])["x"]
    assert r1[0] == r1[2] == r2[1] and r1[1] == r2[0] and r3[0] != r1[0] and len(r1[0]) == 5


def test_ids_with_a_model_embedding_table(tmp_path):
    (tmp_path / "ids.txt").write_text("2 0\n1\n")
    np.save(tmp_path / "emb.npy", np.array([[1.0, 0], [0, 1], [1, 1]]))
    d = doc(["compute", "--ids", tmp_path / "ids.txt", "--embeddings", tmp_path / "emb.npy", "--score", "dot",
             "--show", "scores"])
    assert d["scores"][0][:2] == [[2.0, 1.0], [1.0, 1.0]] and d["meta"]["tokens"] == [["2", "0"], ["1"]]
    err = run_error(["compute", "--ids", tmp_path / "ids.txt", "--embeddings", "samples/none.npy"], cwd=tmp_path)
    assert "--embeddings" in err
    (tmp_path / "bad.txt").write_text("7\n")
    assert "id 7" in run_error(["compute", "--ids", tmp_path / "bad.txt", "--embeddings", tmp_path / "emb.npy"])


def test_oov_policies(tmp_path):
    err = run_error(["compute", "--text", "the dog and the cow", "--embeddings", EMB])
    assert "'and'" in err and "'cow'" in err and "'dog'" in err and "--oov" in err
    d = doc(["compute", "--text", "the dog", "--embeddings", EMB, "--oov", "zero", "--score", "dot",
             "--show", "scores"])
    assert d["scores"][1] == [0.0, 0.0]
    d = doc(["compute", "--text", "the dog sat", "--embeddings", EMB, "--oov", "skip", "--show", "weights"])
    assert d["meta"]["tokens"] == ["the", "sat"]
    d = doc(["embed", "--text", "dog", "--embeddings", EMB, "--oov", "unk:<unk>"])
    assert d["x"] == [[0.0, 0.0, 0.0]]
    assert "--oov" in run_error(["compute", "--text", "dog", "--embeddings", EMB, "--oov", "maybe"])


@pytest.mark.parametrize("content,needle", [
    (b"cat 1 2 3\nfish 1 2\n", "line 2"),
    (b"cat 1 2 3\nfish 1 x 3\n", "line 2"),
    (b"cat 1 2 3\n\xff\xfe 1 2 3\n", "line 2"),
    (b"cat\n", "line 1"),
    (b"", "no vectors"),
])
def test_malformed_embedding_files(tmp_path, content, needle):
    (tmp_path / "e.txt").write_bytes(content)
    err = run_error(["compute", "--text", "cat", "--embeddings", tmp_path / "e.txt"])
    assert needle in err


def test_labels_for_matrix_inputs(tmp_path):
    out = run(["compute", "--x", "1 0; 0 1; 1 1", "--labels", "I,love,fish"]).stdout.decode()
    assert "love" in out and "fish" in out
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    d = doc(["compute", "--x", "1 0; 0 1; 1 1", "--labels", tmp_path / "labels.txt"])
    assert d["meta"]["labels"] == ["a", "b", "c"]


def test_tokens_in_every_export(tmp_path):
    run(["compute", "--text", "the cat", "--embeddings", EMB, "-o", tmp_path / "r.safetensors"])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "r.safetensors"), framework="numpy") as f:
        assert json.loads(f.metadata()["tokens"]) == ["the", "cat"]
    run(["embed", "--tokens", SENTENCES, "--embeddings", EMB, "-o", tmp_path / "x.npz"])
    with np.load(tmp_path / "x.npz") as z:
        assert z["x"].shape == (3, 6, 3) and list(z["lens"]) == [6, 5, 3]
        assert list(z["tokens"][2]) == ["the", "fish", "sat", "", "", ""]
    d = doc(["embed", "--text", "猫爱", "--tokenizer", "chars", "--embeddings", EMB])
    assert d["x"] == [[7.0, 7.0, 6.0], [1.0, 2.0, 1.0]] and d["meta"]["tokens"] == ["猫", "爱"]


def test_text_errors(tmp_path):
    assert "--embeddings" in run_error(["compute", "--text", "a b"])
    assert "--x" in run_error(["compute", "--text", "a b", "--x", "1 0", "--embeddings", "onehot"])
    assert "--tokens" in run_error(["compute", "--tokens", tmp_path / "none.txt", "--embeddings", "onehot"])
    assert "tokenizer" in run_error(["compute", "--text", "a", "--tokenizer", "nope", "--embeddings", "onehot"])
    assert "random:DIM" in run_error(["compute", "--text", "a", "--embeddings", "random:x"])
    assert "--key-lens" in run_error(["compute", "--tokens", SENTENCES, "--embeddings", EMB, "--key-lens", "1,2,3"])


def test_tokenizer_json(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3}
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    np.save(tmp_path / "emb.npy", np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64))
    d = doc(["compute", "--text", "the cat sat", "--tokenizer", tmp_path / "tokenizer.json",
             "--embeddings", tmp_path / "emb.npy", "--score", "dot", "--show", "scores"])
    assert d["meta"]["tokens"] == ["the", "cat", "sat"]
    assert d["scores"] == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0]]
    (tmp_path / "broken.json").write_text("{not json")
    assert "--tokenizer" in run_error(["compute", "--text", "a", "--tokenizer", tmp_path / "broken.json",
                                       "--embeddings", "onehot"])


def test_missing_tokenizers_extra_is_named(tmp_path):
    import subprocess
    import sys

    (tmp_path / "tokenizer.json").write_text("{}")
    code = ("import sys; sys.modules['tokenizers'] = None; from attncli.cli import main; "
            f"main(['compute', '--text', 'a', '--tokenizer', {str(tmp_path / 'tokenizer.json')!r}, "
            "'--embeddings', 'onehot'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2 and "attncli[text]" in proc.stderr and "Traceback" not in proc.stderr


def test_nan_in_an_embedding_row_names_the_token_and_the_table(tmp_path):
    np.save(tmp_path / "emb.npy", np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0]]))
    (tmp_path / "vocab.txt").write_text("a\nb\nc\n")
    common = ["--vocab", tmp_path / "vocab.txt", "--embeddings", tmp_path / "emb.npy"]
    err = run_error(["compute", "--text", "a b c", *common])
    assert "token 'b' (position 1) holds nan" in err and "emb.npy" in err and "--allow-nonfinite" in err
    # rows that are not looked up do not matter
    out = json.loads(run(["compute", "--text", "a c", *common, "--show", "output", "--format", "json"]).stdout)
    assert np.isfinite(np.array(out["output"])).all()
