"""Helpers every command shares: reading sources once, parsing small option values, emitting results."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from attncli.errors import AttnError

FORMATS = ("table", "json", "csv", "tsv", "npy", "npz", "safetensors")
SOURCE_HELP = ("SOURCE: a file (.npy .npz .safetensors .csv .tsv .txt .json; file.npz:name picks an array), "
               "'-' for stdin, or inline \"1 0; 0 1\"")


class Sources:
    """Reads every array option through attncli.io, remembering input files (never overwritten)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.stdin_used_by: str | None = None
        self.info: dict[str, dict[str, Any]] = {}

    def _note(self, loaded: Any, option: str) -> None:
        if loaded.path is not None:
            self.paths.append(loaded.path)

    def read(self, source: str | None, option: str):
        """The array at SOURCE (or None), recording where it came from."""
        if source is None:
            return None
        from attncli.io import read_array

        self._claim_stdin(source, option)
        loaded = read_array(source, option=option)
        self._note(loaded, option)
        self.info.setdefault(option, {"source": source, "shape": list(loaded.array.shape),
                                      "dtype": str(loaded.array.dtype)})
        return loaded

    def _claim_stdin(self, source: str, option: str) -> None:
        """Several options may take named arrays of one piped container (`--wq -:wq --wk -:wk`), but
        a plain `-` given twice is almost surely a mistake."""
        if source == "-":
            if self.stdin_used_by and self.stdin_used_by != option:
                raise AttnError(f"{option} and {self.stdin_used_by} both read standard input ('-'); only one "
                                "option can, unless each names an array of a piped container (-:name)")
            self.stdin_used_by = option

    def array(self, source: str | None, option: str):
        loaded = self.read(source, option)
        return None if loaded is None else loaded.array

    def arrays(self, sources: list[str] | None, option: str):
        """A repeatable option: None, one array, or a list (one per head)."""
        if not sources:
            return None
        got = [self.array(s, option) for s in sources]
        return got[0] if len(got) == 1 else got

    def container(self, source: str, option: str) -> dict[str, Any]:
        from attncli.io import read_arrays

        self._claim_stdin(source, option)
        found = read_arrays(source, option=option)
        for loaded in found.values():
            self._note(loaded, option)
            break
        self.info.setdefault(option, {"source": source, "arrays": {
            name: {"shape": list(loaded.array.shape), "dtype": str(loaded.array.dtype)}
            for name, loaded in found.items()}})
        return {name: loaded.array for name, loaded in found.items()}


def parse_int_list(text: str | None, option: str) -> list[int] | None:
    """'5,3' -> [5, 3]."""
    if text is None:
        return None
    try:
        values = [int(t) for t in text.replace(" ", ",").split(",") if t]
    except ValueError:
        raise AttnError(f"{option} takes comma-separated integers like 5,3; got {text!r}") from None
    if not values:
        raise AttnError(f"{option} takes comma-separated integers like 5,3; got {text!r}")
    return values


def parse_show(show: str | None, valid: Iterable[str], default: list[str]) -> list[str]:
    """'weights,output' -> ['weights', 'output'], each checked against `valid`."""
    if show is None:
        return default
    valid = list(valid)
    names = [s.strip() for s in show.split(",") if s.strip()]
    if show.strip() == "all":
        return valid
    for n in names:
        if n not in valid:
            raise AttnError(f"--show: unknown array {n!r}; choose from {','.join(valid)} (or 'all')")
    if not names:
        raise AttnError(f"--show needs at least one of {','.join(valid)}")
    return list(dict.fromkeys(names))


def resolve_format(fmt: str | None, output: str | None) -> str:
    """--format wins; otherwise -o's extension; otherwise a table."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise AttnError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
        if output is not None:
            from attncli.io import format_from_path

            implied = format_from_path(output)
            if implied != fmt:
                raise AttnError(f"--format {fmt} contradicts -o {output} (which means {implied}); "
                                "drop one of them")
        return fmt
    if output is not None:
        from attncli.io import format_from_path

        return format_from_path(output)
    return "table"


def emit(
    arrays: dict[str, Any],
    meta: dict[str, Any],
    fmt: str,
    output: str | None,
    protect: list[Path],
    renderables: Callable[[], list[Any]],
) -> None:
    """Print tables or write arrays in `fmt` to -o PATH or stdout."""
    if fmt == "table":
        if output is None:
            print_renderables(renderables())
        else:
            from attncli.io import atomic_write

            buf = io.StringIO()
            print_renderables(renderables(), file=buf)
            atomic_write(output, buf.getvalue().encode("utf-8"), protect=protect)
        return
    from attncli.io import write_arrays

    write_arrays(output, arrays, meta, fmt, protect=protect)


def print_renderables(items: list[Any], file: Any = None) -> None:
    from rich.console import Console

    target = file if file is not None else sys.stdout
    tty = file is None and sys.stdout.isatty()
    console = Console(file=target, width=None if tty else 10_000, no_color=not tty,
                      force_terminal=tty, highlight=False, soft_wrap=not tty)
    for i, item in enumerate(items):
        if i:
            console.print()
        console.print(item)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
