"""`attncli grader`: autograders that deploy from the repository alone.

The bundles are run here as the platforms run them, in folders laid out as theirs are:
- Gradescope ("Autograder Specifications", gradescope-autograders.readthedocs.io/en/latest/specs/): the zip's files
  in /autograder/source, setup.sh run once to build the image, run_autograder once per submission with the upload in
  /autograder/submission and /autograder/submission_metadata.json (`users`, each with `email`, `name`, `sid`, ...);
  it writes /autograder/results/results.json: top-level `score`, `execution_time`, `output`, `output_format`,
  `test_output_format`, `test_name_format`, `visibility`, `stdout_visibility`, `extra_data`, `tests`,
  `leaderboard`; each test `score`, `max_score`, `status` (passed|failed), `name`, `name_format`, `number`,
  `output`, `output_format`, `tags`, `visibility` (hidden|after_due_date|after_published|visible), `extra_data`.
- PrairieLearn (docs/externalGrading.md): the question's tests/ at /grade/tests, the upload in /grade/student, the
  variant's data at /grade/data/data.json; results at /grade/results/results.json: `gradable`, `score` in [0, 1]
  (needed when gradable), `format_errors` (a string or strings), `message`, `output`, `images`, `tests` with
  `name`, `description`, `points`, `max_points`, `message`, `output`, `images`; at most 1 MB. info.json
  (docs/question/overview.md): uuid, title, topic, type "v3", gradingMethod, externalGradingOptions with enabled,
  image, entrypoint, timeout (≤ 600 s).
- Wheels (packaging.python.org, "Binary distribution format"): {name}-{version}.dist-info with METADATA, WHEEL
  (Wheel-Version 1.0, Root-Is-Purelib, Tag), RECORD (path, sha256=urlsafe base64 without padding, size; RECORD
  itself without either), entry_points.txt.
setup.sh and the image install attncli's dependencies from the package index (pip's cache makes it quick): where
the index cannot be reached those tests skip, saying so. Expected grades come from a numpy reference written here.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run, run_error
from results_schema import validate_gradescope, validate_prairielearn

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "homework"

PL_INFO_REQUIRED = {"uuid", "type", "title", "topic"}
PL_INFO = PL_INFO_REQUIRED | {"tags", "authors", "gradingMethod", "singleVariant", "showCorrectAnswer",
                              "partialCredit", "externalGradingOptions", "dependencies", "sharePublicly",
                              "shareSourcePublicly", "sharingSets", "comment"}
PL_GRADING = {"enabled", "image", "entrypoint", "serverFilesCourse", "timeout", "enableNetworking", "environment"}


# ---- a class of three, and a reference written for the test ------------------------------------------------------

WQ = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
WK = np.array([[0, 1], [1, 0], [1, -1]], dtype=float)
WV = np.array([[1, 0], [0, 2], [1, 1]], dtype=float)
CLASS = {"ada@uni.edu": np.array([[1, 0, 1], [0, 2, 0], [1, 1, 0]], dtype=float),
         "bob@uni.edu": np.array([[0, 1, 1], [2, 0, 1], [1, 0, 0]], dtype=float),
         "carol@uni.edu": np.array([[1, 1, 1], [0, 0, 2], [2, 1, 0]], dtype=float)}
TOLERANCE = 0.5e-3 * (1 + 1e-9)  # decimals = 3


def weights(x: np.ndarray, scale: float | None = None) -> np.ndarray:
    s = (x @ WQ) @ (x @ WK).T * (1 / math.sqrt(WK.shape[1]) if scale is None else scale)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def toml_matrix(a: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in a) + "]"


def write_class(folder: Path, students: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sid, x in students.items():
        (folder / f"{sid}.toml").write_text(
            f"# Task: compute the attention weights A, rounded to 3 decimals.\n#\n[inputs]\nx = {toml_matrix(x)}\n"
            f"wq = {toml_matrix(WQ)}\nwk = {toml_matrix(WK)}\nwv = {toml_matrix(WV)}\n"
            "[options]\nheads = 1\n[check]\nwhat = \"weights\"\ndecimals = 3\n")
    rows = "".join(f"{s},{s}.toml,{i}\n" for i, s in enumerate(students))
    (folder / "roster.csv").write_text("id,file,seed\n" + rows)
    return folder


def csv_text(a: np.ndarray) -> str:
    return "\n".join(",".join(f"{v:.3f}" for v in row) for row in a) + "\n"


def script_env(**extra: str) -> dict:
    """The environment a script runs in here: this interpreter's python3 (≥ 3.11, so setup.sh needs no apt) first."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def skip_unless_index(what: str, proc: subprocess.CompletedProcess, tmp: Path) -> None:
    """After an install failed: skip if the package index cannot be reached (saying so), else fail."""
    probe = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(tmp / "probe"),
                            "typer>=0.26,<0.29"], capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"the package index cannot be reached ({probe.stderr.strip()[-200:]}); {what} installs "
                    "attncli's dependencies from it")
    pytest.fail(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return write_class(tmp_path_factory.mktemp("course") / "problems", CLASS)


def unzip(data: bytes, folder: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            target = folder / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
            target.chmod((info.external_attr >> 16) & 0o777)


@pytest.fixture(scope="module")
def autograder(course, tmp_path_factory) -> Path:
    """The zip built with --points 10 --credit cells, unpacked as Gradescope does, and setup.sh run once (a fresh
    virtual environment with the wheel installed): a folder holding source/ and attncli-venv/."""
    base = tmp_path_factory.mktemp("gradescope")
    zip_path = base / "autograder.zip"
    run(["grader", "gradescope", "--problems", course, "-o", zip_path, "--points", "10", "--credit", "cells",
         "--visibility", "after_due_date"])
    unzip(zip_path.read_bytes(), base / "source")
    proc = subprocess.run(["bash", str(base / "source" / "setup.sh")], capture_output=True, text=True,
                          env=script_env(AUTOGRADER_ROOT=str(base)), timeout=900)
    if proc.returncode != 0:
        skip_unless_index("setup.sh", proc, base)
    assert (base / "attncli-venv" / "pyvenv.cfg").is_file()  # a virtual environment of its own
    return base


def test_setup_sh_installs_python311_where_python3_is_older(autograder, tmp_path):
    """Ubuntu 22.04's python3 is 3.10: setup.sh installs python3.11 with apt-get, and a failed install stops it."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "rm").symlink_to(shutil.which("rm"))
    (fake / "python3").write_text("#!/bin/sh\nexit 1\n")  # sys.version_info < (3, 11)
    log = tmp_path / "apt.log"
    real = Path(sys.executable).resolve()
    for name, script in (("failing", "echo \"$@\" >> {log}\n[ \"$1\" = install ] && exit 100\nexit 0\n"),
                         ("working", "echo \"$@\" >> {log}\n[ \"$1\" = install ] && {ln} -sf {real} {fake}/python3.11\n"
                                     "exit 0\n")):
        ln = shutil.which("ln")
        (fake / "apt-get").write_text("#!/bin/sh\n" + script.format(log=log, real=real, fake=fake, ln=ln))
        for f in fake.iterdir():
            if not f.is_symlink():
                f.chmod(0o755)
        root = tmp_path / name
        root.mkdir()
        (root / "source").symlink_to(autograder / "source")
        proc = subprocess.run(["/bin/bash", str(root / "source" / "setup.sh")], capture_output=True, text=True,
                              env={**os.environ, "PATH": str(fake), "AUTOGRADER_ROOT": str(root)}, timeout=900)
        installs = [line for line in log.read_text().splitlines() if line.startswith("install")]
        assert installs[-1] == "install -y --no-install-recommends python3.11 python3.11-venv"
        if name == "failing":
            assert proc.returncode != 0 and not (root / "attncli-venv").exists()  # the build stops, loudly
        elif proc.returncode != 0:
            skip_unless_index("setup.sh", proc, tmp_path)
        else:
            assert "attncli" in proc.stdout and (root / "attncli-venv" / "bin" / "attncli").is_file()


def grade(autograder: Path, root: Path, users: list[dict], files: dict[str, str], venv: Path | None = None
          ) -> dict:
    """Run run_autograder for one submission in a fresh Gradescope layout (sharing source/ and the venv)."""
    (root / "submission").mkdir(parents=True)
    (root / "source").symlink_to(autograder / "source")
    (root / "attncli-venv").symlink_to(venv or autograder / "attncli-venv")
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": users, "submission_method":
                                                               "upload"}))
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          env=script_env(AUTOGRADER_ROOT=str(root)), timeout=300)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads((root / "results" / "results.json").read_text())
    validate_gradescope(obj)
    return obj


def user(email: str, sid: str = "", name: str = "A Student") -> dict:
    return {"email": email, "id": 7, "name": name, "sid": sid}


# ---- the wheel ------------------------------------------------------------------------------------------------------

def wheel_of(zip_bytes: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        [name] = [n for n in z.namelist() if n.endswith(".whl")]
        return name, z.read(name)


def installed_distribution() -> dict:
    """The installed attncli's metadata, asked in a separate interpreter (outside the source tree)."""
    code = ("import importlib.metadata as m, json; d = m.distribution('attncli'); print(json.dumps({'version': "
            "d.version, 'requires': d.requires, 'entry_points': [[e.group, e.name, e.value] "
            "for e in d.entry_points]}))")
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     cwd="/").stdout)


