"""Step-by-step explanations: each intermediate matrix with its formula and dimensions, as rich
renderables, Markdown tables, LaTeX bmatrix or JSON. Takes `core.steps.Step`s; prints nothing itself.

Large problems are summarised, not drawn whole: a matrix beyond MAX_ROWS × MAX_COLS shows its corners
(the first and last rows and columns, with … and ⋮ where the cut is) and a notice saying how much was
left out and how to get every value. Only the cells shown are formatted, so a 3,000-token explanation
costs what a 40 × 16 one does per matrix. JSON is the exception: it holds every value, written row by
row as it is made (`json_pieces`), so its memory stays one row and its time is linear in the cells.
Labels pass through render/safe.py (no control characters, no rich markup) in every format but JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from attncli.core.steps import arrays_of
from attncli.render.safe import json_safe, printable, text
from attncli.render.tables import MAX_COLS, MAX_ROWS, _cut, format_number

# dimension names of a step's displayed matrix in rows layout (cols layout swaps them)
DIMS = {
    "x": ("n", "d_model"), "x_kv": ("n_k", "d_model"), "pe": ("n", "d_model"), "x_pe": ("n", "d_model"),
    "q": ("n_q", "H·d_k"), "k": ("n_k", "H·d_k"), "v": ("n_k", "H·d_v"),
    "q_x": ("n_q", "d_k"), "k_x": ("n_k", "d_k"), "v_x": ("n_k", "d_v"),
    "q_direct": ("n_q", "H·d_k"), "k_direct": ("n_k", "H·d_k"), "v_direct": ("n_k", "H·d_v"),
    "q_rope": ("n_q", "d_k"), "k_rope": ("n_k", "d_k"), "head": ("n_q", "d_v"),
    "concat": ("n_q", "H·d_v"), "output": ("n_q", "d_out"), "output_plain": ("n_q", "d_v"),
    "output_concat": ("n_q", "H·d_v"),
}
KEY_ROWS = {"x_kv", "k", "v", "k_x", "v_x", "k_direct", "v_direct", "k_rope"}

# each step's formula in the lecture's notation (tokens as columns: Q = W_q·I, A = Kᵀ·Q, A′ = softmax down each
# column, O = V·A′), filled as core/steps.py's FORMULAS with {src} in the lecture's symbols (LECTURE_SYMBOLS)
LECTURE: dict[str, str] = {
    "x": "I (columns = tokens)",
    "x_kv": "I_kv",
    "pe": "PE",
    "x_pe": "I ← I + PE",
    "q": "Q = W_q·I{b}",
    "k": "K = W_k·{src}{b}",
    "v": "V = W_v·{src}{b}",
    "q_x": "Q = I",
    "k_x": "K = {src}",
    "v_x": "V = {src}",
    "q_direct": "Q",
    "k_direct": "K",
    "v_direct": "V",
    "q_rope": "Q ← RoPE(Q)",
    "k_rope": "K ← RoPE(K)",
    "s_scaled": "Kᵀ·Q",
    "s_dot": "Kᵀ·Q",
    "s_general": "Kᵀ·Wᵀ·Q",
    "s_additive": "qk_ji = vᵀ·tanh(W_qᵀ·q_i + W_kᵀ·k_j)",
    "s_cosine": "qk_ji = k_j·q_i / (‖k_j‖‖q_i‖)",
    "s_location": "W_aᵀ·Q",
    "scale": "A ← {src} · {scale:.6g}",
    "scale_sqrt": "A ← {src} / √d_k = {src} / √{d_k}",
    "softcap": "A ← {c:g}·tanh({src} / {c:g})",
    "bias": "A ← {src} + bias",
    "alibi": "A ← {src} − m_h·|i − j|",
    "disentangled": "A ← {src} + (q_i·K_r[c(i, j)] + k_j·Q_r[c′(j, i)])·scale",
    "masked": "A ← {src} with −∞ where masked ({masks})",
    "temperature": "A ← {src} / {t:g}",
    "a_softmax": "A′ = softmax(A) down each column",
    "a_softmax1": "A′_ji = exp(A_ji) / (1 + Σ_j exp(A_ji))",
    "a_sinks": "A′_ji = exp(A_ji) / (exp(s_h) + Σ_j exp(A_ji))",
    "a_sparsemax": "A′ = sparsemax(A) down each column",
    "a_relu": "A′ = max(A, 0)",
    "a_sigmoid": "A′ = σ(A)",
    "a_none": "A′ = A",
    "head": "O_h = V·A′",
    "concat": "[O_1; …; O_N] (stacked)",
    "output": "O = W_o·[O_1; …; O_N] + b_o",
    "output_plain": "O = V·A′",
    "output_concat": "O = [O_1; …; O_N]",
}
LECTURE_SYMBOLS = {"X": "I", "X_kv": "I_kv", "S": "A"}  # what a step starts from: qk is qk in both


def lecture_formula(st) -> str:
    """Step `st`'s formula in the lecture's notation (its own formula when LECTURE has none)."""
    if st.key not in LECTURE:
        return st.formula
    params = dict(st.params)
    if "src" in params:
        params["src"] = LECTURE_SYMBOLS.get(params["src"], params["src"])
    return LECTURE[st.key].format(**params)


# LaTeX for each step's formula: (rows layout, cols layout)
LATEX = {
    "x": ("X", "I"), "x_kv": ("X_{kv}", "I_{kv}"), "pe": (r"\mathrm{PE}", r"\mathrm{PE}"),
    "x_pe": (r"X \leftarrow X + \mathrm{PE}", r"I \leftarrow I + \mathrm{PE}"),
    "q": (r"Q = X W_Q<b>", r"Q = W_q I<b>"), "k": (r"K = <src> W_K<b>", r"K = W_k <src><b>"),
    "v": (r"V = <src> W_V<b>", r"V = W_v <src><b>"),
    "q_x": ("Q = X", "Q = I"), "k_x": ("K = X", "K = I"), "v_x": ("V = X", "V = I"),
    "q_direct": ("Q", "Q"), "k_direct": ("K", "K"), "v_direct": ("V", "V"),
    "q_rope": (r"Q \leftarrow \mathrm{RoPE}(Q)", r"Q \leftarrow \mathrm{RoPE}(Q)"),
    "k_rope": (r"K \leftarrow \mathrm{RoPE}(K)", r"K \leftarrow \mathrm{RoPE}(K)"),
    "s_scaled": (r"Q K^\top", r"K^\top Q"), "s_dot": (r"Q K^\top", r"K^\top Q"),
    "s_general": (r"Q W K^\top", r"K^\top W^\top Q"),
    "s_additive": (r"\mathrm{qk}_{ij} = v^\top \tanh(q_i W_q + k_j W_k)",
                   r"\mathrm{qk}_{ji} = v^\top \tanh(W_q^\top q_i + W_k^\top k_j)"),
    "s_cosine": (r"\mathrm{qk}_{ij} = \frac{q_i \cdot k_j}{\lVert q_i \rVert \lVert k_j \rVert}",
                 r"\mathrm{qk}_{ji} = \frac{k_j \cdot q_i}{\lVert k_j \rVert \lVert q_i \rVert}"),
    "s_location": (r"Q W_a", r"W_a^\top Q"),
    "scale": (r"S \leftarrow <src> \cdot <scale>", r"A \leftarrow <src> \cdot <scale>"),
    "scale_sqrt": (r"S \leftarrow <src> / \sqrt{d_k} = <src> / \sqrt{<d_k>}",
                   r"A \leftarrow <src> / \sqrt{d_k} = <src> / \sqrt{<d_k>}"),
    "softcap": (r"S \leftarrow c \tanh(<src> / c)", r"A \leftarrow c \tanh(<src> / c)"),
    "bias": (r"S \leftarrow <src> + B", r"A \leftarrow <src> + B"),
    "alibi": (r"S \leftarrow <src> - m_h \lvert i - j \rvert", r"A \leftarrow <src> - m_h \lvert i - j \rvert"),
    "disentangled": (r"S \leftarrow <src> + (q_i K^r_{c(i,j)} + k_j Q^r_{c'(j,i)}) \cdot s",
                     r"A \leftarrow <src> + (q_i K^r_{c(i,j)} + k_j Q^r_{c'(j,i)}) \cdot s"),
    "masked": (r"S \leftarrow <src> \text{ with } -\infty \text{ where masked}",
               r"A \leftarrow <src> \text{ with } -\infty \text{ where masked}"),
    "temperature": (r"S \leftarrow <src> / T", r"A \leftarrow <src> / T"),
    "a_softmax": (r"A = \operatorname{softmax}(S) \text{ (each row)}",
                  r"A' = \operatorname{softmax}(A) \text{ (each column)}"),
    "a_softmax1": (r"A_{ij} = \frac{e^{S_{ij}}}{1 + \sum_j e^{S_{ij}}}",
                   r"A'_{ji} = \frac{e^{A_{ji}}}{1 + \sum_j e^{A_{ji}}}"),
    "a_sinks": (r"A_{ij} = \frac{e^{S_{ij}}}{e^{s_h} + \sum_j e^{S_{ij}}}",
                r"A'_{ji} = \frac{e^{A_{ji}}}{e^{s_h} + \sum_j e^{A_{ji}}}"),
    "a_sparsemax": (r"A = \operatorname{sparsemax}(S)", r"A' = \operatorname{sparsemax}(A)"),
    "a_relu": (r"A = \max(S, 0)", r"A' = \max(A, 0)"), "a_sigmoid": (r"A = \sigma(S)", r"A' = \sigma(A)"),
    "a_none": ("A = S", "A' = A"),
    "head": (r"\mathrm{head}_h = A_h V_h", r"O_h = V_h A'_h"),
    "concat": (r"[\mathrm{head}_1, \ldots, \mathrm{head}_N]", r"[O_1; \ldots; O_N]"),
    "output": (r"O = [\mathrm{head}_1, \ldots, \mathrm{head}_N]\, W_O + b_O", r"O = W_o [O_1; \ldots; O_N] + b_o"),
    "output_plain": (r"O = A V", r"O = V A'"),
    "output_concat": (r"O = [\mathrm{head}_1, \ldots, \mathrm{head}_N]", r"O = [O_1; \ldots; O_N]"),
}


@dataclass
class Matrix:
    caption: str  # "" or "batch 1 · head 0"
    values: np.ndarray  # 2-D, as displayed
    rows: list[str]
    cols: list[str]


@dataclass
class Section:
    number: int
    key: str
    title: str  # the names of the arrays this step is ("qk", "scores"), or what it does on the way to one
    formula: str
    latex: str
    dims: str
    matrices: list[Matrix]
    names: tuple[str, ...] = ()  # the arrays this step is, by the names compute --show and check --what take
    towards: str | None = None  # for a step on the way to an array (scaled, masked: towards the scores), its name

    @property
    def array(self) -> str | None:
        """The name `attncli compute --show` gives this step's array (the last, when it is two: qk = scores)."""
        return self.names[-1] if self.names else None


