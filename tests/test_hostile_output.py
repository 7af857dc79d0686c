"""Issue #12, "nothing overwritten, nothing blown up": generators and renderers bounded in memory and
time, and nothing from data can drive the terminal. Every case runs the installed CLI.

Memory   pe/mask tables, random/onehot embeddings, PNG/SVG/PDF and HTML pictures too big to make are
         refused before anything is allocated: under an address-space cap (run_capped) that the
         allocation would break, with one `error:` line naming the option, the estimate and the limit.
Time     explain of 1,000 tokens finishes, summarising its matrices with a notice; JSON stays complete.
Terminal control characters (C0, DEL, C1, bidi) and rich markup in --text, --tokens and --labels never
         reach a table, heatmap, explain or show output raw; JSON keeps the original strings.
Inputs   complex or non-numeric --expected arrays, and malformed tokenizer.json files (a Rust panic in the
         `tokenizers` library included): exit 2 with one line.

Expected numbers come from closed forms and numpy directly: a table's bytes are cells × 8, a picture's
pixels are its documented inches × dpi, attention weights are numpy's softmax(X·Xᵀ/√d).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import attncli_command, run, run_capped

GB = 2**30
HOSTILE = ["a\x1b[2Jb", "bell\x07", "csi\x9b", "[red]x[/red]", "[link=http://e.x]y", "rtl\u202eevil"]


def error_of(args: list, *, env: dict | None = None) -> str:
    """The one `error:` line of a command that must fail as a user error (exit 2, no traceback)."""
    full_env = None if env is None else {**os.environ, **env}
    proc = run(args, check=False, env=full_env)
    return one_error_line(proc)


def one_error_line(proc) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr: {err}"
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err)
    assert "Traceback" not in err
    return err


def capped_error(args: list, *, limit_mb: int = 200, memory: str = "64M") -> str:
    """A refusal under an address-space cap of `limit_mb` MiB with ATTNCLI_MEMORY_LIMIT=`memory` (the budget is
    the least of the two, the cap less what the process has mapped: ~110 MiB once numpy is loaded)."""
    proc = run_capped(args, limit_mb=limit_mb, env={"ATTNCLI_MEMORY_LIMIT": memory})
    err = one_error_line(proc)
    assert "out of memory" not in err, err  # refused from the estimate, not after a failed allocation
    return err


def runs_out_under_the_cap(args: list, limit_mb: int) -> bool:
    """The same command without ATTNCLI_MEMORY_LIMIT does not fit under the cap: it runs out of memory, or the
    budget (which counts the address-space limit, and nothing else is that small here) refuses it. So the cap
    proves that a refusal came before the allocation."""
    proc = run_capped(args, limit_mb=limit_mb, env={"ATTNCLI_MEMORY_LIMIT": ""})
    err = proc.stderr.decode()
    return proc.returncode == 2 and ("out of memory" in err or "of memory is available" in err)


def estimate_gb(err: str) -> float:
    return float(re.search(r"would need about ([\d.e+]+) GB", err).group(1))


def unsafe_chars(text: str) -> set[str]:
    """Characters a terminal would act on (or that reorder what follows): anything but newline in Cc, Cf."""
    return {c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")}


# ==================================================================================================
# Memory: refused before allocating, with the estimate and the limit
# ==================================================================================================


@pytest.mark.parametrize("kind, cells", [("sinusoidal", 10**8 * 64), ("rope", 10**8 * 32)])
def test_pe_table_too_big_is_refused_before_allocating(kind: str, cells: int) -> None:
    err = capped_error(["pe", "--kind", kind, "--length", 10**8, "--dim", 64])
    assert "--length 100000000" in err and "--dim 64" in err and "0.062 GB" in err  # the options, the limit
    assert cells * 8 / GB <= estimate_gb(err) <= cells * 8 * 20 / GB  # at least the table's own bytes


def test_pe_table_as_json_counts_the_text_too() -> None:
    args = ["pe", "--kind", "sinusoidal", "--length", 10**6, "--dim", 64]
    as_npy = capped_error([*args, "--format", "npy"])
    as_json = capped_error([*args, "--format", "json"])
    assert estimate_gb(as_json) > 2 * estimate_gb(as_npy)  # a number's text costs more than its 8 bytes
    assert "-o table.npy" in as_json


def test_alibi_and_mask_too_big_are_refused_before_allocating() -> None:
    err = capped_error(["pe", "--kind", "alibi", "--length", 10**5, "--heads", 8])
    assert "--heads 8" in err and "fewer --heads" in err
    assert estimate_gb(err) >= 8 * 10**10 * 8 / GB
    err = capped_error(["mask", "--length", 10**5, "--causal", "--format", "csv"])
    assert "--length 100000" in err and estimate_gb(err) >= 10**10 / GB
    err = capped_error(["mask", "--length", 4, "--length-k", 10**11])
    assert "--length-k" in err
    err = capped_error(["mask", "--grid", "1000,1000", "--window2d", 3])
    assert "--grid 1000,1000" in err and estimate_gb(err) >= 10**12 / GB


def test_small_tables_still_print() -> None:
    out = run(["pe", "--kind", "sinusoidal", "--length", 3, "--dim", 2, "--format", "json"]).stdout
    pe = np.array(json.loads(out)["pe"])
    np.testing.assert_allclose(pe, np.stack([np.sin(np.arange(3)), np.cos(np.arange(3))], axis=1))


def test_random_embeddings_too_wide_are_refused_before_allocating() -> None:
    err = capped_error(["compute", "--text", "a b c a", "--embeddings", "random:100000000"])
    assert "--embeddings random:100000000" in err and "a smaller DIM" in err
    assert estimate_gb(err) >= 3 * 10**8 * 8 / GB  # three distinct tokens' vectors at least


def test_onehot_with_a_huge_vocabulary_is_refused_before_allocating(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text(" ".join(f"w{i}" for i in range(30000)) + "\n")
    err = capped_error(["compute", "--tokens", words, "--embeddings", "onehot"])
    assert "--embeddings onehot" in err and "random:DIM" in err
    assert estimate_gb(err) >= 30000**2 * 8 / GB  # the 30000 × 30000 identity alone


def heads_file(tmp_path: Path, heads: int, n: int) -> Path:
    path = tmp_path / "maps.npy"
    w = np.random.default_rng(0).random((heads, n, n))
    np.save(path, w / w.sum(-1, keepdims=True))
    return path


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_picture_too_big_is_refused_before_matplotlib_allocates(tmp_path: Path, fmt: str) -> None:
    maps = heads_file(tmp_path, 64, 50)
    err = capped_error(["show", maps, "--dpi", 1200, "-o", tmp_path / f"m.{fmt}"], memory="1G")
    # 64 panels in rows of 4, each side min(12, max(4, 0.3·50)) = 12 inches; + 1.2 in colour bar, 0.6 in title
    w_px, h_px = round((4 * 12 + 1.2) * 1200), round((16 * 12 + 0.6) * 1200)
    assert f"{w_px} × {h_px}-pixel {fmt.upper()}" in err and "--dpi 1200" in err
    assert estimate_gb(err) >= w_px * h_px * 4 / GB  # an RGBA canvas at least
    fit = int(re.search(r"try --dpi (\d+) or lower", err).group(1))
    assert 10 <= fit < 1200 and (4 * 12 + 1.2) * fit * (16 * 12 + 0.6) * fit * 4 < GB
    assert not (tmp_path / f"m.{fmt}").exists()
    assert runs_out_under_the_cap(["show", maps, "--dpi", 10, "-o", tmp_path / f"m.{fmt}"], 150)  # matplotlib


def test_picture_labels_are_plain_text_not_mathtext(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run(["compute", "--text", r"$\frac$ $^^$ b", "--embeddings", "random:4", "-o", tmp_path / "m.png"])
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_page_too_big_is_refused_before_building_it(tmp_path: Path) -> None:
    maps = heads_file(tmp_path, 16, 512)
    err = capped_error(["show", maps, "-o", tmp_path / "m.html"], limit_mb=300, memory="128M")
    assert "--format html" in err and "16 map(s)" in err
    assert estimate_gb(err) >= 16 * 512 * 512 * 8 / GB  # at least a few bytes of text per drawn cell
    assert not (tmp_path / "m.html").exists()
    assert runs_out_under_the_cap(["show", maps, "-o", tmp_path / "m.html"], 300)


def test_terminal_heatmap_of_a_big_map_is_downsampled_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.full((3000, 3000), 1 / 3000))
    out = run(["show", path, "--format", "heatmap"], env={**os.environ, "COLUMNS": "100"}).stdout.decode()
    assert "downsampled from 3000 × 3000" in out


# ==================================================================================================
# Time: explain summarises large problems; JSON stays complete
# ==================================================================================================


def test_explain_of_1000_tokens_finishes_and_says_what_it_cut(tmp_path: Path) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).normal(size=(1000, 8)))
    for fmt in ("table", "markdown", "latex"):
        proc = subprocess.run([*attncli_command(), "explain", "--x", str(x), "--format", fmt], capture_output=True,
                              timeout=900, check=True)  # generous: it took over 120 s before summarising
        out = proc.stdout.decode()
        assert "of 1000 rows" in out and "of 1000 columns" in out, fmt
        assert "--show weights -o weights.npy" in out.replace("-{}", "-"), fmt  # LaTeX escapes hyphens
        assert len(out) < 2_000_000, fmt  # corners, not a million cells per map


def test_explain_json_holds_every_value(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(60, 4))
    np.save(tmp_path / "x.npy", x)
    doc = json.loads(run(["explain", "--x", tmp_path / "x.npy", "--format", "json"]).stdout)
    s = x @ x.T / np.sqrt(4)
    want = np.exp(s - s.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    weights = next(st for st in doc["steps"] if st["key"].startswith("a_"))["matrices"][0]
    np.testing.assert_allclose(np.array(weights["values"]), want, rtol=1e-12, atol=1e-15)
    assert weights["rows"] == [f"q{i}" for i in range(60)]


def test_explain_refuses_steps_beyond_the_memory_limit(tmp_path: Path) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).normal(size=(3000, 8)))
    err = capped_error(["explain", "--x", x], limit_mb=400, memory="200M")
    assert "explain keeps every step" in err and "0.2 GB" in err and "attncli compute" in err
    assert estimate_gb(err) >= 3 * 3000**2 * 8 / GB  # a recorded map and the kernel's scores and weights
    assert runs_out_under_the_cap(["explain", "--x", x], 300)


# ==================================================================================================
# Terminal: nothing from data drives it
# ==================================================================================================


def text_args() -> list[str]:
    return ["--text", " ".join(HOSTILE), "--embeddings", "random:4"]


@pytest.mark.parametrize("command, extra", [
    ("compute", []), ("compute", ["--format", "heatmap"]), ("embed", []),
    ("explain", []), ("explain", ["--format", "markdown"]), ("explain", ["--format", "latex"]),
    ("explain", ["--format", "heatmap"]),
])
def test_text_labels_never_reach_the_terminal_raw(command: str, extra: list) -> None:
    out = run([command, *text_args(), *extra]).stdout.decode()
    assert not unsafe_chars(out), unsafe_chars(out)
    if "latex" in extra:
        return  # LaTeX prints the numbers alone
    assert "a\\x1b[2Jb" in out and "csi\\x9b" in out and "rtl\\u202eevil" in out  # shown, spelled out
    assert "[red]x[/red]" in out  # shown as typed, never as markup
    if "heatmap" not in extra:  # (a heatmap cuts row labels at 16 characters)
        assert "[link=http://e.x]y" in out


def test_tokens_file_and_labels_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(" ".join(HOSTILE) + "\n" + " ".join(HOSTILE[:3]) + "\n")
    out = run(["compute", "--tokens", tokens, "--embeddings", "random:4"]).stdout.decode()
    assert not unsafe_chars(out) and "[red]x[/red]" in out
    out = run(["compute", "--x", "1 0; 0 1; 1 1", "--labels", "a\x1b[2J,[red]b[/red],c\x07"]).stdout.decode()
    assert not unsafe_chars(out) and "[red]b[/red]" in out and "a\\x1b[2J" in out


@pytest.mark.parametrize("fmt", ["heatmap", "table"])
def test_show_labels_and_statistics_never_reach_the_terminal_raw(tmp_path: Path, fmt: str) -> None:
    maps = tmp_path / "w.npy"
    np.save(maps, np.full((3, 3), 1 / 3))
    labels = "a\x1b[2J,[red]b[/red],c\x9b"
    out = run(["show", maps, "--labels", labels, "--format", fmt]).stdout.decode()
    assert not unsafe_chars(out), unsafe_chars(out)
    assert "[red]b[/red]" in out and "a\\x1b[2J" in out and "per query" in out


def test_machine_formats_keep_the_original_strings(tmp_path: Path) -> None:
    d = json.loads(run(["compute", *text_args(), "--format", "json"]).stdout)
    assert d["meta"]["tokens"] == HOSTILE
    doc = json.loads(run(["explain", *text_args(), "--format", "json"]).stdout)
    raw = run(["explain", *text_args(), "--format", "json"]).stdout.decode()
    assert not unsafe_chars(raw)  # escaped as \uXXXX in the document ...
    weights = next(st for st in doc["steps"] if st["key"].startswith("a_"))["matrices"][0]
    assert weights["rows"] == HOSTILE and weights["cols"] == HOSTILE  # ... and decoded back exactly
    html = run(["compute", *text_args(), "--format", "html"]).stdout.decode()
    assert not unsafe_chars(html)
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["groups"][0]["panels"][0]["rows"] == HOSTILE


def test_check_prints_hostile_file_names_safely(tmp_path: Path) -> None:
    name = tmp_path / "a\x1b[2J[red]x.npy"
    np.save(name, np.eye(2))
    np.save(tmp_path / "ok.npy", np.eye(2))
    for answers in ([name], [name, tmp_path / "ok.npy"]):
        out = run(["check", *answers, "--expected", tmp_path / "ok.npy"]).stdout.decode()
        assert not unsafe_chars(out) and "a\\x1b[2J[red]x.npy" in out


# ==================================================================================================
# Inputs: unusable expected arrays, malformed tokenizer.json
# ==================================================================================================


@pytest.mark.parametrize("bad", [np.array([[1 + 2j, 3], [4, 5]]), np.array([["a", "b"], ["c", "d"]]),
                                 np.array([[1, "a"], [2, 3]], dtype=object)])
def test_check_refuses_unusable_expected_and_answer_arrays(tmp_path: Path, bad: np.ndarray) -> None:
    np.save(tmp_path / "ok.npy", np.eye(2))
    np.save(tmp_path / "bad.npy", bad, allow_pickle=bad.dtype == object)
    assert "--expected" in error_of(["check", tmp_path / "ok.npy", "--expected", tmp_path / "bad.npy"])
    assert "ANSWER" in error_of(["check", tmp_path / "bad.npy", "--expected", tmp_path / "ok.npy"])


def test_check_complex_expected_says_so(tmp_path: Path) -> None:
    np.save(tmp_path / "ok.npy", np.eye(2))
    np.save(tmp_path / "c.npy", np.eye(2) * (1 + 1j))
    err = error_of(["check", tmp_path / "ok.npy", "--expected", tmp_path / "c.npy"])
    assert "real numbers" in err and "complex" in err


def good_tokenizer() -> dict:
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "the": 1, "cat": 2}, "unk_token": "[UNK]"}}


MALFORMED = {  # name: (change to a valid tokenizer.json, what the library does with it)
    "vocab of the wrong type": (lambda t: t["model"].update(vocab=5), "load error"),
    "an id of the wrong type": (lambda t: t["model"].update(vocab={"the": "x"}), "load error"),
    "model a list": (lambda t: t.update(model=[]), "load error"),
    "unk token missing": (lambda t: t["model"].update(unk_token="nope"), "encode error"),
    "bad precompiled charsmap": (lambda t: t.update(normalizer={"type": "Precompiled", "precompiled_charsmap": "AAAA"}),
                                 "Rust panic on load"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_tokenizer_json_is_one_line(tmp_path: Path, name: str) -> None:
    pytest.importorskip("tokenizers")
    doc = good_tokenizer()
    MALFORMED[name][0](doc)
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc))
    err = error_of(["compute", "--text", "the cat dog", "--tokenizer", path, "--embeddings", "random:4"])
    assert err.startswith("error: --tokenizer: ") and "panicked" not in err


def test_a_truncation_block_the_library_panics_on_is_not_applied(tmp_path: Path) -> None:
    """A stride beyond max_length made the library panic on encode; the file's truncation settings are now
    switched off (as transformers does unless asked: issue 22), so the text gets all its tokens."""
    pytest.importorskip("tokenizers")
    doc = good_tokenizer()
    doc["truncation"] = {"direction": "Right", "max_length": 1, "strategy": "LongestFirst", "stride": 5}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc))
    proc = run(["compute", "--text", "the cat dog", "--tokenizer", path, "--embeddings", "random:4", "--format",
                "json"])
    assert json.loads(proc.stdout)["meta"]["tokens"] == ["the", "cat", "[UNK]"] and proc.stderr == b""


def test_a_good_tokenizer_json_still_works(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(good_tokenizer()))
    proc = run(["compute", "--text", "the cat dog", "--tokenizer", path, "--embeddings", "random:4", "--format",
                "json"])
    assert json.loads(proc.stdout)["meta"]["tokens"] == ["the", "cat", "[UNK]"] and proc.stderr == b""


def test_show_statistics_file_escapes_labels_utf8_cannot_write(tmp_path):
    """Labels from argv bytes that are not UTF-8 (lone surrogates) and terminal escapes go into show's CSV as
    \\xNN / \\uXXXX escapes, as they print (found by tests/fuzz.py --seed 15: exit 70 before)."""
    import os
    import subprocess
    import sys

    import numpy as np

    np.save(tmp_path / "maps.npy", np.full((3, 3), 1 / 3, dtype=np.float32))
    labels = os.fsencode("a") + b"\x9b," + b"b\x1b[2J,c"
    proc = subprocess.run([sys.executable, "-m", "attncli", "show", str(tmp_path / "maps.npy"), "--labels",
                           os.fsdecode(labels), "-o", str(tmp_path / "out.csv")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "a\\udc9b" in text and "b\\x1b[2J" in text and "\x1b" not in text
