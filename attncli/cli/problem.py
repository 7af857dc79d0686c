"""Problem files and the options every attention-computing command shares.

A PROBLEM.toml holds inputs (inline matrices, or paths relative to the file) and any option by its
name (`key_lens` or `key-lens`), flat or grouped in tables such as [inputs] and [options]. Options given
on the command line override the file. Whatever the file holds, reading it is a one-line error at worst:
integers are TOML's (64-bit), nesting is bounded, and keys and values echoed in messages are repr'd and
cut to 60 characters. `attention_command` gives a Typer command all of compute's
attention options plus the PROBLEM argument, and hands the merged values to the command.

A file that holds matrices is written in one layout, `layout = "rows"` unless it says `layout = "cols"`; a
--layout on the command line that contradicts it is an error (it would read X transposed), never a silent
reinterpretation.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from attncli.cli import options as opt
from attncli.errors import AttnError

# (parameter name, option alias, default): the attention options shared by compute, explain and check
ATTENTION_OPTIONS: list[tuple[str, Any, Any]] = [
    ("x", opt.X, None), ("x_kv", opt.XKV, None), ("image", opt.IMAGE, None), ("q", opt.Q, None),
    ("k", opt.K, None), ("v", opt.V, None),
    ("text", opt.TEXT, None), ("tokens", opt.TOKENS, None), ("ids", opt.IDS, None),
    ("tokenizer", opt.TOKENIZER, "whitespace"), ("embeddings", opt.EMBEDDINGS, None), ("vocab", opt.VOCAB, None),
    ("oov", opt.OOV, "error"), ("seed", opt.SEED, 0), ("labels", opt.LABELS, None),
    ("wq", opt.WQ, None), ("wk", opt.WK, None), ("wv", opt.WV, None), ("bq", opt.BQ, None), ("bk", opt.BK, None),
    ("bv", opt.BV, None), ("wo", opt.WO, None), ("bo", opt.BO, None), ("weights", opt.WEIGHTS, None),
    ("config", opt.CONFIG, None), ("layer", opt.LAYER, None),
    ("weights_layout", opt.WEIGHTS_LAYOUT, opt.WeightsLayout.auto), ("heads", opt.HEADS, None),
    ("kv_heads", opt.KV_HEADS, None),
    ("score", opt.SCORE_, opt.Score.scaled), ("scale", opt.SCALE, None), ("w_score", opt.W_SCORE, None),
    ("wa_q", opt.WA_Q, None), ("wa_k", opt.WA_K, None), ("va", opt.VA, None),
    ("normalize", opt.NORMALIZE, opt.Normalizer.softmax), ("temperature", opt.TEMPERATURE, 1.0),
    ("softcap", opt.SOFTCAP, None), ("sinks", opt.SINKS, None), ("q_norm", opt.Q_NORM, None),
    ("k_norm", opt.K_NORM, None), ("qk_norm_eps", opt.QK_NORM_EPS, 1e-6),
    ("causal", opt.CAUSAL, False), ("window", opt.WINDOW, None), ("key_lens", opt.KEY_LENS, None),
    ("query_lens", opt.QUERY_LENS, None), ("mask", opt.MASK_, None), ("mask_invert", opt.MASK_INVERT, False),
    ("bias", opt.BIAS, None), ("adjacency", opt.ADJACENCY, None), ("edges", opt.EDGES, None),
    ("undirected", opt.UNDIRECTED, False), ("self_loops", opt.SELF_LOOPS, False), ("window2d", opt.WINDOW2D, None),
    ("empty_rows", opt.EMPTY_ROWS, opt.EmptyRows.zero),
    ("pe", opt.PE, None), ("pe_base", opt.PE_BASE, 10000.0), ("pe_layout", opt.PE_LAYOUT, opt.PeLayout.interleaved),
    ("rope", opt.ROPE, False), ("rope_base", opt.ROPE_BASE, 10000.0), ("rope_dim", opt.ROPE_DIM, None),
    ("rope_layout", opt.ROPE_LAYOUT, opt.RopeLayout.half), ("start_pos", opt.START_POS, 0), ("alibi", opt.ALIBI, False),
    ("rel_embeddings", opt.REL_EMBEDDINGS, None), ("pos_att_type", opt.POS_ATT_TYPE, "c2p,p2c"),
    ("position_buckets", opt.POSITION_BUCKETS, 0), ("max_relative_positions", opt.MAX_RELATIVE_POSITIONS, 0),
    ("layout", opt.LAYOUT, opt.Layout.rows), ("dtype", opt.DTYPE, opt.DType.auto),
    ("allow_nonfinite", opt.ALLOW_NONFINITE, False),
]
ATTENTION_NAMES = [name for name, _, _ in ATTENTION_OPTIONS]
# options whose values are SOURCEs (paths are taken relative to the problem file)
PATH_OPTIONS = {"x", "x_kv", "image", "q", "k", "v", "tokens", "ids", "embeddings", "vocab", "labels", "wq", "wk",
                "wv", "bq", "bk", "bv", "wo", "bo", "weights", "w_score", "wa_q", "wa_k", "va", "sinks", "mask",
                "bias", "adjacency", "edges", "pe", "expected", "tokenizer", "config", "q_norm", "k_norm",
                "rel_embeddings"}
# inputs whose orientation the layout decides: a problem file holding any of them is written in one layout
MATRIX_KEYS = {"x", "x_kv", "q", "k", "v", "wq", "wk", "wv", "wo", "weights", "w_score", "wa_q", "wa_k", "mask",
               "bias", "adjacency", "pe", "expected", "rel_embeddings"}
LIST_AS_TEXT = {"key_lens", "query_lens", "window"}  # [5, 3] -> "5,3"; [2, 0] -> "2:0" for window
# keys some computing command takes: a problem file may hold them all, each command uses its own
COMMAND_KEYS = {"show", "fmt", "output", "precision", "what", "atol", "rtol", "decimals", "expected", "diagnose",
                "report", "dpi", "cmap", "threads", "max_cells", "points", "credit", "report_format", "visibility"}
INTS = {"layer", "heads", "kv_heads", "window2d", "seed", "start_pos", "rope_dim", "precision", "decimals", "top_k",
        "dpi", "threads", "max_cells"}
FLOATS = {"scale", "softcap", "qk_norm_eps", "temperature", "pe_base", "rope_base", "atol", "rtol", "points"}
PROBLEM_HELP = ("A problem file (TOML): inputs as inline matrices or paths relative to it, and any option by name; "
                "options on the command line win; its matrices are written in its layout (layout = \"rows\" unless it "
                "says \"cols\"). `attncli init` writes a template. e.g. samples/self_attention/problem.toml")
PROBLEMS_HELP = ("A problem file (TOML), or several: inputs as inline matrices or paths relative to it, and any option "
                 "by name; options on the command line win, for every problem; each problem's matrices are written in "
                 "its layout. e.g. samples/self_attention/problem.toml, or problems/*.toml")


def attention_command(fn=None, *, positional_problem: bool = True, several: bool = False):
    """Decorate a command: add PROBLEM and every attention option; call fn(**own, options=merged).

    With `several`, PROBLEM may be given more than once. One is applied as always. Several are handed to fn
    unapplied: options["problems"] (the paths) and options["each_problem"], a function of one path that returns
    (own, options) for that problem: its file's values under those given on the command line."""
    if fn is None:
        return functools.partial(attention_command, positional_problem=positional_problem, several=several)
    import typing

    hints = typing.get_type_hints(fn, include_extras=True)  # resolve `from __future__ import annotations`
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(fn).parameters.values() if p.name != "options"]
    problem_ann = (Annotated[list[str] | None, typer.Argument(help=PROBLEMS_HELP, show_default=False,
                                                              metavar="[PROBLEM]...")] if several
                   else Annotated[str | None, typer.Argument(help=PROBLEM_HELP, show_default=False,
                                                             metavar="[PROBLEM]")] if positional_problem
                   else Annotated[str | None, opt._opt(PROBLEM_HELP, opt.IN, "--problem")])
    KW = inspect.Parameter.KEYWORD_ONLY
    params = ([inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
              + ([inspect.Parameter("problem", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                    annotation=problem_ann)] if positional_problem else [])
              + own
              + ([] if positional_problem else [inspect.Parameter("problem", KW, default=None, annotation=problem_ann)])
              + [inspect.Parameter(n, KW, default=d, annotation=a) for n, a, d in ATTENTION_OPTIONS])

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, problem: Any = None, **kw: Any) -> Any:
        problems = list(problem or []) if several else None
        if problems is not None:
            problem = problems[0] if len(problems) == 1 else None
        answers = kw.get("answers")
        _refuse_strays(ctx, problem, answers)
        if problem is None and answers:  # `check answer.csv problem.toml`: the .toml is the problem
            tomls = [a for a in answers if a.endswith(".toml")]
            if len(tomls) > 1:
                raise AttnError(f"several problem files given ({', '.join(tomls)}); give one")
            if tomls:
                problem = tomls[0]
                kw["answers"] = [a for a in answers if a != problem]
        given = {n for n in kw if ctx.get_parameter_source(n) == _COMMANDLINE()}
        if problem is not None:
            apply_problem(problem, kw, given, own)
        own_names = {p.name for p in own}

        def split(values: dict[str, Any], path: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
            return ({n: v for n, v in values.items() if n in own_names},
                    {n: v for n, v in values.items() if n not in own_names} | {"problem": path})

        def each_problem(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
            values = dict(kw)
            apply_problem(path, values, given, own)
            return split(values, path)

        mine, options = split(kw, problem)
        if problems is not None:
            options |= {"problems": problems, "each_problem": each_problem}
        return fn(**mine, options=options)

    sig = inspect.Signature(params)
    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _refuse_strays(ctx: typer.Context, problem: str | None, answers: list[str] | None) -> None:
    """A positional that is no file and directly follows an option's value as more of it (`--key-lens 4 2`: the 2
    became PROBLEM, or an ANSWER of check) is the option written with a space: say how to write it (cli/argv.py)."""
    given = [(problem, "PROBLEM")] if problem is not None else []
    given += [(a, "an ANSWER") for a in answers or []]
    for token, role in given:
        if not os.path.lexists(token):
            from attncli.cli.argv import stray_value

            message = stray_value(ctx, token, role)
            if message is not None:
                raise AttnError(message)


def apply_problem(problem: str, kw: dict[str, Any], given: set[str], own: list[inspect.Parameter]) -> None:
    """Fill `kw` (values by parameter name) from PROBLEM.toml, except the names `given` on the command line (they
    win); a --layout given that contradicts the file's layout is an error (check_layout)."""
    loaded = load_problem(problem, list(kw))
    if "layout" in given:
        check_layout(problem, loaded, str(kw["layout"]))
    for name, value in loaded.items():
        if name not in given:
            kw[name] = _convert(name, value, _default_of(name, own))


def check_layout(problem: str, loaded: dict[str, Any], flag: str) -> None:
    """A problem file's matrices are written in one layout: `layout = "rows"` unless it says otherwise. A --layout
    flag that contradicts it would read X (and every weight) transposed, so it is an error saying what to change."""
    if not MATRIX_KEYS & loaded.keys():
        return  # only options and text: --layout just says how to show the results
    written = str(loaded.get("layout", "rows"))
    if written == flag:
        return
    said = "" if "layout" in loaded else " (the default)"
    raise AttnError(f"--layout {flag} conflicts with PROBLEM '{problem}', whose matrices are written with "
                    f"layout = \"{written}\"{said}; drop --layout, or set layout = \"{flag}\" in the file and write "
                    f"its matrices with tokens as {'columns' if flag == 'cols' else 'rows'}")


def _COMMANDLINE():  # noqa: N802 - the enum member, imported lazily from typer's (vendored) click
    try:
        from typer._click.core import ParameterSource
    except ImportError:  # pragma: no cover
        from click.core import ParameterSource
    return ParameterSource.COMMANDLINE


def _default_of(name: str, own: list[inspect.Parameter]) -> Any:
    for n, _, d in ATTENTION_OPTIONS:
        if n == name:
            return d
    return next((p.default for p in own if p.name == name), None)


def load_problem(path: str, valid: list[str]) -> dict[str, Any]:
    """Read PROBLEM.toml into {option name: value}, paths made relative to the file."""
    from attncli.io.problem_read import read_problem_toml

    data = read_problem_toml(path)
    flat = _flatten(data, path)
    base = Path(path).resolve().parent
    out: dict[str, Any] = {}
    hidden = {"ctx", "problem", "debug", "options"}
    choices = sorted(set(ATTENTION_NAMES) | COMMAND_KEYS | {v for v in valid if v not in hidden})
    for name, (key, value) in flat.items():
        if name not in choices:
            near = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0].replace('_', '-')}'?" if near else ""
            raise AttnError(f"PROBLEM: '{path}' has an unknown key {_shown(key)}{hint} "
                            "(keys are option names, e.g. x, wq, heads, key-lens, causal)")
        if name in valid:  # keys for other commands (e.g. check's `what` under compute) are skipped
            out[name] = _resolve_paths(name, key, value, base, path)
    return out


