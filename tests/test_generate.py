"""Generated homework: `attncli init --random` and `attncli init --roster` (issue #14, "a problem for each student").

Every property is checked on the files as a student gets them, read back with tomllib; the weights and outputs
are recomputed here with plain numpy (softmax of X·W_Q·(X·W_K)ᵀ / √d_k per head, heads as contiguous column
blocks, the causal mask, concat·W_O), never with attncli's code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "samples" / "homework" / "roster.csv"
NUMBER = re.compile(r"-?\d+(\.\d)?")


# ---- an independent reference -------------------------------------------------------------------------

def reference(problem: dict) -> tuple[np.ndarray, np.ndarray]:
    """(weights (H, n, n), output (n, d_out)) of a generated problem, from its TOML tables."""
    x = np.array(problem["inputs"]["x"], float)
    p = problem["projections"]
    wq, wk, wv = (np.array(p[k], float) for k in ("wq", "wk", "wv"))
    heads = problem["options"]["heads"]
    n = len(x)
    d_k, d_v = wq.shape[1] // heads, wv.shape[1] // heads
    weights, outs = [], []
    for h in range(heads):
        q = x @ wq[:, h * d_k:(h + 1) * d_k]
        k = x @ wk[:, h * d_k:(h + 1) * d_k]
        v = x @ wv[:, h * d_v:(h + 1) * d_v]
        s = q @ k.T / np.sqrt(d_k)
        if problem["options"]["causal"]:
            s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
        a = np.exp(s - s.max(axis=1, keepdims=True))
        a /= a.sum(axis=1, keepdims=True)
        weights.append(a)
        outs.append(a @ v)
    out = np.hstack(outs)
    if "wo" in p:
        out = out @ np.array(p["wo"], float)
    return np.array(weights), out


def read(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def matrices(problem: dict) -> dict[str, np.ndarray]:
    return {"x": np.array(problem["inputs"]["x"], float)} | {k: np.array(v, float)
                                                              for k, v in problem["projections"].items()}


def assert_readable(problem: dict, name: str = "") -> None:
    """Integers or one decimal everywhere; softmax rows that are worth computing by hand."""
    for key, m in matrices(problem).items():
        assert np.allclose(m * 10, np.round(m * 10), atol=1e-9), (name, key, m)
    weights, _ = reference(problem)
    n = weights.shape[-1]
    allowed = np.tril(np.ones((n, n), bool)) if problem["options"]["causal"] else np.ones((n, n), bool)
    rows = allowed.sum(axis=1) >= 2
    decimals = problem["check"]["decimals"]
    for h, a in enumerate(weights):
        shown = np.round(a[rows], decimals)[allowed[rows]]
        assert not np.isin(shown, [0.0, 1.0]).all(), (name, h, a)  # not all 0/1
        assert a[rows].max() <= 0.9 + 1e-12, (name, h, a)
        assert (shown > 0).all() and (shown < 1).all(), (name, h, a)  # no weight a student rounds to 0 or 1


# ---- init --random ----------------------------------------------------------------------------------------

def test_random_defaults_are_a_small_readable_problem(tmp_path):
    run(["init", "--random", "--seed", "7", "hw.toml"], cwd=tmp_path)
    text = (tmp_path / "hw.toml").read_text()
    problem = tomllib.loads(text)
    m = matrices(problem)
    assert m["x"].shape == (3, 4) and m["wq"].shape == m["wk"].shape == m["wv"].shape == (4, 2) and "wo" not in m
    assert problem["options"] == {"heads": 1, "causal": False, "score": "scaled", "layout": "rows"}
    assert problem["check"] == {"what": "weights", "decimals": 2}
    assert set(np.unique(m["x"])) <= {-1, 0, 1, 2}
    assert_readable(problem)
    body = text.split("[inputs]", 1)[1]
    numbers = re.findall(r"(?<![\w.])-?[\d.]+", body)
    assert numbers and all(NUMBER.fullmatch(t) for t in numbers), numbers
    # the header says how it was made and how to use it
    assert "# Made by:  attncli init --random --seed 7 --tokens 3 --d-model 4 --d-k 2 --d-v 2 --heads 1 " in text
    assert "attncli explain hw.toml" in text and "attncli check answer.csv hw.toml" in text


def test_random_is_the_same_bytes_for_the_same_seed_and_options(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    args = ["init", "--random", "--seed", "11", "--tokens", "4", "--heads", "2", "--causal", "p.toml"]
    run(args, cwd=tmp_path / "a")
    run(["init", "--causal", "--heads", "2", "--tokens", "4", "--seed", "11", "--random", "p.toml"],
        cwd=tmp_path / "b")  # the options in another order
    assert (tmp_path / "a" / "p.toml").read_bytes() == (tmp_path / "b" / "p.toml").read_bytes()
    one = run(["init", "--random", "--seed", "11", "-"]).stdout
    assert one == run(["init", "--random", "--seed", "11", "-"]).stdout
    assert one != run(["init", "--random", "--seed", "12", "-"]).stdout


def test_random_numbers_do_not_depend_on_the_machine():
    """PCG64's raw stream is fixed by NumPy across versions; these are the matrices of seed 7, copied once."""
    problem = tomllib.loads(run(["init", "--random", "--seed", "7", "-"]).stdout.decode())
    assert problem["inputs"]["x"] == [[2, 0, 1, 1], [0, -1, -1, 0], [1, 0, -1, 0]]


