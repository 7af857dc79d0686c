"""Fuzzing attncli, part 4: the hostile inputs of issue #12, "nothing overwritten, nothing blown up".

Five classes of command lines, drawn by tests/fuzz.py (target `hostile`) and tests/test_fuzz.py; the
oracle is tests/fuzz_oracle.py, which checks for every case what the class promises:

- `clobber`: -o, `check --report` or `embed -o` names a file an option read (arrays, word vectors,
  --tokens, --ids, --vocab, --labels, a tokenizer.json, the PROBLEM file or a file it names, standard
  input that is a file), directly, as sub/../name, through a symlink, a chain of them, a symlinked
  directory or a hard link. Exit 2 "refusing to overwrite"; the input the same bytes and the same file.
- `hostile-file`: the hostile files of tests/fuzz_files.py (numbers of 5,000 digits, 50,000-deep nesting,
  100-dimension and 2**70 shapes, zip bombs) and hostile PROBLEM.toml files, through compute, inspect,
  show, check and explain, under ATTNCLI_MEMORY_LIMIT=256M: one line or a result, never out of memory.
- `huge`: huge sizes in options and generators (pe/mask lengths, random:DIM, onehot over many tokens,
  pictures at --dpi 1200 with many heads, --threads, --seed) and nonsense ATTNCLI_MEMORY_LIMIT and
  COLUMNS values, bounded the same way.
- `control`: control characters (ESC sequences, C1, bidi overrides, lone surrogates) and rich markup in
  --text, --tokens, --labels, word-vector and vocabulary files, CSV cells, file names, TOML keys: nothing
  raw on the terminal, the original strings in JSON.
- `long`: values of 100 KB to 1 MB echoed in errors (CSV cells, inline literals, paths, option values):
  the error line stays short.
"""

from __future__ import annotations

import json

import numpy as np
from fuzz_cli import DIR, Case
from fuzz_files import DEEP, DIGITS, hostile_file, json_bytes, npy_bytes, npz_bytes, safetensors_bytes, text_bytes
from hypothesis import strategies as st

LIMIT = {"ATTNCLI_MEMORY_LIMIT": "256M"}  # refusals come fast and the machine is never at risk
OPEN = {"on": True}


def configure(*, open_bugs: bool = True) -> None:
    """Include (default) or leave out the inputs of the issue #12 bugs this fuzzing found and reported, all
    fixed since and drawn everywhere (sizes of 400 digits, whose estimates overflowed a float; PROBLEM.toml
    values longer than a file name, ENAMETOOLONG; and these three):

    - a PROBLEM.toml with a dotted key 20,000 deep (`a.a.a... = 1`): tomllib's time and memory grow as the
      depth squared (2.4 GB, 5 s for a 40 KB file) under any ATTNCLI_MEMORY_LIMIT: now refused before parsing;
    - undecodable bytes in argv (lone surrogates, `--text $'w\\xff'`) with --embeddings random:DIM:
      UnicodeEncodeError in embeddings.random_vector (exit 70): now hashed as given;
    - `pe --kind alibi --length 4 --heads 100000` as a table (the default): 100,000 tables, 73 MB, printed at
      about 0.5 MB/s (minutes; past the oracle's SLOW_SECONDS), where JSON takes 1.5 s: now the first 64 tables
      and a notice.
    """
    OPEN["on"] = open_bugs

X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # 3 tokens × 2: every template below is consistent with it
EMB = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.5, 0.5]])
MAPS = np.full((2, 3, 3), 1 / 3)
WRITES = {  # command -> the -o extensions it writes (pictures are slower: drawn rarely)
    "compute": ["json", "csv", "tsv", "npy", "npz", "safetensors", "txt"],
    "explain": ["md", "tex", "json", "txt"],
    "embed": ["json", "csv", "tsv", "npy", "npz", "safetensors", "txt"],
    "show": ["json", "csv", "tsv", "npy", "npz", "safetensors", "txt"],
    "check": ["csv", "json"],
}
PICTURES = {"compute": ["html", "svg", "png"], "explain": ["html"], "show": ["html", "svg", "png"]}


