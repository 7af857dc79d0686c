"""Golden files for long sequences, where `compute --show output` runs the fused kernel (core/fused.py).

    /path/to/torchenv/bin/python tests/golden/long/generate.py     # torch==2.13.0, numpy, safetensors

Inputs are drawn from numpy's default_rng(seed) by `draw` (tests/test_long_golden.py draws them the
same way and checks their SHA-256 against the file, so a change in numpy's random stream is reported as
such). The expected output is PyTorch's F.scaled_dot_product_attention evaluated in float64 on those
inputs (float32 cases: the float32-representable inputs, evaluated in float64, cast to float32), with
torch's own float32 SDPA asserted to agree to 1e-5 (its error is kept as options.torch_f32_error). Each
<case>.npz holds `output` (B, H, n_q, d_v: torch's layout, heads not merged), `sha256` of the inputs and
`options` (JSON). SHA256SUMS lists the files' own SHA-256 (tests/golden/sums.py; tests/test_golden_sums.py).

Cases cover what the fused kernel treats specially: no mask, causal (keys skipped by blocks), a local
window, key and query padding (empty rows), grouped kv heads, rows whose scores all lie far below 0
(the sum underflows: recomputed with the row maximum) and rows whose Cauchy–Schwarz bound is too
large to skip the maximum.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

CASES = {
    "plain_f64": dict(seed=1, B=1, H=2, G=2, n=1200, d=16, dtype="float64"),
    "plain_f32": dict(seed=2, B=1, H=4, G=4, n=1500, d=32, dtype="float32"),
    "causal_gqa_f32": dict(seed=3, B=1, H=4, G=2, n=1300, d=32, dtype="float32", causal=True),
    "window_f64": dict(seed=4, B=1, H=2, G=2, n=1100, d=16, dtype="float64", window=[40, 7]),
    "padding_f32": dict(seed=5, B=2, H=2, G=2, n=900, d=16, dtype="float32", key_lens=[900, 613],
                        query_lens=[900, 500]),
    "underflow_f32": dict(seed=6, B=1, H=2, G=2, n=1000, d=16, dtype="float32", far=True),
    "large_f32": dict(seed=7, B=1, H=2, G=2, n=1000, d=16, dtype="float32", large=300.0),
    "large_f64": dict(seed=8, B=1, H=2, G=2, n=1000, d=16, dtype="float64", large=1e5),
}


def draw(c: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q (B, H, n, d), k and v (B, G, n, d) for case options `c`, as attncli reads them."""
    rng = np.random.default_rng(c["seed"])
    B, H, G, n, d = c["B"], c["H"], c["G"], c["n"], c["d"]
    q = rng.standard_normal((B, H, n, d))
    k = rng.standard_normal((B, G, n, d))
    v = rng.standard_normal((B, G, n, d))
    if c.get("far"):  # keys = 6u + noise ⟂ u; queries 0..49 ≈ −40u: their scores all ≈ −60 (2^-87 after exp)
        u = np.ones(d) / np.sqrt(d)
        k = 0.5 * (k - (k @ u)[..., None] * u) + 6 * u  # |k| ≈ 7: the bound (≈ 100 in log₂) lets them pass
        q[:, :, :50] = -40 * u + 0.1 * q[:, :, :50]
    if c.get("large"):  # queries 0..19 huge along feature 0, where every key is tiny: |q|·max|k| is far
        q[:, :, :20, 0] = c["large"]  # above the exponent range while their scores stay moderate
        k[..., 0] /= c["large"]
    return tuple(a.astype(c["dtype"]) for a in (q, k, v))


def allowed(c: dict) -> np.ndarray | None:
    """Boolean (B, 1, n_q, n_k), True = may attend (SDPA's convention), or None."""
    B, n = c["B"], c["n"]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    a = np.ones((B, 1, n, n), dtype=bool)
    if c.get("causal"):
        a &= j <= i
    if c.get("window"):
        left, right = c["window"]
        a &= (j >= i - left) & (j <= i + right)
    if c.get("key_lens"):
        a &= (np.arange(n)[None, :] < np.array(c["key_lens"])[:, None])[:, None, None, :]
    if c.get("query_lens"):
        a &= (np.arange(n)[None, :] < np.array(c["query_lens"])[:, None])[:, None, :, None]
    return None if a.all() else a


def digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def main() -> None:
    import torch

    sys.path.insert(0, str(HERE.resolve().parent))  # tests/golden/sums.py (here, not at import: tests import draw)
    from sums import write_sums

    assert torch.__version__.startswith("2.13."), torch.__version__
    F = torch.nn.functional
    for name, c in CASES.items():
        q, k, v = draw(c)
        a = allowed(c)
        r = c["H"] // c["G"]

        def sdpa(dtype, q=q, k=k, v=v, a=a, r=r):
            tq, tk, tv = (torch.from_numpy(x.astype(dtype)) for x in (q, k, v))
            tk, tv = tk.repeat_interleave(r, dim=1), tv.repeat_interleave(r, dim=1)
            mask = None if a is None else torch.from_numpy(a)
            out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
            return torch.nan_to_num(out, nan=0.0).numpy()  # torch 2.13 gives 0 for empty rows (asserted)

        ref = sdpa(np.float64)
        options = {key: val for key, val in c.items() if key != "seed"}
        if a is not None:
            empty = ~a.any(-1)  # (B, 1, n_q)
            assert np.all(np.broadcast_to(empty[..., None], ref.shape) <= (ref == 0))
        if c["dtype"] == "float32":
            f32 = sdpa(np.float32)
            err = np.max(np.abs(f32 - ref)) / np.max(np.abs(ref))
            assert err < 1e-5, (name, err)
            options["torch_f32_error"] = float(err)  # how far PyTorch's own float32 kernel is from float64
            ref = ref.astype(np.float32)
        np.savez(HERE / f"{name}.npz", output=ref, sha256=np.array(digest((q, k, v))),
                 options=np.array(json.dumps({"seed": c["seed"], **options})))
        print(f"{name}: output {ref.shape} {ref.dtype}")
    write_sums(HERE)


if __name__ == "__main__":
    main()
