"""The text path one way (issue 21): attncli.io reads the files, attncli.text parses strings and bytes, and
cli/text_input.py maps the options to sources.

attncli.text's functions are called here with strings and bytes (no file is named or opened); their errors name
parameters (`str(err)`: `tokens: ...`), and the command line says them as its options (`--tokens: ...`; for
`attncli model`, whose tokenizer is the checkpoint's tokenizer.json, as `tokenizer.json: ...`). Expected values
are hand-derived from the inputs written here.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.cli.params import message, speaking, spoken
from attncli.errors import AttnError, param
from attncli.text import embeddings as em
from attncli.text import labels as lb
from attncli.text import tokenize as tk

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "samples" / "tiny_gpt"


def error_of(call, *args) -> AttnError:
    with pytest.raises(AttnError) as caught:
        call(*args)
    return caught.value


# --------------------------------------------------------------------------------------------------------------
# attncli.text: strings and bytes in, values out
# --------------------------------------------------------------------------------------------------------------


def test_sequence_lines_from_bytes() -> None:
    data = "# a comment\n the cat \n\n猫 爱\n".encode("utf-8-sig")
    assert tk.sequence_lines(data, "sentences.txt", "tokens") == ["the cat", "猫 爱"]
    err = error_of(tk.sequence_lines, b"fine\n\xff\n", "s.txt", "tokens")
    assert str(err) == "tokens: 's.txt' is not UTF-8 text (line 2); save it as UTF-8"
    assert message(err) == "--tokens: 's.txt' is not UTF-8 text (line 2); save it as UTF-8"
    err = error_of(tk.sequence_lines, b"# only a comment\n\n", "-", "ids")
    assert (str(err), message(err)) == ("ids: '-' holds no sequences (one per line)",
                                        "--ids: '-' holds no sequences (one per line)")


def test_parse_ids() -> None:
    assert tk.parse_ids(["5 9,12", "0"]) == [[5, 9, 12], [0]]
    err = error_of(tk.parse_ids, ["1 2", "3 x"])
    assert str(err) == "ids line 2: ids must be integers; got '3 x'"


def test_a_tokenizer_from_the_bytes_of_a_tokenizer_json() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    hf = tokenizers.Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1, "cat": 2}, unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = tk.tokenizer_from_json(hf.to_str().encode("utf-8"), "my tokenizer")
    assert tok.name == "my tokenizer"
    assert tok("the cat dog") == (["the", "cat", "[UNK]"], [1, 2, 0])
    err = error_of(tk.tokenizer_from_json, b"{not json", "t.json")
    assert str(err).startswith("tokenizer: cannot read 't.json' as a tokenizer.json (")
    assert message(err).startswith("--tokenizer: cannot read 't.json' as a tokenizer.json (")
    err = error_of(tk.tokenizer_from_json, b"\xff\xfe{}", "t.json")
    assert str(err) == "tokenizer: 't.json' is not UTF-8 text, so not a tokenizer.json"


def test_the_builtin_tokenizers() -> None:
    assert tk.Tokenizer("whitespace")(" the  cat\tsat ") == (["the", "cat", "sat"], None)
    assert tk.Tokenizer("chars")("猫 爱吃") == (["猫", "爱", "吃"], None)


def test_the_embeddings_grammar() -> None:
    assert em.parse_source("onehot") == em.Source("onehot")
    assert em.parse_source("random:8") == em.Source("random", dim=8)
    assert em.parse_source("glove.txt") == em.Source("file", path="glove.txt")
    for bad in ("random:0", "random:-3", "random:x", "random:", "random:" + "9" * 19):
        err = error_of(em.parse_source, bad)
        assert str(err).startswith("embeddings=random:DIM needs a positive integer DIM; got '"), bad
        assert message(err).startswith("--embeddings random:DIM needs a positive integer DIM; got '"), bad


def test_word_vectors_from_bytes() -> None:
    data = b"2 3\ncat 1 0 0\nfish 0 1.5 0\n"  # a word2vec header, then two vectors
    table = em.read_word_vectors(data, "w2v.txt", {"fish"})
    assert table.index == {"fish": 0} and table.source == "w2v.txt"
    np.testing.assert_array_equal(table.vectors, [[0.0, 1.5, 0.0]])
    err = error_of(em.read_word_vectors, b"cat 1 0\nfish 1\n", "w.txt")
    assert str(err) == "embeddings: 'w.txt' line 2: token 'fish' has 1 numbers but earlier lines have 2; every " \
        "vector needs the same dimension"


def test_vocab_labels_and_table_sizes() -> None:
    assert em.parse_vocab(b"the\ncat\n\n\n", "v.txt") == ["the", "cat"]
    assert str(error_of(em.parse_vocab, b"\n\n", "v.txt")) == "vocab: 'v.txt' is empty (one token per line)"
    assert em.table_bytes(3, 5, 4) == (3 + 2 * 5) * 4 * 8  # the table and the tokens' vectors, padded copy too
    assert lb.parse_labels("I, love,fish") == ["I", "love", "fish"]
    assert lb.parse_labels("labels.txt", b"x\n\n y \n") == ["x", "y"]
    err = error_of(lb.parse_labels, "a,,b")
    assert message(err) == "--labels takes a file with one label per line or comma-separated labels like " \
        "\"I,love,fish\"; got 'a,,b'"


def test_oov_messages_name_the_parameter() -> None:
    table = em.Table(np.eye(2), {"a": 0, "b": 1}, "t")
    err = error_of(em.embed, [["a", "c"]], table)
    assert str(err).endswith("add them, or pass oov=zero|skip|unk:TOKEN")
    assert message(err).endswith("add them, or pass --oov zero|skip|unk:TOKEN")
    assert message(error_of(em.embed, [["a"]], table, "unk:z")) == \
        "--oov unk:z: 'z' is not in the vocabulary of t"


LIBRARY_TEXT = [*sorted((ROOT / "attncli" / "text").glob("*.py")), ROOT / "attncli" / "models" / "tokens.py"]


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


@pytest.mark.parametrize("path", LIBRARY_TEXT, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_text_library_names_no_option(path: Path) -> None:
    """No `--option` in attncli.text's (and models/tokens.py's) messages: they name parameters."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(
        n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr)}
    found = [f"{path.name}:{line}: {text!r}" for node in ast.walk(tree) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and id(node) not in docstrings
             for line, text in [(node.lineno, node.value)] if re.search(r"--[a-z]", text)]
    assert not found, found