def title_of(names: tuple[str, ...], towards: str | None, does: str) -> str:
    """A step's title: the array's name ("qk", "scores", "qk = scores"), or what the step does and the array it
    leads to ("scaled (towards scores)")."""
    if names:
        return " = ".join(names)
    return f"{does} (towards {towards})" if towards else does


def _names(labels: Sequence | None, b: int, n: int, prefix: str) -> list[str]:
    if labels is not None and len(labels) and not isinstance(labels[0], str):
        labels = labels[b] if b < len(labels) else None
    if labels is not None and len(labels) == n:
        return [str(t) for t in labels]
    return [f"{prefix}{i}" for i in range(n)]


def sections(steps: list, *, layout: str = "rows", batched: bool = False, query_labels: Sequence | None = None,
             key_labels: Sequence | None = None) -> list[Section]:
    """Lay out every step as matrices in the user's layout, with dimension names and formulas."""
    cols = layout == "cols"
    heads = next((st.array.shape[1] for st in steps if st.kind == "map"), 1)
    steps = _without_repeats(steps, heads)
    out = []
    for number, (st, (names, towards)) in enumerate(zip(steps, arrays_of(steps), strict=True), start=1):
        mats = list(_matrices(st, cols, batched, query_labels, key_labels))
        r, c = mats[0].values.shape
        dims = ("n_q", "n_k") if st.kind == "map" else DIMS.get(st.key, ("n", "d"))
        if heads == 1:
            dims = tuple(n.replace("H·", "") for n in dims)
        if cols:
            dims = dims[::-1]
        tex_rows, tex_cols = LATEX.get(st.key, (st.formula, lecture_formula(st)))
        out.append(Section(number, st.key, title_of(names, towards, st.title),
                           lecture_formula(st) if cols else st.formula,
                           _fill(tex_cols if cols else tex_rows, _tex_params(st.params, cols)),
                           f"{dims[0]} × {dims[1]} = {r} × {c}", mats, names, towards))
    return out


