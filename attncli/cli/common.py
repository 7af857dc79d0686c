"""Helpers every command shares: reading sources once, parsing small option values, emitting results."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attncli.errors import AttnError
from attncli.record import Record

if TYPE_CHECKING:
    from attncli.render.maps import MapSet

FORMATS = ("table", "json", "csv", "tsv", "npy", "npz", "safetensors", "heatmap", "png", "svg", "pdf", "html")
PICTURES = ("heatmap", "png", "svg", "pdf", "html")  # formats that draw maps rather than list numbers
IMAGES = ("png", "svg", "pdf")  # made by matplotlib (the `plot` extra)
SOURCE_HELP = ("SOURCE: a file (.npy .npz .safetensors .csv .tsv .txt .json; file.npz:name picks an array), "
               "'-' for stdin, or inline \"1 0; 0 1\"")
TEXT_OPTIONS = ("text", "tokens", "ids")  # each makes the token vectors X from text (cli/text_input.py)


# options that take a vector: a typed row ("0.1 0 0", read as MATLAB does, 1 × d) is that vector
VECTOR_OPTIONS = ("--bq", "--bk", "--bv", "--bo", "--va", "--q-norm", "--k-norm", "--sinks")
# options broadcast over the scores: a typed row ("1 1 0") keeps the meaning it always had, one value per key
# (a vector), in cols layout too, where a 1 × n matrix would be one value per query
KEY_VECTOR_OPTIONS = ("--mask", "--bias")


class Sources:
    """Reads every array option through attncli.io, remembering input files (never overwritten)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.stdin_used_by: str | None = None
        self.info: dict[str, dict[str, Any]] = {}
        self.names: dict[str, list[str | None]] = {}  # option -> the array names read for it (file:name)
        self.typed: dict[str, tuple[str, tuple[int, ...]]] = {}  # option -> (text, shape) of a typed row or vector

    def _note(self, loaded: Any, option: str) -> None:
        if loaded.path is not None:
            self.paths.append(loaded.path)
        self.names.setdefault(option, []).append(loaded.name)

    def read(self, source: str | None, option: str, *, empty_cells: bool = False):
        """The array at SOURCE (or None), recording where it came from (`empty_cells`: see io.read_array)."""
        if source is None:
            return None
        from attncli.io import read_array

        self._claim_stdin(source, option)
        loaded = read_array(source, option=option, empty_cells=empty_cells)
        shape = loaded.array.shape
        typed = loaded.path is None and not loaded.binary and loaded.name is None  # inline, or text on stdin
        if typed and (len(shape) == 1 or len(shape) == 2 and shape[0] == 1):
            self.typed.setdefault(option, (source, shape))
        if len(shape) == 2 and shape[0] == 1 and (option in VECTOR_OPTIONS or option in KEY_VECTOR_OPTIONS and typed
                                                  and not source.lstrip().startswith("[[")):
            loaded = loaded.replace(array=loaded.array.reshape(-1))  # (1, d) -> (d,)
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

    def read_as(self, message: str) -> str | None:
        """What a typed single row, number or JSON vector that `message` blames was read as, or None."""
        import re

        notes = []
        for option, (source, shape) in self.typed.items():
            named = re.search(rf"{re.escape(option)}(?![\w-])", message)
            if not named or option in VECTOR_OPTIONS + KEY_VECTOR_OPTIONS:
                continue
            text = "standard input" if source.startswith("-") else f"{option} {_quoted(source)}"
            if len(shape) == 1:
                notes.append(f"{text} is a JSON list, read as a vector of {shape[0]}; one row (one token) is "
                             f"[[...]] or \"1 0 1\"")
            elif shape == (1, 1):
                notes.append(f"{text} was read as a 1 × 1 matrix (one row of one value)")
            else:
                notes.append(f"{text} was read as one row, 1 × {shape[1]} (as MATLAB reads it); rows are separated "
                             "by ';' or new lines")
        return "; ".join(notes) or None

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


def _quoted(source: str) -> str:
    """A typed literal echoed in a message, on one line and cut to 40 characters."""
    text = " ".join(source.split())
    return f'"{text}"' if len(text) <= 40 else f'"{text[:37]}..."'


@contextmanager
def saying_what_was_read(src: Sources) -> Iterator[None]:
    """An AttnError raised inside names, after its message, what a typed single row or number it blames was
    read as (`--x "3"` is a 1 × 1 matrix): a shape error about a literal then says how the literal was read."""
    try:
        yield
    except AttnError as err:
        from attncli.cli.params import message  # only on an error: a run that works does not load the table

        note = src.read_as(message(err))
        if note is None:
            raise
        raise AttnError(f"{err.args[0]}; {note}") from None  # the library's ‹parameters› kept for message()


def check_label_count(labels: Any, kw: dict[str, Any], layout: str) -> None:
    """--labels names the tokens, one per query (and per key in self-attention): another count is an error, as in
    `show`. `kw` holds the arrays read (attention's keyword arguments); checked before computing."""
    if labels is None or not labels or not isinstance(labels[0], str):
        return
    n_q, n_k = (_tokens(kw[a] if kw.get(a) is not None else kw.get(b), layout) for a, b in (("x", "q"), ("x_kv", "k")))
    if n_q is None:
        return
    if len(labels) != n_q:
        keys = "" if n_k in (None, n_q) else f" and {n_k} keys"
        raise AttnError(f"--labels has {len(labels)} label{'s' if len(labels) != 1 else ''} but the input has {n_q} "
                        f"tokens (queries){keys}; give one label per token")