def test_wheel_is_a_valid_wheel_with_the_same_bytes_every_time(course, tmp_path):
    run(["grader", "gradescope", "--problems", course, "-o", tmp_path / "a.zip"])
    run(["grader", "gradescope", "--problems", course, "-o", tmp_path / "b.zip"])
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    dist = installed_distribution()
    name, data = wheel_of((tmp_path / "a.zip").read_bytes())
    assert name == f"attncli-{dist['version']}-py3-none-any.whl"
    info = f"attncli-{dist['version']}.dist-info"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        files = {n: z.read(n) for n in names}
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    assert names[-1] == f"{info}/RECORD" and all(n.startswith(("attncli/", info + "/")) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # the package's files are the source tree's, byte for byte
    source = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "attncli").rglob("*.py")
              if "__pycache__" not in p.parts}
    assert {n: b for n, b in files.items() if n.startswith("attncli/")} == source
    # RECORD: every other file with its sha256 (urlsafe base64, no padding) and size; RECORD itself empty
    rows = list(csv.reader(io.StringIO(files[f"{info}/RECORD"].decode())))
    assert rows[-1] == [f"{info}/RECORD", "", ""]
    recorded = {path: (h, int(size)) for path, h, size in rows[:-1]}
    assert set(recorded) == set(names) - {f"{info}/RECORD"}
    for path, (h, size) in recorded.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).decode().rstrip("=")
        assert h == f"sha256={digest}" and size == len(files[path]), path
    wheel = dict(line.split(": ", 1) for line in files[f"{info}/WHEEL"].decode().splitlines())
    assert wheel["Wheel-Version"] == "1.0" and wheel["Root-Is-Purelib"] == "true" and wheel["Tag"] == "py3-none-any"
    from email.parser import Parser

    metadata = Parser().parsestr(files[f"{info}/METADATA"].decode())
    assert metadata["Name"] == "attncli" and metadata["Version"] == dist["version"]
    assert metadata.get_all("Requires-Dist") == dist["requires"]  # the extras' requirements included
    assert metadata["Requires-Python"] == ">=3.11"
    assert "console_scripts" in files[f"{info}/entry_points.txt"].decode()
    assert ["console_scripts", "attncli", "attncli.cli:main"] in dist["entry_points"]
    assert "attncli = attncli.cli:main" in files[f"{info}/entry_points.txt"].decode()