def _without_repeats(steps: list, heads: int) -> list:
    """The steps less those that repeat the next one: with one head and no W_O the head's output is the output
    (O = A·V), shown once, as the output."""
    keys = [st.key for st in steps]
    if heads == 1 and "head" in keys and "output_plain" in keys:
        return [st for st in steps if st.key != "head"]
    return steps


def _fill(template: str, values: dict) -> str:
    """Put values into a LaTeX template's <name> slots (braces are LaTeX's own)."""
    for k, v in values.items():
        template = template.replace(f"<{k}>", str(v))
    return template


def _tex_params(params: dict, cols: bool) -> dict:
    """Formula values in LaTeX: X_kv -> X_{kv}, 0.125 -> 0.125, a bias suffix as is."""
    out = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in params.items()}
    if "src" in out:
        src = LECTURE_SYMBOLS.get(out["src"], out["src"]) if cols else out["src"]
        out["src"] = {"X_kv": "X_{kv}", "I_kv": "I_{kv}", "qk": r"\mathrm{qk}"}.get(src, src)
    if "b" in out and cols:
        out["b"] = out["b"].lower()
    return out


def _matrices(st, cols: bool, batched: bool, q_labels, k_labels) -> Iterator[Matrix]:
    a = st.array
    if st.kind == "table":
        m = a.T if cols else a
        yield Matrix("", m, *_axis_names("table", m.shape, cols, q_labels, k_labels, 0, st.key))
        return
    if st.kind == "tokens":
        a = a[:, None]  # (B, 1, n, d)
    B, H = a.shape[:2]
    for b in range(B):
        for h in range(H):
            m = a[b, h]
            m = m.T if cols else m
            parts = ([f"batch {b}"] if batched else []) + ([f"head {h}"] if st.kind != "tokens" and H > 1 else [])
            if st.kind == "heads" and H == 1 and st.key == "head":
                parts.append("head 0")
            yield Matrix(" · ".join(parts), m, *_axis_names(st.kind, m.shape, cols, q_labels, k_labels, b, st.key))