def _option_name(key: str) -> str:
    """The parameter a problem-file key sets: `key-lens` and `key_lens` are one; `format` is fmt."""
    return {"format": "fmt"}.get(key, key).replace("-", "_")


def _flatten(data: dict[str, Any], path: str) -> dict[str, tuple[str, Any]]:
    """{parameter name: (the key as written, its value)} over the top level and the tables ([inputs], [options],
    [check], ...: they only group keys, any key may sit in any of them). A key set in two places (two tables, or
    a table and the top level; `key-lens` and `key_lens` count as one) would silently let the later one win, so
    it is an error naming both places."""
    flat: dict[str, tuple[str, Any]] = {}
    where: dict[str, str] = {}
    items = [(k, v, "at the top level") for k, v in data.items() if not isinstance(v, dict)]
    items += [(k2, v2, f"in [{_table(k)}]") for k, v in data.items() if isinstance(v, dict) for k2, v2 in v.items()]
    for key, value, place in items:
        name = _option_name(key)
        if name in flat:
            first = flat[name][0]
            also = "" if first == key else f" (as {_shown(first)})"
            raise AttnError(f"PROBLEM: '{path}' sets {_shown(key)} twice: {where[name]}{also} and {place}; "
                            "keep one (tables only group keys, so both would set the same option)")
        flat[name], where[name] = (key, value), place
    return flat


