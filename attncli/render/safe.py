"""Text from data, made safe to print: nothing in a label, token or file name can drive the terminal.

`printable(s)` spells out, as Python-style escapes (`\\x1b`, `\\x9b`, `\\u202e`), every character that a
terminal would act on or that hides what follows:

    C0 controls, DEL, C1 controls (category Cc), including tab and newline inside a label;
    format characters (Cf): bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069), marks
        (U+200E, U+200F, U+061C), zero-width spaces, soft hyphens ... but not the zero-width
        joiner and non-joiner (U+200D, U+200C), which emoji sequences and Persian/Indic words need;
    line and paragraph separators (U+2028, U+2029) and lone surrogates (undecodable bytes in argv).

Everything else, CJK, emoji and accents included, passes unchanged. `text(s)` is the same string as
a rich `Text`, which rich never parses as markup, so a token `[red]x` or `[link=...]` shows as typed.
Machine formats (JSON, CSV, NPY, safetensors) keep the original strings; `json_safe` only rewrites a
JSON document's DEL, C1 and Cf characters as `\\uXXXX` escapes, which decode to the same strings.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEPT = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner and joiner: parts of words and emoji


def _unsafe(ch: str) -> bool:
    return ch not in _KEPT and unicodedata.category(ch) in _ESCAPED_CATEGORIES


def _escape(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def printable(label: object) -> str:
    """`label` as a string with every unsafe character escaped (see the module docstring)."""
    s = str(label)
    if s.isprintable():  # the common case: no control, format, separator or surrogate character at all
        return s
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in s)


def printable_all(labels: list) -> list[str]:
    return [printable(x) for x in labels]


def text(label: object, style: str = "") -> Text:
    """`printable(label)` as a rich Text: shown literally, never read as markup."""
    from rich.text import Text

    return Text(printable(label), style=style)


# outside JSON strings only ASCII may appear, so every match is inside a string and \\uXXXX decodes back to it
_JSON_UNSAFE = ("[\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                "\ufff9-\ufffb\ud800-\udfff]")  # compiled on first use (re caches it): tables do not need it


def json_safe(doc: str) -> str:
    """A JSON document (json.dumps with ensure_ascii=False, which already escapes C0) with DEL, C1 and the
    bidi/invisible format characters and lone surrogates written as \\uXXXX escapes: it decodes to the same values."""
    return re.sub(_JSON_UNSAFE, lambda m: f"\\u{ord(m.group()):04x}", doc)