def _axis_names(kind, shape, cols, q_labels, k_labels, b, key):
    n_rows, n_cols = shape
    if kind == "map":
        rows = _names(q_labels, b, shape[1] if cols else n_rows, "q")
        colsn = _names(k_labels, b, shape[0] if cols else n_cols, "k")
        return (colsn, rows) if cols else (rows, colsn)
    tok_labels, prefix = (k_labels, "k") if key in KEY_ROWS else (q_labels, "q" if kind != "table" else "p")
    if key in ("x", "x_pe", "pe"):
        prefix = "t" if kind != "table" else "p"
    n_tok = n_cols if cols else n_rows
    tokens = _names(tok_labels if kind != "table" else None, b, n_tok, prefix)
    feats = [f"d{i}" for i in range(n_rows if cols else n_cols)]
    return (feats, tokens) if cols else (tokens, feats)


# ---- four ways to print them ---------------------------------------------------------------------

def _shown(m: Matrix) -> tuple[list[int | None], list[int | None]]:
    """Row and column indices drawn (None where the cut is): all of them up to MAX_ROWS × MAX_COLS."""
    return _cut(m.values.shape[0], MAX_ROWS), _cut(m.values.shape[1], MAX_COLS)


def cut_notice(m: Matrix, s: Section) -> str | None:
    """What a summarised matrix leaves out and how to get every value; None when it is shown whole."""
    rows, cols = _shown(m)
    if None not in rows and None not in cols:
        return None
    n_r, n_c = m.values.shape
    where = "; every value: --format json"
    if s.array is not None:
        where += f", or attncli compute with the same options --show {s.array} -o {s.array}.npy"
    return (f"showing {len(rows) - (None in rows)} of {n_r} rows and {len(cols) - (None in cols)} of {n_c} "
            f"columns{where}")


