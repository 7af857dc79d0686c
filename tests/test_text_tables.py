"""io/text.py: text tables read the way spreadsheets and students write them, by one set of rules for every
option. Each spelling is written here with the values it must read as (typed in the test, not computed by the
reader)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

from attncli.errors import AttnError
from attncli.io import read_array
from attncli.io._common import Src
from attncli.io.text import read_table

SRC = Src("--x", "t.csv")
NAN = np.nan


def table(text: str, kind: str = "csv", **kw):
    return read_table(text, kind, SRC, **kw)


def refused(text: str, kind: str = "csv", **kw) -> str:
    with pytest.raises(AttnError) as err:
        read_table(text, kind, SRC, **kw)
    message = str(err.value)
    assert message.startswith("--x: ") and "\n" not in message
    return message


@pytest.mark.parametrize("text,kind,values", [
    ("1,0,1,\n0,1,0,\n", "csv", [[1, 0, 1], [0, 1, 0]]),  # a trailing comma on every line
    ("1,0,1,\n", "csv", [[1, 0, 1]]),
    ("1,0,1,,\n0,1,0,,\n", "csv", [[1, 0, 1], [0, 1, 0]]),  # a spreadsheet's two empty trailing columns
    ("1,0,1\n0,1,0,\n1,1,1\n", "csv", [[1, 0, 1], [0, 1, 0], [1, 1, 1]]),  # a stray one on one line
    ("a,b,c,\n1,2,3,\n,,,\n,,,\n", "csv", [[1, 2, 3]]),  # header, and empty rows after the numbers
    ("1\t2\t\n3\t4\t\n", "tsv", [[1, 2], [3, 4]]),
    ("0,33;0,20;0,47\n0,10;0,20;0,70\n", "csv", [[0.33, 0.20, 0.47], [0.10, 0.20, 0.70]]),  # Excel in Europe
    ("0,33;0,20;0,47;\n", "csv", [[0.33, 0.20, 0.47]]),
    ("1;0;1\n0,5;0,25;0,25\n", "csv", [[1, 0, 1], [0.5, 0.25, 0.25]]),  # 1;0;1 is data, not a header
    ("q0;q1\n1,5;-2,25\n", "csv", [[1.5, -2.25]]),  # a header of names, then decimal commas
    ("0.33;0.20\n0.5;0.5\n", "csv", [[0.33, 0.20], [0.5, 0.5]]),  # semicolons with dot decimals
    ("1,5E-3;2\n", "csv", [[0.0015, 2]]),
    ("0,33\t0,20\n0,5\t0,5\n", "tsv", [[0.33, 0.20], [0.5, 0.5]]),  # tab-separated decimal commas
    ("0,33\t0,20\n0,5\t0,5\n", "csv", [[0.33, 0.20], [0.5, 0.5]]),  # even named .csv
    ("0,33 0,20\n0,5 0,5\n", "txt", [[0.33, 0.20], [0.5, 0.5]]),  # blank-separated decimal commas
    ("1,2\n3,4\n", "csv", [[1, 2], [3, 4]]),  # commas between values stay commas between values
    ("d0,d1\n1,2  # first\n", "csv", [[1, 2]]),
    ("k0\tk1\n0.5\t0.25\n", "csv", [[0.5, 0.25]]),  # cells pasted from a spreadsheet into a .csv
    ("0.5 0.25\n1 2\n", "csv", [[0.5, 0.25], [1, 2]]),  # typed with spaces into a .csv
])
def test_spellings(text, kind, values):
    got = table(text, kind)
    assert got.empty is None
    np.testing.assert_array_equal(got.values, np.array(values, dtype=float))


def test_empty_cells_are_an_error_unless_asked_for():
    assert "line 1, column 2: is empty" in refused("0.2,,0.5\n1,2,3\n")
    got = table("0.2,,0.5\n1,2,3\n", empty_cells=True)
    np.testing.assert_array_equal(got.values, [[0.2, NAN, 0.5], [1, 2, 3]])
    np.testing.assert_array_equal(got.empty, [[False, True, False], [False, False, False]])
    # a cell empty at the end of a line that is inside the table (another line has a value there)
    got = table("0.2,0.3,\n0.1,0.2,0.7\n", empty_cells=True)
    np.testing.assert_array_equal(got.empty, [[False, False, True], [False, False, False]])
    # a semicolon file with an empty cell; a row of separators between rows is a row of empty cells
    got = table("0,33;;0,47\n0,1;0,2;0,7\n", empty_cells=True)
    np.testing.assert_array_equal(got.values, [[0.33, NAN, 0.47], [0.1, 0.2, 0.7]])
    got = table("1,2,3\n,\n4,5,6\n", empty_cells=True)
    np.testing.assert_array_equal(got.empty, [[False] * 3, [True] * 3, [False] * 3])
    # a nan written in the file is a number, not an empty cell
    got = table("nan,,1\n", empty_cells=True)
    np.testing.assert_array_equal(got.empty, [[False, True, False]])
    assert "line 2, column 1: is empty" in refused("1\t2\n\t3\n", "tsv")  # a leading tab is an empty field


def test_undecidable_or_wrong_spellings_are_refused_with_their_cause():
    msg = refused("0,33;0.20\n")
    assert "both decimal marks" in msg and "'0,33'" in msg and "'0.20'" in msg
    assert "'1;0;1' is not a number" in refused("1;0;1\n0,5,0,2,0,3\n")  # never skipped as a header
    msg = refused("1 0; 0 1\n")
    assert "'1 0' is not a number" in msg and "one row per line" in msg
    assert "thousands separators" in refused("1,000.5;2\n") and "thousands separators" in refused("1.000,5;2\n")
    assert "line 2 has 1 value but line 1 has 2 values" in refused("1,2\n3\n")  # not 1.2 and 3
    assert "line 1, column 1: 'a' is not a number" in refused("a,2\n1,2\n")  # not a header, not 1.2
    assert "holds no numbers" in refused(",,,\n,,,\n")
    assert "line 2, column 2: '0;1' is not a number" in refused("1,2\n3,0;1\n")  # not ';'-separated: line 1
    assert "holds no numbers" in refused("a;b\n")


def test_every_option_reads_the_same_rules(tmp_path: Path):
    (tmp_path / "x.csv").write_text("1,0,1,\n0,2,0,\n")
    (tmp_path / "eu.csv").write_text("1,0;0,5\n0,5;1,0\n")
    np.testing.assert_array_equal(read_array(str(tmp_path / "x.csv"), option="--wq").array, [[1, 0, 1], [0, 2, 0]])
    np.testing.assert_array_equal(read_array(str(tmp_path / "eu.csv")).array, [[1.0, 0.5], [0.5, 1.0]])
    loaded = read_array(str(tmp_path / "x.csv"), empty_cells=True)
    assert loaded.empty is None
    (tmp_path / "gap.csv").write_text("1,,1\n")
    assert "is empty" in run_error(["compute", "--x", tmp_path / "gap.csv"])  # other options stay strict
    loaded = read_array(str(tmp_path / "gap.csv"), empty_cells=True)
    np.testing.assert_array_equal(loaded.empty, [[False, True, False]])
    # piped in, lines of decimal commas are a spreadsheet's table; one line stays a MATLAB literal
    e = np.e
    identity = [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]]  # X = I, dot scores: softmax of I's rows
    for piped in (b"1,0;0,0\n0,0;1,0\n", b"1,0;0,1\n"):  # [[1.0, 0.0], [0.0, 1.0]] and MATLAB [[1, 0], [0, 1]]
        got = json.loads(run(["compute", "--x", "-", "--score", "dot", "--show", "weights", "--format", "json"],
                             stdin=piped).stdout)["weights"]
        np.testing.assert_allclose(got, identity, atol=1e-12)
    # the same matrix from a European file, a trailing-comma file and inline gives the same weights
    (tmp_path / "i.csv").write_text("1,0,\n0,1,\n")
    (tmp_path / "i_eu.csv").write_text("1,0;0,0\n0,0;1,0\n")
    outs = [json.loads(run(["compute", "--x", x, "--score", "dot", "--format", "json"]).stdout)["output"]
            for x in ("1 0; 0 1", tmp_path / "i.csv", tmp_path / "i_eu.csv")]
    assert outs[0] == outs[1] == outs[2]
