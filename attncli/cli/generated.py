"""A generated homework problem as its file's text: the `attncli init --random` command that makes it, the task in
the README's symbols and the matrices. `attncli init --random` writes one, `attncli init --roster` one per student
(cli/init.py, cli/roster.py)."""

from __future__ import annotations


def command(size, seed: int, target: str) -> str:
    """The `attncli init --random` command that writes this problem, every option spelled out."""
    import shlex

    return (f"attncli init --random --seed {seed} --tokens {size.tokens} --d-model {size.d_model} --d-k {size.d_k} "
            f"--d-v {size.d_v} --heads {size.heads}{' --causal' if size.causal else ''} --what {size.what} "
            f"--decimals {size.decimals} {shlex.quote(target)}")


def task(size) -> list[str]:
    """What the student computes, in the README's symbols, as comment lines."""
    h = size.heads
    lines = ["Task: with the tokens X (one per row) and the projections below, compute",
             "  Q = X·W_Q,  K = X·W_K,  V = X·W_V" + ("" if h == 1 else
                                                      f"  (head h uses the h-th block of {size.d_k} columns of Q "
                                                      f"and K, and of {size.d_v} columns of V)"),
             f"  S = Q·Kᵀ / √d_k  (d_k = {size.d_k})" + (", per head" if h > 1 else "")]
    if size.causal:
        lines.append("  S_ij = −∞ for j > i  (causal: token i attends to itself and earlier tokens)")
    lines.append("  A = softmax(S), each row" + (", per head" if h > 1 else ""))
    if size.what == "output":
        lines.append("  O = A·V" if h == 1 else "  head_h = A_h·V_h,  O = concat(head_1, …, head_H)·W_O")
    asked = ("the attention weights A" + (" of each head" if h > 1 else "") if size.what == "weights"
             else "the output O")
    lines.append(f"and give {asked}, rounded to {size.decimals} decimal{'s' if size.decimals != 1 else ''}.")
    return lines


def problem_text(seed: int, size, shown: str, origin: list[str]) -> str:
    """The problem file: `origin` (how it was made), the task and how to use the file, then the matrices."""
    from attncli.core.generate import generate
    from attncli.io.problem_toml import problem_text as toml_text

    arrays = generate(seed, size)
    n, dm, h, dk, dv = size.tokens, size.d_model, size.heads, size.d_k, size.d_v
    header = ["attncli homework problem (hand-computable: integers and one-decimal numbers).", *origin, "",
              *task(size), "",
              f"Worked solution:  attncli explain {shown}",
              f"  as a document:  attncli explain {shown} --format latex --standalone -o solution.tex",
              f"Check an answer:  attncli check answer.csv {shown}"]
    hd = "" if h == 1 else "H·"
    comments = {"x": f"X: {n} tokens × d_model {dm}, one token per row",
                "wq": f"W_Q: d_model × {hd}d_k = {dm} × {h * dk}",
                "wk": f"W_K: d_model × {hd}d_k = {dm} × {h * dk}",
                "wv": f"W_V: d_model × {hd}d_v = {dm} × {h * dv}",
                "wo": f"W_O: H·d_v × d_model = {h * dv} × {dm}",
                "score": "S = Q·Kᵀ / √d_k", "layout": "tokens are rows",
                "what": "the answer: " + ("A" if size.what == "weights" else "O"),
                "decimals": f"answers rounded to {size.decimals} decimals pass"}
    projections = {k: arrays[k] for k in ("wq", "wk", "wv", "wo") if k in arrays}
    tables = {"inputs": {"x": arrays["x"]}, "projections": projections,
              "options": {"heads": h, "causal": size.causal, "score": "scaled", "layout": "rows"},
              "check": {"what": size.what, "decimals": size.decimals}}
    return toml_text(header, tables, comments)
