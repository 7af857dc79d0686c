"""Canonicalize the inputs: token vectors and projections, or Q/K/V, into (B, heads, n, d).

Validation here names the parameter (‹x›, ‹wq›, ...) and the shapes the caller gave, in rows layout (tokens as
rows). A weight that does not fit raises heads.WeightShapeError, which carries the parameters and both shapes, so a
caller that writes its arrays another way (the command line) can say it in its words.
"""

from __future__ import annotations

from attncli.core import heads as hd
from attncli.core.validate import check_ndim, check_tokens
from attncli.errors import AttnError


def check_groups(n_heads: int, n_kv: int) -> None:
    if n_heads % n_kv:
        raise AttnError(f"‹kv_heads› {n_kv} must divide ‹heads› {n_heads} (grouped-query attention shares "
                        "each key/value head between heads/kv-heads query heads)")


def from_tokens(x, x_kv, wq, wk, wv, bq, bk, bv, heads, kv_heads):
    """X (n × d_model or B × n × d_model) and projections W (d_model × H·d_k, or per head) -> Q, K, V as
    (B, heads, n, d), the batch and the head counts."""
    check_ndim(x, "‹x›", (2, 3), "n × d_model (rows = tokens) or batch × n × d_model")
    check_tokens(x, "‹x›")
    batched = x.ndim == 3
    x3 = x if batched else x[None]  # (B, n, d_model)
    if x_kv is None:
        xkv3 = x3
    else:
        check_ndim(x_kv, "‹x_kv›", (x.ndim,), f"{x.ndim}-D like ‹x› (shape {x.shape})")
        check_tokens(x_kv, "‹x_kv›")
        xkv3 = x_kv if batched else x_kv[None]
        if xkv3.shape[0] != x3.shape[0]:
            raise AttnError(f"‹x› has batch {x3.shape[0]} but ‹x_kv› has {xkv3.shape[0]}")
    per_head = [c for c in (hd.count_heads(wq),) if c is not None]
    n_heads = heads or (per_head[0] if per_head else 1)
    if per_head and heads and per_head[0] != heads:
        raise AttnError(f"‹heads› {heads} but ‹wq› gives {per_head[0]} per-head weights")
    kv_count = hd.count_heads(wk)
    n_kv = kv_heads or kv_count or n_heads
    if kv_count and kv_heads and kv_count != kv_heads:
        raise AttnError(f"‹kv_heads› {kv_heads} but ‹wk› gives {kv_count} per-head weights")
    if wq is None:
        if x_kv is not None and x_kv.shape[-1] != x.shape[-1]:
            raise AttnError(f"without projections Q = X and K = V = X_kv, so ‹x› (shape {x.shape}) and "
                            f"‹x_kv› (shape {x_kv.shape}) need the same width; or give ‹wq›/‹wk›/‹wv›")
        qf, kf, vf = x3, xkv3, xkv3
    else:
        wq2, wk2, wv2 = (hd.concat_heads_weight(w, n) for w, n in ((wq, "‹wq›"), (wk, "‹wk›"), (wv, "‹wv›")))
        for w2, name in ((wq2, "‹wq›"), (wk2, "‹wk›"), (wv2, "‹wv›")):
            if w2.size == 0:
                raise AttnError(f"{name} is empty (shape {w2.shape}); a projection needs at least one row and column")
        bq1, bk1, bv1 = (None if b is None else hd.concat_heads_bias(b, n)
                         for b, n in ((bq, "‹bq›"), (bk, "‹bk›"), (bv, "‹bv›")))
        qf = hd.project(x3, wq2, bq1, ("‹x›", "‹wq›", "‹bq›"), x.shape)  # (B, n_q, H·d_k)
        kv_src, kv_shape = ("‹x›", x.shape) if x_kv is None else ("‹x_kv›", x_kv.shape)
        kf = hd.project(xkv3, wk2, bk1, (kv_src, "‹wk›", "‹bk›"), kv_shape)  # (B, n_k, G·d_k)
        vf = hd.project(xkv3, wv2, bv1, (kv_src, "‹wv›", "‹bv›"), kv_shape)  # (B, n_k, G·d_v)
    qh = hd.split_heads(qf, n_heads, "Q (X·W_Q)" if wq is not None else "‹x›")
    if not kv_heads and kf.shape[-1] % n_heads and kf.shape[-1] and qf.shape[-1] % kf.shape[-1] == 0 \
            and n_heads % (qf.shape[-1] // kf.shape[-1]) == 0:  # K cannot be split into ‹heads›: grouped?
        groups = n_heads // (qf.shape[-1] // kf.shape[-1])
        raise AttnError(f"‹wk› gives K {kf.shape[-1]} columns but ‹wq› gives Q {qf.shape[-1]}: grouped key/value "
                        f"heads? add ‹kv_heads› {groups} (each K/V head shared by {n_heads // groups} query heads)")
    check_groups(n_heads, n_kv)
    kv_opt = "‹kv_heads›" if kv_heads else "‹heads›"
    kh = hd.split_heads(kf, n_kv, "K (X·W_K)" if wq is not None else "‹x›", kv_opt)
    vh = hd.split_heads(vf, n_kv, "V (X·W_V)" if wq is not None else "‹x›", kv_opt)
    return qh, kh, vh, batched, n_heads, n_kv


def from_qkv(q, k, v, heads, kv_heads):
    """Q, K, V given directly (n × d, heads × n × d, or batch × heads × n × d) -> (B, H, n, d)."""
    what = "n × d, heads × n × d, or batch × heads × n × d"
    for a, n in ((q, "‹q›"), (k, "‹k›"), (v, "‹v›")):
        check_ndim(a, n, (2, 3, 4), what)
        check_tokens(a, n)
    if not (q.ndim == k.ndim == v.ndim):
        raise AttnError(f"‹q›, ‹k›, ‹v› must have the same number of dimensions; got shapes {q.shape}, "
                        f"{k.shape}, {v.shape}")
    batched = q.ndim == 4
    if q.ndim == 2:  # (n, H·d): ‹heads› splits the columns
        n_heads = heads or 1
        n_kv = kv_heads or n_heads
        check_groups(n_heads, n_kv)
        kv_opt = "‹kv_heads›" if kv_heads else "‹heads›"
        qh = hd.split_heads(q[None], n_heads, "‹q›")
        kh = hd.split_heads(k[None], n_kv, "‹k›", kv_opt)
        vh = hd.split_heads(v[None], n_kv, "‹v›", kv_opt)
        return qh, kh, vh, batched, n_heads, n_kv
    q4, k4, v4 = (a[None] if a.ndim == 3 else a for a in (q, k, v))  # (B, H, n, d)
    if heads and heads != q4.shape[1]:
        raise AttnError(f"‹heads› {heads} but ‹q› has {q4.shape[1]} heads (shape {q.shape})")
    if kv_heads and kv_heads != k4.shape[1]:
        raise AttnError(f"‹kv_heads› {kv_heads} but ‹k› has {k4.shape[1]} heads (shape {k.shape})")
    if k4.shape[1] != v4.shape[1]:
        raise AttnError(f"‹k› has {k4.shape[1]} heads but ‹v› has {v4.shape[1]} (shapes {k.shape}, {v.shape})")
    return q4, k4, v4, batched, q4.shape[1], k4.shape[1]
