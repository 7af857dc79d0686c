"""Tokens for a model: text through the checkpoint's own tokenizer.json (special tokens as the model adds
them), or ids given directly (labelled with the tokenizer's tokens when there is one).

Each sequence keeps its raw tokens (the vocabulary's spelling, for machine output) and its labels (as the
tokenizer's decoder writes them, models/labels.py). Text the tokenizer cannot read gets a warning, not an
error: most of a text's tokens being the unknown token, or characters with no token at all (left out).

Messages and warnings name parameters (`‹text›`, `‹ids›`, `‹tokens›`, `‹tokenizer›` for the tokenizer.json; see
attncli/errors.py): the command that calls these says them as its options.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from attncli.errors import AttnError, param
from attncli.models.checkpoint import OPTION, Checkpoint
from attncli.models.labels import decoder_steps, labels


@dataclass
class Sequences:
    ids: list[list[int]]
    tokens: list[list[str]]
    pad_id: int
    special: list[list[bool]] | None = None  # which tokens are special ([CLS], <s>, ...), when a tokenizer says
    labels: list[list[str]] | None = None  # the tokens as a reader reads them (models/labels.py); None: the tokens
    warnings: list[str] = field(default_factory=list)  # what the CLI says on stderr: text the tokenizer cannot read
    types: list[list[int]] | None = None  # token type ids of sentence pairs (None: one text each, all type 0)

    def shown(self) -> list[list[str]]:
        """The labels tables and pictures show."""
        return self.labels if self.labels is not None else self.tokens


def _special_ids(tok) -> set[int]:
    try:
        return {int(i) for i, t in tok.get_added_tokens_decoder().items() if getattr(t, "special", False)}
    except (AttributeError, TypeError, ValueError):
        return set()


def _added_ids(tok) -> set[int]:
    """Every added token (special or not): labelled as it is, never through the decoder."""
    try:
        return {int(i) for i in tok.get_added_tokens_decoder()}
    except (AttributeError, TypeError, ValueError):
        return set()


def _unk_id(tok) -> int | None:
    unk = getattr(tok.model, "unk_token", None)
    return tok.token_to_id(unk) if isinstance(unk, str) else None


def _steps(tok) -> list | None:
    """The tokenizer's decoder as per-token steps (models/labels.py), or None when it is not understood."""
    import json

    if tok.decoder is None:
        return []
    try:
        state = json.loads(tok.decoder.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return None
    return decoder_steps(state) if isinstance(state, dict) else None


SPM_FILES = ("spm.model", "spiece.model", "tokenizer.model")  # SentencePiece models: DeBERTa-v3's, T5's, Llama's


def _tokenizer(ckpt: Checkpoint, needed: bool):
    """The checkpoint's tokenizer.json through the `tokenizers` library (or, without one, its SentencePiece model
    rebuilt as transformers builds it: text/spm.py), or None (when not needed)."""
    path = ckpt.folder / "tokenizer.json"
    if not os.path.isfile(path):
        spm = next((ckpt.folder / f for f in SPM_FILES if os.path.isfile(ckpt.folder / f)), None)
        if spm is not None:
            return _spm_tokenizer(ckpt, spm, needed)
        if needed:
            raise AttnError(f"{OPTION}: {param('text')} needs the model's tokenizer.json, and '{ckpt.folder}' has "
                            f"none; give {param('ids')} instead")
        return None
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        if needed:
            raise AttnError(f"{param('text')} with a model needs the Hugging Face tokenizers package: pip install "
                            "'attncli[text]'") from None
        return None
    from attncli.io._common import Src
    from attncli.io.files import read_input
    from attncli.text.tokenize import TOKENIZER_COST, tokenizer_from_json

    # read through the one input opener (remembered, so -o never replaces it; capped)
    data = read_input(path, Src(param("tokenizer"), str(path)), cost=TOKENIZER_COST)
    return _fits(ckpt, tokenizer_from_json(data, str(path))._hf)


def _spm_tokenizer(ckpt: Checkpoint, path, needed: bool):
    """The SentencePiece model `path` with tokenizer_config.json and special_tokens_map.json beside it (each
    optional), read here and rebuilt by attncli.text.spm; None when not needed and a package is missing."""
    from attncli.io._common import Src
    from attncli.io.files import read_input
    from attncli.models.checkpoint import _read_json
    from attncli.text.spm import tokenizer_from_spm
    from attncli.text.tokenize import TOKENIZER_COST

    if not needed:
        try:
            import sentencepiece  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError:
            return None
    settings: dict = {}
    for extra in ("special_tokens_map.json", "tokenizer_config.json"):  # the latter wins, as transformers reads
        if os.path.isfile(ckpt.folder / extra):
            found = _read_json(ckpt.folder / extra, extra)
            settings.update(found if isinstance(found, dict) else {})
    if os.path.isfile(ckpt.folder / "added_tokens.json"):
        settings["added_tokens"] = _read_json(ckpt.folder / "added_tokens.json", "added_tokens.json")
    data = read_input(path, Src(param("tokenizer"), str(path)), cost=TOKENIZER_COST)
    try:
        tok = tokenizer_from_spm(data, str(path), settings, ckpt.config.get("model_type"))._hf
    except AttnError:
        if needed:
            raise
        return None  # ids given: labelled by their numbers when the tokenizer is one attncli does not rebuild
    return _fits(ckpt, tok)


def _fits(ckpt: Checkpoint, tok):
    """`tok`, refused when it has more tokens than the model's embedding has rows."""
    vocab = tok.get_vocab_size(with_added_tokens=True)
    rows = ckpt.setting("vocab")
    if rows is not None and vocab > int(rows):
        raise AttnError(f"{OPTION}: the tokenizer has {vocab} tokens but the model's embedding has {rows} rows "
                        "(config.json vocab_size); the tokenizer is not this model's")
    return tok


def _pad_id(ckpt: Checkpoint) -> int:
    pad = ckpt.config.get("pad_token_id")
    return int(pad) if isinstance(pad, int) and pad >= 0 else 0


def _pair_template(tok) -> str | None:
    """The kind of post-processor that says how the tokenizer joins a pair of texts (TemplateProcessing with a
    pair template, BertProcessing, RobertaProcessing), or None when it has none."""
    import json

    def kind_of(state: dict) -> str | None:
        kind = state.get("type")
        if kind in ("BertProcessing", "RobertaProcessing") or kind == "TemplateProcessing" and state.get("pair"):
            return kind
        if kind == "Sequence":
            return next((k for p in state.get("processors") or [] if isinstance(p, dict) and (k := kind_of(p))),
                        None)
        return None

    if tok.post_processor is None:
        return None
    try:
        state = json.loads(tok.post_processor.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return None
    return kind_of(state) if isinstance(state, dict) else None


def encode_texts(ckpt: Checkpoint, texts: list[str], *, special: bool = True, pairs: list[str] | None = None
                 ) -> Sequences:
    """Each text through the tokenizer (special tokens added as the model expects, unless `special` is
    False); with `pairs`, each text and its pair as one sequence, joined as the tokenizer's pair template says
    ([CLS] A [SEP] B [SEP]), with its token type ids."""
    from attncli.text.tokenize import library_call

    tok = _tokenizer(ckpt, needed=True)
    if pairs is not None:
        if ckpt.family.causal:
            raise AttnError(f"{param('pair')}: a {ckpt.family.name} model is a decoder, which reads one text; a "
                            "sentence pair is for encoders (bert, roberta, ...)")
        if len(pairs) != len(texts):
            raise AttnError(f"{param('pair')} is given {len(pairs)} time(s) and {param('text')} {len(texts)}: give "
                            f"one {param('pair')} for each {param('text')}")
        if _pair_template(tok) is None:
            raise AttnError(f"{param('pair')}: the model's tokenizer.json has no pair template (its post_processor "
                            "says how one text is wrapped, not how two are joined), so attncli would have to guess "
                            f"where the second text goes; give the tokens yourself with {param('tokens')}")
    specials, added, steps = _special_ids(tok), _added_ids(tok), _steps(tok)
    unk_id = _unk_id(tok)
    seqs = Sequences([], [], _pad_id(ckpt), [], [], types=[] if pairs is not None else None)
    for j, text in enumerate(texts):
        with library_call(f"cannot tokenize {text[:40]!r}"):
            if pairs is None:
                enc = tok.encode(text, add_special_tokens=special)
            else:
                enc = tok.encode(text, pairs[j], add_special_tokens=special)
                seqs.types.append(list(enc.type_ids))  # type: ignore[union-attr]
        if not enc.ids:
            raise AttnError(f"{param('text')} {text[:40]!r} has no tokens")
        ids, tokens = list(enc.ids), list(enc.tokens)
        seqs.ids.append(ids)
        seqs.tokens.append(tokens)
        seqs.special.append([i in specials for i in ids])  # type: ignore[union-attr]
        seqs.labels.append(labels(tokens, [i in added for i in ids], steps))  # type: ignore[union-attr]
        made = [k for k, added_here in enumerate(enc.special_tokens_mask) if not added_here]  # not [CLS], <s>
        seqs.warnings += _unreadable(text, ids, made, list(enc.offsets), unk_id,
                                     tok.id_to_token(unk_id) if unk_id is not None else None)
    return seqs


def _unreadable(text: str, ids: list[int], made: list[int], offsets: list[tuple[int, int]], unk_id: int | None,
                unk: str | None) -> list[str]:
    """Warnings for a text the tokenizer cannot read: more than half of the tokens the text made (`made`: their
    positions; not the special tokens the tokenizer adds) are the unknown token; characters (letters, digits,
    punctuation, symbols) that no token covers, which a tokenizer without an unknown token leaves out (a toy
    byte-level vocabulary without the bytes of 猫)."""
    import unicodedata

    quoted = repr(text[:40]) + ("…" if len(text) > 40 else "")
    out = []
    unknown = [k for k in made if ids[k] == unk_id]
    if made and 2 * len(unknown) > len(made):
        spans = list(dict.fromkeys(text[a:b] for k in unknown for a, b in [offsets[k]] if b > a))
        words = ", ".join(repr(w[:20]) for w in spans[:5]) + (f" and {len(spans) - 5} more" if len(spans) > 5 else "")
        out.append(f"{param('text')} {quoted}: {len(unknown)} of {len(made)} tokens are {unk}, the tokenizer's "
                   "unknown token" + (f" (for {words})" if words else "") + f": the maps show {unk} in their place; "
                   "is the text in the model's language and casing?")
    if unk_id is not None:  # what the model cannot read is the unknown token; a character no token covers is one
        return out  # its normalizer drops on purpose (BERT's: controls and U+FFFD)
    covered = bytearray(len(text))
    for a, b in offsets:
        a, b = min(max(a, 0), len(text)), min(max(b, 0), len(text))
        covered[a:b] = b"\x01" * max(b - a, 0)
    left = [ch for ch, c in zip(text, covered, strict=True)
            if not c and unicodedata.category(ch)[0] in "LNPS"]
    if left:
        shown = list(dict.fromkeys(left))
        chars = ", ".join(repr(ch) for ch in shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        one = len(left) == 1
        out.append(f"{param('text')} {quoted}: the tokenizer has no token for {len(left)} "
                   f"character{'' if one else 's'} ({chars}) and no unknown token to stand in for "
                   f"{'it' if one else 'them'}: {'it is' if one else 'they are'} left out of the tokens and the maps")
    return out


def namer(ckpt: Checkpoint):
    """A function from token ids to (raw tokens, labels): the tokenizer.json's vocabulary (None for an id it
    has no token for: a model's vocabulary may be larger than its tokenizer's) and its decoder's labels (the id
    as text when there is no token), when the folder has one; else (None, the id as text)."""
    tok = _tokenizer(ckpt, needed=False)
    if tok is None:
        return lambda row: ([None] * len(row), [str(i) for i in row])
    added, steps = _added_ids(tok), _steps(tok)

    def name(row: list[int]) -> tuple[list[str | None], list[str]]:
        raw = [tok.id_to_token(int(i)) for i in row]
        keep = [t is None or int(i) in added for t, i in zip(raw, row, strict=True)]
        shown = [t if t is not None else str(i) for t, i in zip(raw, row, strict=True)]
        return raw, labels(shown, keep, steps)

    return name


def encode_ids(ckpt: Checkpoint, given: list[str]) -> Sequences:
    tok = _tokenizer(ckpt, needed=False)
    added, steps = (_added_ids(tok), _steps(tok)) if tok is not None else (set(), None)
    ids, tokens, shown = [], [], []
    for line in given:
        try:
            row = [int(t) for t in line.replace(",", " ").split()]
        except ValueError:
            raise AttnError(f"{param('ids')} takes integers separated by spaces or commas; got {line[:60]!r}") from None
        if not row:
            raise AttnError(f"{param('ids')} is empty; give token ids like " + param("ids", '"1 2 3"'))
        ids.append(row)
        names = [tok.id_to_token(i) if tok is not None and 0 <= i < 2**32 else None for i in row]
        tokens.append([t if t is not None else str(i) for t, i in zip(names, row, strict=True)])
        shown.append(labels(tokens[-1], [t is None or i in added for t, i in zip(names, row, strict=True)], steps))
    if tok is None:
        return Sequences(ids, tokens, _pad_id(ckpt))
    specials = _special_ids(tok)
    return Sequences(ids, tokens, _pad_id(ckpt), [[i in specials for i in row] for row in ids], shown)


def encode_tokens(ckpt: Checkpoint, given: list[str]) -> Sequences:
    """Tokens already split (on blanks), looked up in the tokenizer's vocabulary as
    they are (no special tokens added: write them, e.g. "[CLS] the cat [SEP]")."""
    tok = _tokenizer(ckpt, needed=True)
    ids, tokens = [], []
    for line in given:
        words = line.split()
        if not words:
            raise AttnError(f"{param('tokens')} is empty; give tokens separated by blanks, e.g. "
                            + param("tokens", '"the cat sat"'))
        row = [tok.token_to_id(w) for w in words]
        missing = [w for w, i in zip(words, row, strict=True) if i is None]
        if missing:
            shown = ", ".join(repr(w[:30]) for w in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                                                    else "")
            raise AttnError(f"{param('tokens')}: {shown} not in the tokenizer's vocabulary; use {param('text')} to let "
                            "the tokenizer split words into its tokens")
        ids.append([int(i) for i in row])
        tokens.append(words)
    specials, added, steps = _special_ids(tok), _added_ids(tok), _steps(tok)
    return Sequences(ids, tokens, _pad_id(ckpt), [[i in specials for i in row] for row in ids],
                     [labels(words, [i in added for i in row], steps) for words, row in zip(tokens, ids, strict=True)])