def test_wheel_installs_into_a_fresh_venv(course, tmp_path):
    run(["grader", "gradescope", "--problems", course, "-o", tmp_path / "a.zip"])
    name, data = wheel_of((tmp_path / "a.zip").read_bytes())
    (tmp_path / name).write_bytes(data)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                           str(tmp_path / name)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    code = ("import attncli, importlib.metadata as m, json; d = m.distribution('attncli'); "
            "print(json.dumps([attncli.__file__, attncli.__version__, d.requires]))")
    where, version, requires = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd="/",
                                                         capture_output=True, text=True, check=True).stdout)
    assert Path(where).is_relative_to(venv) and version == installed_distribution()["version"]
    assert requires == installed_distribution()["requires"]
    script = (venv / "bin" / "attncli").read_text()
    assert "from attncli.cli import main" in script  # pip made the console script from entry_points.txt


def test_wheel_from_a_regular_install_is_the_same(autograder, course, tmp_path):
    """setup.sh installed the wheel normally (site-packages): attncli run from there builds the same wheel."""
    proc = subprocess.run([str(autograder / "attncli-venv" / "bin" / "attncli"), "grader", "gradescope",
                           "--problems", str(course), "-o", str(tmp_path / "again.zip")], capture_output=True,
                          text=True, cwd="/", timeout=300)
    assert proc.returncode == 0, proc.stderr
    where = subprocess.run([str(autograder / "attncli-venv" / "bin" / "python"), "-c",
                            "import attncli; print(attncli.__file__)"], capture_output=True, text=True, cwd="/",
                           check=True).stdout.strip()
    assert Path(where).is_relative_to(autograder / "attncli-venv")  # not the source tree
    built = wheel_of((tmp_path / "again.zip").read_bytes())
    assert built[1] == (autograder / "source" / built[0]).read_bytes()


