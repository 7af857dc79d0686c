"""`attncli model --show predictions` (and `logits`): what the checkpoint's head predicts, in each format `model`
writes. The numbers come from models/predict.py; this module lays them out:

  table   per text, one row per position (a masked-LM head: per mask): the token, the next token and its p,
          the top k with their p; then the loss and perplexity line (render/predictions.py)
  json    predictions: per position, a list of {token, id, p} best first (an MLM head: null except at each
          mask); loss and perplexity (null for an MLM head); several texts: one of each per text
  csv/tsv one row per (text, position, rank): text, position, token, next, p_next, rank, id, prediction, p
  npz, safetensors, npy   top_ids (n, k), top_p (n, k), p_next (n,), loss, perplexity; logits (n, vocabulary)
          with --show logits (several texts: the batch axis first)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from attncli.errors import AttnError

ARRAY_FORMATS = ("npy", "npz", "safetensors")
CSV_COLUMNS = ("text", "position", "token", "next", "p_next", "rank", "id", "prediction", "p")


def check_request(wanted: list[str], fmt: str, top_k: int | None, pictures: tuple[str, ...]) -> None:
    """Refuse what --show predictions/logits cannot write, before the model runs."""
    asked = [w for w in ("predictions", "logits") if w in wanted]
    if top_k is not None and "predictions" not in wanted:
        raise AttnError("--top-k sets how many tokens --show predictions lists; add --show predictions")
    if top_k is not None and top_k < 1:
        raise AttnError(f"--top-k takes a positive number of tokens; got {top_k}")
    if not asked:
        return
    if fmt in pictures:
        raise AttnError(f"--show {asked[0]} is a table or arrays, not a picture: --format {fmt} draws attention "
                        "maps; use --format table, json, csv or npz for the predictions (and another run for the "
                        "picture)")
    if "logits" in wanted and fmt not in ARRAY_FORMATS:
        raise AttnError(f"--show logits writes the (positions × vocabulary) logits as an array: use --format npz, "
                        f"npy or safetensors (-o logits.npz); --format {fmt} takes --show predictions")
    if fmt in ("csv", "tsv") and "stats" in wanted:
        raise AttnError(f"--format {fmt} writes one table: --show stats or --show predictions, not both")
    if fmt == "npy" and "predictions" in wanted:
        raise AttnError("--show predictions is several arrays (top_ids, top_p, p_next, loss, perplexity): write "
                        "them as npz or safetensors (-o predictions.npz), or use --show logits for one npy")


def arrays_of(pred: Any, seqs: Any, lens: list[int], fmt: str, wanted: list[str], name: Any) -> dict[str, Any]:
    """What --show predictions/logits adds to `model`'s arrays in format `fmt` (see the module docstring);
    `name` maps ids to (raw tokens, labels) (models/tokens.namer)."""
    several = len(lens) > 1

    def one(a: np.ndarray) -> np.ndarray:
        return a if several else a[0]

    out: dict[str, Any] = {}
    if "predictions" in wanted:
        ppl = np.exp(pred.loss)
        if fmt in ARRAY_FORMATS:
            out.update(top_ids=one(pred.top_ids), top_p=one(pred.top_p), p_next=one(pred.p_next),
                       loss=one(pred.loss), perplexity=one(ppl))
        elif fmt == "json":
            docs = [_json_text(pred, seqs, b, lb, name) for b, lb in enumerate(lens)]
            out.update(predictions=docs if several else docs[0], loss=one(pred.loss), perplexity=one(ppl))
    if "logits" in wanted:
        out["logits"] = one(pred.logits)
    return out


def shown_positions(pred: Any, seqs: Any, b: int, lb: int) -> list[int]:
    """The positions a text's predictions are shown for: every one (next-token head), or each mask (MLM)."""
    from attncli.models.predict import mask_positions

    if not pred.masked:
        return list(range(lb))
    return mask_positions(seqs.tokens[b][:lb], None if seqs.special is None else seqs.special[b][:lb])


def _json_text(pred: Any, seqs: Any, b: int, lb: int, name: Any) -> list[Any]:
    shown = set(shown_positions(pred, seqs, b, lb))
    doc: list[Any] = []
    for i in range(lb):
        if i not in shown:
            doc.append(None)
            continue
        ids = [int(t) for t in pred.top_ids[b, i]]
        raw, _ = name(ids)
        doc.append([{"token": t, "id": k, "p": float(p)} for t, k, p in zip(raw, ids, pred.top_p[b, i], strict=True)])
    return doc


def require_masks(pred: Any, seqs: Any, lens: list[int]) -> None:
    """An MLM head's predictions are the fillers of its masks: a text without one is refused, in one line."""
    if not pred.masked:
        return
    for b, lb in enumerate(lens):
        if not shown_positions(pred, seqs, b, lb):
            which = f"text {b + 1}" if len(lens) > 1 else "the text"
            raise AttnError(f"--show predictions: {which} has no [MASK] or <mask> token: a masked-LM head predicts "
                            "the token at each mask; write the model's mask token where a word should be filled, "
                            "e.g. --text \"the cat sat on the [MASK].\"")


def rows_of(pred: Any, seqs: Any, lens: list[int], name: Any) -> list[dict[str, Any]]:
    """Per text, what the table shows: title, labels, next labels, the shown positions with their top k
    (labels, p), and the loss (render/predictions.py draws it)."""
    out = []
    for b, lb in enumerate(lens):
        labels = seqs.shown()[b][:lb]
        rows = []
        for i in shown_positions(pred, seqs, b, lb):
            _, top = name([int(t) for t in pred.top_ids[b, i]])
            nxt = labels[i + 1] if not pred.masked and i + 1 < lb else None
            rows.append({"position": i, "token": labels[i], "next": nxt,
                         "p_next": None if nxt is None else float(pred.p_next[b, i]),
                         "top": list(zip(top, (float(p) for p in pred.top_p[b, i]), strict=True))})
        loss = float(pred.loss[b])
        out.append({"text": b if len(lens) > 1 else None, "rows": rows, "masked": pred.masked,
                    "loss": None if math.isnan(loss) else loss, "scored": max(lb - 1, 0)})
    return out


def write_csv(pred: Any, seqs: Any, lens: list[int], name: Any, fmt: str, output: str | None) -> None:
    """--show predictions as CSV/TSV: a header, then one row per (text, shown position, rank); p_next empty
    where there is no next token (the last position, an MLM head)."""
    import sys

    sep = "," if fmt == "csv" else "\t"

    def cell(v: Any) -> str:
        text = "" if v is None else repr(v) if isinstance(v, float) else str(v)
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in (sep, '"', "\n")) else text

    lines = [sep.join(CSV_COLUMNS)]
    for b, lb in enumerate(lens):
        for i in shown_positions(pred, seqs, b, lb):
            ids = [int(t) for t in pred.top_ids[b, i]]
            raw, _ = name(ids)
            nxt = seqs.tokens[b][i + 1] if not pred.masked and i + 1 < lb else None
            p_next = None if nxt is None else float(pred.p_next[b, i])
            for rank, (t, k, p) in enumerate(zip(raw, ids, pred.top_p[b, i], strict=True), start=1):
                lines.append(sep.join(cell(v) for v in (b, i, seqs.tokens[b][i], nxt, p_next, rank, k, t, float(p))))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        from attncli.io import atomic_write

        atomic_write(output, data)
