"""The files of a PrairieLearn externally graded question (`attncli grader prairielearn`), and of its grader image.

PrairieLearn's documentation (github.com/PrairieLearn/PrairieLearn, docs/): a question is a folder with
`info.json` (uuid, title, topic, type "v3", gradingMethod "External", externalGradingOptions: enabled, image,
entrypoint, timeout ≤ 600 s; docs/question/overview.md, docs/externalGrading.md), `question.html` (mustache over
`params`; docs/question/template.md) and `server.py`, whose generate(data) sets data["params"] for a variant
(PrairieLearn seeds Python's `random` per variant; docs/question/server.md). The grader runs `entrypoint` in the
image with the question's tests/ at /grade/tests, the upload at /grade/student, the variant's data at
/grade/data/data.json, and reads /grade/results/results.json (`score` in [0, 1], or `gradable: false` with
`format_errors`: no attempt lost). Images are linux/amd64, pulled from a public registry (docs/dockerImages.md).
"""

from __future__ import annotations

import json
import pprint
from typing import Any

from attncli.render.scripts import results_helpers

ENTRYPOINT = "/grade/tests/run.sh"
TIMEOUT = 30  # seconds: PrairieLearn's default; attncli check takes about one
BASE_IMAGE = "python:3.12-slim"
WHEEL_DIR = "/opt/attncli"
FAILED = "The grader could not run; ask your TA."


def dockerfile(wheel: str, version: str) -> str:
    return f"""# The external grader image of the PrairieLearn question in ../question (written by `attncli grader
# prairielearn`, attncli {version}): Python with attncli installed from its wheel; its dependencies come from the
# package index while the image is built. README.txt says how to build and push it.
FROM {BASE_IMAGE}
COPY {wheel} {WHEEL_DIR}/
RUN pip install --no-cache-dir {WHEEL_DIR}/{wheel} && attncli --version
"""


def build_commands(image: str, folder: str) -> str:
    """The two commands that build the image for PrairieLearn's servers (linux/amd64) and push it."""
    return f"docker build --platform linux/amd64 -t {image} {folder} && docker push {image}"


def readme(image: str, version: str, placeholder: bool) -> str:
    """README.txt: how to build and push the image, and where the question goes."""
    name = ("\nThe image name is a placeholder: build the folder again with --image YOURACCOUNT/attncli-grader:"
            f"{version}\n(an account you can push to: on Docker Hub, or ghcr.io/YOURACCOUNT/...).\n"
            if placeholder else "")
    return f"""The grader image of the PrairieLearn question in ../question (attncli {version}).

Build it for PrairieLearn's servers (linux/amd64, also on an Apple Silicon Mac) and push it to the public
registry PrairieLearn pulls from; in the folder that holds image/ and question/:

    {build_commands(image, "image")}

Then copy question/ into the course's questions/ folder (under any name), sync the course, and sync the
image on the course's "Sync" page (Docker images). The question's info.json names the image
{image}; its tests/ folder holds the problems and run.sh, which grades each upload with attncli check.
{name}"""


def info_json(uuid: str, title: str, image: str, single_variant: bool) -> str:
    info = {"uuid": uuid, "title": title, "topic": "Attention", "tags": ["attncli"], "type": "v3",
            "gradingMethod": "External", "singleVariant": single_variant,
            "externalGradingOptions": {"enabled": True, "image": image, "entrypoint": ENTRYPOINT,
                                       "timeout": TIMEOUT}}
    return json.dumps(info, indent=2, ensure_ascii=False) + "\n"


