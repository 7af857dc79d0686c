"""Tokenizers shipped as a SentencePiece model (DeBERTa-v3's spm.model) instead of a tokenizer.json: the model's
pieces and scores read with the `sentencepiece` package, and the tokenizer transformers builds from them for the
tokenizer's class, rebuilt with the `tokenizers` library, so that a text gives transformers' ids.

transformers 5.24 reads such a file in tokenization_utils_tokenizers.py (SentencePieceExtractor: every piece with
its score, the unknown piece's id, control and user-defined pieces as added tokens) and each class makes its own
pipeline from them. Reproduced here:

    DebertaV2Tokenizer (models/deberta_v2/tokenization_deberta_v2.py): Unigram over the pieces (the unknown
    token's id); normalizer [Lowercase if do_lower_case] · whitespace runs and \\n \\r \\t → " " · NFC · strip right;
    pre-tokenizer [Punctuation (isolated) if split_by_punct] · Metaspace "▁" (prefixed always, or only first
    without add_prefix_space); "[CLS] A [SEP]" (pairs "[CLS] A [SEP] B [SEP]"); special tokens matched in the raw
    text.
    LlamaTokenizer (models/llama/tokenization_llama.py; Llama-1/2's tokenizer.model): see llama() below.

Other classes (T5Tokenizer, ...) are refused by name. Bytes in, a tokenizer out: the caller
reads the files (attncli.io, models/tokens.py).
"""

from __future__ import annotations

from typing import Any

from attncli.errors import AttnError, param
from attncli.text.tokenize import Tokenizer, library_call, require_tokenizers

EXTRA = "pip install 'attncli[sentencepiece]'"
SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# the token of each kind when tokenizer_config.json does not say (DebertaV2Tokenizer's defaults)
DEBERTA_SPECIALS = {"bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]", "sep_token": "[SEP]",
                    "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
CONTROL, USER_DEFINED = 3, 4  # SentencePiece's piece types (sentencepiece_model.proto)


def piece_types(data: bytes) -> list[int]:
    """The type of each piece of a serialized SentencePiece ModelProto (field 1, each piece's field 3; NORMAL = 1
    when absent): the one thing the `sentencepiece` package does not say (user-defined pieces). Protocol
    buffers' wire format: varint keys (field << 3 | wire type), length-delimited messages."""
    def varint(buf: bytes, i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            if i >= len(buf) or shift > 63:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            wire = key & 7
            if wire == 0:
                value, i = varint(buf, i)
            elif wire == 1:
                value, i = buf[i: i + 8], i + 8
            elif wire == 2:
                size, i = varint(buf, i)
                value, i = buf[i: i + size], i + size
            elif wire == 5:
                value, i = buf[i: i + 4], i + 4
            else:
                raise ValueError(f"wire type {wire}")
            if i > len(buf):
                raise ValueError("truncated field")
            yield key >> 3, value

    types = []
    for number, piece in fields(data):
        if number == 1:
            types.append(next((v for n, v in fields(piece) if n == 3 and isinstance(v, int)), 1))
    return types


def _token(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or {"content": ...} (an AddedToken)."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_pieces(data: bytes, name: str) -> tuple[list[tuple[str, float]], int, list[int]]:
    """The pieces with their scores, the unknown piece's id and each piece's type, from a SentencePiece model's
    bytes (read with the `sentencepiece` package; missing: one line naming the extra)."""
    try:
        import sentencepiece
    except ImportError:
        raise AttnError(f"{param('text')} with a SentencePiece tokenizer ('{name}') needs the sentencepiece "
                        f"package: {EXTRA}") from None
    sp = sentencepiece.SentencePieceProcessor()
    try:
        data = bytes(data)
        sp.LoadFromSerializedProto(data)
        types = piece_types(data)
    except (RuntimeError, ValueError, OSError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise AttnError(f"{param('tokenizer')}: '{name}' is not a SentencePiece model ({reason})") from None
    count = sp.GetPieceSize()
    if len(types) != count:
        raise AttnError(f"{param('tokenizer')}: '{name}' lists {len(types)} pieces where sentencepiece reads "
                        f"{count}; the file is damaged")
    vocab = [(sp.IdToPiece(i), float(sp.GetScore(i))) for i in range(count)]
    return vocab, int(sp.unk_id()), types


def deberta_v2(vocab: list[tuple[str, float]], unk_id: int, types: list[int], settings: dict[str, Any],
               name: str) -> Tokenizer:
    """transformers' DebertaV2Tokenizer over a SentencePiece model's pieces (module docstring); `settings`:
    tokenizer_config.json (with special_tokens_map.json's tokens)."""
    require_tokenizers()
    from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers, processors
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.models import Unigram

    specials = {key: _token(settings.get(key)) or default for key, default in DEBERTA_SPECIALS.items()}
    unk = specials["unk_token"]
    unk_id = vocab.index((unk, 0.0)) if (unk, 0.0) in vocab else unk_id
    prefix = "always" if settings.get("add_prefix_space", True) else "first"
    with library_call(f"cannot build DebertaV2Tokenizer from '{name}'"):
        tok = HFTokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
        steps = [normalizers.Lowercase()] if settings.get("do_lower_case", False) else []
        tok.normalizer = normalizers.Sequence([*steps, normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
                                               normalizers.NFC(), normalizers.Strip(left=False, right=True)])
        split = [pre_tokenizers.Punctuation(behavior="isolated")] if settings.get("split_by_punct", False) else []
        tok.pre_tokenizer = pre_tokenizers.Sequence([*split, pre_tokenizers.Metaspace(replacement="▁",
                                                                                       prepend_scheme=prefix)])
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prefix)
        # control and user-defined pieces are added tokens (SentencePieceExtractor), then the special tokens
        added = [AddedToken(piece, normalized=False, special=kind == CONTROL)
                 for (piece, _), kind in zip(vocab, types, strict=True) if kind in (CONTROL, USER_DEFINED)]
        tok.add_tokens([t for t in added if not t.special])
        tok.add_special_tokens([t for t in added if t.special])
        wanted = list(dict.fromkeys(specials[key] for key in SPECIAL_KEYS))
        tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in wanted])
        _added_tokens(tok, settings, name)
        cls, sep = specials["cls_token"], specials["sep_token"]
        cls_id, sep_id = tok.token_to_id(cls) or 0, tok.token_to_id(sep) or 0
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, cls_id), (sep, sep_id)])
    return Tokenizer(name, tok)


