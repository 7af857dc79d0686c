"""Pictures of attention: terminal heatmaps, PNG/SVG/PDF, HTML (and a headless browser), and `attncli show`.

Expected numbers are derived by hand in the comments (entropy in bits, shares, top-k), expected colours
come from matplotlib's own colormap for the documented scale (0 to the largest weight), and image sizes
from the documented figure size (render/figure.py: panels of max(4, 0.3·n) inches, +1.2 colour bar,
+0.6 title).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import attncli_command, run, run_error
from external_tools import require

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
TEXT = ["--text", "the cat sat on the mat", "--embeddings", str(SAMPLES / "text" / "embeddings.txt")]


def two_heads() -> np.ndarray:
    """2 heads × 6 × 6: head 0 puts 0.5 on the diagonal and 0.1 elsewhere; head 1 puts 0.75 on the first
    key and 0.05 elsewhere. Rows sum to 1; the largest weight is 0.75."""
    n = 6
    h0 = np.full((n, n), 0.1) + np.eye(n) * 0.4
    h1 = np.full((n, n), 0.05)
    h1[:, 0] = 0.75
    return np.stack([h0, h1])


@pytest.fixture
def maps_npy(tmp_path: Path) -> Path:
    path = tmp_path / "two_heads.npy"
    np.save(path, two_heads())
    return path


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def run_tty(args: list[str], columns: int = 100) -> tuple[int, str, str]:
    """Run attncli with stdout on a pseudo-terminal (so it sees a terminal): (exit code, stdout, stderr)."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = dict(os.environ, COLUMNS=str(columns), TERM="xterm-256color", COLORTERM="truecolor")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(attncli_command() + [str(a) for a in args], stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace"), err


# ---- terminal heatmap -----------------------------------------------------------------------------

def test_heatmap_plain_when_piped_has_labels_values_and_a_key():
    out = run(["compute", *TEXT, "--format", "heatmap", "--precision", "2"]).stdout.decode()
    assert "\x1b[" not in out  # no colour codes in a pipe
    assert "scaled dot-product attention · softmax" in out  # the variant
    header = next(line for line in out.splitlines() if "cat" in line and "mat" in line)
    assert header.split() == ["the#1", "cat", "sat", "on", "the#2", "mat"]
    assert re.search(r"^\s*cat .*0\.\d\d", out, flags=re.M)  # a row label, then values
    assert "'█' ≤" in out  # the shade key


def test_heatmap_in_a_terminal_is_coloured_with_the_colormap():
    code, out, err = run_tty(["compute", *TEXT, "--format", "heatmap"])
    assert code == 0, err
    # the largest weight is drawn in the top colour of viridis, #fde725 = (253, 231, 37)
    assert "48;2;253;231;37" in out
    assert "cat" in out and "mat" in out


def test_heatmap_marks_masked_cells_and_shows_heads_side_by_side():
    out = run(["compute", "--x", str(SAMPLES / "two_heads" / "x.csv"), "--weights",
               str(SAMPLES / "two_heads" / "weights.safetensors"), "--heads", "2", "--causal",
               "--format", "heatmap"]).stdout.decode()
    first = next(line for line in out.splitlines() if line.lstrip().startswith("q0"))
    assert first.count("·") == 4  # q0 sees only k0, in both heads (same line)
    assert "head 0" in out and "head 1" in out and "causal" in out


def test_long_maps_are_downsampled_with_a_notice(tmp_path: Path):
    big = np.random.default_rng(0).dirichlet(np.ones(300), size=300)
    np.save(tmp_path / "big.npy", big)
    proc = run(["show", tmp_path / "big.npy"], env=dict(os.environ, COLUMNS="100"))
    out = proc.stdout.decode()
    assert "downsampled" in out and "mean of a" in out
    assert max(len(line) for line in out.splitlines()) <= 110


def test_pool_is_block_means_with_index_ranges():
    from attncli.render.maps import Panel, pool

    p = Panel("", np.arange(16.0).reshape(4, 4), list("abcd"), list("wxyz"))
    small = pool(p, 2, 2)
    # blocks [[0,1],[4,5]] -> 2.5, [[2,3],[6,7]] -> 4.5, [[8,9],[12,13]] -> 10.5, [[10,11],[14,15]] -> 12.5
    assert small.values.tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert small.rows == ["0–1", "2–3"] and "downsampled" in small.note
    assert pool(p, 4, 4) is p


def test_heatmap_to_a_text_file(tmp_path: Path):
    run(["compute", *TEXT, "--format", "heatmap", "-o", tmp_path / "map.txt"])
    assert "the#1" in (tmp_path / "map.txt").read_text(encoding="utf-8")