def _array_file(draw, a: np.ndarray, stem: str, exts: list[str] | None = None) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(exts or ["npy", "csv", "json", "tsv", "txt", "npz", "safetensors"]))
    data = {"npy": lambda: npy_bytes(a), "json": lambda: json_bytes(a), "npz": lambda: npz_bytes({"a": a}),
            "safetensors": lambda: safetensors_bytes({"a": a}), "csv": lambda: text_bytes(a, ","),
            "tsv": lambda: text_bytes(a, "\t"), "txt": lambda: text_bytes(a, " ")}[ext]()
    return f"{stem}.{ext}", data


TOKENIZER = json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
                        "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
                        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1, "b": 2, "c": 3},
                                  "unk_token": "[UNK]"}}).encode()


@st.composite
def _reading_command(draw) -> tuple[str, list[str], dict[str, bytes], list[str], str | None]:
    """(command, argv with {f} where the protected file goes, files, names the command reads, stdin file)."""
    files: dict[str, bytes] = {}
    kind = draw(st.sampled_from(["array", "array", "embeddings", "tokens", "ids", "vocab", "labels", "tokenizer",
                                 "problem", "problem-names", "check", "show", "stdin"]))
    command = draw(st.sampled_from(["compute", "compute", "explain"]))
    if kind == "array":
        option, shape = draw(st.sampled_from([("--x", None), ("--x", None), ("--x-kv", None), ("--wq", (2, 2)),
                                              ("--mask", (3, 3)), ("--bias", (3, 3)), ("--adjacency", (3, 3)),
                                              ("--pe", (4, 2)), ("--weights", None), ("--edges", None),
                                              ("--image", (2, 2, 2))]))
        if option == "--weights":
            name, files[name] = "w.safetensors", safetensors_bytes({k: np.eye(2) for k in ("wq", "wk", "wv")})
        elif option == "--edges":
            name, files[name] = "edges.txt", b"0 1\n1 2\n"
        else:
            a = np.ones(shape) if shape else X
            name, files[name] = _array_file(draw, a, option[2:].replace("-", "_"),
                                            ["npy", "json"] if option == "--image" else None)
        argv = [command, option, "{f}"] if option in ("--x", "--image") else [command, "--x", "1 0; 0 2; 1 1",
                                                                                  option, "{f}"]
        if option == "--wq":
            argv += ["--wk", "1 0; 0 1", "--wv", "1 0; 0 1"]
        return command, argv, files, [name], None
    if kind == "embeddings":
        command = draw(st.sampled_from(["compute", "explain", "embed"]))
        files["emb.txt"] = b"a 1 0\nb 0 1\nc 1 1\n"
        return command, [command, "--text", "a b c", "--embeddings", "{f}"], files, ["emb.txt"], None
    if kind == "tokens":
        command = draw(st.sampled_from(["compute", "explain", "embed"]))
        files["toks.txt"] = b"a b c\nb a\n"
        return command, [command, "--tokens", "{f}", "--embeddings", "random:4"], files, ["toks.txt"], None
    if kind in ("ids", "vocab"):
        command = draw(st.sampled_from(["compute", "embed"]))
        emb, files[emb] = _array_file(draw, EMB, "emb", ["npy", "csv", "json", "safetensors"])
        files["vocab.txt"] = b"a\nb\nc\nd\n"
        if kind == "ids":
            files["ids.txt"] = b"0 1 2\n3 1\n"
            argv = [command, "--ids", "{f}", "--embeddings", "{g}"]
            return command, argv, files, ["ids.txt", emb], None
        argv = [command, "--text", "a b c", "--vocab", "{f}", "--embeddings", "{g}"]
        return command, argv, files, ["vocab.txt", emb], None
    if kind == "labels":
        command = draw(st.sampled_from(["compute", "explain", "show"]))
        files["labels.txt"] = b"I\nlove\nfish\n"
        if command == "show":
            files["maps.npy"] = npy_bytes(MAPS)
            return command, ["show", "{g}", "--labels", "{f}"], files, ["labels.txt", "maps.npy"], None
        return command, [command, "--x", "1 0; 0 2; 1 1", "--labels", "{f}"], files, ["labels.txt"], None
    if kind == "tokenizer":
        command = draw(st.sampled_from(["compute", "embed"]))
        files["tokenizer.json"] = TOKENIZER
        emb = draw(st.sampled_from(["random:4", "{g}"]))
        if emb == "{g}":
            files["emb.npy"] = npy_bytes(EMB)
        argv = [command, "--text", "a b c", "--tokenizer", "{f}", "--embeddings", emb]
        return command, argv, files, ["tokenizer.json"] + (["emb.npy"] if emb == "{g}" else []), None
    if kind in ("problem", "problem-names"):
        x, files[x] = _array_file(draw, X, "x", ["npy", "csv", "json"])
        problem = "problem.toml" if command == "explain" or draw(st.booleans()) else "problem.txt"
        files[problem] = f'[inputs]\nx = "{x}"\n[options]\nscore = "dot"\n'.encode()
        names = [problem, x] if kind == "problem" else [x, problem]
        return command, [command, "{f}" if kind == "problem" else "{g}"], files, names, None
    if kind == "check":
        answer, files[answer] = _array_file(draw, np.eye(3), "answer", ["csv", "json", "npy"])
        expected, files[expected] = _array_file(draw, np.eye(3), "expected", ["csv", "json", "npy"])
        if draw(st.booleans()):
            files["problem.toml"] = b'[inputs]\nx = "1 0; 0 2; 1 1"\n[check]\nwhat = "weights"\n'
            return "check", ["check", "{f}", "{g}"], files, [answer, "problem.toml"], None
        return "check", ["check", "{f}", "--expected", "{g}"], files, [answer, expected], None
    if kind == "show":
        maps, files[maps] = _array_file(draw, MAPS, "maps", ["npy", "json", "npz", "safetensors"])
        return "show", ["show", "{f}"], files, [maps], None
    command = draw(st.sampled_from(["compute", "embed"]))  # standard input that is a file: `< x.npy`
    if command == "compute" and draw(st.booleans()):
        x, files[x] = _array_file(draw, X, "x", ["npy", "csv", "json"])
        return command, [command, "--x", "-"], files, [x], x
    files["toks.txt"] = b"a b c\n"
    return command, [command, "--tokens", "-", "--embeddings", "random:4"], files, ["toks.txt"], "toks.txt"