def _table(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() and len(name) <= 40 else _shown(name)


def _resolve_paths(name: str, key: str, value: Any, base: Path, problem: str) -> Any:
    if name not in PATH_OPTIONS:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [_resolve_one(v, base, key, problem) for v in value]
    if isinstance(value, str):
        return _resolve_one(value, base, key, problem)
    return value


def _resolve_one(value: str, base: Path, key: str, problem: str) -> str:
    """A SOURCE in a problem file: a path relative to the file (or `file:name`) becomes that file; an inline matrix
    or a word (sinusoidal, whitespace, random:8) stays. A plain path that is not there is an error naming the key,
    the path as resolved (beside the problem file) and the problem file, never a silent look elsewhere."""
    head, sep, tail = value.rpartition(":")
    for candidate, rest in ((value, ""), (head, sep + tail) if sep else (None, "")):
        if candidate and os.path.exists(base / candidate) and not os.path.isabs(candidate):
            return str(base / candidate) + rest
    from attncli.io.paths import looks_like_path

    for candidate in (value, head if sep else None):
        if candidate and looks_like_path(candidate) and not os.path.exists(candidate if os.path.isabs(candidate)
                                                                           else base / candidate):
            raise _missing_in_problem(problem, key, value, candidate)
    return value


def _missing_in_problem(problem: str, key: str, value: str, candidate: str) -> AttnError:
    """`PROBLEM sub/p2.toml: x = "x.csv": no such file sub/x.csv` (the path as the command line would reach it),
    and what helps find it (io.paths)."""
    from attncli.io.paths import missing_file

    resolved = candidate if os.path.isabs(candidate) else os.path.join(os.path.dirname(problem), candidate)
    detail = missing_file(resolved, quoted=False)
    written = _cut(value).replace("\\", "\\\\").replace('"', '\\"')
    return AttnError(f"PROBLEM {problem}: {key} = \"{written}\": {detail}")


def _convert(name: str, value: Any, default: Any) -> Any:
    """A TOML value as the option's type; nested number lists become inline matrices."""
    import json  # only problem files need it

    where = f"PROBLEM: {name.replace('_', '-')}"
    if name in LIST_AS_TEXT and isinstance(value, list):
        return (":" if name == "window" else ",").join(str(v) for v in value)
    if name in LIST_AS_TEXT and isinstance(value, int):
        return str(value)
    if isinstance(default, Enum):
        try:
            return type(default)(str(value))
        except ValueError:
            raise AttnError(f"{where} must be one of {', '.join(m.value for m in type(default))}; "
                            f"got {_shown(value)}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise AttnError(f"{where} is a switch: write true or false; got {_shown(value)}")
        return value
    if name in PATH_OPTIONS:
        if isinstance(value, list) and name in ("wq", "wk", "wv", "bq", "bk", "bv"):
            if value and all(isinstance(v, str) for v in value):
                return value  # one SOURCE per head
            return [json.dumps(value)]
        if isinstance(value, list):
            return json.dumps(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return json.dumps(value)
        if name in ("wq", "wk", "wv", "bq", "bk", "bv"):
            return [value]
        return value
    if name in FLOATS or isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise AttnError(f"{where} must be a number; got {_shown(value)}")
        return float(value)
    if name in INTS or isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise AttnError(f"{where} must be an integer; got {_shown(value)}")
        return value
    if isinstance(value, (list, dict)):
        raise AttnError(f"{where} must be a single value; got {_shown(value)}")
    return value if isinstance(value, str) or value is None else str(value)


def _cut(text: str, limit: int = 60) -> str:
    from attncli.io.problem_read import cut  # loaded when a message needs it, not for --help

    return cut(text, limit)


def _shown(value: Any) -> str:
    from attncli.io.problem_read import shown

    return shown(value)