def _tokens(a: Any, layout: str) -> int | None:
    """How many tokens a matrix input holds (rows; columns in cols layout), or None if it is not one."""
    if a is None or getattr(a, "ndim", 0) < 2 or isinstance(a, list):
        return None
    return int(a.shape[-1] if layout == "cols" else a.shape[-2])


def wants_text(o: dict[str, Any]) -> bool:
    """True when one of --text, --tokens, --ids is given (by parameter name in `o`)."""
    return any(o.get(k) is not None for k in TEXT_OPTIONS)


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
        if output is not None and Path(output).suffix:  # -o /dev/null or a FIFO: --format says it all
            from attncli.io import format_from_path

            try:
                implied = format_from_path(output)
            except AttnError:  # an extension that says nothing (e.g. .out): --format decides
                implied = fmt
            if implied != fmt and not (fmt == "heatmap" and implied == "table"):  # a heatmap may go to .txt
                raise AttnError(f"--format {fmt} contradicts -o {output} (which means {implied}); "
                                "drop one of them")
        return fmt
    if output is not None:
        from attncli.io import format_from_path

        return format_from_path(output)
    return "table"


class Look(Record):
    """How pictures look: decimals in cells and hover text, image resolution, colormap (None = default)."""

    precision: int = 4
    dpi: int = 100
    cmap: str | None = None
    _fields = ("precision", "dpi", "cmap")

    def __init__(self, precision: int = 4, dpi: int = 100, cmap: str | None = None) -> None:
        self.precision, self.dpi, self.cmap = precision, dpi, cmap


def check_look(precision: int, dpi: int, cmap: str | None) -> Look:
    """--precision, --dpi and --cmap, checked."""
    if precision < 0 or precision > 17:
        raise AttnError(f"--precision must be between 0 and 17; got {precision}")
    if dpi < 10 or dpi > 1200:
        raise AttnError(f"--dpi must be between 10 and 1200; got {dpi}")
    if cmap is not None and not cmap.strip():
        raise AttnError("--cmap needs a colormap name, e.g. --cmap magma")
    return Look(precision, dpi, cmap)


def emit(
    arrays: dict[str, Any],
    meta: dict[str, Any],
    fmt: str,
    output: str | None,
    protect: list[Path],
    renderables: Callable[[], list[Any]],
    maps: Callable[[], MapSet] | None = None,
    look: Look | None = None,
) -> None:
    """Print tables or write arrays in `fmt` to -o PATH or stdout.

    `renderables()` makes the tables (format table); `maps()` makes what the picture formats draw
    (heatmap, png, svg, pdf, html): a render.maps.MapSet. Both are called only when needed."""
    if fmt in PICTURES:
        if maps is None:
            raise AttnError(f"--format {fmt} draws attention maps, and this command has none to draw")
        emit_picture(maps(), fmt, output, protect, look or Look())
        return
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


def emit_picture(maps: MapSet, fmt: str, output: str | None, protect: Iterable[Path], look: Look) -> None:
    """Draw `maps` as a terminal heatmap, an image (png/svg/pdf) or an HTML page, to -o PATH or stdout."""
    from attncli.io import atomic_write

    if fmt == "heatmap" and output is None:
        from attncli.render.heatmap import heatmaps

        tty = sys.stdout.isatty()
        print_renderables(heatmaps(maps, color=tty, width=_terminal_width() if tty else _columns(),
                                   precision=look.precision, cmap=look.cmap))
        return
    if fmt in IMAGES and output is None and sys.stdout.isatty():
        raise AttnError(f"refusing to write binary {fmt.upper()} to a terminal; use -o map.{fmt} or pipe it")
    data = picture_bytes(maps, fmt, look)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(output, data, protect=protect)


def picture_bytes(maps: MapSet, fmt: str, look: Look) -> bytes:
    """A picture as a file holds it: a heatmap as plain text ($COLUMNS or 120 wide), a PNG/SVG/PDF image, or an
    HTML page."""
    if fmt == "heatmap":
        from attncli.render.heatmap import heatmaps

        buf = io.StringIO()
        print_renderables(heatmaps(maps, color=False, width=_columns(), precision=look.precision, cmap=look.cmap),
                          file=buf)
        return buf.getvalue().encode("utf-8")
    if fmt in IMAGES:
        from attncli.render.figure import figure_bytes

        return figure_bytes(maps, fmt, dpi=look.dpi, cmap=look.cmap, precision=look.precision, warn=warn)
    from attncli.render.html import html_page

    return html_page(maps, cmap=look.cmap, precision=look.precision).encode("utf-8")


def _columns() -> int:
    """The width a heatmap written to a file or a pipe gets: $COLUMNS when it is a sane number, else 120."""
    text = os.environ.get("COLUMNS", "").strip()
    return int(text) if text.isdigit() and 20 <= int(text) <= 10_000 else 120


def _terminal_width() -> int:
    from rich.console import Console

    return Console().width


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