SIZES = [
    ([], 3, 4, 2, 2, 1, False),
    (["--tokens", "2", "--d-model", "1"], 2, 1, 1, 1, 1, False),
    (["--tokens", "5", "--d-model", "6", "--d-k", "3", "--d-v", "1", "--causal"], 5, 6, 3, 1, 1, True),
    (["--heads", "2"], 3, 4, 2, 2, 2, False),
    (["--tokens", "4", "--d-model", "6", "--heads", "3", "--causal", "--what", "output"], 4, 6, 2, 2, 3, True),
    (["--tokens", "16", "--d-model", "16", "--heads", "4"], 16, 16, 4, 4, 4, False),
    (["--tokens", "16", "--d-model", "1", "--d-k", "16", "--causal"], 16, 1, 16, 16, 1, True),
    (["--tokens", "8", "--d-model", "16", "--heads", "16", "--d-k", "1", "--causal"], 8, 16, 1, 1, 16, True),
]


@pytest.mark.parametrize("extra, n, d_model, d_k, d_v, heads, causal", SIZES)
def test_sizes_are_honoured_and_every_problem_is_readable_and_runs(tmp_path, extra, n, d_model, d_k, d_v, heads,
                                                                    causal):
    roster = tmp_path / "class.csv"
    roster.write_text("sid\n" + "".join(f"x{i}\n" for i in range(12)))
    run(["init", "--roster", roster, "--out", tmp_path / "p", "--seed", "5", *extra])
    files = sorted((tmp_path / "p").glob("x*.toml"))
    assert len(files) == 12
    for f in files:
        problem = read(f)
        m = matrices(problem)
        assert m["x"].shape == (n, d_model), f
        assert m["wq"].shape == m["wk"].shape == (d_model, heads * d_k)
        assert m["wv"].shape == (d_model, heads * d_v)
        assert ("wo" in m) == (heads > 1) and (heads == 1 or m["wo"].shape == (heads * d_v, d_model))
        assert problem["options"]["heads"] == heads and problem["options"]["causal"] == causal
        assert_readable(problem, f.name)
    # the file means what the reference reads: attncli computes the same weights and output from it
    problem = read(files[0])
    weights, out = reference(problem)
    got = json.loads(run(["compute", files[0], "--format", "json", "--show", "weights,output"]).stdout)
    np.testing.assert_allclose(np.array(got["weights"]).reshape(weights.shape), weights, atol=1e-12)
    np.testing.assert_allclose(got["output"], out, atol=1e-12)
    steps = json.loads(run(["explain", files[0], "--format", "json"]).stdout)["steps"]
    np.testing.assert_allclose(steps[-1]["matrices"][0]["values"], out, atol=1e-12)


@pytest.mark.parametrize("args, needle", [
    (["--tokens", "0"], "--tokens must be 2 to 16"),
    (["--tokens", "1"], "--tokens must be 2 to 16"),
    (["--tokens", "17"], "--tokens must be 2 to 16"),
    (["--d-model", "0"], "--d-model must be 1 to 16"),
    (["--d-model", "20"], "--d-model must be 1 to 16"),
    (["--d-k", "0"], "--d-k must be 1 to 16"),
    (["--heads", "3"], "--heads 3 does not divide --d-model 4"),
    (["--heads", "4", "--d-k", "5"], "at most 16"),
    (["--heads", "2", "--d-v", "9"], "--d-v 9 = 18 columns"),
    (["--what", "scores"], "--what must be weights or output"),
    (["--decimals", "9"], "--decimals must be 0 to 6"),
])
def test_nonsense_sizes_are_one_error_line(tmp_path, args, needle):
    err = run_error(["init", "--random", *args, tmp_path / "p.toml"])
    assert needle in err, err
    assert not (tmp_path / "p.toml").exists()


