"""Fuzzing attncli, part 2: command lines drawn from a grammar of valid and invalid option values.

Each command is mostly shape-consistent (so the computation runs and its numbers are checked), with
each part sometimes wrong on purpose: a bad choice, a ragged or damaged file, a mask that does not
broadcast, a missing projection. Files live in a temporary directory that argv names as `@/name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from fuzz_files import EXTREME, OVERFLOWING, arrays, corrupt_file, encoded, inline, mutate
from hypothesis import strategies as st

DIR = "@/"  # placeholder for the case's temporary directory in argv

KNOWN_OPEN = {"on": False}


def configure(*, overflow: bool = True, known_open: bool = True) -> None:
    """Include (default) or leave out the inputs of bugs the issue #8 fuzzing found and that are now fixed:

    - `overflow`: values whose scores overflow the float type (1e30 in float32, 1e200): NaN weights
      instead of an error, until core calls `validate.check_scores`;
    - `known_open`: `--scale/--softcap/--pe-base/--rope-base nan|inf` (NaN results until attention()
      calls `validate.finite_number`), `--softcap/--temperature 1e-300` (0 in float32: NaN), a scalar
      `--va 2` (IndexError in scores.check_params), a 0-d `--x-kv` with `--pe` (IndexError before the
      shapes are checked), a `--start-pos` past int64 (OverflowError in positions),
      `embed --precision -1` (ValueError in the table renderer), a complex `check` ANSWER (its
      imaginary part is dropped with a ComplexWarning) and NaN/inf in a learned `--pe` table (not
      checked: NaN output).

    All of them are refused with one `error:` line now, so CI draws them too.
    """
    EXTREME[:] = [v for v in EXTREME if v not in OVERFLOWING] + (OVERFLOWING if overflow else [])
    FLOATS[1][:] = [v for v in FLOATS[1] if v not in ("1e300", "1e-300", *NONFINITE_TEXT)]
    FLOATS[1].extend((["1e300"] if overflow else []) + (["1e-300", *NONFINITE_TEXT] if known_open else []))
    KNOWN_OPEN["on"] = known_open


@dataclass
class Case:
    """A command line over files in a temporary directory (argv names them as @/name). The hostile classes
    (tests/fuzz_hostile.py) add links, a file as standard input, and what the oracle must also check."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "grammar"  # the input class, counted in tests/fuzz.py's summary
    links: dict[str, str] = field(default_factory=dict)  # name -> "symlink:NAME" or "hardlink:NAME" ("." the dir)
    stdin_file: str | None = None  # a file of the case opened as standard input (`< x.npy`)
    refuse: str | None = None  # an input that -o/--report names: exit 2 "refusing to overwrite", input unchanged
    strings: dict[str, list] = field(default_factory=dict)  # JSON key path -> the original strings it must hold
    bounded: bool = False  # under ATTNCLI_MEMORY_LIMIT: "out of memory" or a peak past the limit is a bug

    def shown(self) -> str:
        from fuzz_oracle import printable

        args = [a if len(a) <= 200 else f"{a[:100]}...({len(a):,} chars)" for a in self.argv]
        return printable(" ".join(repr(a) if (" " in a or not a) else a for a in args))


