"""Issue 20, "a first hour without traps": messages that point at the mistake, and pickles refused everywhere.

Each test runs the installed CLI on the mistake a student or a TA makes and checks the one `error:` line (exit 2,
no traceback) names the cause and the fix:

1. a missing upload is a missing file (with what the folder holds, a near name, or the missing folder);
2. an inline matrix with a typo names the token, its row and item;
3. a second value after an option (`--key-lens 4 2`) is named as such, not taken as PROBLEM or ANSWER;
4. a weight in the other orientation is explained in the layout the user is in;
5. a missing file named by a problem file is reported as resolved, with the problem file and key;
6. a key set twice in a problem file (two tables, or a table and the top level) is refused;
7. PyTorch pickles (zip with data.pkl, or raw pickles) are refused by every command, never unpickled.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error

ROOT = Path(__file__).parent.parent
PROBLEM = ROOT / "samples" / "self_attention" / "problem.toml"
ANSWER = ROOT / "samples" / "self_attention" / "answer.csv"


# ==================================================================================================
# 1. a missing file
# ==================================================================================================


def test_a_missing_upload_says_the_file_is_missing_and_names_a_near_match(tmp_path: Path) -> None:
    upload = tmp_path / "submission"
    upload.mkdir()
    for name in ("Weights.CSV", "notes.txt", "x.npy", ".secret"):
        (upload / name).write_text("1\n")
    err = run_error(["check", upload / "weights.csv", PROBLEM])
    assert f"ANSWER: no such file '{upload / 'weights.csv'}'" in err
    assert "inline matrix" not in err
    assert f"{upload} holds 3 files: notes.txt, Weights.CSV, x.npy" in err and ".secret" not in err
    assert "did you mean 'Weights.CSV'?" in err and "case" in err


def test_a_missing_file_beside_one_with_another_extension(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.eye(2))
    err = run_error(["compute", "--x", "x.csv"], cwd=tmp_path)
    assert "--x: no such file 'x.csv'" in err and "the current folder holds 1 file: x.npy" in err
    assert "did you mean 'x.npy'?" in err and "inline matrix" not in err


def test_a_missing_folder_is_named_as_the_missing_part(tmp_path: Path) -> None:
    (tmp_path / "Data").mkdir()
    err = run_error(["compute", "--x", tmp_path / "data" / "sub" / "x.csv"])
    assert f"no such file '{tmp_path / 'data' / 'sub' / 'x.csv'}'" in err
    assert f"there is no folder '{tmp_path / 'data'}'" in err and "did you mean 'Data'?" in err
    err = run_error(["check", "/autograder-missing/submission/weights.csv", PROBLEM])
    assert "there is no folder '/autograder-missing'" in err


def test_a_file_where_a_folder_should_be(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", wq=np.eye(2))
    err = run_error(["compute", "--x", tmp_path / "w.npz" / "wq"])
    assert f"'{tmp_path / 'w.npz'}' is a file, not a folder" in err and "w.npz:wq" in err


def test_an_empty_folder_and_a_long_listing_stay_one_short_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    err = run_error(["compute", "--x", tmp_path / "empty" / "x.csv"])
    assert f"{tmp_path / 'empty'} is empty" in err
    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for i in range(30):
        (crowd / f"student{i:02d}.csv").write_text("1\n")
    err = run_error(["compute", "--x", crowd / "answer.csv"])
    assert "holds 30 files: student00.csv, student01.csv, student02.csv, student03.csv, student04.csv, ... and 25 " \
           "more" in err
    assert len(err) < 400


def test_a_missing_container_before_an_array_name(tmp_path: Path) -> None:
    err = run_error(["compute", "--x", "w.npz:wq"], cwd=tmp_path)
    assert "no such file 'w.npz'" in err and "inline" not in err


def test_a_word_that_is_not_a_path_still_says_both(tmp_path: Path) -> None:
    err = run_error(["compute", "--x", "weights"], cwd=tmp_path)
    assert "no such file 'weights' (and it is not an inline matrix like \"1 0; 0 1\")" in err
    (tmp_path / "weights.csv").write_text("1\n")
    assert "did you mean 'weights.csv'?" in run_error(["compute", "--x", "weights"], cwd=tmp_path)


def test_a_missing_problem_file_names_a_near_one_or_the_template(tmp_path: Path) -> None:
    (tmp_path / "problem.toml").write_text('x = "1 0; 0 1"\n')
    err = run_error(["compute", "problme.toml"], cwd=tmp_path)
    assert "PROBLEM: no such file 'problme.toml'; did you mean 'problem.toml'?" in err
    err = run_error(["compute", "hw1.toml"], cwd=tmp_path)
    assert "PROBLEM: no such file 'hw1.toml' (attncli init hw1.toml writes a template)" in err
    err = run_error(["explain", "hw/p1.toml"], cwd=tmp_path)
    assert "PROBLEM: no such file 'hw/p1.toml': there is no folder 'hw'" in err


# ==================================================================================================
# 2. a typo in an inline matrix
# ==================================================================================================


@pytest.mark.parametrize("literal,token,row,item,hint", [
    ("1 O 1; 0 2 0", "O", 1, 2, "a letter O for 0?"),
    ("1 0 1; 0 o 0", "o", 2, 2, "a letter o for 0?"),
    ("1 l; 0 1", "l", 1, 2, "a letter l for 1?"),
    ("1 0; \u22121 1", "\u22121", 2, 1, "a typographic minus"),
    ("0.5 1; 1 0..5", "0..5", 2, 2, None),
    ("1 2 x", "x", 1, 3, None),
    ("1/2 1/3", "1/2", 1, 1, "write fractions as decimals"),
    ("1/2", "1/2", 1, 1, "write fractions as decimals"),
    ("1 1e", "1e", 1, 2, "an exponent needs digits"),
])
def test_a_typo_in_an_inline_matrix_is_pinpointed(literal: str, token: str, row: int, item: int,
                                                  hint: str | None) -> None:
    err = run_error(["compute", "--x", literal])
    assert f"'{token}' at row {row}, item {item} is not a number" in err, err
    assert "no such file" not in err
    if hint:
        assert hint in err


def test_a_typo_in_a_json_literal_is_pinpointed() -> None:
    err = run_error(["compute", "--x", "[[1, O], [0, 1]]"])
    assert "'O'" in err and "is not a number" in err and "a letter O for 0?" in err and "no such file" not in err


def test_a_file_with_the_same_typo_is_pinpointed_too(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("1 O 1\n0 2 0\n")
    err = run_error(["compute", "--x", tmp_path / "x.txt"])
    assert "line 1, column 2: 'O' is not a number" in err


@pytest.mark.parametrize("source", ["weights", "my_file", "x1", "w-q"])
def test_names_are_still_missing_files(tmp_path: Path, source: str) -> None:
    err = run_error(["compute", "--x", source], cwd=tmp_path)
    assert f"no such file '{source}'" in err


# ==================================================================================================
# 3. two values after an option that takes one
# ==================================================================================================


@pytest.mark.parametrize("args,message", [
    (["compute", "--x", "1 0; 0 1", "--key-lens", "4", "2"],
     "--key-lens takes one value: write --key-lens 4,2 (commas, no spaces)"),
    (["compute", "--x", "1 0; 0 1", "--key-lens=2", "1"],
     "--key-lens takes one value: write --key-lens 2,1 (commas, no spaces)"),
    (["compute", "--x", "1 0; 0 1", "--key-lens", "4", "2", "1"],
     "--key-lens takes one value: write --key-lens 4,2,1 (commas, no spaces)"),
    (["explain", "--x", "1 0; 0 1", "--query-lens", "1", "2"],
     "--query-lens takes one value: write --query-lens 1,2 (commas, no spaces)"),
    (["compute", "--x", "1 0; 0 1", "--window", "1", "0"],
     "--window takes one value: write --window 1:0 (no spaces)"),
    (["compute", "--x", "1 0; 0 1", "--heads", "2", "4"],
     "--heads takes one value (--heads 2); '4' after it was read as PROBLEM"),
    (["compute", "--x", "1", "0"],
     "--x takes one value: quote an inline matrix: --x \"1 0\""),
    (["mask", "--length", "4", "2"],
     "--length takes one value (--length 4); '2' after it is one too many"),
], ids=["key-lens", "equals", "three", "query-lens", "window", "heads", "inline", "no-positional"])
def test_a_second_value_after_an_option(args: list[str], message: str) -> None:
    err = run_error(args)
    assert message in err, err
    assert "no such file" not in err


def test_check_answers_after_an_option_value() -> None:
    err = run_error(["check", ANSWER, "--decimals", "2", "3", PROBLEM])
    assert "--decimals takes one value (--decimals 2); '3' after it was read as an ANSWER" in err, err
    err = run_error(["check", ANSWER, "--key-lens", "4", "2", PROBLEM])
    assert "--key-lens takes one value: write --key-lens 4,2 (commas, no spaces)" in err, err


def test_a_problem_that_follows_a_flag_is_a_problem(tmp_path: Path) -> None:
    err = run_error(["compute", "--causal", "2"], cwd=tmp_path)
    assert "PROBLEM: no such file '2'" in err
    # a real inline ANSWER first, then the options, is graded as written
    proc = run(["check", "0.1", "--expected", "0.1"], check=False)
    assert proc.returncode == 0, proc.stderr


# ==================================================================================================
# 4. weights in the other orientation, explained in the user's layout
# ==================================================================================================


X_COLS = "1 0 1; 0 1 1; 1 1 0"  # d_model 3 × n 3 in cols layout
W_ROWS_SHAPED = "1 0; 0 1; 1 1"  # d_model × d_k: the rows layout's orientation
W_COLS = "1 0 0; 0 1 0"  # d_k × d_model


def test_cols_layout_speaks_of_the_lecture_layout() -> None:
    err = run_error(["compute", "--layout", "cols", "--x", X_COLS, "--wq", W_ROWS_SHAPED, "--wk", W_COLS, "--wv",
                     W_COLS])
    assert "--wq" in err and "W_Q is d_k × d_model" in err and "Q = W_q·I" in err and "transpose" in err
    assert "Linear.weight" not in err and "--weights-layout" not in err
    err = run_error(["compute", "--layout", "cols", "--x", X_COLS, "--wq", W_COLS, "--wk", W_COLS, "--wv",
                     W_ROWS_SHAPED, "--weights-layout", "torch"])
    assert "W_V is d_v × d_model" in err and "V = W_v·I" in err and "drop --weights-layout" not in err


def test_rows_layout_keeps_the_pytorch_advice() -> None:
    err = run_error(["compute", "--x", "1 0 0; 0 1 0", "--wq", "1 0 0; 0 1 0", "--wk", "1 0 0; 0 1 0", "--wv",
                     "1 0 0; 0 1 0"])
    assert "Linear.weight" in err and "--weights-layout torch" in err


# ==================================================================================================
# 5. paths in a problem file are relative to it, also when missing
# ==================================================================================================


def test_a_missing_file_named_by_a_problem_in_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p2.toml").write_text('[inputs]\nx = "x.csv"\n')
    (tmp_path / "x.csv").write_text("1,0\n0,1\n")  # beside the command, not the problem: never read
    err = run_error(["compute", "sub/p2.toml"], cwd=tmp_path)
    assert f"PROBLEM sub/p2.toml: x = \"x.csv\": no such file {Path('sub') / 'x.csv'}" in err, err


def test_missing_files_in_lists_and_containers_of_a_problem(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "h1.csv").write_text("1\n0\n")
    (tmp_path / "sub" / "p.toml").write_text('x = "1 0; 0 1"\nwq = ["h1.csv", "h2.csv"]\nwk = "k.npz:wk"\n'
                                             'wv = "1; 0"\n')
    err = run_error(["compute", "sub/p.toml"], cwd=tmp_path)
    assert "PROBLEM sub/p.toml: wq = \"h2.csv\": no such file sub/h2.csv" in err, err
    (tmp_path / "sub" / "h2.csv").write_text("0\n1\n")
    err = run_error(["compute", "sub/p.toml"], cwd=tmp_path)
    assert "PROBLEM sub/p.toml: wk = \"k.npz:wk\": no such file sub/k.npz" in err, err


def test_problem_files_still_read_their_files_and_inline_values(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    np.savez(tmp_path / "sub" / "w.npz", wq=np.eye(2))
    (tmp_path / "sub" / "p.toml").write_text('x = "1 0; 0 1"\nwq = "w.npz:wq"\nwk = "1 0; 0 1"\nwv = "1 0; 0 1"\n'
                                             'score = "dot"\n')
    out = run(["compute", "sub/p.toml", "--show", "weights", "--format", "json"], cwd=tmp_path).stdout
    import json

    e = np.e
    np.testing.assert_allclose(json.loads(out)["weights"], [[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])


# ==================================================================================================
# 6. a key set twice in a problem file
# ==================================================================================================


@pytest.mark.parametrize("text,first,second", [
    ('[inputs]\nx = "1 0; 0 1"\n[check]\nx = "0 1; 1 0"\n', "[inputs]", "[check]"),
    ('x = "1 0; 0 1"\n[inputs]\nx = "0 1; 1 0"\n', "the top level", "[inputs]"),
    ('x = "1 0; 0 1"\n[options]\nkey-lens = 1\n[check]\nkey_lens = 2\n', "[options]", "[check]"),
])
def test_a_key_in_two_places_is_refused(tmp_path: Path, text: str, first: str, second: str) -> None:
    (tmp_path / "p.toml").write_text(text)
    err = run_error(["compute", tmp_path / "p.toml"])
    assert "twice" in err and first in err and second in err, err


def test_a_key_in_any_one_table_is_fine(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[check]\nx = "1 0; 0 1"\nscore = "dot"\n[inputs]\ncausal = true\n')
    out = run(["compute", tmp_path / "p.toml", "--show", "weights", "--format", "json"]).stdout
    import json

    np.testing.assert_allclose(json.loads(out)["weights"], [[1.0, 0.0], [1 / (1 + np.e), np.e / (1 + np.e)]])


# ==================================================================================================
# 7. pickles, refused by every command
# ==================================================================================================


class _Tripwire:
    """Unpickling this creates a file: the proof nothing was unpickled is that the file never appears."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def torch_zip(path: Path, payload: bytes) -> Path:
    """The layout torch.save writes (torch/serialization.py `_save`): `<archive>/data.pkl` first, then
    `byteorder`, the storages as `data/<key>` and `version`; records are stored, not compressed."""
    archive = path.stem
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", payload)
        z.writestr(f"{archive}/byteorder", "little")
        z.writestr(f"{archive}/data/0", np.arange(4, dtype=np.float32).tobytes())
        z.writestr(f"{archive}/version", "3\n")
    return path