@pytest.mark.parametrize("args, needle", [
    (["--tokens", "4", "p.toml"], "--tokens describes a generated problem; add --random"),
    (["--out", "problems"], "--out goes with --roster"),
    (["--id-column", "SID"], "--id-column goes with --roster"),
    (["--random", "--seed", "-1"], "--seed"),
])
def test_options_out_of_place_are_one_error_line(tmp_path, args, needle):
    assert needle in run_error(["init", *args], cwd=tmp_path)
    assert not list(tmp_path.iterdir())


def test_random_never_overwrites_without_force(tmp_path):
    run(["init", "--random", "--seed", "1", "p.toml"], cwd=tmp_path)
    before = (tmp_path / "p.toml").read_bytes()
    assert "exists" in run_error(["init", "--random", "--seed", "2", "p.toml"], cwd=tmp_path)
    assert (tmp_path / "p.toml").read_bytes() == before
    run(["init", "--random", "--seed", "2", "p.toml", "--force"], cwd=tmp_path)
    assert (tmp_path / "p.toml").read_bytes() != before


# ---- init --roster ----------------------------------------------------------------------------------------

def test_roster_writes_one_problem_per_student_and_the_mapping(tmp_path):
    proc = run(["init", "--roster", ROSTER, "--out", "problems/", "--seed", "2026"], cwd=tmp_path)
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("wrote 10 problems to problems/")
    ids = [row["SID"] for row in csv.DictReader(ROSTER.open())]
    files = sorted(p.name for p in (tmp_path / "problems").iterdir())
    assert files == sorted([f"{i}.toml" for i in ids] + ["roster.csv"])
    mapping = list(csv.DictReader((tmp_path / "problems" / "roster.csv").open()))
    assert [r["id"] for r in mapping] == ids and [r["file"] for r in mapping] == [f"{i}.toml" for i in ids]
    for r in mapping:  # sha256 of "course seed:id", first 8 bytes, big-endian, >> 1: the same on every machine
        digest = hashlib.sha256(f"2026:{r['id']}".encode()).digest()
        assert int(r["seed"]) == int.from_bytes(digest[:8], "big") >> 1
    xs = [read(tmp_path / "problems" / f"{i}.toml")["inputs"]["x"] for i in ids]
    assert len({json.dumps(x) for x in xs}) == len(xs)  # different ids, different problems
    # one student's file is the --random problem of its seed (headers aside)
    one = (tmp_path / "problems" / "s003.toml").read_text()
    alone = run(["init", "--random", "--seed", mapping[2]["seed"], "-"]).stdout.decode()
    assert one.split("[inputs]")[1] == alone.split("[inputs]")[1]
    assert "Student:  s003" in one and f"--seed {mapping[2]['seed']} " in one


def test_roster_is_reproducible_and_depends_on_the_course_seed(tmp_path):
    for d, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "roster.csv").write_bytes(ROSTER.read_bytes())
        run(["init", "--roster", "roster.csv", "--out", "problems", "--seed", seed], cwd=tmp_path / d)

    def files(d: str) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (tmp_path / d / "problems").iterdir()}

    assert files("a") == files("b")
    assert all(files("a")[k] != files("c")[k] for k in files("a"))