def test_pe_and_mask_draw_too(tmp_path: Path):
    out = run(["mask", "--length", "4", "--causal", "--format", "heatmap"]).stdout.decode()
    assert "mask · causal" in out and out.count("·") >= 6
    run(["pe", "--kind", "alibi", "--length", "5", "--heads", "2", "-o", tmp_path / "alibi.html"])
    assert "ALiBi" in (tmp_path / "alibi.html").read_text(encoding="utf-8")


# ---- PNG / SVG / PDF ------------------------------------------------------------------------------

def test_png_of_two_heads_has_the_expected_size_and_colours(maps_npy: Path, tmp_path: Path):
    mpl = pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    from PIL import Image

    out = tmp_path / "map.png"
    run(["show", maps_npy, "--labels", "the,cat,sat,on,a,mat", "-o", out])
    data = out.read_bytes()
    # 2 panels of 4 in (6 tokens) side by side + 1.2 in colour bar; 4 in + 0.6 in title; at 100 dpi
    assert png_size(data) == (920, 460)
    pixels = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
    ys, xs = np.divmod(np.arange(len(pixels)), 920)

    def where(value: float) -> np.ndarray:
        rgb = np.array(mpl.colormaps["viridis"](value / 0.75, bytes=True)[:3])  # scale 0 .. 0.75
        return np.all(pixels == rgb, axis=1)

    big, diag, low = where(0.75), where(0.5), where(0.1)
    cell = (4 * 100 / 6) ** 2 / 4  # a quarter of the largest a cell could be, in pixels
    assert big.sum() > 6 * cell and diag.sum() > 6 * cell and low.sum() > 30 * cell
    # head 1 (0.75 on its first key) is right of head 0; head 0's 0.5s lie on a diagonal
    assert xs[big].mean() > xs[diag].max()
    assert np.corrcoef(xs[diag], ys[diag])[0, 1] > 0.95
    # the colour of a larger weight is the colormap's colour of a larger value: 0.5 brighter than 0.1
    assert diag.sum() and not np.any(where(0.5) & where(0.1))

    run(["show", maps_npy, "-o", tmp_path / "small.png", "--dpi", "50"])
    assert png_size((tmp_path / "small.png").read_bytes()) == (460, 230)