def legacy_pickle(path: Path, payload: bytes) -> Path:
    """torch.save(..., _use_new_zipfile_serialization=False): pickles of the magic number, the protocol version,
    then the object, protocol 2 (each starts with 0x80 0x02)."""
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    path.write_bytes(magic + pickle.dumps(1001, protocol=2) + payload)
    return path


@pytest.fixture()
def pickles(tmp_path: Path) -> dict[str, Path]:
    trip = str(tmp_path / "unpickled")
    payload = pickle.dumps({"w": _Tripwire(trip)}, protocol=2)
    made = {
        "zip": torch_zip(tmp_path / "pytorch_model.bin", payload),
        "legacy": legacy_pickle(tmp_path / "legacy.pt", payload),
        "raw4": tmp_path / "state.pth",
        "ckpt": torch_zip(tmp_path / "last.ckpt", payload),
        "disguised": torch_zip(tmp_path / "weights.npz", payload),
        "late": tmp_path / "late.pt",
    }
    with zipfile.ZipFile(made["late"], "w") as z:  # data.pkl not the first entry: found in the zip's listing
        z.writestr("late/version", "3\n")
        z.writestr("late/data.pkl", payload)
    made["raw4"].write_bytes(pickle.dumps({"w": _Tripwire(trip)}, protocol=4))
    yield made
    assert not Path(trip).exists(), "a pickle was unpickled"