# ---- Gradescope ---------------------------------------------------------------------------------------------------

def test_gradescope_zip_holds_what_gradescope_needs(course, tmp_path):
    out = tmp_path / "autograder.zip"
    proc = run(["grader", "gradescope", "--problems", course, "-o", out])
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    version = installed_distribution()["version"]
    assert {"setup.sh", "run_autograder", f"attncli-{version}-py3-none-any.whl", "problems/roster.csv",
            *(f"problems/{s}.toml" for s in CLASS)} == names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "wrote" in err and "weights.csv" in err and "email" in err


def test_right_answer_gets_full_points(autograder, tmp_path):
    obj = grade(autograder, tmp_path, [user("ada@uni.edu")], {"weights.csv": csv_text(weights(CLASS["ada@uni.edu"]))})
    assert obj["score"] == 10 and obj["tests"][0]["status"] == "passed"
    assert obj["tests"][0]["visibility"] == "after_due_date"


def test_wrong_answer_gets_the_diagnosis_and_partial_credit(autograder, tmp_path):
    x = CLASS["bob@uni.edu"]
    answer = np.round(weights(x, scale=1.0), 3)  # 1/√d_k left out
    right = np.abs(answer - weights(x)) <= TOLERANCE
    obj = grade(autograder, tmp_path, [user("bob@uni.edu")], {"weights.csv": csv_text(answer)})
    assert obj["score"] == pytest.approx(10 * right.mean(), abs=1e-4) and obj["score"] < 10
    assert "1/√d_k was left out" in obj["tests"][0]["output"]


def test_an_answer_against_someone_elses_problem_fails(autograder, tmp_path):
    obj = grade(autograder, tmp_path, [user("carol@uni.edu")], {"weights.csv": csv_text(weights(CLASS["ada@uni.edu"]))})
    assert obj["score"] < 10 and obj["tests"][0]["status"] == "failed"


def test_missing_upload_says_which_file_and_what_came(autograder, tmp_path):
    obj = grade(autograder, tmp_path, [user("ada@uni.edu")],
                {"Weights.csv": csv_text(weights(CLASS["ada@uni.edu"])), "notes.txt": "hi\n"})
    assert obj["score"] == 0
    assert "No file named weights.csv" in obj["output"] and "Weights.csv, notes.txt" in obj["output"]


def test_unknown_student_leaks_no_other_id(autograder, tmp_path):
    obj = grade(autograder, tmp_path, [user("zed@uni.edu")], {"weights.csv": csv_text(weights(CLASS["ada@uni.edu"]))})
    text = json.dumps(obj)
    assert obj["score"] == 0 and "zed@uni.edu" in obj["output"] and "ask your TA" in obj["output"]
    assert not any(other in text for other in ("ada", "bob", "carol"))
    assert obj.get("stdout_visibility") == "hidden"  # attncli's own message (the ids it holds) is the staff's


def test_uppercase_email_matches(autograder, tmp_path):
    """Gradescope's metadata may spell the roster's st1@uni.edu as ' ST1@UNI.EDU ': the same student."""
    obj = grade(autograder, tmp_path / "gs", [user(" ADA@UNI.EDU ")],
                {"weights.csv": csv_text(weights(CLASS["ada@uni.edu"]))})
    assert obj["score"] == 10