def _added_tokens(tok: Any, settings: dict[str, Any], name: str) -> None:
    """tokenizer_config.json's added_tokens_decoder (and added_tokens.json, as "added_tokens"): each token must
    have the id it names, already in the vocabulary or the next one; anything else is refused rather than given
    another id."""
    from tokenizers import AddedToken

    table = settings.get("added_tokens_decoder") or {}
    entries = sorted((int(i), _token(t), not isinstance(t, dict) or bool(t.get("special", True)))
                     for i, t in table.items()) if isinstance(table, dict) else []
    entries += sorted((int(i), t, True) for t, i in (settings.get("added_tokens") or {}).items())
    for token_id, content, special in entries:
        if content is None:
            continue
        if tok.token_to_id(content) == token_id:
            continue
        if tok.token_to_id(content) is None and tok.get_vocab_size(with_added_tokens=True) == token_id:
            tok.add_special_tokens([AddedToken(content, normalized=False, special=bool(special))])
            continue
        raise AttnError(f"{param('tokenizer')}: '{name}' names the added token {content!r} with id {token_id}, "
                        "which the SentencePiece model does not give it; attncli stops rather than guess its id")


def merges_of(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """BPE merges from a vocabulary alone, as transformers' generate_merges makes them for a SentencePiece BPE
    model (tokenization_utils_base.py): every split of a piece into two pieces of the vocabulary, ordered by the
    merged piece's id, then the lengths of its left and right parts (each piece's splits by their parts' ids)."""
    merges = []
    for merge, rank in vocab.items():
        local = [(merge[:i], merge[i:], rank) for i in range(1, len(merge))
                 if merge[:i] in vocab and merge[i:] in vocab]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    return [(left, right) for left, right, _ in sorted(merges, key=lambda m: (m[2], len(m[0]), len(m[1])))]


def llama(vocab: list[tuple[str, float]], unk_id: int, types: list[int], settings: dict[str, Any],
          name: str) -> Tokenizer:
    """transformers' LlamaTokenizer over a SentencePiece BPE model (models/llama/tokenization_llama.py): BPE over
    the pieces with the merges merges_of gives and byte fallback (no unknown token: a character with no piece
    and no byte pieces is left out); no normalizer; Metaspace "▁" before the first word only (legacy false, the
    default), before every word (legacy true) or never (add_prefix_space false); `<s>` before the text only
    with add_bos_token, `</s>` after it only with add_eos_token (both false when tokenizer_config.json does not
    say, as TokenizersBackend reads them)."""
    require_tokenizers()
    from tokenizers import AddedToken, decoders, pre_tokenizers, processors
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.models import BPE

    ranks = {piece: i for i, (piece, _) in enumerate(vocab)}
    prefix = settings.get("add_prefix_space")
    prefix = True if prefix is None else bool(prefix)
    scheme = ("first" if not settings.get("legacy", False) else "always") if prefix else "never"
    specials = {key: _token(settings.get(key)) or default
                for key, default in (("unk_token", "<unk>"), ("bos_token", "<s>"), ("eos_token", "</s>"))}
    with library_call(f"cannot build LlamaTokenizer from '{name}'"):
        tok = HFTokenizer(BPE(vocab=ranks, merges=merges_of(ranks), fuse_unk=True, byte_fallback=True,
                              dropout=None))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=False)
        steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        tok.decoder = decoders.Sequence(steps + ([decoders.Strip(content=" ", left=1)] if prefix else []))
        added = [AddedToken(piece, normalized=False, special=kind == CONTROL)
                 for (piece, _), kind in zip(vocab, types, strict=True) if kind in (CONTROL, USER_DEFINED)]
        tok.add_tokens([t for t in added if not t.special])
        tok.add_special_tokens([t for t in added if t.special])
        named = [specials[key] for key in ("unk_token", "bos_token", "eos_token")]
        pad = _token(settings.get("pad_token"))
        tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                                for t in dict.fromkeys(named + ([pad] if pad else []))])
        _added_tokens(tok, settings, name)
        bos, eos = specials["bos_token"], specials["eos_token"]
        add_bos, add_eos = bool(settings.get("add_bos_token", False)), bool(settings.get("add_eos_token", False))
        single = f"{bos + ':0 ' if add_bos else ''}$A:0{' ' + eos + ':0' if add_eos else ''}"
        pair = f"{single}{' ' + bos + ':1' if add_bos else ''} $B:1{' ' + eos + ':1' if add_eos else ''}"
        tok.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(t, tok.token_to_id(t)) for t, on in ((bos, add_bos),
                                                                                           (eos, add_eos)) if on])
    return Tokenizer(name, tok)


