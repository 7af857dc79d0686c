"""`attncli model ... -o view.html`: the model view and head view page (render/model_html.py).

The page's arrays are decoded here independently of its script (base64, little-endian, np.unpackbits) and
compared with `attncli model ... --format npz` and with closed forms (a causal mask is the lower triangle;
Mistral's window of 4 lets query i see keys i-3..i); the 8-bit weights must agree within half a step,
scale/510 with scale the map's largest weight.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run
from external_tools import require

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "golden" / "models"
TEXT = "the cat sat on the mat"
SIZE_BOUND_1024 = 24_000_000  # bytes: n = 1,024 tokens, 12 layers × 12 heads (about 21 MB; stated in the README)


def page_data(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, flags=re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


def b64(s: str, dtype: str = "u1") -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=np.dtype(dtype))


def decode(t: dict) -> dict:
    """Every array of one text of the page, as numpy: masks (maps, n, n) bool, scale (maps,), thumbs, and
    either w (maps, n, n) or idx/w (maps, n, k) and rest (maps, n)."""
    n, scale = t["n"], np.array(t["scale"])
    maps = len(scale)
    rb = -(-n // 8)
    unique = [np.unpackbits(b64(m).reshape(n, rb), axis=1)[:, :n].astype(bool) for m in t["masks"]]
    out = {"n": n, "scale": scale, "allowed": np.stack([unique[k] for k in t["mask_of"]]),
           "thumbs": b64(t["thumbs"]).reshape(maps, t["thumb"], t["thumb"])}
    if t["mode"] == "dense":
        out["w"] = b64(t["q"]).reshape(maps, n, n) * scale[:, None, None] / 255
    else:
        k = t["k"]
        out["idx"] = b64(t["idx"], "<u2" if t["idx_bytes"] == 2 else "<u4").reshape(maps, n, k)
        out["q"] = b64(t["q"]).reshape(maps, n, k)
        out["w"] = out["q"] * scale[:, None, None] / 255
        out["rest"] = b64(t["rest"]).reshape(maps, n) / 255
    return out


def attentions(tmp_path: Path, model: str, *args: str) -> np.ndarray:
    run(["model", MODELS / model, *args, "--format", "npz", "-o", tmp_path / "a.npz"])
    return np.load(tmp_path / "a.npz")["attentions"]


def make_page(tmp_path: Path, model: str, *args: str) -> str:
    run(["model", MODELS / model, *args, "-o", tmp_path / "view.html"])
    return (tmp_path / "view.html").read_text(encoding="utf-8")


def causal_softmax(rng: np.random.Generator, shape: tuple, sharp: float = 1.0) -> np.ndarray:
    n = shape[-1]
    s = rng.standard_normal(shape, dtype=np.float32) * np.float32(sharp)
    s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_page_is_one_self_contained_file_with_a_csp(tmp_path: Path):
    page = make_page(tmp_path, "gpt2", "--text", TEXT)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:|//[a-z]|<link|@import|url\(|src=", page, flags=re.I)
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\';', page)
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data and the script, inline
    assert 'id="tab-model"' in page and 'id="tab-head"' in page  # the two views
    data = page_data(page)
    assert data["layers"] == [0, 1] and data["heads"] == [0, 1, 2, 3]
    assert "8 bits" in data["note"] and "1/255" in data["note"]  # what is lossy, said on the page
    stdout = run(["model", MODELS / "gpt2", "--text", TEXT, "--format", "html"]).stdout.decode()
    assert stdout == page


def test_weights_decode_back_within_half_a_step_and_masks_are_causal(tmp_path: Path):
    att = attentions(tmp_path, "gpt2", "--text", TEXT)  # (L, H, n, n)
    [t] = page_data(make_page(tmp_path, "gpt2", "--text", TEXT))["texts"]
    meta = json.loads(run(["model", MODELS / "gpt2", "--text", TEXT, "--format", "json"]).stdout)["meta"]
    assert t["tokens"] == meta["labels"]  # the readable labels (models/labels.py); meta.tokens keeps the raw ones
    d = decode(t)
    n, maps = d["n"], att.shape[0] * att.shape[1]
    ref = att.reshape(maps, n, n)
    assert t["mode"] == "dense" and n == 7
    assert np.allclose(d["scale"], ref.max(axis=(1, 2)), rtol=1e-6)  # each map's largest weight
    assert np.all(np.abs(d["w"] - ref) <= d["scale"][:, None, None] / 510 + 1e-6)
    assert np.all(np.abs(d["w"] - ref) <= 1 / 255)
    assert len(t["masks"]) == 1 and (d["allowed"] == np.tril(np.ones((n, n), bool))).all()
    assert np.array_equal(d["thumbs"], np.rint(ref / d["scale"][:, None, None] * 255))  # 7 ≤ 96: one cell a pixel


def test_a_sliding_window_mask_and_a_batch_of_texts(tmp_path: Path):
    [t] = page_data(make_page(tmp_path, "mistral_window", "--ids", " ".join(map(str, range(1, 21)))))["texts"]
    d = decode(t)
    i, j = np.indices((20, 20))
    assert (d["allowed"] == ((j <= i) & (j > i - 4))).all()  # itself and the 3 before, in every layer and head
    att = attentions(tmp_path, "mistral_window", "--ids", " ".join(map(str, range(1, 21))))
    assert np.all(np.abs(d["w"] - att.reshape(d["w"].shape)) <= 1 / 255)

    texts = ["--text", "a b c d e f", "--text", "a b"]
    data = page_data(make_page(tmp_path, "bert", *texts))
    att = attentions(tmp_path, "bert", *texts)  # (B, L, H, n, n), padded
    meta = json.loads(run(["model", MODELS / "bert", *texts, "--format", "json"]).stdout)["meta"]
    assert [t["n"] for t in data["texts"]] == meta["lengths"] and meta["lengths"][0] > meta["lengths"][1]
    for b, t in enumerate(data["texts"]):
        d, n = decode(t), t["n"]
        assert t["tokens"] == meta["labels"][b]
        assert d["allowed"].all()  # padding is cut off each text's maps; BERT sees every key
        assert np.all(np.abs(d["w"] - att[b, :, :, :n, :n].reshape(d["w"].shape)) <= 1 / 255)


def test_top_k_keeps_each_querys_strongest_keys_and_the_rest_of_the_row(monkeypatch):
    from attncli.render import model_html

    monkeypatch.setattr(model_html, "DENSE_BYTES", 0)  # top-k even for this small page
    rng = np.random.default_rng(3)
    att = causal_softmax(rng, (1, 2, 3, 100, 100), sharp=3.0)
    allowed = np.broadcast_to(np.tril(np.ones((100, 100), bool)), att.shape)
    page = model_html.model_page(att, allowed, [[f"t{i}" for i in range(100)]], [0, 1], [0, 1, 2], "topk")
    [t] = page_data(page)["texts"]
    assert (t["mode"], t["k"]) == ("topk", 32)
    d = decode(t)
    ref = att[0].reshape(6, 100, 100)
    for m in range(6):
        half = d["scale"][m] / 510 + 1e-7
        for i in range(100):
            kept = d["q"][m, i] > 0
            idx = d["idx"][m, i][kept]
            true_top = set(np.argsort(-ref[m, i], kind="stable")[: min(32, i + 1)].tolist())
            assert set(idx.tolist()) <= true_top  # the strongest keys (those of q = 0 are dropped)
            assert (np.diff(d["w"][m, i][kept]) <= 0).all()  # strongest first
            assert np.all(np.abs(d["w"][m, i][kept] - ref[m, i, idx]) <= half)
            assert abs(d["rest"][m, i] - (ref[m, i].sum() - ref[m, i, idx].sum())) <= 1 / 510 + 1e-6
            assert (idx <= i).all()  # never a masked key


def test_hostile_token_labels_are_escaped():
    from attncli.render.model_html import model_page

    tokens = ["</script><script>alert(1)</script>", "\x1b[31mred", "a\u202eb", "<!--", "&amp;", "\u2028x"]
    n = len(tokens)
    att = causal_softmax(np.random.default_rng(0), (1, 1, n, n))
    page = model_page(att, None, tokens, [0], [0], "</title><script>alert(2)</script>")
    assert page.count("<script") == 2 and page.count("</script>") == 2  # no label ends or opens an element
    assert "alert(1)</script>" not in page and "<script>alert(2)" not in page
    assert "&lt;/title&gt;" in page  # the title as text
    for raw in ("\x1b", "\u202e", "\u2028", "<!--"):
        assert raw not in page
    labels = page_data(page)["texts"][0]["tokens"]
    assert labels == ["</script><script>alert(1)</script>", "\\x1b[31mred", "a\\u202eb", "<!--", "&amp;", "\\u2028x"]
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page


def test_hostile_text_through_the_cli(tmp_path: Path):
    page = make_page(tmp_path, "gpt2", "--text", "</script><script>alert(1)</script>\x1b[2J")
    assert page.count("</script>") == 2 and "<script>alert" not in page and "\x1b" not in page


def test_1024_tokens_12_layers_12_heads_builds_within_the_stated_size():
    from attncli.render.model_html import model_page, page_bytes

    n = 1024
    rng = np.random.default_rng(1)
    per_layer = causal_softmax(rng, (1, 12, 1, n, n), sharp=4.0)  # 12 layers, shared by their 12 heads
    att = np.broadcast_to(per_layer, (1, 12, 12, n, n))
    allowed = np.broadcast_to(np.tril(np.ones((n, n), bool)), att.shape)
    page = model_page(att, allowed, [[f"tok{i}" for i in range(n)]], list(range(12)), list(range(12)), "n=1024")
    size = len(page.encode("utf-8"))
    assert size < SIZE_BOUND_1024 and size <= page_bytes([n], 144)
    [t] = page_data(page)["texts"]
    assert (t["mode"], t["k"], t["block"], t["thumb"], len(t["masks"])) == ("topk", 32, 11, 94, 1)
    d = decode(t)
    m, ref = 17, per_layer[0, 1, 0]  # layer 1, head 5
    assert (d["allowed"][m] == np.tril(np.ones((n, n), bool))).all()
    for i in (0, 31, 500, 1023):
        kept = d["q"][m, i] > 0
        assert np.all(np.abs(d["w"][m, i][kept] - ref[i, d["idx"][m, i][kept]]) <= d["scale"][m] / 510 + 1e-7)
    # thumbnails: the largest weight of each 11 × 11 block, in steps of the map's scale
    padded = np.zeros((94 * 11, 94 * 11), np.float32)
    padded[:n, :n] = ref / d["scale"][m] * 255
    assert np.abs(d["thumbs"][m] - padded.reshape(94, 11, 94, 11).max(axis=(1, 3))).max() <= 0.5 + 1e-3


def test_memory_is_estimated_before_building(tmp_path: Path):
    proc = run(["model", MODELS / "gpt2", "--text", TEXT, "-o", tmp_path / "v.html"], check=False,
               env={**__import__("os").environ, "ATTNCLI_MEMORY_LIMIT": "600K"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: -o/--output: an HTML page"), err
    assert not (tmp_path / "v.html").exists()


# ---- in a browser ----------------------------------------------------------------------------------

CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            "--window-size=1300,900", "--virtual-time-budget=15000"]


def selftest(tmp_path: Path, page: Path, *, hash_: str = "selftest", screenshot: Path | None = None) -> str:
    """Load `page` in headless Chromium (or skip, saying so: external_tools.require); what its self-test wrote
    (or, with `screenshot`, a picture of the page there)."""
    chromium = require("chromium")
    flags = [*CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}"]
    flags += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run([chromium, *flags, page.as_uri() + "#" + hash_], capture_output=True, text=True,
                          timeout=180)
    if screenshot:
        assert screenshot.is_file() and screenshot.stat().st_size > 1000, proc.stderr[-2000:]
        return ""
    m = re.search(r'<output id="selftest-result">(.*?)</output>', proc.stdout)
    assert m and m.group(1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_in_headless_chromium_the_hovered_cell_and_the_lines_match_the_weights(tmp_path: Path):
    att = attentions(tmp_path, "gpt2", "--text", TEXT).astype(float)  # (2, 4, 7, 7)
    make_page(tmp_path, "gpt2", "--text", TEXT)
    out = selftest(tmp_path, tmp_path / "view.html")
    assert out.startswith("maps: 8 | ") and out.endswith("resources loaded: 0")
    # the script hovers, in layer 0 head 0, the last query's strongest key
    m = re.search(r"hovered: query: at \(6\); key: \S+ \((\d)\); weight: (\d\.\d{4})", out)
    assert m, out
    j, shown = int(m.group(1)), float(m.group(2))
    assert att[0, 0, 6, j] == pytest.approx(att[0, 0, 6].max(), abs=att[0, 0].max() / 255)
    assert shown == pytest.approx(att[0, 0, 6, j], abs=att[0, 0].max() / 510 + 5e-5)
    # the head view then hovers that query: one line per head and key of at least half a step
    scale = att[0].max(axis=(1, 2))  # (H,)
    steps = att[0, :, 6, :] / scale[:, None] * 255
    lines = int(re.search(r"lines: (\d+)", out).group(1))
    assert (steps >= 0.5 + 1e-3).sum() <= lines <= (steps >= 0.5 - 1e-3).sum()
    assert "head view: layer 0 · query at (6)" in out


def test_in_headless_chromium_1024_tokens_draw_and_a_screenshot_shows_the_maps(tmp_path: Path):
    from attncli.render.model_html import model_page

    image = pytest.importorskip("PIL.Image")

    n = 1024
    per_layer = causal_softmax(np.random.default_rng(2), (1, 12, 1, n, n), sharp=4.0)
    att = np.broadcast_to(per_layer, (1, 12, 12, n, n))
    page = model_page(att, None, [[f"tok{i}" for i in range(n)]], list(range(12)), list(range(12)), "n=1024")
    (tmp_path / "big.html").write_text(page, encoding="utf-8")
    out = selftest(tmp_path, tmp_path / "big.html")
    assert out.startswith("maps: 144 | hovered: query: tok1023 (1023)") and out.endswith("resources loaded: 0")

    make_page(tmp_path, "gpt2", "--text", TEXT)
    for hash_, name in (("selftest", "model.png"), ("selftest,head", "head.png")):
        selftest(tmp_path, tmp_path / "view.html", hash_=hash_, screenshot=tmp_path / name)
        img = image.open(tmp_path / name).convert("RGB")
        assert img.size == (1300, 900)
        colours = set(map(tuple, np.asarray(img).reshape(-1, 3).tolist()))
        assert len(colours) > 50  # maps or lines, not a blank page
        assert any(abs(r - 0x2f) + abs(g - 0x6f) + abs(b - 0xde) < 12 for r, g, b in colours)  # the selected tab
    colours = set(map(tuple, np.asarray(image.open(tmp_path / "model.png").convert("RGB")).reshape(-1, 3).tolist()))
    assert (253, 231, 37) in colours  # viridis' top colour: the weight-1 cells of the first query
