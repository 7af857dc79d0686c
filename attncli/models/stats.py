"""Head statistics over a whole model: what each layer's heads attend to, and the heads that stand out.

For head h of layer l and a text of n tokens with weights a[i, j] (each query row sums to 1):

    entropy      mean_i  −Σ_j a_ij log₂ a_ij                     (bits; uniform over the i+1 visible keys of a
                                                                  causal row is log₂(i+1))
    first        mean_i  a_i0                                     the first token (an attention sink)
    special      mean_i  Σ_{j special} a_ij                       [CLS], [SEP], <s>, ... (when the tokenizer says)
    previous     mean_{i≥1}  a_{i,i−1}                            the previous token
    self         mean_i  a_ii                                     the token itself
    distance     mean_i  Σ_j a_ij |i − j|                         mean attention distance, in tokens
    induction    mean over queries i whose token appeared before, at positions p < i − 1:
                 Σ_p a_{i,p+1}                                    the token after the earlier occurrence

A batch weighs each text by its number of queries. A head stands out when one share is at least
STANDOUT (induction: INDUCTION), and is named by it: "layer 0 head 3: previous-token head, 0.93".
"""

from __future__ import annotations

import numpy as np

SHARES = ("first", "special", "previous", "self", "induction")
ROLES = {"previous": "previous-token head", "first": "first-token head (attention sink)", "self": "self head",
         "special": "special-token head", "induction": "induction head"}
STANDOUT = 0.5
INDUCTION = 0.4


def _one(a: np.ndarray, ids: list[int], special: list[bool] | None) -> dict[str, tuple[float, int]]:
    """(sum over queries, count of queries) of each statistic, for one map a (n, n) of one text."""
    n = a.shape[0]
    idx = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(a > 0, a * np.log2(np.where(a > 0, a, 1)), 0.0).sum(axis=1)
    out = {
        "entropy": (float(ent.sum()), n),
        "first": (float(a[:, 0].sum()), n),
        "self": (float(a[idx, idx].sum()), n),
        "distance": (float((a * np.abs(idx[:, None] - idx[None, :])).sum()), n),
        "previous": (float(a[idx[1:], idx[1:] - 1].sum()), n - 1),
    }
    if special is not None:
        mask = np.asarray(special, dtype=bool)
        out["special"] = (float(a[:, mask].sum()), n) if mask.any() else (0.0, 0)
    total, count = 0.0, 0
    seen: dict[int, list[int]] = {}
    for i, t in enumerate(ids):
        earlier = [p + 1 for p in seen.get(t, []) if p < i - 1]
        if earlier:
            total += float(a[i, earlier].sum())
            count += 1
        seen.setdefault(t, []).append(i)
    out["induction"] = (total, count)
    return out


def head_table(att: np.ndarray, ids: list[list[int]], lens: list[int], layers: list[int], heads: list[int],
               special: list[list[bool]] | None) -> list[dict]:
    """One row per (layer, head): the statistics above, averaged over the texts' queries (None when no query
    qualifies, e.g. induction without a repeated token). `att` is (B, L, H, n, n)."""
    rows = []
    for i, layer in enumerate(layers):
        for j, head in enumerate(heads):
            sums: dict[str, list[float]] = {}
            for b, n in enumerate(lens):
                one = _one(att[b, i, j, :n, :n].astype(np.float64), ids[b][:n],
                           None if special is None else special[b][:n])
                for key, (s, c) in one.items():
                    acc = sums.setdefault(key, [0.0, 0])
                    acc[0] += s
                    acc[1] += c
            row: dict = {"layer": layer, "head": head}
            for key in ("entropy", "first", "special", "previous", "self", "distance", "induction"):
                s, c = sums.get(key, (0.0, 0))
                row[key] = s / c if c else None
            rows.append(row)
    return rows


def standouts(rows: list[dict]) -> list[dict]:
    """The heads whose strongest share reaches the threshold, strongest first: {layer, head, role, share}."""
    found = []
    for row in rows:
        best = None
        for key in SHARES:
            value = row.get(key)
            threshold = INDUCTION if key == "induction" else STANDOUT
            if value is not None and value >= threshold and (best is None or value > best[1]):
                best = (key, value)
        if best is not None:
            found.append({"layer": row["layer"], "head": row["head"], "role": ROLES[best[0]], "share": best[1]})
    return sorted(found, key=lambda f: -f["share"])


def describe(found: dict) -> str:
    return f"layer {found['layer']} head {found['head']}: {found['role']}, {found['share']:.2f}"
