"""The command line: Typer commands, kept thin. `main()` is the console script.

Each command parses options, reads arrays through attncli.io, calls attncli.core, and hands the
result to attncli.render or attncli.io's writer. User mistakes raise AttnError; `main` prints them as
one `error: ...` line and exits 2. Heavy modules are imported inside the commands, not here, and a run
imports and builds only the command it runs (`load_commands`); help and mistyped commands load them all.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import warnings
from collections.abc import Iterable

import typer

from attncli import blas
from attncli.cli.group import app
from attncli.errors import AttnError
from attncli.io.files import (  # light: no numpy
    StdoutClosed,
    forget_inputs,
    guard_standard_streams,
    silence_stdout,
    stdout_failed,
)
from attncli.startup import BLAS  # before numpy loads (nothing above loads it): BLAS threads and kernels

# command -> the module that defines it, in the order `attncli --help` lists them. Typer builds the options of
# every registered command before it parses anything, which costs more than computing a small map, so
# main() registers only the command being run.
COMMANDS = {"check": "check", "compute": "compute", "embed": "embed", "explain": "explain", "init": "init",
            "inspect": "inspect", "model": "model", "show": "show", "pe": "tables", "mask": "tables",
            "grader": "deploy"}


def load_commands(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """Register the named commands on `app` (by importing their modules) and return it; all by default."""
    for module in dict.fromkeys(COMMANDS[name] for name in names):
        importlib.import_module(f"attncli.cli.{module}")
    order = list(COMMANDS)  # the same listing whichever command a process loaded first
    app.registered_commands.sort(key=lambda c: order.index(c.name or c.callback.__name__))  # type: ignore[union-attr]
    return app


INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)
BROKEN_PIPE = 141  # the shell's code for a process ended by SIGPIPE (128 + 13): the reader went away
FLOAT_WARNINGS = r"(overflow|underflow|invalid value|divide by zero) encountered"
MESSAGE_LIMIT = 1000  # characters of an error line; longer ones are cut in the middle
# signals whose default is to end the process: each ends attncli the same way Ctrl-C does (temporary files
# removed), with exit status 128 + the signal's number
TERMINATING = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGXCPU")


class Terminated(BaseException):
    """A terminating signal arrived (like KeyboardInterrupt, not an Exception: `except Exception` lets it by)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    import signal

    for name in TERMINATING:  # a second signal during the clean-up does not cut it short
        with contextlib.suppress(AttributeError, ValueError, OSError):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Terminated(signum)


def _catch_signals() -> dict[int, object]:
    """Install `_on_signal` for the TERMINATING signals left at their default; returns what to restore."""
    import signal
    import threading

    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for name in TERMINATING:
        number = getattr(signal, name, None)
        if number is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(number) == signal.SIG_DFL:  # a signal the parent set to be ignored stays so
                previous[number] = signal.signal(number, _on_signal)
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    """Put back the handlers main() replaced (a process that calls main() again, or a test runner, keeps its own)."""
    import signal

    for number, handler in previous.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(number, handler)  # type: ignore[arg-type]


def _one_line(message: str) -> str:
    """An error message as one printable line: newlines folded, control characters escaped, cut to a length."""
    text = " ".join(str(message).splitlines())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > MESSAGE_LIMIT:
        cut = len(text) - MESSAGE_LIMIT
        text = f"{text[: MESSAGE_LIMIT * 3 // 4]} ... ({cut:,} characters cut) ... {text[-MESSAGE_LIMIT // 4:]}"
    return text


def _say(line: str) -> None:
    """One line on stderr, even if stderr itself is broken."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(line, file=sys.stderr, flush=True)


def _click_exceptions():
    """Typer ≥ 0.2x vendors click as typer._click; older versions use click itself."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions
    return exceptions