def assert_refused(err: str, path: Path) -> None:
    assert path.name in err and "pickle" in err and "never unpickles" in err, err
    assert "safetensors" in err and "save_file" in err and "safe_serialization=True" in err, err


@pytest.mark.parametrize("kind", ["zip", "legacy", "raw4", "ckpt", "disguised", "late"])
@pytest.mark.parametrize("command", [
    ["inspect", "@"], ["compute", "--x", "@"], ["show", "@"], ["check", "@", "--expected", "1 0; 0 1"],
    ["check", ANSWER, "--expected", "@"], ["explain", "--x", "@"], ["compute", "--x", "1 0; 0 1", "--weights", "@"],
    ["compute", "--x", "@:wq"],
], ids=["inspect", "compute", "show", "check-answer", "check-expected", "explain", "weights", "named"])
def test_pickles_are_refused_by_every_command(pickles: dict[str, Path], kind: str, command: list) -> None:
    path = pickles[kind]
    args = [str(path) + a[1:] if isinstance(a, str) and a.startswith("@") else a for a in command]
    assert_refused(run_error(args), path)


def test_a_pickle_on_standard_input_is_refused(pickles: dict[str, Path]) -> None:
    for kind in ("zip", "legacy", "late"):
        err = run_error(["compute", "--x", "-"], stdin=pickles[kind].read_bytes())
        assert "standard input" in err and "never unpickles" in err, err


