"""Step-by-step explanations as LaTeX: a bmatrix per matrix, for a write-up (a fragment) or, with
`standalone`, a whole document that compiles with plain pdflatex and amsmath.

`booklet_head`, `booklet_section` and BOOKLET_END make one document of many problems (`attncli explain
*.toml --standalone`): a contents page, then each problem on a new page in a \\section named after its file,
with the steps and answer its own document has.

Everything written is ASCII. The formulas come from render.explain's LATEX table; text (titles, captions,
notices, a file name in the title) goes through `tex_text`, which escapes LaTeX's special characters and
spells the symbols attncli prints (·, ×, √, ᵀ, ←, −, ∞, ′, …) as LaTeX commands; any other character becomes
its unaccented letter, or ? when it has none.
"""

from __future__ import annotations

import re
import unicodedata

from attncli.render.explain import Section, _shown, cut_notice
from attncli.render.safe import printable
from attncli.render.tables import format_number
from attncli.vocabulary import NOUN

_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
            "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "-": "-{}", "<": r"\textless{}",
            ">": r"\textgreater{}", "|": r"\textbar{}", '"': "''"}
_SYMBOLS = {"·": r"$\cdot$", "×": r"$\times$", "√": r"$\surd$", "ᵀ": r"$^{\top}$", "←": r"$\leftarrow$",
            "→": r"$\rightarrow$", "−": "$-$", "∞": r"$\infty$", "′": "$'$", "…": r"\dots{}", "⋮": r"$\vdots$",
            "‖": r"$\|$", "Σ": r"$\Sigma$", "σ": r"$\sigma$", "≤": r"$\le$", "≥": r"$\ge$", "±": r"$\pm$",
            "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~"}
FIRST_MATRIX_COLS = 10  # amsmath's bmatrix takes 10 columns unless MaxMatrixCols is raised


