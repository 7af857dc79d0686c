"""Answers as students hand them in, computed with plain numpy (not attncli), each with the mistake a student
might make, rounded to 2 decimals as the problems ask.

    python samples/homework/make_answers.py
        writes samples/homework/answers/: what the ten students of roster.csv handed in for problems/ (made with
        `attncli init --roster samples/homework/roster.csv --out samples/homework/problems --seed 2026`).

    python samples/homework/make_answers.py --roster class/roster.csv [--students 30]
        writes a roster of made-up students (Name, SID, Email); then
        attncli init --roster class/roster.csv --id-column Email --out class/problems --seed 2026
    python samples/homework/make_answers.py --problems class/problems --out class/answers [--late class/late]
        writes what a class hands in, the messy way: right answers, the usual mistakes, and answers written as
        students write them (see MESSY: trailing commas, a European spreadsheet's 0,33;0,20, a nan, an empty
        cell, an unreadable note, a folder, an upper-case email as the file name, two students with nothing);
        --late DIR writes a second answer of one student there, as a late resubmission (check given both
        refuses them, naming both files). Then
        attncli check class/answers/* --problems class/problems --points 10 --credit cells --report grades.csv

samples/class/ is such a class of 30: roster.csv, problems/ (init --roster ... --id-column Email --seed 2026),
answers/ and late/.
"""

from __future__ import annotations

import argparse
import csv
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def weights(x, wq, wk, *, scale=True, axis=1, transpose=False):
    q, k = x @ wq, x @ wk
    s = q @ k.T / (np.sqrt(k.shape[1]) if scale else 1.0)
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    a = e / e.sum(axis=axis, keepdims=True)
    return a.T if transpose else a


# student -> (what they did, how the answer is written)
PLAN = {
    "s001": ("right", "csv"),
    "s002": ("no scaling", "csv"),
    "s003": ("softmax down each column", "csv"),
    "s004": ("right", "one line"),
    "s005": ("transposed", "csv"),
    "s006": ("right", "csv"),
    "s007": ("no scaling, softmax down each column", "csv"),
    "s008": ("one cell miscopied", "csv"),
    "s009": ("right", "csv"),
    "s010": ("right, rounded to 1 decimal", "csv"),
}

# the messy class: the n-th student of the roster (1-based) -> (what they did, how the answer is written);
# every other student hands in a right answer as a plain CSV
MESSY = {
    2: ("no scaling", "csv"),
    3: ("right", "trailing commas"),
    4: ("right", "european"),
    5: ("right", "nan cell"),
    6: ("right", "empty cell"),
    7: ("nothing", ""),
    8: ("right", "folder"),
    9: ("right", "upper-case name"),
    10: ("softmax down each column", "csv"),
    11: ("right", "one line"),
    12: ("nothing readable", "note"),
    13: ("nothing", ""),
    14: ("transposed", "csv"),
    15: ("right, rounded to 1 decimal", "csv"),
    16: ("right", "header and tabs"),
}


def answer(problem: Path, mistake: str) -> np.ndarray:
    prob = tomllib.loads(problem.read_text())
    x, wq, wk = (np.array(prob[t][k], dtype=float) for t, k in (("inputs", "x"), ("projections", "wq"),
                                                                  ("projections", "wk")))
    a = weights(x, wq, wk, scale="no scaling" not in mistake, axis=0 if "column" in mistake else 1,
                transpose=mistake == "transposed")
    if mistake == "one cell miscopied":
        a[1, 2] += 0.1
    return np.round(a, 1 if "1 decimal" in mistake else 2)


def text(a: np.ndarray, form: str) -> str:
    """The answer written as `form` says."""
    rows = [[f"{v:.2f}" for v in r] for r in (a.reshape(1, -1) if form == "one line" else a)]
    if form == "nan cell":
        rows[1][-1] = "nan"
    if form == "empty cell":
        rows[0][1] = ""
    if form == "note":
        return "I could not finish, see my notebook\n"
    if form == "european":
        return "".join(";".join(v.replace(".", ",") for v in r) + "\n" for r in rows)
    if form == "header and tabs":
        return "\t".join(f"k{j}" for j in range(len(rows[0]))) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    end = "," if form == "trailing commas" else ""
    return "".join(",".join(r) + end + "\n" for r in rows)


def write_roster(path: Path, students: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["Name,SID,Email"] + [f"Student {i:02d},{20260000 + i},student{i:02d}@example.edu"
                                  for i in range(1, students + 1)]
    path.write_text("\n".join(lines) + "\n")


LATE = 17  # the student (1-based) whose late resubmission goes to --late


def write_class(problems: Path, out: Path, late: Path | None) -> None:
    with open(problems / "roster.csv", newline="") as f:
        roster = [(row["id"], row["file"]) for row in csv.DictReader(f)]
    out.mkdir(parents=True, exist_ok=True)
    for n, (sid, file) in enumerate(roster, 1):
        mistake, form = MESSY.get(n, ("right", "csv"))
        if mistake == "nothing":
            continue
        a = answer(problems / file, mistake if mistake != "nothing readable" else "right")
        name = sid.upper() if form == "upper-case name" else sid
        target = out / name / "weights.csv" if form == "folder" else out / f"{name}.csv"
        target.parent.mkdir(exist_ok=True)
        target.write_text(text(a, form))
    if late is not None:
        late.mkdir(parents=True, exist_ok=True)
        sid, file = roster[LATE - 1]
        (late / f"{sid}.csv").write_text(text(answer(problems / file, "no scaling"), "csv"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--roster", type=Path, help="write a roster of made-up students to this CSV")
    ap.add_argument("--students", type=int, default=30, help="how many (with --roster)")
    ap.add_argument("--problems", type=Path, help="a folder written by attncli init --roster (with roster.csv)")
    ap.add_argument("--out", type=Path, help="where the answers go (with --problems)")
    ap.add_argument("--late", type=Path, help="write one student's late resubmission (a second answer) here")
    args = ap.parse_args()
    if args.roster:
        write_roster(args.roster, args.students)
        return
    if args.problems:
        if not args.out:
            ap.error("--problems needs --out DIR")
        write_class(args.problems, args.out, args.late)
        return
    out = HERE / "answers"
    out.mkdir(exist_ok=True)
    for sid, (mistake, form) in PLAN.items():
        a = answer(HERE / "problems" / f"{sid}.toml", mistake)
        rows = [a.ravel()] if form == "one line" else a
        (out / f"{sid}.csv").write_text("".join(",".join(f"{v:.2f}" for v in r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
