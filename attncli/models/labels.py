"""Token labels a student can read: each token as the tokenizer's own decoder writes it, with its spaces shown.

A vocabulary stores tokens in the tokenizer's private spelling: GPT-2, RoBERTa, BLOOM, Qwen2 and Llama 3
(byte-level BPE) write a space as `Ġ` and a newline as `Ċ`, and a character's UTF-8 bytes one symbol each
(猫 is `çĮ«`); Llama 2, Mistral and T5 (SentencePiece) write a space as `▁`. The label is what the
tokenizer.json's `decoder` turns the token into, shown with one convention for every family:

    a space      ␣   (`Ġthe` and `▁the` → `␣the`: the token starts a word)
    a newline    ⏎   (`Ċ` → `⏎`), a tab ⇥, a carriage return ␍
    a byte that is part of a character, not a whole one:  <0xE7>   (the piece `çĮ` of 猫 → `<0xE7><0x8C>`;
                 the decoder itself prints � for it; <0xE7> is how Llama's vocabulary spells such a byte)

WordPiece (BERT): a token starts a word unless it carries the continuation prefix, which stays (`##ing`).
Special and added tokens ([CLS], <s>, <|endoftext|>) are shown as they are; so is every token of a
tokenizer whose decoder is not one of these (its tokens are then its own best spelling). The raw tokens stay
in machine output (JSON `meta.tokens`); the labels are `meta.labels`.

Decoder steps read, as tokenizers applies them to one token (tokenizers/src/decoders/*.rs):

    ByteLevel     each character back to its byte through GPT-2's bytes_to_unicode table (a token with a
                  character outside the table is kept as its own UTF-8, as the library does)
    Metaspace     the replacement character (▁) is a space (the space the decoder drops at the very start
                  of the text is shown: the token carries it)
    Replace       a literal string replaced by another (`▁` → ` ` in Llama 2's Sequence)
    ByteFallback  a token `<0xNN>` is the byte NN
    Strip         leading/trailing characters of each token (only before a Fuse: after it, of the whole text)
    Fuse          joins the tokens into one text: no change to one token
    WordPiece     no change to one token (the ## prefix marks a continuation)
    Sequence      the above in order
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

SPACE, NEWLINE, TAB, RETURN = "␣", "⏎", "⇥", "␍"
_SHOWN = {" ": SPACE, "\n": NEWLINE, "\t": TAB, "\r": RETURN}
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")

Step = tuple  # ("bytelevel",), ("replace", old, new), ("bytefallback",), ("strip", content, start, stop)


@functools.lru_cache(maxsize=1)
def _byte_of_char() -> dict[str, int]:
    """GPT-2's bytes_to_unicode (transformers' models/gpt2/tokenization_gpt2.py), inverted: the printable
    bytes ! to ~, ¡ to ¬ and ® to ÿ stand for themselves; the other 68 bytes, in order, for U+0100 onwards."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in kept]
    table = {chr(b): b for b in kept}
    table.update({chr(256 + i): b for i, b in enumerate(shifted)})
    return table


def decoder_steps(decoder: dict | None) -> list[Step] | None:
    """The per-token steps of a tokenizer.json `decoder` (its JSON object), or None when one of them is not
    understood (the labels are then the raw tokens). WordPiece and no decoder: no steps."""
    if decoder is None:
        return []
    kind = decoder.get("type")
    if kind == "Sequence":
        steps: list[Step] = []
        fused = False
        for part in decoder.get("decoders") or []:
            if isinstance(part, dict) and part.get("type") == "Fuse":
                fused = True
                continue
            if fused and isinstance(part, dict) and part.get("type") == "Strip":
                continue  # strips the whole text's ends, not each token's
            inner = decoder_steps(part) if isinstance(part, dict) and part.get("type") != "Sequence" else None
            if inner is None:
                return None
            steps += inner
        return steps
    if kind == "ByteLevel":
        return [("bytelevel",)]
    if kind == "Metaspace":
        replacement = decoder.get("replacement", "▁")
        return [("replace", replacement, " ")] if isinstance(replacement, str) and replacement else None
    if kind == "Replace":
        pattern, content = decoder.get("pattern"), decoder.get("content")
        old = pattern.get("String") if isinstance(pattern, dict) else None
        return [("replace", old, content)] if isinstance(old, str) and old and isinstance(content, str) else None
    if kind == "ByteFallback":
        return [("bytefallback",)]
    if kind == "Strip":
        content, start, stop = decoder.get("content"), decoder.get("start"), decoder.get("stop")
        ok = isinstance(content, str) and len(content) == 1 and isinstance(start, int) and isinstance(stop, int)
        return [("strip", content, start, stop)] if ok else None
    if kind in ("Fuse", "WordPiece"):
        return []
    return None


def _apply(step: Step, data: bytes) -> bytes:
    """One decoder step on one token's bytes (bytes that are not UTF-8 ride through text steps as
    surrogate escapes)."""
    kind = step[0]
    if kind == "bytelevel":
        table = _byte_of_char()
        text = data.decode("utf-8", "surrogateescape")
        if all(ch in table for ch in text):
            return bytes(table[ch] for ch in text)
        return data  # a character outside the table: the token as it is (tokenizers' ByteLevel does so)
    if kind == "bytefallback":
        m = _BYTE_TOKEN.fullmatch(data.decode("utf-8", "surrogateescape"))
        return bytes([int(m.group(1), 16)]) if m else data
    text = data.decode("utf-8", "surrogateescape")
    if kind == "replace":
        text = text.replace(step[1], step[2])
    elif kind == "strip":
        content, start, stop = step[1], step[2], step[3]
        lo = 0
        while lo < min(start, len(text)) and text[lo] == content:
            lo += 1
        hi = len(text)
        while len(text) - hi < stop and hi > lo and text[hi - 1] == content:
            hi -= 1
        text = text[lo:hi]
    return text.encode("utf-8", "surrogateescape")


def show_bytes(data: bytes) -> str:
    """A token's decoded bytes as its label: UTF-8 characters as they are, spaces ␣, newlines ⏎, tabs ⇥,
    carriage returns ␍, and each byte that is not part of a whole character as <0xNN>."""
    out = []
    for ch in data.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        out.append(f"<0x{o - 0xDC00:02X}>" if 0xDC80 <= o <= 0xDCFF else _SHOWN.get(ch, ch))
    return "".join(out)


def readable(token: str, steps: list[Step] | None) -> str:
    """One vocabulary token as its label (see the module docstring); the raw token when `steps` is None."""
    if not steps:
        return token
    try:
        data = token.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from argv that is no escaped byte: nothing to decode
        return token
    for step in steps:
        data = _apply(step, data)
    return show_bytes(data)


def labels(tokens: Sequence[str], raw: Sequence[bool], steps: list[Step] | None) -> list[str]:
    """Labels of one sequence: `raw[i]` keeps token i as it is (special and added tokens, ids the
    vocabulary does not have)."""
    return [t if keep else readable(t, steps) for t, keep in zip(tokens, raw, strict=True)]