def test_svg_has_labels_colour_bar_and_title(maps_npy: Path, tmp_path: Path):
    pytest.importorskip("matplotlib")
    run(["show", maps_npy, "--labels", "the,cat,sat,on,a,mat", "-o", tmp_path / "map.svg"])
    svg = (tmp_path / "map.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    for text in ("cat", "mat", "head 0", "head 1", "weights", "key", "query", "attention map · two_heads.npy"):
        assert f"<!-- {text} -->" in svg, text  # matplotlib writes each text as a comment before its glyphs


def test_pdf_magic_and_compute_to_every_picture(tmp_path: Path):
    pytest.importorskip("matplotlib")
    base = ["compute", "--x", SAMPLES / "two_heads" / "x.csv", "--weights",
            SAMPLES / "two_heads" / "weights.safetensors", "--heads", "2", "--causal"]
    run([*base, "-o", tmp_path / "m.pdf"])
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF-")
    run([*base, "--show", "scores,weights", "-o", tmp_path / "m.svg", "--cmap", "magma"])
    assert "scores" in (tmp_path / "m.svg").read_text(encoding="utf-8")
    piped = run([*base, "--format", "png"]).stdout  # to a pipe: allowed
    assert png_size(piped)[0] > 100


def test_png_to_a_terminal_is_refused(maps_npy: Path):
    code, out, err = run_tty(["show", maps_npy, "--format", "png"])
    assert code == 2 and err.startswith("error: refusing to write binary PNG to a terminal"), err
    assert err.count("\n") == 1


def test_missing_matplotlib_names_the_extra(maps_npy: Path, tmp_path: Path):
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"))
    proc = run(["show", maps_npy, "-o", tmp_path / "m.png"], check=False, env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err == "error: PNG/SVG/PDF output needs matplotlib: pip install 'attncli[plot]'\n"
    assert not (tmp_path / "m.png").exists()


def test_picture_option_errors(maps_npy: Path):
    assert "--cmap" in run_error(["show", maps_npy, "--format", "html", "--cmap", "nonsense"])
    assert "--dpi" in run_error(["show", maps_npy, "-o", "x.png", "--dpi", "5"])
    assert "--format" in run_error(["show", maps_npy, "--format", "png", "-o", "x.json"])
    assert "draws attention maps" not in run_error(["compute", "--x", "1 0; 0 1", "-o", "x.gif"])


# ---- HTML -------------------------------------------------------------------------------------------

def html_data(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, flags=re.S)
    return json.loads(m.group(1))


def test_html_is_self_contained_and_holds_the_maps(maps_npy: Path, tmp_path: Path):
    run(["show", maps_npy, "--labels", "the,cat,sat,on,a,</script><b>x", "-o", tmp_path / "m.html"])
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert not re.search(r"https?:|//[a-z]|<link|@import|url\(|src=", page, flags=re.I)
    assert "default-src 'none'" in page  # the page may not fetch anything
    assert page.count("</script>") == 2  # a label cannot end the data element
    data = html_data(page)
    panels = data["groups"][0]["panels"]
    assert [p["title"] for p in panels] == ["head 0", "head 1"]
    assert panels[1]["cols"][5] == "</script><b>x"
    assert np.allclose(np.array([p["values"] for p in panels], dtype=float), two_heads())
    assert 'id="panel"' in page  # the head selector


def test_html_masked_cells_are_null(tmp_path: Path):
    run(["compute", "--x", "1 0; 0 1; 1 1", "--causal", "-o", tmp_path / "m.html"])
    values = html_data((tmp_path / "m.html").read_text(encoding="utf-8"))["groups"][0]["panels"][0]["values"]
    assert values[0][1] is None and values[0][2] is None and values[0][0] == 1


def test_html_in_headless_chromium_shows_a_hovered_value_and_loads_nothing(tmp_path: Path):
    chromium = require("chromium")  # or skip saying so (fail under ATTNCLI_CI=1)
    np.save(tmp_path / "m.npy", np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3]]))
    run(["show", tmp_path / "m.npy", "--labels", "I,love,fish", "-o", tmp_path / "m.html"])
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom"]
    proc = subprocess.run([chromium, *flags, (tmp_path / "m.html").as_uri() + "#selftest"], capture_output=True,
                          text=True, timeout=120)
    m = re.search(r'<output id="selftest">(.*?)</output>', proc.stdout)
    assert m, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the script hovers the largest cell, 0.8 at query "love" (1), key "fish" (2)
    assert m.group(1) == "hovered: query: love (1); key: fish (2); weights: 0.8000 | resources loaded: 0"


# ---- show -------------------------------------------------------------------------------------------

def show_json(args: list, **kw) -> dict:
    return json.loads(run(["show", *args, "--format", "json"], **kw).stdout)