def question_html(answer: str) -> str:
    return f"""<pl-question-panel>
  <p style="white-space: pre-wrap">{{{{params.task}}}}</p>
  {{{{#params.matrices}}}}
  <p>$${{{{latex}}}}$$</p>
  {{{{/params.matrices}}}}
  {{{{#params.settings}}}}
  <p>Settings: <code>{{{{params.settings}}}}</code></p>
  {{{{/params.settings}}}}
  <p>Upload your answer as <code>{answer}</code>: {{{{params.answer_format}}}}</p>
  <pl-file-upload file-names="{answer}"></pl-file-upload>
</pl-question-panel>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def latex_matrix(label: str, rows: list[list[float]]) -> str:
    """`label = \\begin{bmatrix} ... \\end{bmatrix}` (MathJax) with each number written as briefly as it is."""
    body = r" \\ ".join(" & ".join(_number(v) for v in row) for row in rows)
    return f"{label} = \\begin{{bmatrix}} {body} \\end{{bmatrix}}"


def _number(v: float) -> str:
    if v != v:
        return r"\text{NaN}"
    if v in (float("inf"), float("-inf")):
        return r"\infty" if v > 0 else r"-\infty"
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.10g}"


def variant(file: str, task: str, matrices: list[tuple[str, Any]], settings: list[str], answer_format: str
            ) -> dict[str, Any]:
    """One problem as server.py's generate() hands it to question.html (params)."""
    return {"problem": file, "task": task,
            "matrices": [{"latex": latex_matrix(label, rows)} for label, rows in matrices],
            "settings": ", ".join(settings), "answer_format": answer_format}


def server_py(variants: list[dict[str, Any]], version: str) -> str:
    """server.py: generate() picks one of `variants` with PrairieLearn's seeded `random`. Standard library only."""
    return f'''"""PrairieLearn question server (written by `attncli grader prairielearn`, attncli {version}).

Each variant is one of the problems below, chosen with Python's `random`, which PrairieLearn seeds per variant.
data["params"]["problem"] names its file in tests/problems/; the external grader (tests/run.sh) reads it from
/grade/data/data.json and grades the upload against that problem with attncli check. The rest of params is what
question.html shows: the task, the matrices (MathJax) and the settings. Standard library only.
"""

import random

PROBLEMS = {pprint.pformat(variants, width=116, sort_dicts=False)}


def generate(data):
    data["params"].update(random.choice(PROBLEMS))
'''


def run_sh(answer: str, check_options: list[str], version: str) -> str:
    """tests/run.sh: grade /grade/student/<answer> against the variant's problem; always write results.json."""
    return f"""#!/usr/bin/env bash
# PrairieLearn's external grader runs this (written by `attncli grader prairielearn`, attncli {version}). It grades
# the upload {answer} with `attncli check` against the variant's problem (params.problem in data/data.json, a file
# in tests/problems/) and always writes results/results.json: a missing upload, or a grader that cannot run, is
# "not gradable" with a message, and the student loses no attempt.
set -uo pipefail
root=${{GRADE_ROOT:-/grade}}
mkdir -p "$root/results"
rm -f "$root/results/results.json"
python3 - "$root" <<'PYTHON'
import json
import os
import shutil
import subprocess
import sys

ANSWER = {answer!r}  # the file name students upload
CHECK = {check_options!r}  # passed to attncli check as `attncli grader prairielearn` was told
FAILED = {FAILED!r}

root = sys.argv[1]
results = os.path.join(root, "results", "results.json")
{results_helpers()}

def not_gradable(message):
    write(results, {{"gradable": False, "format_errors": [message], "message": message}})


try:
    with open(os.path.join(root, "data", "data.json"), encoding="utf-8") as f:
        problem = json.load(f)["params"]["problem"]
except (OSError, ValueError, KeyError, TypeError) as err:
    print(f"data/data.json: no params.problem ({{type(err).__name__}}: {{err}})")
    not_gradable(FAILED)
path = os.path.join(root, "tests", "problems", str(problem))
if not isinstance(problem, str) or os.path.basename(problem) != problem or not os.path.isfile(path):
    print(f"params.problem {{problem!r}} is not a file of tests/problems/")
    not_gradable(FAILED)
answer = os.path.join(root, "student", ANSWER)
if not os.path.isfile(answer):
    not_gradable(f"No file named {{ANSWER}} was uploaded (you uploaded: {{uploaded(os.path.join(root, 'student'))}}). "
                 f"Upload your answer as {{ANSWER}}.")
attncli = shutil.which("attncli") or "attncli"
code = run([attncli, "check", answer, path, *CHECK, "--report", results, "--report-format", "prairielearn"])
if code > 1 or read(results) is None:  # attncli could not grade (exit 2: it refused; more: it could not run)
    not_gradable(FAILED)
PYTHON
[ -s "$root/results/results.json" ] || echo '{{"gradable": false, "format_errors": ["{FAILED}"]}}' \\
    > "$root/results/results.json"
exit 0
"""
