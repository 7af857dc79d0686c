"""Validation helpers: check one input and say exactly what is wrong with it."""

from __future__ import annotations

import math
import re

import numpy as np

from attncli.errors import AttnError, param

DTYPES = ("auto", "float32", "float64")
_NAME = re.compile(r"[A-Za-z_][\w.]*\Z")


def named(name: str) -> str:
    """The array or parameter `name` as it goes into a message: a bare name ("q", "spec.window"; "q/k" for two)
    is written ‹q› (see attncli.errors.param); anything else ("Q (X·W_Q)", "ANSWER path", or the option name a
    caller not yet converted passes) as it is."""
    parts = name.split("/")
    return "/".join(param(p) for p in parts) if all(_NAME.match(p) for p in parts) else name


def as_real(a: np.ndarray, name: str) -> np.ndarray:
    """Accept real numbers (bool and int are cast later); refuse complex, strings and objects. `name`: the
    parameter `a` came from, for the message (see `named`)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise AttnError(f"{named(name)} must hold real numbers; got dtype {a.dtype}")
    return a


def finite(a: np.ndarray) -> bool:
    """True when every value of a float32/float64 array is finite, in one BLAS pass: a·a (as one long vector) is
    finite only then (a NaN or ±inf makes it NaN or inf). False may also mean that the squares overflowed (values
    above ~1e19 in float32), or that the values are not one run of memory: callers then look value by value.
    17 µs for 262,144 float32 here; max and min take 32."""
    if a.dtype not in (np.float32, np.float64) or a.size == 0 or not _one_run(a):
        return False
    flat = a.ravel(order="K")  # a view: the values in memory order (a transposed array too)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.dot(flat, flat)))


def _one_run(a: np.ndarray) -> bool:
    """The values of `a` fill one contiguous run of memory, in some order of its axes."""
    step = a.itemsize
    for stride, n in sorted((abs(st), n) for st, n in zip(a.strides, a.shape, strict=True) if n > 1):
        if stride != step:
            return False
        step *= n
    return True


def check_finite(a: np.ndarray, name: str, *, allow_neg_inf: bool = False) -> None:
    """Refuse NaN and ±Inf, naming the array and the first bad position (attention's allow_nonfinite=True skips
    this)."""
    if a.dtype.kind != "f" or a.size == 0:
        return
    if finite(a):
        return
    low, high = np.min(a), np.max(a)  # NaN propagates through both: two passes, no temporary the size of `a`
    if high < np.inf and (allow_neg_inf or low > -np.inf):
        return
    bad = np.isnan(a) | (np.isposinf(a) if allow_neg_inf else np.isinf(a))
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AttnError(
            f"{named(name)} holds {a[pos]} at position {list(pos)} (shape {a.shape}); "
            f"fix the input or pass {param('allow_nonfinite', True)} to compute anyway"
        )


def check_ndim(a: np.ndarray, name: str, allowed: tuple[int, ...], what: str) -> None:
    """Refuse an array whose number of axes is not in `allowed`; `what` says the shapes it may have."""
    if a.ndim not in allowed:
        raise AttnError(f"{named(name)} must be {what}; got shape {a.shape}")


def compute_dtype(dtype: str, arrays: list[np.ndarray]) -> np.dtype:
    """`auto`: float32 when every floating input is float32 or narrower, else float64."""
    if dtype not in DTYPES:
        raise AttnError(f"{param('dtype')} must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if dtype != "auto":
        return np.dtype(dtype)
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    if floats and all(d.itemsize <= 4 for d in floats):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def positive_int(value: int | None, name: str) -> None:
    """Refuse a count that is not a whole number ≥ 1 (None: not given, fine)."""
    if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
        raise AttnError(f"{named(name)} must be a positive integer; got {value!r}")


def finite_number(value: float | None, name: str, *, positive: bool = False) -> None:
    """Refuse NaN and ±inf in a numeric parameter (`scale=inf` would turn every weight into NaN)."""
    if value is None:
        return
    if not math.isfinite(value) or (positive and not value > 0):
        want = "a positive finite number" if positive else "a finite number"
        raise AttnError(f"{named(name)} must be {want}; got {value}")


def check_scores(s: np.ndarray, dtype: np.dtype, *, first_query: int = 0) -> None:
    """Refuse scores that overflowed (+inf, or NaN from inf − inf) although every input was finite.

    `s` is (B, H, rows, n_k), rows counted from `first_query` (a streaming block). −inf is fine: it is how
    masks and a −inf bias block a key. Call it when inputs were checked finite (not allow_nonfinite).
    """
    if np.max(s, initial=-np.inf) < np.inf:  # one pass; NaN propagates through max and fails the test
        return
    bad = np.isnan(s) | np.isposinf(s)
    if bad.any():
        b, h, i, j = (int(t) for t in np.argwhere(bad)[0])
        hint = f", or compute in float64 ({param('dtype', 'float64')})" if np.dtype(dtype).itemsize < 8 else ""
        raise AttnError(
            f"the scores overflow {np.dtype(dtype)} (batch {b} head {h} query {first_query + i} key {j} is "
            f"{s[b, h, i, j]}): the inputs or {param('scale')} are too large; rescale them{hint}"
        )


def check_output(a: np.ndarray, what: str, dtype: np.dtype) -> None:
    """Refuse per-head or final outputs that overflowed (inf or NaN) although every input was finite: the
    weights times the values (or the output projection) passed what `dtype` holds."""
    if finite(a) or (np.max(a, initial=-np.inf) < np.inf and np.min(a, initial=np.inf) > -np.inf):  # NaN too
        return  # (one BLAS pass; else two, no temporary the size of `a`)
    where = tuple(int(t) for t in np.argwhere(~np.isfinite(a))[0])
    hint = f", or compute in float64 ({param('dtype', 'float64')})" if np.dtype(dtype).itemsize < 8 else ""
    raise AttnError(f"the {what} overflow {np.dtype(dtype)} at {where}: the weights times the values are too large "
                    f"(a normalizer that does not sum to 1, or huge {param('v')}/{param('x')}); rescale the "
                    f"inputs{hint}")


def check_tokens(a: np.ndarray, name: str, *, what: str = "tokens", shape: tuple[int, ...] | None = None) -> None:
    """Refuse empty inputs: zero tokens (rows of `a`), zero features (columns) or an empty batch/head axis.

    `a` is in rows layout (..., n, d); `shape` is the shape as the user gave it, for the message.
    """
    if a.ndim < 2:
        return
    shown = a.shape if shape is None else shape
    if a.shape[-2] == 0:
        raise AttnError(f"{named(name)} has 0 {what} (shape {shown}); attention needs at least one")
    if a.shape[-1] == 0:
        raise AttnError(f"{named(name)} has 0 features (shape {shown}); each token needs at least one value")
    if a.size == 0:
        raise AttnError(f"{named(name)} is empty (shape {shown}); every axis needs at least one entry")


# ---- memory: refuse a dense map that cannot fit, before allocating it ---------------------------

GB = 1024**3
OUTPUT_ALONE = '["output"]'  # need= that streams: the output without the dense maps


def dense_bytes(B: int, H: int, n_q: int, n_k: int, itemsize: int, copies: int) -> int:
    """Bytes of `copies` dense (B, H, n_q, n_k) arrays of `itemsize`-byte numbers (Python ints: no overflow)."""
    return int(B) * int(H) * int(n_q) * int(n_k) * int(itemsize) * int(copies)


def gigabytes(n: int) -> str:
    """A byte count as '12.3 GB' (or '0.004 GB' for small ones; '10^400 bytes' past what a float holds)."""
    if n >= 10**300:
        return f"10^{len(str(int(n))) - 1} bytes"
    g = n / GB
    return f"{g:.1f} GB" if g >= 0.95 else f"{g:.2g} GB"


def check_dense_memory(B: int, H: int, n_q: int, n_k: int, itemsize: int, copies: int, limit: int | None,
                       *, streaming: bool = False, what: str = "the dense attention maps",
                       dtype_hint: bool = True, to_disk: str | None = None) -> None:
    """Refuse, before allocating, a computation whose dense maps would not fit in `limit` bytes.

    `limit` is the memory available (None: do not check). The message names the estimate, the limit
    and what to try: fewer tokens, float32 instead of float64, asking for the output alone when a streaming
    kernel can compute it without the dense map (`streaming=True`), and a `stream_maps` that writes the map to
    disk in blocks when the caller can take it (`to_disk="weights"` or "scores").
    """
    if limit is None:
        return
    need = dense_bytes(B, H, n_q, n_k, itemsize, copies)
    if need <= limit:
        return
    dims = f"batch {B} × heads {H} × {n_q} queries × {n_k} keys × {itemsize} bytes × {copies} copies"
    tries = ["fewer tokens (split the sequence or the batch)"]
    if itemsize > 4 and dtype_hint:
        tries.append(f"{param('dtype', 'float32')} (half the memory)")
    if streaming:
        tries.append(f"{param('need', OUTPUT_ALONE)} alone (computed in blocks, without the dense map)")
    if to_disk:
        tries.append(f"{param('stream_maps', to_disk)} (one map, streamed to disk in blocks)")
    raise AttnError(f"{what} would need about {gigabytes(need)} ({dims}) but only "
                    f"{gigabytes(limit)} of memory is available; try {', or '.join(tries)}")
