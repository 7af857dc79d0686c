"""`attncli model`'s token labels, its warnings about text the tokenizer cannot read, and masked cells in its
tables (issue 20).

Labels: every token of every golden tokenizer (tests/golden/models) is compared with what the `tokenizers`
library's own decoder makes of it (the independent source): the label, read back (␣ a space, ⏎ a newline,
<0xNN> a byte), is the text the decoder writes for that token after another token (so that a SentencePiece
decoder keeps the token's leading space, which it drops at the very start of a text); WordPiece tokens are what
the decoder gives for the token alone (`##ing` stays). Byte-level pieces of one character (猫 is 3 bytes) and
Llama 2's byte-fallback tokens get hand-derived expectations on tokenizers built here.

Warnings: the counts are the tokenizers library's own (unknown ids among the ids it gives), the threshold the
README's (more than half of the tokens the text made). Masks: a decoder's query i sees keys j ≤ i (Mistral's
window of 4: i − 4 < j ≤ i); an encoder sees every key; the expectation is that closed form, not the weights.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run
from safetensors import safe_open
from safetensors.numpy import save_file

tokenizers = pytest.importorskip("tokenizers", reason="the labels are checked against the tokenizers library")
from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "models"
TINY = ROOT / "samples" / "tiny_gpt"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())


def _one_per_tokenizer() -> list[str]:
    seen: dict[str, str] = {}
    for name in CASES:
        if not (GOLDEN / name / "tokenizer.json").is_file():  # a SentencePiece model: tests/test_spm_tokenizer.py
            continue
        seen.setdefault(hashlib.sha256((GOLDEN / name / "tokenizer.json").read_bytes()).hexdigest(), name)
    return sorted(seen.values())


TOKENIZER_CASES = _one_per_tokenizer()


def model_json(folder: Path, *args: str) -> tuple[dict, str]:
    """(the JSON document, stderr) of one run that keeps layer 0, head 0."""
    proc = run(["model", folder, *args, "--layers", "0", "--heads", "0", "--format", "json"])
    return json.loads(proc.stdout), proc.stderr.decode()


def unshow(label: str) -> str:
    """A label read back as text: ␣ ⏎ ⇥ ␍ are the characters they show; a run of <0xNN> bytes is decoded as the
    library decodes bytes (invalid sequences become U+FFFD, maximal subparts, as Rust's from_utf8_lossy)."""
    text = label.replace("␣", " ").replace("⏎", "\n").replace("⇥", "\t").replace("␍", "\r")
    return re.sub(r"(?:<0x[0-9A-F]{2}>)+",
                  lambda m: bytes(int(h, 16) for h in re.findall(r"<0x([0-9A-F]{2})>", m.group())).decode(
                      "utf-8", "replace"), text)


def library_text(tok: Tokenizer, token: str) -> str:
    """What the tokenizer's decoder writes for `token`: after a token "a" (so its leading space is kept), or
    alone for WordPiece (whose decoder marks a word start with a space before it and drops ## after the first)."""
    if isinstance(tok.decoder, decoders.WordPiece):
        return tok.decoder.decode([token])
    before = tok.decoder.decode(["a"])
    both = tok.decoder.decode(["a", token])
    assert both.startswith(before), (before, both)
    return both[len(before):]


@pytest.mark.parametrize("name", TOKENIZER_CASES)
def test_every_token_of_every_golden_tokenizer_is_labelled_as_its_decoder_writes_it(name):
    folder = GOLDEN / name
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    added = {int(i) for i in tok.get_added_tokens_decoder()}
    vocab = tok.get_vocab_size(with_added_tokens=True)
    limit = min(32, json.loads((folder / "config.json").read_text()).get("max_position_embeddings") or 32)
    ids = list(range(vocab))
    rows = [ids[k:k + limit] for k in range(0, vocab, limit)]
    doc, err = model_json(folder, *(a for row in rows for a in ("--ids", " ".join(map(str, row)))))
    meta = doc["meta"]
    got_tokens = [t for row in meta["tokens"] for t in row] if len(rows) > 1 else meta["tokens"]
    got_labels = [t for row in meta["labels"] for t in row] if len(rows) > 1 else meta["labels"]
    assert got_tokens == [tok.id_to_token(i) for i in ids]  # raw tokens stay in meta.tokens
    marked = 0
    for i, token, label in zip(ids, got_tokens, got_labels, strict=True):
        if i in added:
            assert label == token, f"{name}: special/added token {token!r} shown as {label!r}"
            continue
        assert unshow(label) == library_text(tok, token), f"{name}: token {i} {token!r} labelled {label!r}"
        assert "Ġ" not in label and "▁" not in label and "Ċ" not in label, f"{name}: {label!r} keeps a raw marker"
        marked += label.startswith("␣") or label.startswith("##")
    assert marked > 0, f"{name}: no token starts a word or continues one"
    assert err == ""  # ids given: no warning


def test_word_starts_and_continuations_in_each_family():
    """The same convention in every family: ␣ where the token starts a word (GPT-2 `Ġcat`, Llama `▁cat`),
    BERT's continuations keep ##."""
    doc, _ = model_json(GOLDEN / "gpt2", "--text", "the cat sat")
    assert doc["meta"]["tokens"] == ["the", "Ġcat", "Ġsat"] and doc["meta"]["labels"] == ["the", "␣cat", "␣sat"]
    doc, _ = model_json(GOLDEN / "llama_gqa", "--text", "the cat sat")
    assert doc["meta"]["tokens"] == ["<s>", "▁the", "▁cat", "▁sat"]
    assert doc["meta"]["labels"] == ["<s>", "␣the", "␣cat", "␣sat"]
    doc, _ = model_json(GOLDEN / "bert", "--text", "sitting still")
    assert doc["meta"]["labels"] == doc["meta"]["tokens"] and "##ing" in doc["meta"]["labels"]
    doc, _ = model_json(GOLDEN / "gpt2", "--tokens", "the Ġcat")  # tokens given in the vocabulary's spelling
    assert doc["meta"]["labels"] == ["the", "␣cat"]


# --------------------------------------------------------------------------------------------------------------
# tokenizers built here: every byte in the vocabulary (GPT-2's byte-level, Llama 2's byte fallback)
# --------------------------------------------------------------------------------------------------------------


def gpt2_bytes_to_unicode() -> dict[int, str]:
    """Written out here from GPT-2's encoder.py (as transformers has it): the test's own copy."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def with_tokenizer(base: str, tok: Tokenizer, tmp_path: Path) -> Path:
    """A copy of golden checkpoint `base` with `tok` as its tokenizer.json and the embedding (and any other
    vocabulary-sized tensor) grown to the tokenizer's size with random rows."""
    folder = tmp_path / f"{base}_bytes"
    shutil.copytree(GOLDEN / base, folder)
    tok.save(str(folder / "tokenizer.json"))
    cfg = json.loads((folder / "config.json").read_text())
    old, new = cfg["vocab_size"], tok.get_vocab_size(with_added_tokens=True)
    path = folder / "model.safetensors"
    with safe_open(str(path), "np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    rng = np.random.default_rng(0)
    for k, t in tensors.items():
        if t.ndim >= 1 and t.shape[0] == old:
            extra = rng.normal(size=(new - old, *t.shape[1:])).astype(t.dtype)
            tensors[k] = np.concatenate([t, extra])
    save_file(tensors, str(path), metadata=meta)
    cfg["vocab_size"] = new
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def byte_level_tokenizer() -> Tokenizer:
    """GPT-2 style: every byte a token, and merges that make `Ġcat` and the first two bytes of 猫 (E7 8C)."""
    table = gpt2_bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    merges = [("Ġ", "c"), ("Ġc", "a"), ("Ġca", "t"), (table[0xE7], table[0x8C])]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return tok


def test_byte_level_newlines_and_pieces_of_a_character(tmp_path):
    folder = with_tokenizer("gpt2", byte_level_tokenizer(), tmp_path)
    doc, err = model_json(folder, "--text", "a cat\n猫\tb")
    # hand-derived: a | Ġcat | Ċ | çĮ (E7 8C) | « (AB) | ĉ (tab) | b
    assert doc["meta"]["tokens"] == ["a", "Ġcat", "Ċ", "çĮ", "«", "ĉ", "b"]
    assert doc["meta"]["labels"] == ["a", "␣cat", "⏎", "<0xE7><0x8C>", "<0xAB>", "⇥", "b"]
    assert err == ""
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for token, label in zip(doc["meta"]["tokens"], doc["meta"]["labels"], strict=True):
        assert unshow(label) == library_text(tok, token)  # the decoder prints � for each piece of 猫
    table = run(["model", folder, "--text", "a cat\n猫\tb", "--layers", "0", "--heads", "0"]).stdout.decode()
    header = table.splitlines()[2]
    assert all(s in header for s in ("␣cat", "⏎", "<0xE7><0x8C>", "<0xAB>", "⇥")), header


def llama2_tokenizer() -> Tokenizer:
    """Llama 2 / Mistral style: SentencePiece BPE with byte fallback (<0x00> … <0xFF> in the vocabulary) and
    the decoder Sequence[Replace ▁ → space, ByteFallback, Fuse, Strip one leading space]."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    merges = [("▁", "t"), ("▁t", "h"), ("▁th", "e")]
    for ch in ("▁", "t", "h", "e"):
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    return tok


def test_llama2_byte_fallback_tokens(tmp_path):
    folder = with_tokenizer("llama_gqa", llama2_tokenizer(), tmp_path)
    doc, err = model_json(folder, "--text", "the 猫\nA")
    # hand-derived: ▁the | ▁ | 猫 as its 3 bytes | \n as a byte | A as a byte (not in the vocabulary)
    assert doc["meta"]["tokens"] == ["▁the", "▁", "<0xE7>", "<0x8C>", "<0xAB>", "<0x0A>", "<0x41>"]
    assert doc["meta"]["labels"] == ["␣the", "␣", "<0xE7>", "<0x8C>", "<0xAB>", "⏎", "A"]
    assert err == ""  # bytes are tokens the model knows: no warning
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    for token, label in zip(doc["meta"]["tokens"], doc["meta"]["labels"], strict=True):
        assert unshow(label) == library_text(tok, token)


@pytest.mark.parametrize("decoder,tokens,raw", [
    # a Strip before the Fuse strips each token; after it, the whole text (no change to one token's label)
    (decoders.Sequence([decoders.Replace("▁", " "), decoders.Strip(" ", 1, 0), decoders.Fuse()]),
     ["▁the", "▁▁x", "y▁"], False),
    (decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)]),
     ["▁the", "▁▁x", "y▁"], False),
    (decoders.Strip("x", 2, 1), ["xxax", "xa", "a"], False),
    (decoders.ByteLevel(), ["Ġ猫", "ĠĠ", "ĊĊ", "Ā", "č"], False),  # a character outside the table: as it is
    (decoders.Metaspace(replacement="▁", prepend_scheme="always"), ["▁a▁b", "▁"], False),
    # decoders attncli does not read: the tokens as they are
    (decoders.BPEDecoder(suffix="</w>"), ["the</w>", "ca"], True),
    (decoders.CTC(), ["<pad>", "a"], True),
    (decoders.Replace(tokenizers.Regex("▁+"), " "), ["▁the"], True),
    (decoders.Sequence([decoders.Sequence([decoders.ByteLevel()])]), ["Ġthe"], True),
])
def test_decoder_steps_follow_the_library(decoder, tokens, raw):
    from attncli.models.labels import decoder_steps, readable

    tok = Tokenizer(models.BPE())
    tok.decoder = decoder
    steps = decoder_steps(json.loads(decoder.__getstate__()))
    assert (steps is None) == raw
    for token in tokens:
        label = readable(token, steps)
        assert label == token if raw else unshow(label) == library_text(tok, token), (token, label)


# --------------------------------------------------------------------------------------------------------------
# warnings: text the tokenizer cannot read
# --------------------------------------------------------------------------------------------------------------


def unknown_count(folder: Path, text: str) -> tuple[int, int]:
    """(unknown tokens, tokens the text made) as the tokenizers library counts them."""
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    enc = tok.encode(text, add_special_tokens=False)
    unk = tok.token_to_id(tok.model.unk_token)
    return sum(i == unk for i in enc.ids), len(enc.ids)


def test_mostly_unknown_text_warns_and_changes_no_output():
    assert unknown_count(TINY, "hello world") == (2, 2)
    text = run(["model", TINY, "--text", "hello world", "--format", "json"])
    ids = run(["model", TINY, "--ids", "0 0", "--format", "json"])  # the same ids, given directly
    assert text.returncode == 0 and text.stdout == ids.stdout and ids.stderr == b""
    err = text.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("warning: "), err
    assert "2 of 2 tokens" in err and "<unk>" in err and "'hello'" in err and "'world'" in err, err
    assert "Traceback" not in err
    npz = run(["model", TINY, "--text", "hello world", "--format", "npz"])  # binary output unchanged too
    assert npz.stdout == run(["model", TINY, "--ids", "0 0", "--format", "npz"]).stdout and npz.stderr == text.stderr


@pytest.mark.parametrize("folder,text,warns", [
    (TINY, "hello sand", False),  # 1 of 2: not most
    (TINY, "hello world sand", True),  # 2 of 3
    (GOLDEN / "bert", "0 1 the", True),  # digits: [UNK] [UNK] the; [CLS] and [SEP] are not counted
    (GOLDEN / "bert", "0 the cat", False),
    (GOLDEN / "llama_gqa", "ZQX", True),  # characters the Llama-style vocabulary lacks: <unk> each
])
def test_the_threshold_is_more_than_half_of_the_texts_tokens(folder, text, warns):
    unknown, made = unknown_count(folder, text)
    assert (2 * unknown > made) == warns  # the case is what it says, by the library's count
    err = run(["model", folder, "--text", text, "--format", "json"]).stderr.decode()
    assert ("warning: " in err) == warns, err
    if warns:
        assert f"{unknown} of {made} tokens" in err, err


def test_in_a_batch_only_the_unreadable_text_is_named():
    err = run(["model", TINY, "--text", "sand key drum", "--text", "hello world", "--format", "json"]).stderr.decode()
    assert err.count("warning: ") == 1 and "'hello world'" in err and "sand key" not in err, err


def test_characters_a_tokenizer_without_an_unknown_token_leaves_out_are_named():
    """The golden GPT-2 tokenizer knows only its corpus's bytes and has no unknown token: 猫 vanishes."""
    tok = Tokenizer.from_file(str(GOLDEN / "gpt2" / "tokenizer.json"))
    assert tok.model.unk_token is None and tok.encode("the 猫").tokens == ["the", "Ġ"]  # the library drops it
    proc = run(["model", GOLDEN / "gpt2", "--text", "the 猫 猫", "--format", "json"])
    err = proc.stderr.decode()
    assert proc.returncode == 0 and err.count("\n") == 1 and err.startswith("warning: "), err
    assert "2 characters ('猫')" in err and "left out" in err, err
    assert run(["model", GOLDEN / "gpt2", "--text", "the cat sat", "--format", "json"]).stderr == b""
    # a tokenizer with an unknown token whose normalizer drops a character on purpose (BERT's: U+FFFD): no warning
    assert Tokenizer.from_file(str(GOLDEN / "bert" / "tokenizer.json")).encode("the \ufffd cat").tokens == [
        "[CLS]", "the", "cat", "[SEP]"]
    assert run(["model", GOLDEN / "bert", "--text", "the \ufffd cat", "--format", "json"]).stderr == b""


# --------------------------------------------------------------------------------------------------------------
# masked cells in tables: from the model's mask, not from the value
# --------------------------------------------------------------------------------------------------------------


def table_cells(out: str) -> list[list[list[str]]]:
    """Each table's body rows as lists of cells (the row label dropped)."""
    tables, rows = [], None
    for line in out.splitlines():
        if line.startswith("┡"):
            rows = []
        elif line.startswith("└") and rows is not None:
            tables.append(rows)
            rows = None
        elif rows is not None and line.startswith("│"):
            rows.append([c.strip() for c in line.strip("│").split("│")][1:])
    return tables


@pytest.mark.parametrize("name,ids,seen", [
    ("gpt2", "1 2 3 4 5 6", lambda i, j: j <= i),
    ("llama_gqa", "1 5 9 13 17 21 25", lambda i, j: j <= i),
    ("mistral_window", " ".join(map(str, range(3, 13))), lambda i, j: i - 4 < j <= i),
    ("bert", "2 9 10 11 3", lambda i, j: True),
])
def test_masked_cells_print_as_a_dot_and_allowed_cells_as_numbers(name, ids, seen):
    out = run(["model", GOLDEN / name, "--ids", ids, "--precision", "1"]).stdout.decode()
    tables = table_cells(out)
    n = len(ids.split())
    assert tables and all(len(t) == n for t in tables)
    zeros = 0
    for t in tables:
        for i, row in enumerate(t):
            assert len(row) == n
            for j, cell in enumerate(row):
                if seen(i, j):
                    assert re.fullmatch(r"\d\.\d", cell), f"{name}: query {i} key {j} is allowed, printed {cell!r}"
                    zeros += cell == "0.0"
                else:
                    assert cell == "·", f"{name}: query {i} key {j} is masked, printed {cell!r}"
    assert zeros > 0  # real weights that round to 0.0 stay numbers
    assert ("· = masked" in out) == (name != "bert")


def test_a_padded_batch_masks_each_texts_own_future_and_shows_no_padding():
    out = run(["model", GOLDEN / "llama_batch", "--ids", "1 5 9 13 17", "--ids", "1 5 9",
               "--layers", "0", "--heads", "0"]).stdout.decode()
    long, short = table_cells(out)
    assert len(long) == 5 and len(short) == 3 and all(len(r) == 3 for r in short)
    for t in (long, short):
        for i, row in enumerate(t):
            assert [c == "·" for c in row] == [j > i for j in range(len(row))]


def test_pictures_and_the_html_page_use_the_labels(tmp_path):
    heat = run(["model", GOLDEN / "gpt2", "--text", "the cat sat", "--layers", "0", "--heads", "0",
                "--format", "heatmap"]).stdout.decode()
    assert "␣cat" in heat and "Ġ" not in heat and "·" in heat
    run(["model", GOLDEN / "gpt2", "--text", "the cat sat", "-o", tmp_path / "view.html"])
    page = (tmp_path / "view.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["texts"][0]["tokens"] == ["the", "␣cat", "␣sat"]