def tex_text(s: str) -> str:
    """Text for LaTeX's text mode, in ASCII: specials escaped ("--" stays two hyphens), attncli's symbols as
    commands, any other character as its letter without accents, or ?."""
    out = []
    for ch in printable(s):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ch.isascii():
            out.append(ch)
        elif ch in _SYMBOLS:
            out.append(_SYMBOLS[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(re.sub(r"[^A-Za-z0-9 ]", "", plain) or "?")
    return "".join(out)


_MATH = {"·": r"\cdot ", "×": r"\times ", "√": r"\surd ", "ᵀ": r"^{\top}", "←": r"\leftarrow ", "−": "-",
         "∞": r"\infty ", "′": "'", "…": r"\ldots ", "‖": r"\| ", "Σ": r"\Sigma ", "σ": r"\sigma "}


def tex_math(s: str) -> str:
    """A formula for math mode in ASCII (render.explain's LATEX table is ASCII already; this is the guard)."""
    return s if s.isascii() else "".join(ch if ch.isascii() else _MATH.get(ch, "?") for ch in s)


def tex_number(v: float, precision: int) -> str:
    s = format_number(v, precision)
    return {"-inf": r"-\infty", "inf": r"\infty", "nan": r"\mathrm{NaN}"}.get(s, s)


def _dims(dims: str) -> str:
    """"n_q × H·d_k = 3 × 4" in math mode."""
    return (dims.replace("×", r"\times").replace("d_model", r"d_{\text{model}}").replace("d_out", r"d_{\text{out}}")
            .replace("·", r" \cdot "))


def _caption(caption: str) -> str:
    """"batch 0 · head 1" as math-mode text followed by a colon."""
    if not caption:
        return ""
    return r"\text{" + tex_text(caption) + r"}:\ "


ANSWERS = dict(NOUN)  # what the worked solution's last paragraph calls the answer, by its name (vocabulary.NAMES)


def answer_section(secs: list[Section], what: str) -> Section | None:
    """The step whose matrices are the array `attncli check --what` grades, or None."""
    found = [s for s in secs if what in s.names]
    if not found and what in ("heads", "concat"):  # one head and no W_O: its output is the output, shown once
        found = [s for s in secs if s.key in ("output_plain", "output_concat")]
    return found[-1] if found else None


def _sentence(text: str) -> str:
    """The text with a capital first letter (the rest as it is: Q·Kᵀ keeps its capitals)."""
    return text[:1].upper() + text[1:]


def _bmatrix(m, s: Section, precision: int) -> list[str]:
    rows, cols = _shown(m)
    body = []
    for i in rows:
        if i is None:
            body.append(" & ".join(r"\vdots" if j is not None else r"\ddots" for j in cols))
            continue
        row = m.values[i]
        body.append(" & ".join(r"\cdots" if j is None else tex_number(row[j], precision) for j in cols))
    lines = [rf"\[ {_caption(m.caption)}\begin{{bmatrix}}" + "\n  " + " \\\\\n  ".join(body) + "\n"
             + r"\end{bmatrix} \]"]
    notice = cut_notice(m, s)
    if notice:
        lines.append(rf"\noindent\emph{{{tex_text(notice)}}}\par")
    return lines


def latex(secs: list[Section], precision: int, *, standalone: bool = False, title: str | None = None,
          answer: tuple[str, int | None] | None = None) -> str:
    """Every step as a \\paragraph with its formula and dimensions and a bmatrix per matrix. A fragment for a
    document that loads amsmath, or with `standalone` a complete article (titled `title`) that ends, given
    `answer` = (what, decimals), with that array as the student gives it: rounded to `decimals`."""
    widest = _widest(secs)
    lines = []
    if standalone:
        lines += [r"\documentclass{article}", r"\usepackage{amsmath}",
                  rf"\setcounter{{MaxMatrixCols}}{{{max(widest, FIRST_MATRIX_COLS)}}}",
                  rf"\title{{{tex_text(title or 'Attention, step by step')}}}", r"\author{attncli explain}",
                  r"\date{}", r"\begin{document}", r"\maketitle", ""]
    else:
        lines += ["% attncli explain: every step of the attention computation (needs \\usepackage{amsmath})", ""]
        if widest > FIRST_MATRIX_COLS:
            lines += [rf"\setcounter{{MaxMatrixCols}}{{{widest}}}", ""]
    lines += _steps(secs, precision)
    if standalone:
        lines += _answer(secs, answer, precision)
        lines.append(r"\end{document}")
    return "\n".join(lines) + ("\n" if standalone else "")


# ---- a booklet: one document, a section per problem ----------------------------------------------------------

def booklet_head(count: int) -> str:
    """The start of a booklet of `count` worked solutions: title and table of contents (pdflatex fills it on
    its second run). Every page of a problem names it in its running head, so printed pages sort by student."""
    return "\n".join([r"\documentclass{article}", r"\usepackage{amsmath}", r"\pagestyle{myheadings}",
                      rf"\title{{Worked solutions ({count} problems)}}", r"\author{attncli explain}", r"\date{}",
                      r"\begin{document}", r"\maketitle", r"\tableofcontents", ""]) + "\n"


def booklet_section(secs: list[Section], precision: int, *, heading: str,
                    answer: tuple[str, int | None] | None = None) -> str:
    """One problem of a booklet: on a new page, a \\section titled `heading` (a file name), then the steps and
    the answer the problem's own `latex(standalone=True)` document gives."""
    lines = [r"\clearpage", rf"\section{{{tex_text(heading)}}}", rf"\markright{{{tex_text(heading)}}}",
             rf"\setcounter{{MaxMatrixCols}}{{{max(_widest(secs), FIRST_MATRIX_COLS)}}}", ""]
    lines += _steps(secs, precision) + _answer(secs, answer, precision)
    return "\n".join(lines) + "\n"


BOOKLET_END = "\\end{document}\n"


def fragment_section(secs: list[Section], precision: int, *, heading: str) -> str:
    """One problem of several as a fragment: a \\section titled `heading`, then `latex(secs, precision)`."""
    return rf"\section{{{tex_text(heading)}}}" + "\n\n" + latex(secs, precision) + "\n"


def _widest(secs: list[Section]) -> int:
    return max((len(_shown(m)[1]) for s in secs for m in s.matrices), default=0)


def _steps(secs: list[Section], precision: int) -> list[str]:
    lines = []
    for s in secs:
        lines.append(rf"\paragraph{{Step {s.number}. {tex_text(s.title)}}} ${tex_math(s.latex)}$ "
                     rf"\quad (${_dims(s.dims)}$)")
        for m in s.matrices:
            lines += _bmatrix(m, s, precision)
        lines.append("")
    return lines


def _answer(secs: list[Section], answer: tuple[str, int | None] | None, precision: int) -> list[str]:
    """The closing \\paragraph{Answer.}: the array `answer` = (what, decimals) names, as the student gives it."""
    what, decimals = answer or (None, None)
    s = answer_section(secs, what) if what else None
    if s is None:
        return []
    rounded = f", rounded to {decimals} decimal{'' if decimals == 1 else 's'}" if decimals is not None else ""
    lines = [rf"\paragraph{{Answer.}} {tex_text(_sentence(ANSWERS.get(what, what)))} "
             rf"(step {s.number}){tex_text(rounded)}:"]
    for m in s.matrices:
        lines += _bmatrix(m, s, precision if decimals is None else decimals)
    return lines + [""]