def test_model_refuses_a_pickle_checkpoint_with_the_same_message(pickles: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_layer": 1, "n_head": 1, "n_embd": 2}')
    torch_zip(folder / "pytorch_model.bin", pickle.dumps({"w": _Tripwire(str(tmp_path / "unpickled"))}))
    err = run_error(["model", folder, "--ids", "1 2"])
    assert "model.safetensors" in err
    assert_refused(err, folder / "pytorch_model.bin")
    err = run_error(["model", pickles["zip"], "--ids", "1 2"])
    assert_refused(err, pickles["zip"])


def test_a_zip_of_arrays_is_still_an_npz(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.savez(buf, a=np.eye(2))
    (tmp_path / "arrays.bin").write_bytes(buf.getvalue())
    out = run(["inspect", tmp_path / "arrays.bin", "--format", "json"]).stdout
    assert b'"name": "a"' in out
    assert os.path.getsize(tmp_path / "arrays.bin") > 0


def test_a_plain_python_pickle_is_named_as_one(tmp_path: Path) -> None:
    trip = tmp_path / "unpickled"
    (tmp_path / "arrays.pkl").write_bytes(pickle.dumps({"x": _Tripwire(str(trip))}, protocol=5))
    err = run_error(["compute", "--x", tmp_path / "arrays.pkl"])
    assert "'" + str(tmp_path / "arrays.pkl") + "' is a Python pickle" in err and "never unpickles" in err, err
    assert "numpy.savez" in err and not trip.exists()