def test_roster_refuses_to_overwrite_problems_without_force(tmp_path):
    run(["init", "--roster", ROSTER, "--out", "problems"], cwd=tmp_path)
    (tmp_path / "problems" / "s001.toml").write_text("mine")
    err = run_error(["init", "--roster", ROSTER, "--out", "problems", "--seed", "3"], cwd=tmp_path)
    assert "already holds 11 of the 11 files" in err and "--force" in err
    assert (tmp_path / "problems" / "s001.toml").read_text() == "mine"
    run(["init", "--roster", ROSTER, "--out", "problems", "--seed", "3", "--force"], cwd=tmp_path)
    assert "[inputs]" in (tmp_path / "problems" / "s001.toml").read_text()
    # a folder that holds the roster itself as roster.csv: refused before anything is written
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "roster.csv").write_bytes(ROSTER.read_bytes())
    err = run_error(["init", "--roster", "own/roster.csv", "--out", "own", "--force"], cwd=tmp_path)
    assert "would overwrite the roster" in err and sorted(p.name for p in (tmp_path / "own").iterdir()) == [
        "roster.csv"]
    assert "is a file" in run_error(["init", "--roster", ROSTER, "--out", ROSTER], cwd=tmp_path)


@pytest.mark.parametrize("header, column", [
    ("Name,SID,Email", "SID"),  # Gradescope
    ("UID,UIN,Name", "UID"),  # PrairieLearn
    ("name,email", "email"),
    ("Student ID;Name", "Student ID"),  # semicolons (a European Excel export)
    ("\ufeffid,name", "id"),  # Excel's CSV UTF-8 writes a BOM
    ("Name\tLogin", "Login"),
])
def test_roster_finds_the_id_column_by_name(tmp_path, header, column):
    sep = ";" if ";" in header else "\t" if "\t" in header else ","
    names = [c.lstrip("\ufeff") for c in header.split(sep)]
    rows = [sep.join(f"{c}{i}" for c in names) for i in range(3)]
    (tmp_path / "r.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run(["init", "--roster", "r.csv", "--out", "p"], cwd=tmp_path)
    ids = [r["id"] for r in csv.DictReader((tmp_path / "p" / "roster.csv").open())]
    assert ids == [f"{column}{i}" for i in range(3)]


def test_roster_id_column_by_option(tmp_path):
    run(["init", "--roster", ROSTER, "--id-column", "email", "--out", "p"], cwd=tmp_path)
    assert (tmp_path / "p" / "ada@example.edu.toml").exists()


@pytest.mark.parametrize("content, extra, needle", [
    ("Name,Score\nAda,3\n", [], "has no id column"),
    ("Student,ID,SIS User ID\nAda,1,a1\n", [], "several id columns ('ID' and 'SIS User ID')"),
    ("Name,SID\nAda,1\n", ["--id-column", "Email"], "no column named 'Email'"),
    ("Name,SID\nAda,s1\nBob,s2\nEve,s1\n", [], "line 4: SID 's1' is also on line 2"),
    ("Name,SID\nAda,a b\nBob,a_b\n", [], "would both be written to a_b.toml"),
    ("Name,SID\nAda,AB\nBob,ab\n", [], "would both be written"),  # one file on macOS and Windows
    ("Name,SID\nAda,../up\n", [], "line 2: SID '../up' holds a path separator"),
    ("Name,SID\nAda,s1\nBob,\n", [], "line 3: SID is empty"),
    ("Name,SID\n", [], "no students"),
    ("", [], "is empty"),
    (b"Name,SID\nAda,\xff\n", [], "not UTF-8"),
])
def test_roster_errors_are_one_line_naming_the_row(tmp_path, content, extra, needle):
    path = tmp_path / "r.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    err = run_error(["init", "--roster", path, "--out", tmp_path / "p", *extra])
    assert needle in err, err
    assert not (tmp_path / "p").exists()
    if "no id column" in needle or "several" in needle:
        assert "--id-column" in err and ("columns: 'Name'" in err or "columns: 'Student'" in err)  # lists them


def test_roster_skips_blank_lines_and_canvas_points_possible(tmp_path):
    (tmp_path / "r.csv").write_text("Student,SIS User ID,Section\n    Points Possible,,\n\nAda,a1,S1\nBob,b2,S1\n")
    run(["init", "--roster", "r.csv", "--out", "p"], cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["a1.toml", "b2.toml", "roster.csv"]


def test_a_class_of_200(tmp_path):
    """200 students in one process: prints the time (tests never assert wall-clock times; see the report)."""
    (tmp_path / "r.csv").write_text("SID\n" + "".join(f"u{i:04d}\n" for i in range(200)))
    start = time.perf_counter()
    run(["init", "--roster", "r.csv", "--out", "p"], cwd=tmp_path)
    print(f"init --roster of 200 students: {time.perf_counter() - start:.2f} s")
    assert len(list((tmp_path / "p").glob("*.toml"))) == 200