def test_show_statistics_of_a_2d_map(tmp_path: Path):
    np.save(tmp_path / "a.npy", np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]]))
    doc = show_json([tmp_path / "a.npy", "--labels", "I,love,fish", "--top-k", "2"])
    assert doc["stats"]["entropy_unit"] == "bits" and doc["stats"]["top_k"] == 2
    [h] = doc["stats"]["heads"]
    assert h["layer"] is None and h["head"] is None
    # rows: H = −(.5 log2 .5 + 2 · .25 log2 .25) = 0.5 + 1 = 1.5; one-hot → 0; again 1.5; mean 1
    assert [q["entropy"] for q in h["per_query"]] == pytest.approx([1.5, 0.0, 1.5])
    assert h["entropy"] == pytest.approx(1.0) and h["max_entropy"] == pytest.approx(math.log2(3))
    assert h["first_token"] == pytest.approx((0.5 + 0 + 0.25) / 3)
    assert h["diagonal"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    # mean shares per key: I (.5+0+.25)/3, love (.25+1+.25)/3 = 0.5, fish (.25+0+.5)/3
    assert h["most_attended"] == {"key": "love", "index": 1, "share": pytest.approx(0.5)}
    assert h["per_query"][0]["top"] == [{"key": "I", "index": 0, "weight": 0.5},
                                        {"key": "love", "index": 1, "weight": 0.25}]  # tie: the earlier key
    assert h["per_query"][1]["top"] == [{"key": "love", "index": 1, "weight": 1.0}]  # zero weights are not "top"
    assert doc["meta"]["shape"] == [3, 3] and doc["meta"]["labels"] == ["I", "love", "fish"]


def test_show_3d_picks_a_head(maps_npy: Path):
    doc = show_json([maps_npy])
    assert [h["head"] for h in doc["stats"]["heads"]] == [0, 1]
    [h] = show_json([maps_npy, "--head", "-1"])["stats"]["heads"]
    # head 1: every row is 0.75 on the first key, 0.05 on the others
    assert h["head"] == 1 and h["first_token"] == pytest.approx(0.75)
    assert h["diagonal"] == pytest.approx((0.75 + 5 * 0.05) / 6)
    assert h["entropy"] == pytest.approx(-(0.75 * math.log2(0.75) + 5 * 0.05 * math.log2(0.05)))


def test_show_4d_layers_and_heads(tmp_path: Path):
    a = np.stack([two_heads(), two_heads()[::-1]])  # (2 layers, 2 heads, 6, 6)
    np.save(tmp_path / "a.npy", a)
    heads = show_json([tmp_path / "a.npy"])["stats"]["heads"]
    assert [(h["layer"], h["head"]) for h in heads] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    [h] = show_json([tmp_path / "a.npy", "--layer", "1", "--head", "0"])["stats"]["heads"]
    assert h["first_token"] == pytest.approx(0.75)  # layer 1 head 0 is the first-token head
    run(["show", tmp_path / "a.npy", "--layer", "-1", "-o", tmp_path / "l.npy"])
    assert np.array_equal(np.load(tmp_path / "l.npy"), a[1])
    out = run(["show", tmp_path / "a.npy", "--layer", "0"]).stdout.decode()
    assert "layer 0 · head 1" in out and "statistics" in out and "per query" in out
    np.save(tmp_path / "b.npy", a[None])  # (1, 2, 2, 6, 6): a leading axis of 1 is dropped
    assert len(show_json([tmp_path / "b.npy"])["stats"]["heads"]) == 4


def test_show_csv_has_one_row_per_query_and_head(maps_npy: Path):
    lines = run(["show", maps_npy, "--format", "csv", "--top-k", "1"]).stdout.decode().splitlines()
    assert lines[0] == "layer,head,query_index,query,entropy_bits,first_token,diagonal,top1,weight1"
    assert len(lines) == 1 + 2 * 6
    assert lines[7].startswith(",1,0,q0,") and lines[7].endswith(",k0,0.75")


def test_show_rows_not_summing_to_one_negative_and_nan(tmp_path: Path):
    np.save(tmp_path / "u.npy", np.array([[1.0, 1.0], [2.0, 0.0]]))
    proc = run(["show", tmp_path / "u.npy", "--format", "json"])
    assert "do not sum to 1" in proc.stderr.decode()
    [h] = json.loads(proc.stdout)["stats"]["heads"]
    # rows divided by their sums: (0.5, 0.5) → 1 bit, first 0.5; (1, 0) → 0 bits, first 1
    assert h["entropy"] == pytest.approx(0.5) and h["first_token"] == pytest.approx(0.75)

    np.save(tmp_path / "s.npy", np.array([[1.0, -1.0], [0.5, 2.0]]))
    proc = run(["show", tmp_path / "s.npy", "--format", "json"])
    assert "negative" in proc.stderr.decode() and json.loads(proc.stdout)["stats"] is None

    np.save(tmp_path / "n.npy", np.array([[1.0, np.nan], [0.5, 0.5]]))
    proc = run(["show", tmp_path / "n.npy", "--format", "json"])
    assert "NaN" in proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["meta"]["nan_cells"] == 1 and doc["stats"]["heads"][0]["per_query"][0]["entropy"] == 0


@pytest.mark.parametrize("shape", [(6,), (2, 2, 2, 3, 3), (1, 2, 3, 4, 5, 5)])
def test_show_rejects_other_shapes_in_one_line(shape, tmp_path: Path):
    np.save(tmp_path / "x.npy", np.ones(shape))
    err = run_error(["show", tmp_path / "x.npy"])
    assert str(shape) in err and "2-D (n_q × n_k)" in err


@pytest.mark.parametrize("args,needle", [
    (["--layer", "0"], "--layer needs a 4-D map"),
    (["--head", "2"], "--head 2 is out of range"),
    (["--labels", "a,b"], "--labels has 2 labels"),
    (["--top-k", "0"], "--top-k"),
])
def test_show_errors(args, needle, maps_npy: Path):
    assert needle in run_error(["show", maps_npy, *args])


def test_show_refuses_infinity_and_reads_stdin(tmp_path: Path):
    assert "infinite" in run_error(["show", "[[1, 0], [0, Infinity]]"])
    doc = json.loads(run(["show", "-", "--format", "json"], stdin=b"0.5 0.5\n0 1\n").stdout)
    assert doc["stats"]["heads"][0]["diagonal"] == pytest.approx(0.75)


def test_attncli_starts_without_matplotlib_or_numpy():
    code = ("import sys; from attncli.cli import app; "
            "assert 'matplotlib' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