def test_group_submission_is_graded_against_the_first_member(autograder, tmp_path):
    members = [user("bob@uni.edu", name="Bob B"), user("ada@uni.edu", name="Ada A")]
    obj = grade(autograder, tmp_path, members, {"weights.csv": csv_text(weights(CLASS["bob@uni.edu"]))})
    assert obj["score"] == 10 and "Group submission of 2 students" in obj["output"] and "Bob B" in obj["output"]


def test_a_grader_that_cannot_run_still_writes_results(autograder, tmp_path):
    # a virtual environment whose attncli fails as a broken install would (exit 70), and one that is missing
    broken = tmp_path / "broken-venv" / "bin"
    broken.mkdir(parents=True)
    (broken / "python").symlink_to(Path(sys.executable).resolve())
    (broken / "attncli").write_text("#!/bin/sh\necho 'error: internal error' >&2\nexit 70\n")
    (broken / "attncli").chmod(0o755)
    answer = {"weights.csv": csv_text(weights(CLASS["ada@uni.edu"]))}
    for root, venv in ((tmp_path / "a", broken.parent), (tmp_path / "b", tmp_path / "nowhere")):
        obj = grade(autograder, root, [user("ada@uni.edu")], answer, venv=venv)
        assert obj["score"] == 0 and obj["output"] == "The autograder could not grade this submission; ask your TA."


def test_students_found_by_sid(autograder, tmp_path):
    """The sample class's problems are named by SID: the builder says so, and Gradescope's `sid` finds them."""
    proc = run(["grader", "gradescope", "--problems", SAMPLES / "problems", "-o", tmp_path / "sid.zip"])
    assert "by the sid" in proc.stderr.decode()
    unzip((tmp_path / "sid.zip").read_bytes(), tmp_path / "unpacked" / "source")
    answers = {s: (SAMPLES / "answers" / f"{s}.csv").read_text() for s in ("s001", "s002")}
    good = grade(tmp_path / "unpacked", tmp_path / "one", [user("ada@example.edu", "s001")],
                 {"weights.csv": answers["s001"]}, venv=autograder / "attncli-venv")
    bad = grade(tmp_path / "unpacked", tmp_path / "two", [user("alan@example.edu", "s002")],
                {"weights.csv": answers["s002"]}, venv=autograder / "attncli-venv")
    assert good["score"] == 1 and bad["score"] == 0 and "1/√d_k was left out" in bad["tests"][0]["output"]
    nosid = grade(tmp_path / "unpacked", tmp_path / "three", [user("ada@example.edu", "")],
                  {"weights.csv": answers["s001"]}, venv=autograder / "attncli-venv")
    assert nosid["score"] == 0 and "Student ID" in nosid["output"]


# ---- PrairieLearn --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def question(course, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pl") / "pl"
    run(["grader", "prairielearn", "--problems", course, "-o", out, "--image", "course/attncli-grader:1",
         "--credit", "cells"])
    return out


def generate(server: Path, seed: int) -> dict:
    """server.py's generate() for one variant, run by plain Python (-I: no site-packages, so no attncli)."""
    code = ("import json, random, runpy, sys; random.seed(int(sys.argv[2])); s = runpy.run_path(sys.argv[1]); "
            "d = {'params': {}, 'correct_answers': {}}; s['generate'](d); print(json.dumps(d))")
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(server), str(seed)], capture_output=True, text=True,
                          cwd="/", timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_prairielearn_question_files(question):
    info = json.loads((question / "question" / "info.json").read_text())
    assert PL_INFO_REQUIRED <= set(info) <= PL_INFO and info["type"] == "v3" and info["gradingMethod"] == "External"
    uuid.UUID(info["uuid"])
    grading = info["externalGradingOptions"]
    assert set(grading) <= PL_GRADING and grading["enabled"] is True and grading["image"] == "course/attncli-grader:1"
    assert grading["entrypoint"] == "/grade/tests/run.sh" and 0 < grading["timeout"] <= 600
    html = (question / "question" / "question.html").read_text()
    assert '<pl-file-upload file-names="weights.csv">' in html
    panel = html[html.index("<pl-submission-panel>"):html.index("</pl-submission-panel>")]
    assert "<pl-external-grader-results>" in panel
    files = {p.relative_to(question).as_posix() for p in question.rglob("*") if p.is_file()}
    assert {"question/server.py", "question/tests/run.sh", "question/tests/problems/roster.csv", "image/Dockerfile",
            "image/README.txt", *(f"question/tests/problems/{s}.toml" for s in CLASS)} <= files
    assert os.access(question / "question" / "tests" / "run.sh", os.X_OK)
    readme = (question / "image" / "README.txt").read_text()
    assert "docker build --platform linux/amd64 -t course/attncli-grader:1 image && docker push " \
           "course/attncli-grader:1" in readme


