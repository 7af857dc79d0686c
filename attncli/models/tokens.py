"""Tokens for a model: text through the checkpoint's own tokenizer.json (special tokens as the model adds
them), or ids given directly (labelled with the tokenizer's tokens when there is one)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from attncli.errors import AttnError
from attncli.models.checkpoint import OPTION, Checkpoint


@dataclass
class Sequences:
    ids: list[list[int]]
    tokens: list[list[str]]
    pad_id: int
    special: list[list[bool]] | None = None  # which tokens are special ([CLS], <s>, ...), when a tokenizer says


def _special_ids(tok) -> set[int]:
    try:
        return {int(i) for i, t in tok.get_added_tokens_decoder().items() if getattr(t, "special", False)}
    except (AttributeError, TypeError, ValueError):
        return set()


def _tokenizer(ckpt: Checkpoint, needed: bool):
    """The checkpoint's tokenizer.json through the `tokenizers` library, or None (when not needed)."""
    path = ckpt.folder / "tokenizer.json"
    if not os.path.isfile(path):
        if needed:
            raise AttnError(f"{OPTION}: --text needs the model's tokenizer.json, and '{ckpt.folder}' has none; give "
                            "--ids instead")
        return None
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        if needed:
            raise AttnError("--text with a model needs the Hugging Face tokenizers package: pip install "
                            "'attncli[text]'") from None
        return None
    from attncli.text.tokenize import load_tokenizer

    tok = load_tokenizer(str(path))._hf
    vocab = tok.get_vocab_size(with_added_tokens=True)
    rows = ckpt.setting("vocab")
    if rows is not None and vocab > int(rows):
        raise AttnError(f"{OPTION}: the tokenizer has {vocab} tokens but the model's embedding has {rows} rows "
                        "(config.json vocab_size); the tokenizer is not this model's")
    return tok


def _pad_id(ckpt: Checkpoint) -> int:
    pad = ckpt.config.get("pad_token_id")
    return int(pad) if isinstance(pad, int) and pad >= 0 else 0


def encode_texts(ckpt: Checkpoint, texts: list[str], *, special: bool = True) -> Sequences:
    from attncli.text.tokenize import _library_call

    tok = _tokenizer(ckpt, needed=True)
    ids, tokens = [], []
    for text in texts:
        with _library_call(f"cannot tokenize {text[:40]!r}"):
            enc = tok.encode(text, add_special_tokens=special)
        if not enc.ids:
            raise AttnError(f"--text {text[:40]!r} has no tokens")
        ids.append(list(enc.ids))
        tokens.append(list(enc.tokens))
    specials = _special_ids(tok)
    return Sequences(ids, tokens, _pad_id(ckpt), [[i in specials for i in row] for row in ids])


def encode_ids(ckpt: Checkpoint, given: list[str]) -> Sequences:
    tok = _tokenizer(ckpt, needed=False)
    ids, tokens = [], []
    for line in given:
        try:
            row = [int(t) for t in line.replace(",", " ").split()]
        except ValueError:
            raise AttnError(f"--ids takes integers separated by spaces or commas; got {line[:60]!r}") from None
        if not row:
            raise AttnError("--ids is empty; give token ids like --ids \"1 2 3\"")
        ids.append(row)
        names = [tok.id_to_token(i) if tok is not None and 0 <= i < 2**32 else None for i in row]
        tokens.append([t if t is not None else str(i) for t, i in zip(names, row, strict=True)])
    specials = _special_ids(tok) if tok is not None else None
    return Sequences(ids, tokens, _pad_id(ckpt),
                     None if specials is None else [[i in specials for i in row] for row in ids])


def encode_tokens(ckpt: Checkpoint, given: list[str]) -> Sequences:
    """--tokens "the cat sat": tokens already split (on blanks), looked up in the tokenizer's vocabulary as
    they are (no special tokens added: write them, e.g. "[CLS] the cat [SEP]")."""
    tok = _tokenizer(ckpt, needed=True)
    ids, tokens = [], []
    for line in given:
        words = line.split()
        if not words:
            raise AttnError("--tokens is empty; give tokens separated by blanks, e.g. --tokens \"the cat sat\"")
        row = [tok.token_to_id(w) for w in words]
        missing = [w for w, i in zip(words, row, strict=True) if i is None]
        if missing:
            shown = ", ".join(repr(w[:30]) for w in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                                                    else "")
            raise AttnError(f"--tokens: {shown} not in the tokenizer's vocabulary; use --text to let the tokenizer "
                            "split words into its tokens")
        ids.append([int(i) for i in row])
        tokens.append(words)
    specials = _special_ids(tok)
    return Sequences(ids, tokens, _pad_id(ckpt), [[i in specials for i in row] for row in ids])