@st.composite
def clobber_case(draw) -> Case:
    """Class 1: an output onto a file the command read, however it is spelled."""
    command, argv, files, names, stdin_file = draw(_reading_command())
    protected = draw(st.sampled_from(names))
    argv = [a.replace("{f}", DIR + names[0]).replace("{g}", DIR + names[-1]) for a in argv]
    exts = WRITES[command] + (PICTURES.get(command, []) if draw(st.integers(0, 9)) == 0 else [])
    ext = draw(st.sampled_from(exts))
    links: dict[str, str] = {}
    how = draw(st.sampled_from(["direct", "dotted", "symlink", "symlink", "chain", "dirlink", "hardlink",
                                "hardlink"]))
    if how in ("direct", "dotted", "dirlink") and protected.rsplit(".", 1)[-1] not in WRITES[command]:
        how = "symlink"  # -o's format comes from its extension: a .toml is reached through a link named .json
    if how == "direct":
        target = protected
    elif how == "dotted":
        files["sub/keep"] = b""
        target = "sub/../" + protected
    elif how == "dirlink":
        links["d"] = "symlink:."
        target = "d/" + protected
    elif how == "chain":
        links["l0." + ext] = "symlink:" + protected
        links["l1." + ext] = "symlink:l0." + ext
        target = "l1." + ext
    else:
        target = "link." + ext
        links[target] = f"{how}:{protected}"
    problem = argv[1][len(DIR):] if len(argv) == 2 and argv[1].endswith((".toml", ".txt")) else None
    if command == "check":
        argv += ["--report", DIR + target]
    elif problem is not None and draw(st.integers(0, 3)) == 0:
        # the problem file asks for the output itself: `output = "..."`, relative to the working directory,
        # which run_case makes the case's directory
        files[problem] += f'\n[output]\noutput = "{target}"\n'.encode()
    else:
        argv += ["-o", DIR + target]
    return Case(argv, files, kind="clobber", links=links, stdin_file=stdin_file, refuse=protected)


