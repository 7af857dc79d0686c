"""Issue #13, fixes on the seam between attncli and real checkpoints: hints that name the likely fix.

Expected numbers are closed forms; the model command itself is tested against transformers in
tests/test_models_golden.py.
"""

from __future__ import annotations

import numpy as np
from cli_helpers import run_error

I4 = "1 0 0 0; 0 1 0 0; 0 0 1 0; 0 0 0 1"
X = "1 0 1 0; 0 1 0 1"


def test_fewer_key_columns_than_heads_suggests_kv_heads() -> None:
    eye48 = "; ".join(" ".join("1" if i == j else "0" for j in range(8)) for i in range(4))
    err = run_error(["compute", "--x", X, "--wq", eye48, "--wk", "1 0; 0 1; 1 1; 0 0", "--wv", "1 0; 0 1; 1 1; 0 0",
                     "--heads", "4"])
    assert "add --kv-heads 1" in err and "shared by 4 query heads" in err


def test_narrower_keys_per_head_suggest_kv_heads() -> None:
    err = run_error(["compute", "--x", X, "--wq", I4, "--wk", "1 0; 0 1; 1 1; 0 0", "--wv", "1 0; 0 1; 1 1; 0 0",
                     "--heads", "2"])
    assert "d_q = 2 and d_k = 1" in err and "--kv-heads" in err


def test_alibi_slopes_for_six_heads_follow_the_paper() -> None:
    from attncli.core.positions import alibi_slopes

    # 2^⌊log₂ 6⌋ = 4 heads: 2^(−2h), h = 1..4; then 2^(−h) for h = 1, 3 (every other slope of 8 heads)
    np.testing.assert_array_equal(alibi_slopes(6), [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8])
