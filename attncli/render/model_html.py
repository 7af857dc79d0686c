"""The HTML page of `attncli model`: a model view (layers × heads thumbnails, one opened large) and a head
view (lines from each query token to the keys it attends to, one colour per head), in one offline file.

The page fetches nothing (the Content-Security-Policy of render/html.py) and stays responsive at 1,024
tokens × 12 layers × 12 heads because the data is compact and everything is drawn on canvases:

    scale[m]      each map m = (layer, head) has its own scale: its largest allowed weight;
    weights       stored as q = round(w / scale[m] · 255) in one byte (error ≤ scale/510 ≤ 1/510);
    dense         small pages (every map n × n ≤ DENSE_BYTES in all) keep every cell: q[m, i, j];
    top-k         larger ones keep, per query row, the K strongest keys (index and q, strongest first)
                  and the rest of the row's mass, round(rest · 255); the other keys are not stored;
    thumbnails    q max-pooled over blocks of `block` × `block` cells, at most THUMB × THUMB per map;
    masks         where queries may attend, one bit a cell (np.packbits, rows padded to a byte), stored once
                  per distinct mask (causal, window, ...) and referenced by index from each map.

Arrays are little-endian and base64 in one JSON document inside <script id="data">; labels are
`printable` and the document `json_safe`, with <, > and & escaped, so no token can end the element or
be read as markup (the script writes labels with textContent and canvas fillText only).
Opening `view.html#selftest` hovers a cell and a token by script and writes what it shows into
<output id="selftest-result"> (tests/test_model_html.py reads it with a headless browser's --dump-dom).
"""

from __future__ import annotations

import base64
import json
import math

import numpy as np

from attncli.render.colors import hex_of, palette
from attncli.render.html import CSP, page, script_json
from attncli.render.model_html_assets import BODY, CSS
from attncli.render.model_html_script import JS
from attncli.render.safe import printable

THUMB = 96  # thumbnails at most THUMB × THUMB cells (max-pooled blocks)
TOP_K = 32  # keys kept per query row once the dense maps would be too big
DENSE_BYTES = 8 * 2**20  # dense maps (one byte a cell) up to this size per text, top-k beyond
WORK_BYTES_PER_CELL = 40  # per map while it is encoded: float copies, argpartition indices, packed mask


def plan(n: int, maps: int) -> dict:
    """How a text of n tokens with `maps` (layer, head) maps is stored: mode, k, thumbnail block and size."""
    block = max(1, math.ceil(n / THUMB))
    dense = maps * n * n <= DENSE_BYTES or n <= TOP_K
    k = n if dense else TOP_K
    return {"mode": "dense" if dense else "topk", "k": k, "block": block, "thumb": math.ceil(n / block),
            "idx_bytes": 2 if n <= 65536 else 4}


def page_bytes(lens: list[int], maps: int, distinct_masks: int = 1) -> int:
    """The page's size in bytes, estimated before building it (base64 is 4/3 of the raw bytes)."""
    total = 200_000  # script, style, text and the JSON around the arrays
    for n in lens:
        p = plan(n, maps)
        raw = maps * p["thumb"] ** 2 + distinct_masks * n * math.ceil(n / 8)
        raw += maps * n * n if p["mode"] == "dense" else maps * n * (p["k"] * (p["idx_bytes"] + 1) + 1)
        total += raw * 4 // 3 + 8 + n * 64 + maps * 24
    return total


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _quantize(w: np.ndarray, ok: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, q, w0): the map's largest allowed weight, its one-byte steps, and the weights with masked
    cells and NaN set to 0."""
    w0 = np.where(ok & np.isfinite(w), np.maximum(w, 0), 0).astype(np.float32)  # (n, n)
    scale = float(w0.max()) if w0.size else 0.0
    scale = scale if scale > 0 else 1.0
    q = np.rint(w0 * np.float32(255 / scale)).clip(0, 255).astype(np.uint8)  # (n, n)
    return scale, q, w0


def _pool_max(q: np.ndarray, block: int, t: int) -> np.ndarray:
    """(t, t): the largest q of each block × block block (the last blocks padded with 0)."""
    n = q.shape[0]
    if block == 1:
        return q
    padded = np.zeros((t * block, t * block), dtype=np.uint8)
    padded[:n, :n] = q
    return padded.reshape(t, block, t, block).max(axis=(1, 3))


def _top_k(w0: np.ndarray, k: int, scale: float, idx_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query row: the k strongest keys (strongest first), their q, and the rest of the row (all but the
    kept keys of q > 0) in steps of 1/255."""
    n = w0.shape[0]
    part = np.argpartition(-w0, k - 1, axis=1)[:, :k]  # (n, k), unordered
    top = np.take_along_axis(w0, part, axis=1)  # (n, k)
    order = np.argsort(-top, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)  # (n, k)
    top = np.take_along_axis(top, order, axis=1)
    q = np.rint(top * np.float32(255 / scale)).clip(0, 255).astype(np.uint8)
    kept = np.where(q > 0, top, 0).sum(axis=1, dtype=np.float64)  # keys of q = 0 count as the rest
    rest = np.maximum(w0.sum(axis=1, dtype=np.float64) - kept, 0.0)  # (n,)
    rest_q = np.rint(rest * 255).clip(0, 255).astype(np.uint8)
    assert idx.shape == (n, k)
    return idx.astype(idx_dtype), q, rest_q