@st.composite
def hostile_toml(draw) -> bytes:
    """PROBLEM.toml with 5,000-digit integers, 50,000-deep arrays, keys holding newlines and control characters
    (dotted keys only 20,000 deep: tomllib's time and memory grow as the depth squared)."""
    n = draw(st.sampled_from(DEEP))
    known = ["[options]\n" + ".".join(["a"] * 20_000) + " = 1"]
    body = draw(st.sampled_from((known if OPEN["on"] else []) + ['x = "' + "A" * 100_000 + '"',
        f"heads = {DIGITS}", f"heads = {2**70}", "[inputs]\nx = [" + "[" * n + "]" * n + "]",
        "[inputs]\nx = " + "[" * n + "1" + "]" * n, "x = " + "{a = " * n + "1" + "}" * n,
        '"a\\nb" = 1', '"\\u001b[2J" = 1', '"\\u001b]0;title\\u0007" = 1',
        '[options]\n"[red]heads[/red]" = 2', '"\\u009b31m" = 1', "[inputs]\nx = [[" + DIGITS + "]]",
        f"[inputs]\nx = [[1, 2], [3, {DIGITS}]]", "[inputs]\nx = [[1e999, 1]]", "scale = 1e999",
        "key_lens = [" + "1, " * 50_000 + "1]", "heads = 2\nheads = 3",
        "x = 1\x1b[2J", "[\x07]", "a = [1, 'x', [2]]", "causal = 'yes'", "\ufeffx = '1 0; 0 1'",
    ]))
    return body.encode("utf-8", "surrogateescape")



@st.composite
def hostile_file_case(draw) -> Case:
    """Class 2: hostile array files and problem files through the commands that read them."""
    if draw(st.integers(0, 3)) == 0:
        files = {"problem.toml": draw(hostile_toml())}
        command = draw(st.sampled_from(["compute", "explain", "check"]))
        argv = ["check", "1 0; 0 1", DIR + "problem.toml"] if command == "check" else [command, DIR + "problem.toml"]
        return Case(argv, files, env=dict(LIMIT), kind="hostile-file", bounded=True)
    name, data = draw(hostile_file())
    suffix = draw(st.sampled_from(["", "", ":a"]))
    source = DIR + name + suffix
    command = draw(st.sampled_from(["compute", "compute", "inspect", "inspect", "show", "weights", "stdin",
                                    "check", "vocab"]))
    if command == "compute":
        argv = ["compute", "--x", source] + draw(st.sampled_from([[], ["--format", "json"], ["--show", "output"]]))
    elif command == "inspect":
        argv = ["inspect", source] + draw(st.sampled_from([[], ["--format", "json"]]))
    elif command == "show":
        argv = ["show", source] + draw(st.sampled_from([[], ["--format", "json"], ["--head", "0"]]))
    elif command == "weights":
        argv = ["compute", "--x", "1 0; 0 1", "--weights", source]
    elif command == "check":
        argv = ["check", source, "--expected", "1 0; 0 1"]
    elif command == "vocab":
        argv = ["compute", "--text", "a b", "--vocab", DIR + "vocab.txt", "--embeddings", source]
        return Case(argv, {name: data, "vocab.txt": b"a\nb\n"}, env=dict(LIMIT), kind="hostile-file", bounded=True)
    else:
        argv = ["compute", "--x", "-" + suffix]
        return Case(argv, {}, data, env=dict(LIMIT), kind="hostile-file", bounded=True)
    return Case(argv, {name: data}, env=dict(LIMIT), kind="hostile-file", bounded=True)


HUGE = ["100000", "1000000", "100000000", str(10**12), str(2**31), str(2**63 - 1), str(2**63), str(10**30), "9" * 400]
MEMORY_NONSENSE = ["1e308T", "-1", "wide", "nan", "inf", "-inf", "1e999", "0", "1e-300", "0x10", " ", "5Q", "9" * 400,
                   "1.5G", "-0", "1TB", "1024T", "1025T", "1K", "1", "256M ", "M", "1e3M", "٣M"]
COLUMNS_NONSENSE = ["wide", "-1", "0", "1", "5", "1e308", "99999999999999999999", "nan", "", "-99999", "100000", "80.5"]


