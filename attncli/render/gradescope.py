"""The two scripts of a Gradescope autograder (`attncli grader gradescope`): setup.sh and run_autograder.

Gradescope's "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/): the zip's root
holds `setup.sh`, run once as root when Gradescope builds the autograder's image (Ubuntu), and `run_autograder`,
run once per submission with the zip's files in /autograder/source, the upload in /autograder/submission and
/autograder/submission_metadata.json (`users`: each with `email`, `name`, `sid`, ...; several for a group); it must
write /autograder/results/results.json. Both scripts take AUTOGRADER_ROOT (default /autograder), so a test can lay
Gradescope's folders out anywhere.
"""

from __future__ import annotations

from attncli.render.scripts import results_helpers

FIELDS = {"email": "email address", "sid": "Student ID (SID)"}  # users[] fields that can name a student
FAILED = "The autograder could not grade this submission; ask your TA."


def setup_sh(wheel: str, version: str) -> str:
    """setup.sh: a virtual environment at $AUTOGRADER_ROOT/attncli-venv with attncli installed from `wheel`."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (written by `attncli grader
# gradescope`, attncli {version}). It installs attncli from the wheel beside it into a virtual environment,
# attncli-venv/, which run_autograder uses; attncli's dependencies (numpy, typer, rich, safetensors) come from
# the package index. attncli needs Python 3.11 or later: a python3 that is (Ubuntu 24.04's 3.12) is used; else
# (22.04's 3.10) python3.11 is installed from Ubuntu's packages. Any failure stops the build: a broken image is
# never built silently.
set -euo pipefail
root=${{AUTOGRADER_ROOT:-/autograder}}
wheel="$root/source/{wheel}"
venv="$root/attncli-venv"
export DEBIAN_FRONTEND=noninteractive
apt_install() {{ apt-get update && apt-get install -y --no-install-recommends "$@"; }}
command -v python3 >/dev/null || apt_install python3 python3-venv
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python=python3
    packages="python3-venv"
else
    python=python3.11
    packages="python3.11 python3.11-venv"
fi
# Ubuntu's pythons make virtual environments only with their -venv package
"$python" -c 'import ensurepip, venv' 2>/dev/null || apt_install $packages
rm -rf "$venv"
"$python" -m venv "$venv"  # PEP 668: Ubuntu 24.04 refuses pip outside a virtual environment
"$venv/bin/python" -m pip install "$wheel"
"$venv/bin/attncli" --version
"""


def run_autograder(answer: str, field: str, why: str, check_options: list[str], version: str) -> str:
    """run_autograder: grade $root/submission/<answer> against the problem of the student `field` names."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once per submission (written by `attncli grader gradescope`, attncli {version}). It grades
# the upload {answer} with `attncli check` (installed by setup.sh in attncli-venv/) against the student's own
# problem in source/problems/, found by the {FIELDS[field]} in submission_metadata.json, and always writes
# results/results.json: a missing upload, a student without a problem, or a grader that cannot run scores 0
# with a message that names no one else.
set -uo pipefail
root=${{AUTOGRADER_ROOT:-/autograder}}
mkdir -p "$root/results"
rm -f "$root/results/results.json"
"$root/attncli-venv/bin/python" - "$root" <<'PYTHON'
import json
import os
import subprocess
import sys

ANSWER = {answer!r}  # the file name students upload
FIELD = {field!r}  # the field of submission_metadata.json's users[] that names the student ({why})
CHECK = {check_options!r}  # passed to attncli check as `attncli grader gradescope` was told
FAILED = {FAILED!r}
LABEL = {FIELDS[field]!r}

root = sys.argv[1]
results = os.path.join(root, "results", "results.json")
problems = os.path.join(root, "source", "problems")
{results_helpers()}

def problem_ids(folder):
    \"\"\"The students' ids: roster.csv's id column, or else the problem files' names.\"\"\"
    import csv

    try:
        with open(os.path.join(folder, "roster.csv"), encoding="utf-8", newline="") as f:
            return [row["id"] for row in csv.DictReader(f) if row.get("id")]
    except (OSError, KeyError, csv.Error):
        return [name[:-5] for name in os.listdir(folder) if name.endswith(".toml")]


def finish(obj):
    obj.setdefault("stdout_visibility", "hidden")  # attncli's messages are for the instructor
    write(results, obj)


def zero(message):
    finish({{"score": 0, "output": message}})


def known(who):
    \"\"\"Whether a problem exists for `who`, by the roster's ids (or the file names), emails in any case.\"\"\"
    same = (lambda a, b: a.strip().casefold() == b.strip().casefold()) if FIELD == "email" else (
        lambda a, b: a.strip() == b.strip())
    return any(same(who, sid) for sid in problem_ids(problems))


try:
    with open(os.path.join(root, "submission_metadata.json"), encoding="utf-8") as f:
        users = json.load(f)["users"]
    first = users[0]
except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
    print(f"submission_metadata.json: no users[0] ({{type(err).__name__}}: {{err}})")
    zero(FAILED)
who = first.get(FIELD)
who = "" if who is None else str(who)
if not who.strip():
    zero(f"Gradescope gave the autograder no {{LABEL}} for you, and this assignment's problems are found by it; "
         "ask your TA.")
answer = os.path.join(root, "submission", ANSWER)
if not os.path.isfile(answer):
    zero(f"No file named {{ANSWER}} was found in your submission (you uploaded: "
         f"{{uploaded(os.path.join(root, 'submission'))}}). Upload your answer as {{ANSWER}} (the name must match) "
         "and submit again.")
command = [os.path.join(os.path.dirname(sys.executable), "attncli"), "check", answer, "--problems", problems,
           "--student", who, *CHECK, "--report", results, "--report-format", "gradescope"]
code = run(command)
if code > 1:  # attncli could not grade (exit 2: a problem or option it refused; more: it could not run)
    if not known(who):
        zero(f"This autograder holds no problem for your {{LABEL}} ({{who}}); ask your TA.")
    zero(FAILED)
obj = read(results)
if obj is None:
    zero(FAILED)
if len(users) > 1:
    name = first.get("name") or who
    obj["output"] = (f"Group submission of {{len(users)}} students: graded against the problem of {{name}}, the "
                     f"group's first member. {{obj.get('output', '')}}").strip()
finish(obj)
PYTHON
[ -s "$root/results/results.json" ] || echo '{{"score": 0, "output": "{FAILED}"}}' \\
    > "$root/results/results.json"
exit 0
"""