def text_data(att: np.ndarray, allowed: np.ndarray | None, tokens: list[str]) -> dict:
    """One text's maps, (L, H, n, n) weights and where queries may attend, as the page's JSON object."""
    n_layers, n_heads = att.shape[:2]
    n = len(tokens)
    maps = n_layers * n_heads
    p = plan(n, maps)
    idx_dtype = np.dtype("<u2") if p["idx_bytes"] == 2 else np.dtype("<u4")
    scales, thumbs, mask_of, dense, idx, wq, rest = [], [], [], [], [], [], []
    masks: dict[bytes, int] = {}
    for li in range(n_layers):
        for hi in range(n_heads):
            ok = np.ones((n, n), dtype=bool) if allowed is None else np.asarray(allowed[li, hi, :n, :n], dtype=bool)
            bits = np.packbits(ok, axis=1).tobytes()  # (n, ceil(n/8))
            mask_of.append(masks.setdefault(bits, len(masks)))
            scale, q, w0 = _quantize(np.asarray(att[li, hi, :n, :n]), ok)
            scales.append(scale)
            thumbs.append(_pool_max(q, p["block"], p["thumb"]))
            if p["mode"] == "dense":
                dense.append(q)
            else:
                i, w, r = _top_k(w0, p["k"], scale, idx_dtype)
                idx.append(i)
                wq.append(w)
                rest.append(r)
    out = {"n": n, "tokens": [printable(t) for t in tokens], **p, "scale": scales,
           "thumbs": _b64(np.stack(thumbs)), "masks": [base64.b64encode(b).decode("ascii") for b in masks],
           "mask_of": mask_of}
    if p["mode"] == "dense":
        out["q"] = _b64(np.stack(dense))
    else:
        out.update(idx=_b64(np.stack(idx)), q=_b64(np.stack(wq)), rest=_b64(np.stack(rest)))
    return out


def _note(texts: list[dict]) -> str:
    topk = [t for t in texts if t["mode"] == "topk"]
    note = ("Weights are stored in 8 bits: steps of 1/255 of each map's largest weight (the tooltip's "
            "last digits may be off by that much).")
    if topk:
        note += (f" Maps of {topk[0]['n']} tokens keep only each query's {topk[0]['k']} strongest keys and the "
                 "total of the rest; the other cells of the large map show the rest spread evenly.")
    if any(t["block"] > 1 for t in texts):
        note += " Thumbnails show the largest weight of each block of cells."
    return note


def model_page(att: np.ndarray, allowed: np.ndarray | None, tokens: list[list[str]] | list[str],
               layers: list[int], heads: list[int], title: str, precision: int = 4, cmap: str | None = None) -> str:
    """The whole page as a string. `att` is (B, L, H, n, n) (or (L, H, n, n) for one text) and `allowed`
    the same shape, True where a query may attend (None: everywhere); `tokens[b]` are text b's tokens (its
    length n_b ≤ n: padding beyond it is cut off); `layers` and `heads` label the grid's rows and columns."""
    from attncli.io.memory import check_allocation

    if att.ndim == 4:
        att, allowed, tokens = att[None], None if allowed is None else allowed[None], [tokens]
    n_batch, n_layers, n_heads, n, _ = att.shape  # (B, L, H, n, n)
    if len(tokens) != n_batch or any(len(t) > n for t in tokens) or (len(layers), len(heads)) != (n_layers, n_heads):
        raise ValueError(f"model_page: {len(tokens)} token lists, {len(layers)} layers, {len(heads)} heads for "
                         f"attentions of shape {att.shape}")
    lens = [len(t) for t in tokens]
    size = page_bytes(lens, n_layers * n_heads)
    check_allocation(4 * size + WORK_BYTES_PER_CELL * max(lens) ** 2,
                     f"an HTML page ({size / 1e6:.1f} MB) of {n_batch} text{'s' if n_batch > 1 else ''} × "
                     f"{n_layers} layers × {n_heads} heads × {max(lens)} tokens",
                     ["fewer --layers or --heads", "a shorter text"],
                     option="-o/--output")
    texts = [text_data(att[b], None if allowed is None else allowed[b], list(tokens[b])) for b in range(n_batch)]
    head = {"title": printable(title), "precision": precision, "layers": layers, "heads": heads,
            "palette": [hex_of(c) for c in palette(cmap or "viridis")], "note": _note(texts)}
    doc = json.dumps(head, ensure_ascii=False)[:-1] + ', "texts": ['
    doc += ",".join(json.dumps(t, ensure_ascii=False) for t in texts) + "]}"
    return page(title, CSS, BODY, script_json(doc), JS, CSP)
