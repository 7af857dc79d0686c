"""Rows of a tensor read alone (an embedding table's rows of a text's ids), and the one error for rows a tensor does
not have: checkpoint.py's loaders and quant.py's dequantizing ones share it."""

from __future__ import annotations

import numpy as np


class RowsOutside(Exception):
    """Rows asked of a tensor that it does not have: `rows` is how many it has."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.rows = rows


def check_rows(rows: np.ndarray, shape: list[int] | tuple[int, ...]) -> None:
    """Raise RowsOutside unless every index of `rows` is a row of a tensor of `shape` (at least 1-D)."""
    if not shape or rows.size and (int(rows.min()) < 0 or int(rows.max()) >= shape[0]):
        raise RowsOutside(shape[0] if shape else 0)
