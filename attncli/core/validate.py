"""Validation helpers: check one input and say exactly what is wrong with it."""

from __future__ import annotations

import numpy as np

from attncli.errors import AttnError

DTYPES = ("auto", "float32", "float64")


def as_real(a: np.ndarray, option: str) -> np.ndarray:
    """Accept real numbers (bool and int are cast later); refuse complex, strings and objects."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise AttnError(f"{option} must hold real numbers; got dtype {a.dtype}")
    return a


def check_finite(a: np.ndarray, option: str, *, allow_neg_inf: bool = False) -> None:
    """Refuse NaN and ±Inf, naming the array and the first bad position (--allow-nonfinite skips this)."""
    if a.dtype.kind != "f":
        return
    bad = np.isnan(a) | (np.isposinf(a) if allow_neg_inf else np.isinf(a))
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AttnError(
            f"{option} holds {a[pos]} at position {list(pos)} (shape {a.shape}); "
            "fix the input or pass --allow-nonfinite to compute anyway"
        )


def check_ndim(a: np.ndarray, option: str, allowed: tuple[int, ...], what: str) -> None:
    if a.ndim not in allowed:
        raise AttnError(f"{option} must be {what}; got shape {a.shape}")


def compute_dtype(dtype: str, arrays: list[np.ndarray]) -> np.dtype:
    """`auto`: float32 when every floating input is float32 or narrower, else float64."""
    if dtype not in DTYPES:
        raise AttnError(f"--dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if dtype != "auto":
        return np.dtype(dtype)
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    if floats and all(d.itemsize <= 4 for d in floats):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def positive_int(value: int | None, option: str) -> None:
    if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
        raise AttnError(f"{option} must be a positive integer; got {value!r}")