# tokenizer classes (tokenizer_config.json's tokenizer_class, "Fast" dropped) attncli rebuilds from a SentencePiece
# model; and the class AutoTokenizer picks from config.json's model_type when tokenizer_config.json names none
BUILDERS = {"DebertaV2Tokenizer": deberta_v2, "LlamaTokenizer": llama}
BY_MODEL_TYPE = {"deberta-v2": "DebertaV2Tokenizer", "llama": "LlamaTokenizer"}


def tokenizer_from_spm(data: bytes, name: str, settings: dict[str, Any], model_type: Any) -> Tokenizer:
    """The tokenizer transformers builds from the SentencePiece model `data` (from the file `name`) for the class
    tokenizer_config.json (`settings`) names, or the one config.json's `model_type` implies; other classes are
    refused by name."""
    given = settings.get("tokenizer_class")
    cls = given.removesuffix("Fast") if isinstance(given, str) else BY_MODEL_TYPE.get(model_type)
    if cls not in BUILDERS:
        what = f"of class {given}" if isinstance(given, str) else f"for model_type {model_type!r}"
        raise AttnError(f"{param('tokenizer')}: '{name}' is a SentencePiece model {what}, whose tokenization attncli "
                        f"does not reproduce yet (it does {', '.join(BUILDERS)}); give {param('ids')} instead")
    vocab, unk_id, types = read_pieces(data, name)
    return BUILDERS[cls](vocab, unk_id, types, settings, name)