class _Builder:
    """Collects argv and files while a case is drawn."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.argv: list[str] = []
        self.files: dict[str, bytes] = {}
        self.stdin = b""
        self.stdin_used = False

    def source(self, a: np.ndarray | None, label: str, *, vector: bool = False, real: bool = False) -> str:
        """SOURCE text for array `a`: inline, a file of some format (maybe damaged), stdin, or junk.

        Unless KNOWN_OPEN: `vector` writes a one-element vector "[2.0]", not "2.0" (a scalar), and
        `real` keeps binary files real (no complex dtype).
        """
        real = real and not KNOWN_OPEN["on"]
        draw = self.draw
        kind = pick(draw, ["inline", "inline", "inline", "file", "file", "stdin"], ["damaged", "junk"])
        if a is None or kind == "junk":
            scalars = ["nan", "1e999", "0.5"] if KNOWN_OPEN["on"] else []  # 0-d --x-kv with --pe: IndexError
            return draw(st.sampled_from(["missing.csv", DIR, DIR + "nodir/x.npy", "", "1 2; 3", "[[1,2],[3]]",
                                         "x", "-:nope", DIR + "x.npz:", "[[]]", "[]", ";", *scalars]))
        if kind == "inline":
            scalar = vector and a.ndim == 1 and a.size == 1 and not KNOWN_OPEN["on"]
            return inline(a, "json" if scalar else draw(st.sampled_from(["matlab", "json"])))
        if kind == "stdin" and not self.stdin_used:
            self.stdin_used = True
            ext, self.stdin = draw(encoded(a, real=real))
            return "-"
        ext, data = draw(encoded(a, real=real))
        if kind == "damaged":
            data = draw(mutate(data))
        name = f"{label}.{ext}"
        self.files[name] = data
        suffix = ""
        if ext in ("npz", "safetensors"):
            suffix = pick(draw, ["", ":a", ":a"], [":b", ":zz"])
        return DIR + name + suffix

    def opt(self, name: str, value: str | None = None) -> None:
        self.argv.append(name)
        if value is not None:
            self.argv.append(value)


def _maybe(draw, p_in_10: int = 3) -> bool:
    return draw(st.integers(0, 9)) < p_in_10


def pick(draw, valid: list, invalid: list | tuple = ()):
    """A valid value most of the time (15 in 16), else an invalid one."""
    if invalid and draw(st.integers(0, 15)) == 0:
        return draw(st.sampled_from(list(invalid)))
    return draw(st.sampled_from(valid))


FLOATS = (["1", "0.5", "2", "1e-3", "10"], ["0", "-1", "x", ""])
NONFINITE_TEXT = ["nan", "inf", "-inf"]
INTS = (["1", "2", "3", "4"], ["0", "-1", "x", "", "2.5", "99"])
WINDOWS = (["0", "1", "2", "1:0", "0:1", "2:3"],
           ["-1", "a", "1:2:3", "1:", ":1", "", " ", "99999999999999999999", "0:-1"])
LENS = (["1", "2", "1,2", "2,1", "3", "0"], ["-1", "x", "", ",", "1,,2", "99", "1.5"])
SHOWS = (["weights", "output", "scores", "q,k,v", "heads", "all", "weights,output"], ["nonsense", "", ","])
EXTS = (["json", "csv", "tsv", "npy", "npz", "safetensors", "txt"], ["xyz", ""])


def _off(draw) -> bool:
    """Rarely (1 in 16): make this part inconsistent on purpose."""
    return draw(st.integers(0, 15)) == 0


@st.composite
def compute_case(draw) -> Case:
    """`attncli compute` with a random mix of inputs and options: mostly shape-consistent (so the
    computation runs and its numbers are checked), each part sometimes wrong on purpose."""
    b = _Builder(draw)
    b.argv.append(draw(st.sampled_from(["compute"] * 8 + ["explain", "check"])))
    n = draw(st.integers(1, 4))
    n_kv = draw(st.integers(1, 4)) if _maybe(draw, 3) else n
    d = draw(st.sampled_from([1, 2, 2, 4, 4, 6]))
    batch = draw(st.sampled_from([None, None, None, 1, 2]))
    lead = () if batch is None else (batch,)
    mode = pick(draw, ["x", "x", "x", "x", "qkv", "image", "text"], ["none"])
    heads = draw(st.sampled_from([h for h in (1, 2, 3) if d % h == 0])) if _maybe(draw, 3) else 1
    if heads > 1 or _off(draw):
        b.opt("--heads", str(heads) if not _off(draw) else draw(st.sampled_from(INTS[1])))
    if _maybe(draw, 2):
        kv = draw(st.sampled_from([g for g in (1, 2, 3) if heads % g == 0]))
        b.opt("--kv-heads", str(kv) if not _off(draw) else pick(draw, INTS[0], INTS[1]))
    d_q = d
    if mode == "x":
        b.opt("--x", b.source(draw(arrays(shape=lead + (n, d))), "x"))
        if n_kv != n or _maybe(draw, 1):
            b.opt("--x-kv", b.source(draw(arrays(shape=lead + (n_kv, d))), "xkv"))
        if _maybe(draw, 4):
            d_q = heads * draw(st.sampled_from([1, 2, 2]))
            for w in ("--wq", "--wk", "--wv"):
                if not _off(draw):
                    shape = (d_q, d) if _off(draw) else ((heads, d, d_q // heads) if _maybe(draw, 1) else (d, d_q))
                    b.opt(w, b.source(draw(arrays(shape=shape)), w[2:]))
            for bias in ("--bq", "--bk", "--bv"):
                if _maybe(draw, 2):
                    b.opt(bias, b.source(draw(arrays(shape=(d_q if not _off(draw) else d_q + 1,))), bias[2:]))
            if _maybe(draw, 2):
                d_out = draw(st.integers(1, 3))
                b.opt("--wo", b.source(draw(arrays(shape=(d_q if not _off(draw) else d_q + 1, d_out))), "wo"))
                if _maybe(draw, 5):
                    b.opt("--bo", b.source(draw(arrays(shape=(d_out,))), "bo"))
    elif mode == "qkv":
        shape = draw(st.sampled_from([(n, d), (heads, n, d), (2, heads, n, d)]))
        b.opt("--q", b.source(draw(arrays(shape=shape)), "q"))
        kshape = shape[:-2] + (n_kv, d)
        for opt in ("--k", "--v"):
            if not _off(draw):
                b.opt(opt, b.source(draw(arrays(shape=kshape)), opt[2:]))
        if len(shape) > 2:
            d_q = d * heads
    elif mode == "image":
        width = draw(st.integers(1, 3))
        b.opt("--image", b.source(draw(arrays(shape=(2, width, d))), "img"))
        if _maybe(draw, 5):
            b.opt("--window2d", pick(draw, ["1", "3"], ["2", "0", "-1", "x"]))
        n = n_kv = 2 * width
    elif mode == "text":
        text = pick(draw, ["the cat sat", "a", "猫爱吃鱼", "a a a"], ["", " "])
        b.opt("--text", text)
        tokenizer = pick(draw, ["whitespace", "chars"], ["nope.json"]) if _maybe(draw, 3) else "whitespace"
        if tokenizer != "whitespace":
            b.opt("--tokenizer", tokenizer)
        n = n_kv = max(1, len(text.split()) if tokenizer != "chars" else len(text.replace(" ", "")))
        if not _off(draw):
            b.opt("--embeddings", pick(draw, ["random:4", "random:2", "onehot"],
                                       ["random:0", "random:x", "missing.txt"]))
    score = pick(draw, ["scaled"] * 6 + ["dot", "general", "additive", "cosine", "location"], ["bogus"])
    if score != "scaled":
        b.opt("--score", score)
    d_head = max(1, d_q // heads)
    if score == "general" or (_off(draw) and score != "location"):
        b.opt("--w-score", b.source(draw(arrays(shape=(d_head, d_head if not _off(draw) else d_head + 1))), "ws"))
    if score == "location":
        b.opt("--w-score", b.source(draw(arrays(shape=(d_head, n_kv if not _off(draw) else n_kv + 1))), "ws"))
    if score == "additive" or _off(draw):
        h = draw(st.integers(1, 3))
        b.opt("--wa-q", b.source(draw(arrays(shape=(d_head, h))), "waq"))
        if not _off(draw):
            b.opt("--wa-k", b.source(draw(arrays(shape=(d_head, h))), "wak"))
        b.opt("--va", b.source(draw(arrays(shape=(h if not _off(draw) else h + 1,))), "va", vector=True))
    if _maybe(draw, 1):
        b.opt("--scale", pick(draw, *FLOATS))
    if _maybe(draw, 3):
        b.opt("--normalize", pick(draw, ["softmax", "softmax1", "sparsemax", "relu", "sigmoid", "none"], ["max"]))
    if _maybe(draw, 1):
        b.opt("--temperature", pick(draw, *FLOATS))
    if _maybe(draw, 1):
        b.opt("--softcap", pick(draw, *FLOATS))
    if _maybe(draw, 3):
        b.opt("--causal")
    if _maybe(draw, 2):
        b.opt("--window", pick(draw, *WINDOWS))
    count = batch or 1
    for opt, limit in (("--key-lens", n_kv), ("--query-lens", n)):
        if _maybe(draw, 2):
            lens = [draw(st.integers(0, max(limit, 1))) for _ in range(count if not _off(draw) else count + 1)]
            b.opt(opt, ",".join(map(str, lens)) if not _off(draw) else draw(st.sampled_from(LENS[1])))
    if _maybe(draw, 2):
        good = [(n, n_kv), (n, n_kv), (n_kv,), (1, 1, n, n_kv), (count, 1, 1, n_kv)]
        mshape = draw(st.sampled_from(good)) if not _off(draw) else (n + 1, n_kv)
        m = draw(arrays(shape=tuple(max(1, s) for s in mshape), nonfinite_p=False))
        b.opt("--mask", b.source(m if _off(draw) else (m > 0), "mask"))
        if _maybe(draw, 3):
            b.opt("--mask-invert")
    if _maybe(draw, 2):
        good = [(n, n_kv), (n, n_kv), (n_kv,), (1, heads, n, n_kv)]
        bshape = draw(st.sampled_from(good)) if not _off(draw) else (n, n_kv + 1)
        b.opt("--bias", b.source(draw(arrays(shape=tuple(max(1, s) for s in bshape))), "bias"))
    graph = False
    if _maybe(draw, 1):
        graph = True
        b.opt("--adjacency", b.source(draw(arrays(shape=(max(n, 1), max(n_kv, 1)), nonfinite_p=False)), "adj"))
    if _maybe(draw, 1):
        graph = True
        top = max(n, n_kv, 1) - 1 + (1 if _off(draw) else 0)
        edges = draw(st.lists(st.tuples(st.integers(0, top), st.integers(0, top)), max_size=4))
        b.files["edges.txt"] = "".join(f"{i} {j}\n" for i, j in edges).encode()
        b.opt("--edges", DIR + "edges.txt")
    if graph or _off(draw):
        if _maybe(draw, 3):
            b.opt("--undirected")
        if _maybe(draw, 3):
            b.opt("--self-loops")
    if _maybe(draw, 2):
        b.opt("--empty-rows", pick(draw, ["zero", "nan", "error"], ["bogus"]))
    if (mode in ("x", "text") and _maybe(draw, 1)) or _off(draw):
        pe = pick(draw, ["sinusoidal", "table"], ["bogus"])
        table = draw(arrays(shape=(max(n, 1) + 1, d), nonfinite_p=KNOWN_OPEN["on"]))  # NaN tables: not refused yet
        b.opt("--pe", b.source(table, "pe") if pe == "table" else pe)
        if _maybe(draw, 3):
            b.opt("--pe-base", pick(draw, *FLOATS))
        if _maybe(draw, 3):
            b.opt("--pe-layout", pick(draw, ["interleaved", "concat"], ["x"]))
    if _maybe(draw, 2):
        b.opt("--rope")
        if _maybe(draw, 3):
            b.opt("--rope-base", pick(draw, *FLOATS))
        if _maybe(draw, 3):
            b.opt("--rope-layout", pick(draw, ["half", "interleaved"], ["x"]))
        if _maybe(draw, 3):
            huge = ["99999999999999999999"] if KNOWN_OPEN["on"] else []
            b.opt("--start-pos", pick(draw, ["0", "1", "100"], ["-1", "x", *huge]))
    if _maybe(draw, 1):
        b.opt("--alibi")
    if _maybe(draw, 1):
        b.opt("--layout", pick(draw, ["rows", "cols"], ["x"]))
    if _maybe(draw, 1):
        b.opt("--weights-layout", pick(draw, ["auto", "torch"], ["x"]))
    if _maybe(draw, 2):
        b.opt("--dtype", pick(draw, ["auto", "float32", "float64"], ["int8"]))
    if _maybe(draw, 1):
        b.opt("--allow-nonfinite")
    if _maybe(draw, 1):
        b.opt("--labels", pick(draw, ["a,b", "a,b,c,d"], ["", "x"]))
    _output_options(draw, b, allow_table=True)
    return Case(b.argv, b.files, b.stdin)


def _output_options(draw, b: _Builder, allow_table: bool) -> None:
    command = b.argv[0]
    if command == "check":  # an answer to compare, and how; check prints its verdict
        b.argv.insert(1, b.source(draw(arrays(ndim=(1, 2, 3), max_side=4)), "answer", real=True))
        if _maybe(draw, 5):
            b.opt("--what", pick(draw, ["weights", "output", "scores", "q"], ["nonsense"]))
        if _maybe(draw, 2):
            b.opt(pick(draw, ["--atol", "--rtol"]), pick(draw, *FLOATS))
        if _maybe(draw, 2):
            b.opt("--decimals", pick(draw, *INTS))
        return
    if command == "compute" and _maybe(draw, 4):
        b.opt("--show", pick(draw, *SHOWS))
    formats = ["table", "markdown", "latex", "json"] if command == "explain" else \
        ["json", "json", "csv", "tsv", "npy", "npz", "safetensors", "table"]
    target = pick(draw, ["stdout", "format", "format", "file", "file"], ["bad"])
    if target == "format":
        b.opt("--format", pick(draw, formats, ["x"]))
    elif target == "file" and command == "explain":
        b.opt("-o", DIR + "out." + pick(draw, ["md", "tex", "json", "txt"], ["xyz", "npy"]))
    elif target == "file":
        b.opt("-o", DIR + "out." + pick(draw, *EXTS))
    elif target == "bad":
        b.opt("-o", draw(st.sampled_from([DIR + "nodir/out.json", DIR, "/proc/attncli-fuzz.json",
                                          DIR + "x.npy", DIR + "x.csv"])))
    if allow_table and _maybe(draw, 1):  # embed does not check --precision yet (known open: exit 70)
        bad = ["-1", "99"] if command != "embed" or KNOWN_OPEN["on"] else []
        b.opt("--precision", pick(draw, ["0", "3", "17"], bad))


@st.composite
def other_case(draw) -> Case:
    """`attncli inspect | pe | mask | embed` with valid and invalid values."""
    b = _Builder(draw)
    command = draw(st.sampled_from(["inspect", "pe", "mask", "embed"]))
    b.argv.append(command)
    if command == "inspect":
        name, data = draw(corrupt_file())
        b.files[name] = data
        b.argv.append(pick(draw, [DIR + name, DIR + name + ":a", "1 2; 3 4"], ["missing.npy"]))
        if _maybe(draw, 3):
            b.opt("--format", pick(draw, ["json", "table"], ["csv"]))
        return Case(b.argv, b.files)  # inspect prints; it has no --show or -o
    if command == "pe":
        b.opt("--kind", pick(draw, ["sinusoidal", "rope", "alibi"], ["x"]))
        b.opt("--length", pick(draw, *INTS))
        if _maybe(draw, 7):
            b.opt("--dim", pick(draw, *INTS))
        if _maybe(draw, 3):
            b.opt("--heads", pick(draw, *INTS))
        if _maybe(draw, 2):
            b.opt("--causal")
        for name in ("--pe-base", "--rope-base"):
            if _maybe(draw, 1):
                b.opt(name, pick(draw, *FLOATS))
        if _maybe(draw, 1):
            b.opt("--start-pos", pick(draw, *INTS))
    elif command == "mask":
        if _maybe(draw, 8):
            b.opt("--length", pick(draw, *INTS))
        if _maybe(draw, 2):
            b.opt("--length-k", pick(draw, *INTS))
        if _maybe(draw, 2):
            b.opt("--grid", pick(draw, ["2,2", "1,3"], ["0,2", "x", "2", "2,2,2"]))
        if _maybe(draw, 2):
            b.opt("--window2d", pick(draw, ["1", "3"], ["2", "-1"]))
        if _maybe(draw, 3):
            b.opt("--causal")
        if _maybe(draw, 3):
            b.opt("--window", pick(draw, *WINDOWS))
        if _maybe(draw, 2):
            b.opt("--key-lens", pick(draw, *LENS))
        if _maybe(draw, 2):
            b.opt("--query-lens", pick(draw, *LENS))
        if _maybe(draw, 2):
            b.opt("--mask", b.source(draw(arrays(ndim=(1, 2), max_side=3, nonfinite_p=False)) > 0, "mask"))
        if _maybe(draw, 2):
            b.opt("--adjacency", b.source(draw(arrays(max_side=3, nonfinite_p=False)), "adj"))
        if _maybe(draw, 1):
            b.opt("--layout", draw(st.sampled_from(["rows", "cols"])))
    else:
        text = pick(draw, ["text", "tokens", "ids", "vocab"], ["none"])
        if text in ("text", "vocab"):
            b.opt("--text", pick(draw, ["the cat sat", "a", "猫爱吃鱼", "a b a"], [""]))
        elif text == "tokens":
            b.files["s.txt"] = pick(draw, [b"the cat\na dog sat\n", b"x\n"], [b"", b"\n\n", b"\xff\xfe\n"])
            b.opt("--tokens", DIR + "s.txt")
        if text in ("ids", "vocab"):  # rows of a matrix: by id, or by the line of a token in --vocab
            if text == "ids":
                b.files["ids.txt"] = pick(draw, [b"0 1 2\n1\n", b"2 0\n"], [b"3\n", b"-1\n", b"x\n", b"", b"9" * 30])
                b.opt("--ids", DIR + "ids.txt")
            if text == "vocab" or _maybe(draw, 3):
                b.files["vocab.txt"] = pick(draw, [b"the\ncat\nsat\na\nb\n", b"a\nb\nc\n"], [b"", b"a\n"])
                b.opt("--vocab", DIR + "vocab.txt")
            rows = draw(st.sampled_from([3, 5, 5, 1]))
            b.opt("--embeddings", b.source(draw(arrays(shape=(rows, draw(st.integers(1, 3))))), "emb"))
        elif _maybe(draw, 8):
            b.opt("--embeddings", pick(draw, ["random:3", "onehot"], ["random:0", "random:-1", "random:",
                                                                        "missing.txt"]))
        if _maybe(draw, 2):
            b.opt("--tokenizer", pick(draw, ["chars", "whitespace"], ["x"]))
        if _maybe(draw, 1):
            b.opt("--oov", pick(draw, ["error", "zero", "skip", "unk:a"], ["unk:", "x"]))
    _output_options(draw, b, allow_table=command != "inspect")
    return Case(b.argv, b.files, b.stdin)


@st.composite
def cli_case(draw) -> Case:
    case = draw(st.one_of(compute_case(), compute_case(), compute_case(), other_case()))
    if draw(st.integers(0, 19)) == 0:  # an unknown option, a missing value, or a stray argument somewhere
        junk = draw(st.sampled_from([["--nonsense"], ["--x"], ["stray"], ["--heads"], ["-o"], ["--format"]]))
        at = draw(st.integers(1, len(case.argv)))
        case.argv[at:at] = junk if junk != ["--x"] or at < len(case.argv) else junk + ["1 0"]
    if _maybe(draw, 1):
        case.env["ATTNCLI_MEMORY_LIMIT"] = draw(st.sampled_from(["1K", "64", "1G", "x"]))
    return case
