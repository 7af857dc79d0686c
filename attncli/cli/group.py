"""The command group every attncli command registers on (`@app.command()`), and its --version.

A module of its own so that the commands' modules and attncli.cli (which imports them, see `load_commands`) both
import it, and neither imports the other.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="attncli",
    help="attncli: an attention calculator for the shell. Compute attention maps and outputs from "
    "matrices in files (CSV, NPY, NPZ, safetensors, JSON) or inline, and print or export them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)


def _version(value: bool) -> None:
    if value:
        from attncli.version import __version__

        print(f"attncli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _group(
    version: bool = typer.Option(False, "--version", help="Print attncli's version and exit.", is_eager=True,
                                 callback=_version),
) -> None:
    """Makes attncli a group of commands even when only one is loaded (the help is Typer's help= above)."""
