"""The command line as typed, for the one mistake its parse hides: a second value after an option that takes one.

`--key-lens 4 2` gives --key-lens the 4; the 2 becomes the next positional argument (compute's PROBLEM, one of
check's ANSWERs) or one too many, and the message would be about that instead ("no such file '2'"). `main` hands
the arguments to the command's context (`ctx.obj["argv"]`); `stray_value` walks them as click does (options that
take a value, flags, `--opt=value`, `-o value`, `--`) and, when a positional directly follows an option's value and
reads as more of it, says how to write the option: `--key-lens takes one value: write --key-lens 4,2 (commas, no
spaces)`. Nothing here runs unless a positional was already found wrong (not a file) or click refused extras.
"""

from __future__ import annotations

import re
from typing import Any

from attncli.io.inline import NUMBER

# a number, or numbers joined by `,` or `:` (what --key-lens 5,3 or --window 3:0 take)
_NUMBERS = re.compile(rf"{NUMBER}(?:[,:]{NUMBER})*")
_WORD = re.compile(r"[A-Za-z_][\w.+-]*")


class Run:
    """An option, the value it took, and the positional arguments that directly follow that value."""

    def __init__(self, option: str, value: str, param: Any) -> None:
        self.option, self.value, self.param = option, value, param
        self.after: list[str] = []


def runs(args: list[str], params: list[Any]) -> list[Run]:
    """The options of `args` (a command's arguments, after its name) that are followed by positionals."""
    takes_value: dict[str, Any] = {}
    for p in params:
        if getattr(p, "param_type_name", "") == "option" and not (p.is_flag or p.count):
            for name in (*p.opts, *p.secondary_opts):
                takes_value[name] = p
    found: list[Run] = []
    current: Run | None = None
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            break  # everything after is positional, as written
        name, eq, attached = token.partition("=")
        if token.startswith("--") and eq and name in takes_value:
            current, i = Run(name, attached, takes_value[name]), i + 1
        elif token in takes_value:
            if i + 1 >= len(args):
                break
            current, i = Run(token, args[i + 1], takes_value[token]), i + 2
        elif token.startswith("-") and len(token) > 1:
            short = token[:2]
            current = Run(short, token[2:], takes_value[short]) if short in takes_value and not token[1] == "-" \
                else None  # a flag (or -ojson: a short option with its value attached)
            i += 1
        else:
            if current is not None:
                if not current.after:
                    found.append(current)
                current.after.append(token)
            i += 1
    return found


def _kind(run: Run) -> str:
    """How the option's one value is written: comma (5,3), colon (3:0), source (an inline matrix) or plain."""
    metavar = str(getattr(run.param, "metavar", None) or "")
    example = re.search(re.escape(run.option) + r"[ =](\S+)", str(getattr(run.param, "help", None) or ""))
    if "," in metavar or metavar == "NAMES" or (example and "," in example.group(1)):
        return "comma"
    if ":" in metavar:
        return "colon"
    return "source" if metavar == "SOURCE" else "plain"


def _more_of_it(run: Run, strays: list[str]) -> bool:
    """True if the positionals after the option's value read as more of that value."""
    if _NUMBERS.fullmatch(run.value) and all(_NUMBERS.fullmatch(s) for s in strays):
        return True
    return _kind(run) == "comma" and all(_WORD.fullmatch(s) and "." not in s for s in strays)


def stray_message(run: Run, strays: list[str], role: str | None) -> str:
    """`--key-lens takes one value: write --key-lens 4,2 (commas, no spaces)`, or the like for the option's kind;
    `role` says what the first stray was taken as (PROBLEM, an ANSWER) or None when click found it one too many."""
    opt, values, kind = run.option, [run.value, *strays], _kind(run)
    if kind == "comma":
        return f"{opt} takes one value: write {opt} {','.join(values)} (commas, no spaces)"
    if kind == "colon" and len(values) == 2:
        return f"{opt} takes one value: write {opt} {':'.join(values)} (no spaces)"
    if kind == "source":
        return f"{opt} takes one value: quote an inline matrix: {opt} \"{' '.join(values)}\""
    shown = "'" + " ".join(strays) + "'"
    taken = f"was read as {role}" if role else "is one too many" if len(strays) == 1 else "are too many"
    tails = {"PROBLEM": " (not a file)", "an ANSWER": "; an ANSWER typed inline goes before the options"}
    tail = tails.get(role or "", "")
    return f"{opt} takes one value ({opt} {run.value}); {shown} after it {taken}{tail}"


def _args_of(ctx: Any) -> list[str] | None:
    """The command's own arguments (after its name), as typed; None when the CLI's main did not record them."""
    obj = getattr(ctx, "obj", None)
    argv = obj.get("argv") if isinstance(obj, dict) else None
    if not argv:
        return None
    return list(argv[1:])


def stray_value(ctx: Any, token: str, role: str) -> str | None:
    """The message when positional `token` (taken as `role`) directly follows an option's value and reads as more
    of that value (`--key-lens 4 2`); None otherwise."""
    args = _args_of(ctx)
    if args is None:
        return None
    for run in runs(args, ctx.command.params):
        if token in run.after:
            strays = run.after[: run.after.index(token) + 1]
            if _more_of_it(run, strays):
                return stray_message(run, run.after if _more_of_it(run, run.after) else strays, role)
    return None


def extra_arguments(ctx: Any, args: list[str], extras: list[str]) -> str | None:
    """Click refused `extras` as one too many: the message when they follow an option's value as more of it."""
    if ctx is None or not extras:
        return None
    for run in runs(args[1:], ctx.command.params):
        if extras[0] in run.after and _more_of_it(run, run.after):
            return stray_message(run, run.after, None)
    return None
