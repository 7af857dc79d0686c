"""`attncli grader`: build what a course's autograder runs, from a folder of problems and attncli itself.

    attncli grader gradescope   --problems DIR -o autograder.zip   (setup.sh, run_autograder, problems/, the wheel)
    attncli grader prairielearn --problems DIR -o OUTDIR           (question/ and image/ with the wheel)

attncli is not on the package index: each bundle carries attncli's own wheel, built from the running install
(attncli.io.wheel). The scripts are attncli.render.gradescope's and attncli.render.prairielearn's; the folder of
problems is read by attncli.cli.problemset. Nothing is written unless everything could be made.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from attncli.cli.group import app
from attncli.errors import AttnError

BUILD = "Bundle"
GRADING = "Grading"
GROUP_EPILOG = (
    "Examples:\n\n"
    "  attncli grader gradescope --problems samples/homework/problems -o autograder.zip\n\n"
    "  attncli grader prairielearn --problems samples/homework/problems -o prairielearn "
    "--image yourname/attncli-grader:1"
)
GRADESCOPE_EPILOG = (
    "Examples:\n\n"
    "  attncli grader gradescope --problems samples/homework/problems -o autograder.zip\n\n"
    "  attncli grader gradescope --problems samples/homework/problems -o autograder.zip --points 10 --credit cells "
    "--visibility after_due_date\n\n"
    "  attncli grader gradescope --problems samples/homework/problems -o autograder.zip --match sid "
    "--answer-file attention.csv"
)
PRAIRIELEARN_EPILOG = (
    "Examples:\n\n"
    "  attncli grader prairielearn --problems samples/homework/problems -o prairielearn "
    "--image yourname/attncli-grader:1\n\n"
    "  attncli grader prairielearn --problems samples/homework/problems -o prairielearn --credit cells"
)

grader = typer.Typer(
    name="grader", epilog=GROUP_EPILOG, no_args_is_help=True, rich_markup_mode="rich",
    help="Build a course's autograder from a folder of problems (attncli init --roster writes one): a Gradescope "
         "autograder zip, or a PrairieLearn question with its grader image. Each carries attncli's own wheel, so "
         "nothing needs attncli on the package index.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
app.add_typer(grader, name="grader")


def _opt(help: str, panel: str, *names: str, **kw):
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=False, **kw)


PROBLEMS = Annotated[str, _opt(
    "The folder of problems (attncli init --roster writes it: DIR/<id>.toml and roster.csv); the files they read "
    "go too when they are inside it. e.g. --problems samples/homework/problems", BUILD, "--problems",
    metavar="DIR")]
ANSWER_FILE = Annotated[str | None, _opt(
    "The file name students upload (default: the array the problems ask for, their \\[check] what, as CSV: "
    "weights.csv). e.g. --answer-file attention.csv", GRADING, "--answer-file", metavar="NAME")]
CREDIT = Annotated[str | None, _opt(
    "Passed to attncli check: all (full points only when every cell is right) or cells (the share of cells "
    "right); default the problem's credit, else all. e.g. --credit cells", GRADING, "--credit",
    metavar="all|cells")]
FORCE = Annotated[bool, _opt("Replace -o if it exists (a folder only if this command wrote it). e.g. --force",
                             BUILD, "--force")]


@grader.command("gradescope", epilog=GRADESCOPE_EPILOG)
def gradescope(
    problems: PROBLEMS,
    out: Annotated[str, _opt("The autograder zip to write. e.g. -o autograder.zip", BUILD, "-o", "--output",
                             metavar="ZIP")],
    answer_file: ANSWER_FILE = None,
    points: Annotated[float | None, _opt("Passed to attncli check: the points of the answer (default the problem's "
                                         "points, else 1). e.g. --points 10", GRADING, "--points", metavar="P")]
    = None,
    credit: CREDIT = None,
    visibility: Annotated[str | None, _opt(
        "Passed to attncli check: when students see the result: visible (default), hidden, after_due_date or "
        "after_published. e.g. --visibility after_due_date", GRADING, "--visibility", metavar="WHEN")] = None,
    match: Annotated[str | None, _opt(
        "Which field of Gradescope's submission_metadata.json names the student: email, or sid (the Student ID of "
        "Gradescope's roster). Default: decided from the problems' ids (roster.csv's, else the file names): email "
        "when they hold @, else sid; ids of both kinds are refused. e.g. --match sid", GRADING, "--match",
        metavar="sid|email")] = None,
    force: FORCE = False,
) -> None:
    """Write a Gradescope autograder zip: setup.sh (installs attncli's wheel in a virtual environment when
    Gradescope builds the image), run_autograder (grades each submission against the student's own problem with
    attncli check, found by the email or SID in submission_metadata.json), the problems and the wheel."""
    from attncli.cli.problemset import read_problem_set, student_field
    from attncli.io.bundle import FILE, SCRIPT, write_zip
    from attncli.io.wheel import build_wheel
    from attncli.render import gradescope as gs

    if not out.lower().endswith(".zip") or out in ("", "-"):
        raise AttnError(f"-o: Gradescope takes the autograder as a .zip; give a name such as -o autograder.zip "
                        f"(got {out!r})")
    pset = read_problem_set(problems)
    answer = _answer_file(answer_file, pset)
    field, why = student_field(pset.ids, match)
    options = _check_options(points=points, credit=credit, visibility=visibility)
    wheel = build_wheel()
    entries = [("setup.sh", gs.setup_sh(wheel.name, wheel.version).encode(), SCRIPT),
               ("run_autograder", gs.run_autograder(answer, field, why, options, wheel.version).encode(), SCRIPT),
               (wheel.name, wheel.data, FILE),
               *_problem_entries(pset, "problems")]
    write_zip(out, entries, force=force, protect=[Path(p) for p in pset.files.values()])
    _say(f"wrote {out}: setup.sh, run_autograder, {wheel.name} and {len(pset.problems)} problem"
         f"{'s' if len(pset.problems) != 1 else ''}; students upload {answer} and are found by the {field} of "
         f"Gradescope's submission metadata ({why}{'' if match else '; --match changes it'}); upload {out} on "
         "Gradescope as the assignment's autograder (Configure Autograder, zip file upload)")


@grader.command("prairielearn", epilog=PRAIRIELEARN_EPILOG)
def prairielearn(
    problems: PROBLEMS,
    out: Annotated[str, _opt("The folder to write: question/ (the PrairieLearn question) and image/ (its grader "
                             "image's Dockerfile and the wheel). e.g. -o prairielearn", BUILD, "-o", "--output",
                             metavar="OUTDIR")],
    image: Annotated[str | None, _opt(
        "The grader image's name on a public registry PrairieLearn pulls from, with your account (default "
        "yourdockerhubaccount/attncli-grader:VERSION, a placeholder to replace). e.g. --image "
        "yourname/attncli-grader:1", BUILD, "--image", metavar="NAME")] = None,
    answer_file: ANSWER_FILE = None,
    credit: CREDIT = None,
    uuid: Annotated[str | None, _opt(
        "The question's uuid in info.json (default: derived from the problems, the same for the same problems); "
        "give the one a question already has to rebuild it in place. e.g. --uuid "
        "4b0d5c3e-8a4f-5d7e-9a61-2f3c1e0b7d12", BUILD, "--uuid", metavar="UUID")] = None,
    force: FORCE = False,
) -> None:
    """Write a PrairieLearn question that grades uploads externally, and its grader image: question/ (info.json,
    question.html, server.py, which gives each variant one of the problems, and tests/ with run.sh and the
    problems) and image/ (a Dockerfile installing attncli's wheel, and how to build and push it)."""
    from attncli.cli.problemset import answer_format, read_problem_set, settings, shown_inputs, task_text
    from attncli.io.bundle import FILE, SCRIPT, write_folder
    from attncli.io.wheel import build_wheel
    from attncli.render import prairielearn as pl
    from attncli.version import __version__

    placeholder = image is None
    image = _image(f"yourdockerhubaccount/attncli-grader:{__version__}" if image is None else image)
    _refuse_overlap(out, problems)
    pset = read_problem_set(problems)
    answer = _answer_file(answer_file, pset)
    options = _check_options(credit=credit)
    qid = _uuid(uuid, pset)
    variants = [pl.variant(p.name, task_text(p), shown_inputs(p), settings(p), answer_format(p))
                for p in pset.problems]
    wheel = build_wheel()
    image_dir = os.path.join(out, "image")
    asked = {p.what for p in pset.problems}
    title = f"Attention by hand: the {asked.pop()}" if len(asked) == 1 else "Attention by hand"
    entries = [("image/Dockerfile", pl.dockerfile(wheel.name, wheel.version).encode(), FILE),
               (f"image/{wheel.name}", wheel.data, FILE),
               ("image/README.txt", pl.readme(image, wheel.version, placeholder).encode(), FILE),
               ("question/info.json", pl.info_json(qid, title, image, len(variants) == 1).encode(), FILE),
               ("question/question.html", pl.question_html(answer).encode(), FILE),
               ("question/server.py", pl.server_py(variants, wheel.version).encode(), FILE),
               ("question/tests/run.sh", pl.run_sh(answer, options, wheel.version).encode(), SCRIPT),
               *_problem_entries(pset, "question/tests/problems")]
    write_folder(out, entries, force=force, built_by=["image/Dockerfile", "question/info.json"])
    note = (f"; {image} is a placeholder: build again with --image YOURACCOUNT/attncli-grader:{wheel.version}"
            if placeholder else "")
    _say(f"wrote {out}: question/ ({len(pset.problems)} problem{'s' if len(pset.problems) != 1 else ''}, students "
         f"upload {answer}) and image/ ({wheel.name}); build and push the grader image: "
         f"{pl.build_commands(image, image_dir)}; then copy {os.path.join(out, 'question')} into the course's "
         f"questions/{note}")


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _problem_entries(pset, folder: str):
    from attncli.io.bundle import FILE

    entries = []
    for rel, path in sorted(pset.files.items()):
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise AttnError(f"--problems: cannot read {path}: {err.strerror or err}") from None
        entries.append((f"{folder}/{rel}", data, FILE))
    return entries


_UNSAFE_NAME = re.compile(r"[/\\,\"'\x00-\x1f\x7f]")


def _answer_file(name: str | None, pset) -> str:
    """The upload's file name: given (a plain name PrairieLearn's file-names list can hold), or <what>.csv."""
    if name is None:
        return f"{pset.what()}.csv"
    if not name.strip() or name != name.strip() or name in (".", "..") or _UNSAFE_NAME.search(name):
        raise AttnError(f"--answer-file: give a plain file name (no folder, quote, comma or blank at either end), "
                        f"e.g. --answer-file weights.csv; got {name!r}")
    return name


def _check_options(*, points: float | None = None, credit: str | None = None, visibility: str | None = None
                   ) -> list[str]:
    """The options passed to attncli check, checked now rather than when a student submits."""
    import math

    from attncli.render.grades import VISIBILITY

    options: list[str] = []
    if points is not None:
        if not (math.isfinite(points) and points >= 0):
            raise AttnError(f"--points must be a number ≥ 0; got {points}")
        options += ["--points", repr(float(points))]
    if credit is not None:
        if credit not in ("all", "cells"):
            raise AttnError(f"--credit must be all or cells; got {credit!r}")
        options += ["--credit", credit]
    if visibility is not None:
        if visibility not in VISIBILITY:
            raise AttnError(f"--visibility must be one of {', '.join(VISIBILITY)}; got {visibility!r}")
        options += ["--visibility", visibility]
    return options


# a Docker image reference with an account (or registry) and a repository, lowercase, and an optional tag
_IMAGE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
                    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")


def _image(name: str) -> str:
    if not _IMAGE.fullmatch(name):
        raise AttnError(f"--image: {name!r} is not an image PrairieLearn can pull: give ACCOUNT/NAME[:TAG] in lower "
                        "case, on Docker Hub or with a registry (ghcr.io/ACCOUNT/NAME), e.g. --image "
                        "yourname/attncli-grader:1")
    return name


def _uuid(given: str | None, pset) -> str:
    import hashlib
    import uuid

    if given is not None:
        try:
            return str(uuid.UUID(given))
        except ValueError:
            raise AttnError(f"--uuid: {given!r} is not a UUID (e.g. 4b0d5c3e-8a4f-5d7e-9a61-2f3c1e0b7d12)") from None
    h = hashlib.sha256()
    for rel, path in sorted(pset.files.items()):
        h.update(rel.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"attncli-grader-prairielearn:{h.hexdigest()}"))


def _refuse_overlap(out: str, problems: str) -> None:
    """-o may not be the problems' folder, hold it (--force would replace it), or lie inside it."""
    o, p = os.path.realpath(out), os.path.realpath(problems)
    if o == p or p.startswith(o + os.sep) or o.startswith(p + os.sep):
        raise AttnError(f"-o: '{out}' {'is' if o == p else 'overlaps'} the problems' folder '{problems}'; write the "
                        "question elsewhere, e.g. -o prairielearn")