def _usage_message(err: Exception, args: list[str]) -> str:
    """Click's message on one line (it names the option), and where the help is."""
    message = " ".join(err.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(err, "ctx", None)
    extras = re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)\.?", message)
    if extras and ctx is not None:  # `--key-lens 4 2 1`: more values after an option than it takes
        from attncli.cli.argv import extra_arguments

        stray = extra_arguments(ctx, args, extras.group(1).split())
        if stray is not None:
            return stray
    where = ctx.command_path if ctx is not None else "attncli"
    if where == "attncli" and args and args[0] in COMMANDS:
        where = f"attncli {args[0]}"
    return f"{message.rstrip('.')}; see '{where} --help'"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Exit codes: 0 ok (also `attncli` alone, which prints the help, and --version); 1 a `check`
    mismatch; 2 a usage or input error (one line
    `error: ...`); 70 an internal error (a bug: still one line, --debug shows the traceback); 130 Ctrl-C;
    141 standard output closed by its reader (`| head`); 128+N ended by signal N (143 SIGTERM, 129 SIGHUP).

    Without `argv` (the console script, `python -m attncli`) main ends the process itself when the command is
    done (`end_process`); with `argv` it returns, or raises SystemExit, as any function would."""
    if argv is not None:
        run(argv)
        return
    try:
        run(sys.argv[1:])
    except SystemExit as done:
        end_process(done.code)
        raise
    end_process(0)


def end_process(code: object) -> None:
    """End the process with exit status `code` as Python's own exit does — wait for threads, run the atexit
    callbacks, flush standard output and error — but without then tearing down every module one by one, which
    took 15–18 ms of every run (~280 modules: numpy, typer, attncli) and nothing needs: every file attncli writes is
    closed by then. Returns, leaving the exit to Python, when `code` is not a number or a stream cannot be
    flushed (Python then reports it as it always did)."""
    if code is None:
        code = 0
    if not isinstance(code, int) or not 0 <= code <= 255:
        return
    import threading

    if threading.current_thread() is not threading.main_thread():  # main() run by a thread: not its process to end
        return
    try:
        import atexit

        threading._shutdown()  # type: ignore[attr-defined]  # what Python's exit does first: join threads
        atexit._run_exitfuncs()
        streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)  # (the originals, if replaced)
        for stream in {id(s): s for s in streams if s is not None}.values():
            stream.flush()
    except BaseException:  # noqa: BLE001 - Python's exit will meet (and report) the same problem
        return
    os._exit(code)


def run(args: list[str]) -> None:
    """The command line `args` (without the program name): see `main`."""
    cx = _click_exceptions()
    debug = "--debug" in args or os.environ.get("ATTNCLI_DEBUG") == "1"
    if not debug:  # numpy's floating-point warnings are noise on stderr; wrong numbers are errors in core
        warnings.filterwarnings("ignore", FLOAT_WARNINGS, RuntimeWarning)
    previous: dict[int, object] = {}
    try:
        forget_inputs()
        guard_standard_streams()
        previous = _catch_signals()
        if BLAS.error:
            raise AttnError(BLAS.error)
        load_commands([args[0]] if args and args[0] in COMMANDS else COMMANDS)
        # the arguments as typed ride on the context, for messages about how they were parsed (cli/argv.py)
        code = app(args=args, prog_name="attncli", standalone_mode=False, obj={"argv": list(args)})
        if code == INTERRUPTED:  # typer turns Ctrl-C into a silent exit code 130
            raise KeyboardInterrupt
        _flush_stdout()
        if isinstance(code, int) and code:
            sys.exit(code)  # e.g. check's exit 1 when an answer fails
    except AttnError as err:
        if debug:
            raise
        if stdout_failed():  # the error came from writing standard output: the exit-time flush must not retry
            silence_stdout()
        from attncli.cli.params import message

        _say(f"error: {_one_line(message(err))}")
        sys.exit(2)
    except typer.Exit as err:
        _flush_stdout_quietly()
        if err.exit_code == INTERRUPTED:
            _say("interrupted")
        sys.exit(err.exit_code)
    except cx.ClickException as err:  # usage mistakes: unknown option, bad choice, missing value
        if type(err).__name__.startswith("NoArgsIsHelp"):  # bare `attncli`: the help itself, not a mistake
            err.show()
            sys.exit(0 if not args else 2)  # exit 1 means a failed check; 2 a usage error
        _say(f"error: {_one_line(_usage_message(err, args))}")
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        silence_stdout()
        _say("interrupted")
        sys.exit(INTERRUPTED)
    except Terminated as err:
        silence_stdout()
        sys.exit(128 + err.signum)
    except (BrokenPipeError, StdoutClosed):
        # the reader of our stdout went away (e.g. `| head`): nothing more to say, whatever the format
        silence_stdout()
        sys.exit(BROKEN_PIPE)
    except MemoryError:
        if debug:
            raise
        _say("error: out of memory; try smaller inputs, fewer --show arrays, or --dtype float32")
        sys.exit(2)
    except RecursionError:
        if debug:
            raise
        _say("error: an input is nested too deeply to read (a JSON or TOML array inside thousands of arrays); "
             "give a flat table or an .npy file")
        sys.exit(2)
    except Exception as err:  # a bug in attncli, not the user's fault: still no traceback unless --debug
        if debug:
            raise
        _say(_one_line(f"error: internal error ({type(err).__name__}: {err}); this is a bug in attncli, please "
                       "report it with the command line; --debug shows the traceback"))
        sys.exit(70)
    finally:
        _restore_signals(previous)
        if debug and "numpy" in sys.modules:  # which kernels the products ran on
            _say_blas()


def _say_blas() -> None:
    """--debug's line on the BLAS library, its kernels and who chose them (asked of the loaded library)."""
    try:
        line = blas.describe_line()
    except Exception as err:  # noqa: BLE001 - a report must not turn a run into a failure
        line = f"not known ({type(err).__name__}: {err})"
    _say(f"debug: BLAS {line}")


def _flush_stdout() -> None:
    """Make a failure to write the last of standard output happen here, inside main's error handling."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _flush_stdout_quietly() -> None:
    try:
        _flush_stdout()
    except (OSError, AttnError):
        silence_stdout()