@pytest.mark.parametrize("path", sorted((ROOT / "attncli" / "text").glob("*.py")), ids=lambda p: p.name)
def test_the_text_library_reads_no_file(path: Path) -> None:
    """attncli.text opens nothing and asks nothing of attncli.io's readers or its memory: the caller does."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"attncli.io.files", "attncli.io.memory", "attncli.io.limits", "attncli.io.readers"}
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "open" not in calls


# --------------------------------------------------------------------------------------------------------------
# the command line says the parameters as its options
# --------------------------------------------------------------------------------------------------------------


def test_speaking_names_parameters_as_the_command_says_until_the_error_is_printed() -> None:
    with pytest.raises(AttnError) as caught, speaking({"tokenizer": "tokenizer.json"}):
        raise AttnError(f"{param('tokenizer')}: broken; try {param('ids')}")
    assert message(caught.value) == "tokenizer.json: broken; try --ids"  # printed after the block, as main does
    assert message(AttnError(f"{param('tokenizer')}: broken")) == "--tokenizer: broken"
    assert spoken(f"{param('text')} 'the cat': 2 of 3 tokens") == "--text 'the cat': 2 of 3 tokens"


def test_a_broken_tokenizer_json_is_named_as_each_command_has_it(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    (folder / "tokenizer.json").write_text("{not json")
    err = run_error(["model", folder, "--text", "sand key"])
    assert err.startswith(f"error: tokenizer.json: cannot read '{folder / 'tokenizer.json'}' as a tokenizer.json ("), \
        err
    assert "--tokenizer" not in err  # `attncli model` has no such option
    err = run_error(["compute", "--text", "a", "--tokenizer", folder / "tokenizer.json", "--embeddings", "onehot"])
    assert err.startswith(f"error: --tokenizer: cannot read '{folder / 'tokenizer.json'}' as a tokenizer.json (")
    (folder / "tokenizer.json").write_bytes(b"\xff\xfe{}")
    assert run_error(["model", folder, "--text", "sand key"]) == \
        f"error: tokenizer.json: '{folder / 'tokenizer.json'}' is not UTF-8 text, so not a tokenizer.json\n"


def test_model_messages_still_name_its_options() -> None:
    assert run_error(["model", TINY, "--ids", " , "]) == "error: --ids is empty; give token ids like --ids \"1 2 3\"\n"
    assert run_error(["model", TINY, "--ids", "1 x"]) == \
        "error: --ids takes integers separated by spaces or commas; got '1 x'\n"
    pytest.importorskip("tokenizers")
    assert run_error(["model", TINY, "--tokens", "sand zzzz"]) == \
        "error: --tokens: 'zzzz' not in the tokenizer's vocabulary; use --text to let the tokenizer split words " \
        "into its tokens\n"
    assert run(["model", TINY, "--ids", "5 9 12", "--format", "json"]).returncode == 0
    # a warning (not an error) from models/tokens.py names the option too
    err = run(["model", ROOT / "tests" / "golden" / "models" / "gpt2", "--text", "the 猫 猫", "--format", "json"])
    assert err.stderr.decode().startswith("warning: --text 'the 猫 猫': the tokenizer has no token for 2 characters")