@st.composite
def huge_case(draw) -> Case:
    """Class 3: huge sizes in options and generators, nonsense in the environment; under a memory limit."""
    files: dict[str, bytes] = {}
    env = dict(LIMIT)
    kind = draw(st.sampled_from(["pe", "mask", "random", "onehot", "picture", "seed", "threads", "memory",
                                 "columns", "sizes"]))
    huge = HUGE
    fmt = ["--format", draw(st.sampled_from(["json", "npy", "csv", "table", "npz"]))] if draw(st.booleans()) else []
    if kind == "pe":
        argv = ["pe", "--kind", draw(st.sampled_from(["sinusoidal", "rope", "alibi"])),
                "--length", draw(st.sampled_from(huge + ["4"]))]
        if draw(st.booleans()):
            argv += ["--dim", draw(st.sampled_from(HUGE[:4] + ["2", "64"]))]
        heads = draw(st.sampled_from([None, "8", "64", "100000", str(2**40)]))
        if heads is not None:
            argv += ["--heads", heads]
        if heads == "100000" and not OPEN["on"] and fmt in ([], ["--format", "table"]):
            fmt = ["--format", "npy"]  # 100,000 tables take minutes to print (open, see configure)
        argv += fmt
    elif kind == "mask":
        argv = ["mask"] + draw(st.sampled_from([["--length", h] for h in huge] + [
            ["--length", "4", "--length-k", h] for h in HUGE[:5]] + [["--grid", f"{h},{h}", "--window2d", "3"]
                                                                     for h in ("1000", "100000", str(2**40))]))
        argv += draw(st.sampled_from([[], ["--causal"], ["--window", "2"]])) + fmt
    elif kind == "random":
        command = draw(st.sampled_from(["compute", "embed", "explain"]))
        argv = [command, "--text", "a b c a", "--embeddings", "random:" + draw(st.sampled_from(huge))]
    elif kind == "onehot":
        count = draw(st.sampled_from([50, 20000, 60000]))
        files["words.txt"] = (" ".join(f"w{i}" for i in range(count)) + "\n").encode()
        command = draw(st.sampled_from(["compute", "embed"]))
        argv = [command, "--tokens", DIR + "words.txt", "--embeddings", "onehot"]
        argv += ["--show", "output", "--format", "npy"] if command == "compute" else ["--format", "npy"]
    elif kind == "picture":
        heads = draw(st.sampled_from([16, 64]))
        files["maps.npy"] = npy_bytes(np.full((heads, 30, 30), 1 / 30))
        dpi = draw(st.sampled_from(["1200", "1200", "1000000000", "0", "-5", str(2**63)]))
        argv = ["show", DIR + "maps.npy", "--dpi", dpi, "-o", DIR + "m." + draw(st.sampled_from(["png", "svg", "pdf"]))]
    elif kind == "seed":
        argv = [draw(st.sampled_from(["compute", "embed"])), "--text", "a b", "--embeddings", "random:2", "--seed",
                draw(st.sampled_from(["-1", str(2**32), str(2**63), str(2**64), str(10**30), "-" + "9" * 30]))]
    elif kind == "threads":
        argv = ["compute", "--x", "1 0; 0 1; 1 1", "--threads", draw(st.sampled_from(["0", "-1", "100000", str(2**63),
                                                                                     "1000"]))]
    elif kind == "memory":
        env["ATTNCLI_MEMORY_LIMIT"] = draw(st.sampled_from(MEMORY_NONSENSE))
        argv = draw(st.sampled_from([["compute", "--x", "1 0; 0 1"], ["pe", "--kind", "sinusoidal", "--length", "8"],
                                     ["compute", "--text", "a b", "--embeddings", "random:2"],
                                     ["inspect", "1 2; 3 4"], ["mask", "--length", "3"]]))
    elif kind == "columns":
        env[draw(st.sampled_from(["COLUMNS", "COLUMNS", "LINES"]))] = draw(st.sampled_from(COLUMNS_NONSENSE))
        files["maps.npy"] = npy_bytes(MAPS)
        argv = draw(st.sampled_from([["compute", "--x", "1 0; 0 1"], ["compute", "--x", "1 0; 0 1", "--format",
                                                                        "heatmap"],
                                     ["show", DIR + "maps.npy"], ["explain", "--x", "1 0; 0 1"],
                                     ["show", DIR + "maps.npy", "--format", "table"], ["pe", "--kind", "rope",
                                                                                       "--length", "3"]]))
    else:  # other sizes a user types
        files["maps.npy"] = npy_bytes(MAPS)
        h = draw(st.sampled_from(huge))
        argv = draw(st.sampled_from([
            ["compute", "--x", "1 0; 0 1", "--heads", h], ["compute", "--x", "1 0; 0 1", "--window", h],
            ["compute", "--x", "1 0; 0 1", "--key-lens", h], ["compute", "--x", "1 0; 0 1", "--rope", "--start-pos", h],
            ["compute", "--x", "1 0; 0 1", "--precision", h], ["show", DIR + "maps.npy", "--top-k", h],
            ["show", DIR + "maps.npy", "--head", h], ["show", DIR + "maps.npy", "--layer", "-" + h],
            ["check", "1 0; 0 1", "--expected", "0 1; 1 0", "--max-cells", h],
            ["check", "1 0; 0 1", "--expected", "1 0; 0 1", "--decimals", h],
            ["compute", "--image", "[[[1], [2]], [[3], [4]]]", "--window2d", h],
        ]))
    return Case(argv, files, env=env, kind="huge", bounded=True)