def test_server_generate_picks_a_problem_and_shows_it(question):
    server = question / "question" / "server.py"
    seen = {}
    for seed in range(40):
        params = generate(server, seed)["params"]
        seen[params["problem"]] = params
    assert set(seen) == {f"{s}.toml" for s in CLASS}  # every problem is some variant's
    html = (question / "question" / "question.html").read_text()
    for name in re.findall(r"\{\{[#/]?params\.(\w+)", html):
        assert all(name in p for p in seen.values()), name
    ada = seen["ada@uni.edu.toml"]
    x = CLASS["ada@uni.edu"]
    expected_x = "X = \\begin{bmatrix} " + r" \\ ".join(" & ".join(f"{v:g}" for v in row) for row in x) + \
        " \\end{bmatrix}"
    assert ada["matrices"][0]["latex"] == expected_x and len(ada["matrices"]) == 4
    assert ada["task"] == "Compute the attention weights A, rounded to 3 decimals."
    assert "heads = 1" in ada["settings"] and "3 decimals" in ada["answer_format"]
    assert generate(server, 5) == generate(server, 5)  # PrairieLearn's seed decides the variant


@pytest.fixture(scope="module")
def image(question, tmp_path_factory) -> Path:
    """The grader image emulated: a fresh virtual environment, the Dockerfile's COPY done into a folder standing for
    the image's root, and its RUN line run as it is written, with the venv's pip and attncli first on PATH."""
    base = tmp_path_factory.mktemp("image")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    fs = base / "fs"
    lines = [line for line in (question / "image" / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("FROM python:3.1") and [line.split()[0] for line in lines] == ["FROM", "COPY", "RUN"]
    _, src, dest = shlex.split(lines[1])
    target = fs / dest.lstrip("/") / (Path(src).name if dest.endswith("/") else "")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(question / "image" / src, target)
    command = lines[2][len("RUN "):].replace(dest.rstrip("/"), str(fs / dest.strip("/")))
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        skip_unless_index("the Dockerfile's RUN line", proc, base)
    assert "attncli" in proc.stdout  # its `attncli --version`
    return venv


def pl_grade(question: Path, venv: Path, root: Path, seed: int, files: dict[str, str]) -> tuple[dict, str]:
    data = generate(question / "question" / "server.py", seed)
    for d in ("data", "student"):
        (root / d).mkdir(parents=True)
    (root / "tests").symlink_to(question / "question" / "tests")
    (root / "data" / "data.json").write_text(json.dumps(data))
    for name, text in files.items():
        (root / "student" / name).write_text(text)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "GRADE_ROOT": str(root)}
    proc = subprocess.run(["bash", str(root / "tests" / "run.sh")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return validate_prairielearn((root / "results" / "results.json").read_bytes()), data["params"]["problem"]


def test_prairielearn_grades_in_the_image(question, image, tmp_path):
    problem = generate(question / "question" / "server.py", 3)["params"]["problem"]
    x = CLASS[problem.removesuffix(".toml")]
    obj, graded = pl_grade(question, image, tmp_path / "right", 3, {"weights.csv": csv_text(weights(x))})
    assert graded == problem and obj["gradable"] is True and obj["score"] == 1.0
    answer = np.round(weights(x, scale=1.0), 3)
    right = np.abs(answer - weights(x)) <= TOLERANCE
    obj, _ = pl_grade(question, image, tmp_path / "wrong", 3, {"weights.csv": csv_text(answer)})
    assert obj["score"] == pytest.approx(right.mean(), abs=1e-4) and obj["score"] < 1  # --credit cells
    assert "1/√d_k was left out" in obj["tests"][0]["message"]
    obj, _ = pl_grade(question, image, tmp_path / "missing", 3, {"answer.csv": "1,2\n"})
    assert obj["gradable"] is False and "weights.csv" in obj["format_errors"][0]
    assert "answer.csv" in obj["format_errors"][0]


def test_docker_build(question, tmp_path):
    """The image built by Docker as README.txt says, and a grading job run in it as PrairieLearn runs one."""
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine on this machine")
    tag = f"attncli-grader-test:{uuid.uuid4().hex[:12]}"
    build = subprocess.run(["docker", "build", "--platform", "linux/amd64", "-t", tag, str(question / "image")],
                           capture_output=True, text=True, timeout=1800)
    if build.returncode != 0:
        skip_unless_index("docker build", build, tmp_path)
    try:
        root = tmp_path / "grade"
        shutil.copytree(question / "question" / "tests", root / "tests")
        data = generate(question / "question" / "server.py", 3)
        (root / "data").mkdir()
        (root / "data" / "data.json").write_text(json.dumps(data))
        (root / "student").mkdir()
        x = CLASS[data["params"]["problem"].removesuffix(".toml")]
        (root / "student" / "weights.csv").write_text(csv_text(weights(x)))
        subprocess.run(["docker", "run", "--rm", "--platform", "linux/amd64", "--network", "none", "-v",
                        f"{root}:/grade", tag, "/grade/tests/run.sh"], check=True, capture_output=True, timeout=600)
        obj = validate_prairielearn((root / "results" / "results.json").read_bytes())
        assert obj["gradable"] is True and obj["score"] == 1.0
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


# ---- what the builders refuse ---------------------------------------------------------------------------------------

def test_builders_refuse_with_one_line_and_write_nothing(course, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    zip_path, folder = tmp_path / "a.zip", tmp_path / "pl"
    cases = [
        (["gradescope", "--problems", empty, "-o", zip_path], "no .toml problem files"),
        (["gradescope", "--problems", tmp_path / "nowhere", "-o", zip_path], "not a folder"),
        (["gradescope", "--problems", course, "-o", tmp_path / "a.tar"], ".zip"),
        (["gradescope", "--problems", course, "-o", course], ".zip"),
        (["gradescope", "--problems", course, "-o", zip_path, "--points", "-1"], "--points"),
        (["gradescope", "--problems", course, "-o", zip_path, "--credit", "most"], "--credit"),
        (["gradescope", "--problems", course, "-o", zip_path, "--visibility", "now"], "--visibility"),
        (["gradescope", "--problems", course, "-o", zip_path, "--match", "name"], "--match"),
        (["gradescope", "--problems", SAMPLES / "problems", "-o", zip_path, "--match", "email"], "none of"),
        (["gradescope", "--problems", course, "-o", zip_path, "--answer-file", "a/b.csv"], "--answer-file"),
        (["prairielearn", "--problems", course, "-o", folder, "--image", "attncli-grader"], "--image"),
        (["prairielearn", "--problems", course, "-o", folder, "--image", "Me/Grader"], "--image"),
        (["prairielearn", "--problems", course, "-o", folder, "--uuid", "123"], "--uuid"),
        (["prairielearn", "--problems", course, "-o", course], "problems' folder"),
        (["prairielearn", "--problems", course, "-o", course / "pl"], "problems' folder"),
        (["prairielearn", "--problems", course, "-o", course.parent], "problems' folder"),
        (["prairielearn", "--problems", course, "-o", tmp_path / "no" / "such" / "pl"], "does not exist"),
    ]
    for args, needle in cases:
        assert needle in run_error(["grader", *args]), args
    assert not zip_path.exists() and not folder.exists() and not (course / "pl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # nothing left behind, not even a temporary file


def test_ids_of_two_kinds_are_refused_naming_the_choices(tmp_path):
    mixed = write_class(tmp_path / "mixed", {"ada@uni.edu": CLASS["ada@uni.edu"], "s002": CLASS["bob@uni.edu"]})
    msg = run_error(["grader", "gradescope", "--problems", mixed, "-o", tmp_path / "a.zip"])
    assert "--match email or --match sid" in msg
    run(["grader", "gradescope", "--problems", mixed, "-o", tmp_path / "a.zip", "--match", "sid"])


def test_existing_output_needs_force(course, tmp_path):
    zip_path = tmp_path / "a.zip"
    zip_path.write_bytes(b"old")
    assert "--force" in run_error(["grader", "gradescope", "--problems", course, "-o", zip_path])
    assert zip_path.read_bytes() == b"old"
    run(["grader", "gradescope", "--problems", course, "-o", zip_path, "--force"])
    assert zipfile.is_zipfile(zip_path)
    folder = tmp_path / "pl"
    run(["grader", "prairielearn", "--problems", course, "-o", folder])
    assert "--force" in run_error(["grader", "prairielearn", "--problems", course, "-o", folder])
    (folder / "question" / "question.html").write_text("edited")
    run(["grader", "prairielearn", "--problems", course, "-o", folder, "--force"])
    assert "pl-file-upload" in (folder / "question" / "question.html").read_text()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    assert "did not write" in run_error(["grader", "prairielearn", "--problems", course, "-o", mine, "--force"])
    assert (mine / "thesis.tex").read_text() == "keep"


def test_problem_files_travel_and_files_outside_are_refused(tmp_path):
    folder = tmp_path / "problems"
    folder.mkdir()
    np.save(folder / "x.npy", CLASS["ada@uni.edu"])
    (folder / "ada.toml").write_text(f'x = "x.npy"\nwq = {toml_matrix(WQ)}\nwk = {toml_matrix(WK)}\n'
                                     f'wv = {toml_matrix(WV)}\nwhat = "weights"\n')
    run(["grader", "gradescope", "--problems", folder, "-o", tmp_path / "a.zip", "--match", "sid"])
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert {"problems/ada.toml", "problems/x.npy"} <= set(z.namelist())
    run(["grader", "prairielearn", "--problems", folder, "-o", tmp_path / "pl"])
    params = generate(tmp_path / "pl" / "question" / "server.py", 0)["params"]
    assert params["matrices"][0]["latex"].startswith("X = \\begin{bmatrix} 1 & 0 & 1 \\\\ 0 & 2 & 0")
    np.save(tmp_path / "outside.npy", CLASS["bob@uni.edu"])
    (folder / "bob.toml").write_text('x = "../outside.npy"\nwhat = "weights"\n')
    assert "outside" in run_error(["grader", "gradescope", "--problems", folder, "-o", tmp_path / "b.zip"])


@pytest.mark.parametrize("command", ["gradescope", "prairielearn"])
def test_help_has_an_example_for_every_option(command):
    import typer

    from attncli.cli import load_commands

    cmd = typer.main.get_command(load_commands(["grader"])).commands["grader"].commands[command]
    for param in cmd.params:
        if param.param_type_name == "option" and param.name != "help":
            assert "e.g." in (param.help or ""), f"grader {command} {param.opts}: {param.help}"
    assert "Examples:" in (cmd.epilog or "")


def test_question_uuid_is_the_same_for_the_same_problems(question, course, tmp_path):
    def uuid_of(folder: Path) -> str:
        return json.loads((folder / "question" / "info.json").read_text())["uuid"]

    run(["grader", "prairielearn", "--problems", course, "-o", tmp_path / "again"])
    assert uuid_of(tmp_path / "again") == uuid_of(question)
    other = write_class(tmp_path / "other", {"dan@uni.edu": CLASS["ada@uni.edu"] + 1})
    run(["grader", "prairielearn", "--problems", other, "-o", tmp_path / "other_pl"])
    assert uuid_of(tmp_path / "other_pl") != uuid_of(question)
    kept = "4b0d5c3e-8a4f-5d7e-9a61-2f3c1e0b7d12"
    run(["grader", "prairielearn", "--problems", other, "-o", tmp_path / "kept", "--uuid", kept])
    assert uuid_of(tmp_path / "kept") == kept


def test_problems_asking_different_arrays_need_an_answer_file(tmp_path):
    folder = write_class(tmp_path / "problems", {s: CLASS[s] for s in ("ada@uni.edu", "bob@uni.edu")})
    (folder / "bob@uni.edu.toml").write_text((folder / "bob@uni.edu.toml").read_text().replace('"weights"', '"output"'))
    msg = run_error(["grader", "gradescope", "--problems", folder, "-o", tmp_path / "a.zip"])
    assert "--answer-file" in msg and "weights" in msg and "output" in msg
    run(["grader", "gradescope", "--problems", folder, "-o", tmp_path / "a.zip", "--answer-file", "answer.csv"])
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert "ANSWER = 'answer.csv'" in z.read("run_autograder").decode()
