"""Write samples/homework/answers/: what ten students handed in for the problems in problems/ (made with
`attncli init --roster samples/homework/roster.csv --out samples/homework/problems --seed 2026`).

The answers are computed here with plain numpy (not attncli), each with the mistake a student might make,
rounded to 2 decimals as the problems ask:  python samples/homework/make_answers.py
"""

from __future__ import annotations

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


def main() -> None:
    out = HERE / "answers"
    out.mkdir(exist_ok=True)
    for sid, (mistake, form) in PLAN.items():
        prob = tomllib.loads((HERE / "problems" / f"{sid}.toml").read_text())
        x, wq, wk = (np.array(prob[t][k], dtype=float) for t, k in (("inputs", "x"), ("projections", "wq"),
                                                                      ("projections", "wk")))
        a = weights(x, wq, wk, scale="no scaling" not in mistake, axis=0 if "column" in mistake else 1,
                    transpose=mistake == "transposed")
        if mistake == "one cell miscopied":
            a[1, 2] += 0.1
        a = np.round(a, 1 if "1 decimal" in mistake else 2)
        rows = [a.ravel()] if form == "one line" else a
        (out / f"{sid}.csv").write_text("".join(",".join(f"{v:.2f}" for v in r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
