"""The names of the arrays of the attention computation: one list, used everywhere a step is named.

`compute --show`, `check --what`, a problem file's `[check] what`, `explain`'s headings and its `--what`, the
`init` template and the diagnoses of `check` all take their names from STEPS, in pipeline order, each with its
formula (rows layout, the papers' notation):

    x        X                         the tokens the projections read (+ PE when positions are added)
    q, k, v  Q = X·W_Q + b_Q, ...      queries (after RoPE with --rope), keys, values
    qk       Q·Kᵀ                      the raw products before scaling; with another --score, its raw value
    scores   S = Q·Kᵀ/√d_k             what the normalizer takes: qk after scale, softcap, bias, ALiBi,
                                       −∞ where masked, temperature (PyTorch's and transformers' "scores")
    weights  A = softmax(S)            each row normalized
    heads    head_h = A_h·V_h          per-head outputs
    concat   concat(head_1, …, head_H) the heads side by side
    output   O = concat·W_O + b_O      (O = A·V with one head and no W_O)

Pure Python, no numpy: every command's `--help` is built from it, and `attncli --help` must not load numpy.
"""

from __future__ import annotations

from attncli.errors import AttnError

# (name, formula, what --help adds to the formula, the noun a sentence names the array by)
STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("x", "X", ", the tokens (+ PE with --pe)", "the tokens X"),
    ("q", "Q = X·W_Q + b_Q", " (after RoPE with --rope)", "the queries Q"),
    ("k", "K = X·W_K + b_K", " (X_kv·W_K with --x-kv)", "the keys K"),
    ("v", "V = X·W_V + b_V", "", "the values V"),
    ("qk", "Q·Kᵀ", ", the raw products before scaling (another --score: its raw value)", "the products qk = Q·Kᵀ"),
    ("scores", "S = Q·Kᵀ/√d_k", " (+ bias, −∞ where masked), what the normalizer takes", "the scores"),
    ("weights", "A = softmax(S)", ", each row", "the attention weights"),
    ("heads", "head_h = A_h·V_h", ", per head", "the output of each head"),
    ("concat", "concat(head_1, …, head_H)", ", the heads side by side", "the heads side by side"),
    ("output", "O = concat·W_O + b_O", " (A·V without --wo)", "the output"),
)
NAMES: tuple[str, ...] = tuple(s[0] for s in STEPS)
FORMULA: dict[str, str] = {s[0]: s[1] for s in STEPS}
NOUN: dict[str, str] = {s[0]: s[3] for s in STEPS}

# every name with its formula, for each --help that takes a name (compute --show, check --what, explain --what)
HELP = "; ".join(f"{name}: {formula}{more}" for name, formula, more, _ in STEPS)


def check_name(name: str, option: str) -> str:
    """`name` if it is a step's name, else an error naming the option and every name."""
    if name not in NAMES:
        raise AttnError(f"{option}: unknown array {name!r}; the arrays are {', '.join(NAMES)} "
                        "(each with its formula in attncli compute --help)")
    return name