# Strings a terminal would act on. ATOMS hold no whitespace or line break (str.split, splitlines) and no comma,
# so a sentence of them tokenizes, and a label list splits, back into exactly these strings.
ATOMS = ["\x1b[2J", "\x1b]0;title\x07", "\x9b31m", "\x07", "\x08", "\x7f", "\x1b[31m", "\u202e", "\u2066", "\u200f",
         "\u200b", "\ufeff", "\u061c", "\x00", "[red]", "[/red]", "[link=https://e.x]", "[/link]", "[bold]", ":smile:",
         "\\", "$\\frac{1}{2}$", "%s", "{0}", "猫", "é", "👍", "a\u200db", "<script>", "&amp;", '"', "'", "`x`", "|"]
ARGV_ONLY = ["\udc9b", "\udcff"]  # undecodable argv bytes arrive as lone surrogates; files are UTF-8
SPACES = ["\t", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]  # split a --text sentence


@st.composite
def _hostile_strings(draw, count: int, via: str) -> list[str]:
    """`count` distinct strings of hostile atoms, for `via` "argv" (no NUL; lone surrogates), "file" (UTF-8,
    NUL too; a letter first, as a BOM or a '#' first would be read as such) or "both"."""
    atoms = [a for a in ATOMS if not (via != "file" and a == "\x00")] + (ARGV_ONLY if via == "argv" else [])
    out = []
    for i in range(count):
        parts = draw(st.lists(st.sampled_from(atoms), min_size=1, max_size=3))
        first = draw(st.sampled_from(["w", "x"] + ([""] if via == "argv" else [])))
        out.append(first + "".join(parts) + str(i))
    return out


