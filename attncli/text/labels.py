"""Labels given for a table's tokens: a file's lines, or comma-separated text (strings and bytes in; the caller
reads the file). Errors name the parameter `‹labels›`."""

from __future__ import annotations

from attncli.errors import AttnError, param


def parse_labels(spec: str, data: bytes | None = None) -> list[str]:
    """The labels `spec` gives: "I,love,fish" -> ["I", "love", "fish"]; or, when `spec` names a file, its
    non-blank lines (`data`, its bytes, UTF-8)."""
    if data is not None:
        try:
            labels = [ln.strip() for ln in data.decode("utf-8-sig").splitlines() if ln.strip()]
        except UnicodeDecodeError:
            raise AttnError(f"{param('labels')}: '{spec}' is not UTF-8 text") from None
    else:
        labels = [t.strip() for t in spec.split(",")]
    if not labels or any(not t for t in labels):
        raise AttnError(f"{param('labels')} takes a file with one label per line or comma-separated labels like "
                        f"\"I,love,fish\"; got {spec!r}")
    return labels