def rich_renderables(secs: list[Section], precision: int) -> list:
    from rich.table import Table
    from rich.text import Text

    out: list = []
    for s in secs:
        out.append(Text.assemble((f"Step {s.number}. {s.title}: ", "bold"), (s.formula, "bold cyan"),
                                 (f"   ({s.dims})", "dim")))
        for m in s.matrices:
            rows, cols = _shown(m)
            t = Table(title=text(m.caption) if m.caption else None, title_justify="left",
                      caption=cut_notice(m, s), caption_justify="left")
            t.add_column("", style="bold", no_wrap=True)
            for j in cols:
                t.add_column("…" if j is None else text(m.cols[j]), justify="right", no_wrap=True)
            for i in rows:
                if i is None:
                    t.add_row("⋮", *("⋮" for _ in cols))
                    continue
                row = m.values[i]
                t.add_row(text(m.rows[i]), *("…" if j is None else format_number(row[j], precision) for j in cols))
            out.append(t)
    return out


def _md_cell(label: str) -> str:
    return printable(label).replace("|", "\\|")


def markdown(secs: list[Section], precision: int) -> str:
    lines: list[str] = []
    for s in secs:
        lines.append(f"### Step {s.number}. {s.title}")
        lines.append("")
        lines.append(f"`{s.formula}` ({s.dims})")
        lines.append("")
        for m in s.matrices:
            if m.caption:
                lines.append(f"*{m.caption}*")
                lines.append("")
            rows, cols = _shown(m)
            lines.append("| | " + " | ".join("…" if j is None else _md_cell(m.cols[j]) for j in cols) + " |")
            lines.append("|---|" + "---:|" * len(cols))
            for i in rows:
                if i is None:
                    lines.append("| ⋮ | " + " | ".join("⋮" for _ in cols) + " |")
                    continue
                row = m.values[i]
                cells = ["…" if j is None else format_number(row[j], precision).replace("-inf", "−∞") for j in cols]
                lines.append(f"| {_md_cell(m.rows[i])} | " + " | ".join(cells) + " |")
            notice = cut_notice(m, s)
            if notice:
                lines.append("")
                lines.append(f"*{notice}*")
            lines.append("")
    return "\n".join(lines)


_NON_FINITE = re.compile(r"-?Infinity|NaN")


def _json_row(row: np.ndarray) -> str:
    """One matrix row as a JSON array (json.dumps runs in C); NaN and ±Inf become null."""
    if row.dtype.kind == "f":
        return _NON_FINITE.sub("null", json.dumps(row.tolist()))
    return json.dumps(row.tolist())


def json_pieces(secs: list[Section], meta: dict, *, problem: str | None = None, end: str = "\n") -> Iterator[str]:
    """The whole explanation as one JSON document, in pieces of about a row each: every step's formula,
    dimensions and complete matrices, then `meta` (already plain JSON-able). Strings keep their characters
    exactly; control and bidi characters are written as \\uXXXX escapes. With `problem`, the object starts with
    "problem": that path (one of several in a document, which then ends the object with `end`, not a newline)."""
    def dumps(value: object) -> str:
        return json_safe(json.dumps(value, ensure_ascii=False, allow_nan=False))

    yield ("{" if problem is None else '{"problem": ' + dumps(problem) + ", ") + '"steps": ['
    for k, s in enumerate(secs):
        head = {"step": s.number, "key": s.key, "title": s.title, "names": list(s.names), "towards": s.towards,
                "formula": s.formula, "latex": s.latex, "dims": s.dims}
        yield (", " if k else "") + dumps(head)[:-1] + ', "matrices": ['
        for t, m in enumerate(s.matrices):
            yield (", " if t else "") + dumps({"caption": m.caption, "rows": m.rows, "cols": m.cols})[:-1]
            yield ', "values": ['
            for i, row in enumerate(m.values):
                yield ("," if i else "") + _json_row(row)
            yield "]}"
        yield "]}"
    yield '], "meta": ' + dumps(meta) + "}" + end