@st.composite
def control_case(draw) -> Case:
    """Class 4: control characters and markup in data; the terminal sees them spelled out, JSON as they are."""
    files: dict[str, bytes] = {}
    strings: dict[str, list] = {}
    n = draw(st.integers(1, 4))
    where = draw(st.sampled_from(["text", "text", "tokens", "labels", "labels-file", "word-vectors", "vocab",
                                  "csv", "file-name", "toml", "inline", "oov"]))
    command = draw(st.sampled_from(["compute", "compute", "explain", "embed"]))
    if where in ("labels", "labels-file", "csv", "inline", "toml") and command == "embed":
        command = "compute"
    if where == "text":
        words = draw(_hostile_strings(n, "argv"))
        sep = draw(st.sampled_from([" ", " ", "  ", *SPACES]))
        undecodable = any("\udc80" <= c <= "\udcff" for w in words for c in w)
        embeddings = draw(st.sampled_from(["random:3", "onehot"] if OPEN["on"] or not undecodable else ["onehot"]))
        argv = [command, "--text", sep.join(words), "--embeddings", embeddings]
        strings["meta.tokens"] = words
    elif where == "tokens":
        words = draw(_hostile_strings(n, "file"))
        files["toks.txt"] = (" ".join(words) + "\n").encode()
        argv = [command, "--tokens", DIR + "toks.txt", "--embeddings", "random:3"]
        strings["meta.tokens"] = words
    elif where in ("labels", "labels-file"):
        labels = draw(_hostile_strings(3, "argv" if where == "labels" else "file"))
        if where == "labels":
            spec = ",".join(labels)
        else:
            files["labels.txt"] = ("\n".join(labels) + "\n").encode()
            spec = DIR + "labels.txt"
        if command == "compute" and draw(st.integers(0, 3)) == 0:
            files["maps.npy"] = npy_bytes(MAPS[0])
            argv = ["show", DIR + "maps.npy", "--labels", spec]
        else:
            argv = [command, "--x", "1 0; 0 2; 1 1", "--labels", spec]
            if command == "compute":
                strings["meta.labels"] = labels
    elif where in ("word-vectors", "oov"):
        words = draw(_hostile_strings(n, "both"))
        files["emb.txt"] = "".join(f"{w} {i} 1\n" for i, w in enumerate(words)).encode()
        text = words + (draw(_hostile_strings(1, "argv")) if where == "oov" else [])
        argv = [command, "--text", " ".join(text), "--embeddings", DIR + "emb.txt"]
        if where == "oov":
            argv += draw(st.sampled_from([[], ["--oov", "skip"], ["--oov", "unk:" + words[0]], ["--oov", "zero"]]))
        else:
            strings["meta.tokens"] = words
    elif where == "vocab":
        words = draw(_hostile_strings(3, "both"))
        files["vocab.txt"] = ("\n".join(words) + "\n").encode()
        files["emb.npy"] = npy_bytes(EMB[:3])
        if draw(st.booleans()):
            files["ids.txt"] = b"0 1 2\n"
            argv = [command, "--ids", DIR + "ids.txt", "--vocab", DIR + "vocab.txt", "--embeddings", DIR + "emb.npy"]
        else:
            argv = [command, "--text", " ".join(words), "--vocab", DIR + "vocab.txt", "--embeddings", DIR + "emb.npy"]
            strings["meta.tokens"] = words
    elif where == "csv":
        names = draw(_hostile_strings(2, "file"))
        bad = draw(st.sampled_from(["", "", "1" + names[0], names[1]]))
        sep = draw(st.sampled_from([",", "\t"]))
        body = f"{sep.join(names)}\n1{sep}0\n0{sep}{bad or '2'}\n1{sep}1\n"
        files["x." + ("csv" if sep == "," else "tsv")] = body.encode()
        argv = [command, "--x", DIR + "x." + ("csv" if sep == "," else "tsv")]
    elif where == "file-name":
        name = draw(_hostile_strings(1, "argv"))[0].replace("/", "_") + ".npy"
        exists = draw(st.booleans())
        if exists:
            files[name] = npy_bytes(X)
        argv = draw(st.sampled_from([[command, "--x", DIR + name], ["check", DIR + name, "--expected", "1 0; 0 1"],
                                     ["inspect", DIR + name], ["show", DIR + name],
                                     [command, "--x", "1 0; 0 1", "-o", DIR + "nodir/" + name]]))
        if argv[0] == "embed":
            argv = ["compute"] + argv[1:]
    elif where == "toml":
        key = draw(_hostile_strings(1, "both"))[0]
        files["problem.toml"] = f'[inputs]\nx = "1 0; 0 2; 1 1"\n[options]\n{json.dumps(key)} = 1\n'.encode()
        argv = [command, DIR + "problem.toml"]
    else:
        junk = draw(_hostile_strings(1, "argv"))[0]
        argv = [command, "--x", draw(st.sampled_from([f"1 0; 0 {junk}", f"[[1, 0], [0, \"{junk}\"]]", junk]))]
        if command == "embed":
            argv[0] = "compute"
    if argv[0] in ("compute", "explain", "embed", "show") and "-o" not in argv:
        argv += _terminal_format(draw, argv[0])
    if argv[0] not in ("compute", "embed"):
        strings = {}  # explain's JSON holds its steps (rows and cols per matrix), show's the statistics
    return Case(argv, files, kind="control", strings=strings)


def _terminal_format(draw, command: str) -> list[str]:
    formats = {"compute": ["table", "heatmap", "json", "csv", "tsv", "html"], "embed": ["table", "json", "csv"],
               "explain": ["table", "markdown", "latex", "json", "heatmap", "html"],
               "show": ["heatmap", "table", "json", "csv"]}[command]
    fmt = draw(st.sampled_from(formats + [None, None]))
    if fmt is None:
        return []
    if draw(st.integers(0, 4)) == 0:
        ext = {"table": "txt", "heatmap": "txt", "markdown": "md", "latex": "tex"}.get(fmt, fmt)
        return ["-o", DIR + "out." + ext] + (["--format", "heatmap"] if fmt == "heatmap" else [])
    return ["--format", fmt]


BIG = 100_000


@st.composite
def long_case(draw) -> Case:
    """Class 5: long values echoed in an error: a 1 MB CSV cell, 100 KB inline literals, option values and paths."""
    files: dict[str, bytes] = {}
    env: dict[str, str] = {}
    filler = draw(st.sampled_from(["z", "q", "1", "[red]", "\x1b[2J", "猫", "é "]))
    long = (filler * (BIG // len(filler)))[:BIG]
    kind = draw(st.sampled_from(["cell", "inline", "option", "path", "labels", "text", "toml", "env"]))
    if kind == "cell":
        cell = (filler * (2**20 // len(filler)))[: 2**20]
        ext = draw(st.sampled_from(["csv", "tsv", "txt", "json"]))
        sep = {"csv": ",", "tsv": "\t", "txt": " "}.get(ext, ",")
        body = f"[[1, 2], [3, \"{cell}\"]]" if ext == "json" else f"1{sep}2\n3{sep}{cell}\n"
        files["x." + ext] = body.encode()
        argv = [draw(st.sampled_from(["compute", "inspect", "show"])), DIR + "x." + ext]
        if argv[0] == "compute":
            argv.insert(1, "--x")
    elif kind == "inline":
        argv = ["compute", "--x", draw(st.sampled_from([f"1 0; 0 {long}", f"[[1, 0], [0, {long}]]", long,
                                                        "1 " * (BIG // 2) + "; 1", "[[" + "1, " * (BIG // 3) + "x]]"]))]
    elif kind == "option":
        option = draw(st.sampled_from(["--format", "--show", "--window", "--key-lens", "--score", "--normalize",
                                       "--embeddings", "--oov", "--layout", "--tokenizer", "--pe", "--cmap",
                                       "--empty-rows", "--dtype", "--heads", "--scale"]))
        value = draw(st.sampled_from([long, "random:" + "9" * BIG, "unk:" + long, "1," * (BIG // 2)]))
        argv = ["compute", "--x", "1 0; 0 1", option, value]
        if option in ("--embeddings", "--oov", "--tokenizer"):
            argv = ["compute", "--text", "a b", option, value] + (["--embeddings", "random:2"]
                                                                 if option != "--embeddings" else [])
    elif kind == "path":
        argv = draw(st.sampled_from([["compute", "--x", DIR + long + ".csv"], ["compute", "--x", "1 0; 0 1", "-o",
                                                                               DIR + "nodir/" + long + ".json"],
                                     ["inspect", DIR + "a/" * (BIG // 2) + "x.npy"],
                                     ["compute", DIR + long + ".toml"]]))
    elif kind == "labels":
        argv = ["compute", "--x", "1 0; 0 1", "--labels", draw(st.sampled_from([long, long + "," + long,
                                                                                 ",".join([filler] * (BIG // 4))]))]
    elif kind == "text":
        files["emb.txt"] = b"a 1 0\nb 0 1\n"
        argv = ["compute", "--text", "a " + long, "--embeddings", DIR + "emb.txt"]
    elif kind == "toml":
        files["problem.toml"] = draw(st.sampled_from([
            f'[inputs]\nx = "1 0; 0 {long}"\n', f'[inputs]\nx = "{long}.csv"\n', f'[options]\nheads = "{long}"\n',
            f'[options]\n"{long}" = 1\n', f'[options]\nwindow = "{long}"\n',
            f'[inputs]\nx = "a/{long[:200]}/{long[:200]}.csv"\n'])).encode()
        argv = ["compute", DIR + "problem.toml"]
    else:
        env["ATTNCLI_MEMORY_LIMIT"] = long
        argv = ["compute", "--x", "1 0; 0 1"]
    return Case(argv, files, env=env, kind="long")


CLASSES = {"clobber": clobber_case, "hostile-file": hostile_file_case, "huge": huge_case, "control": control_case,
           "long": long_case}


@st.composite
def hostile_case(draw) -> Case:
    """One case of any of the five classes, in equal shares."""
    return draw(draw(st.sampled_from(list(CLASSES.values())))())
