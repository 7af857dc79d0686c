"""Python shared by the grader scripts attncli writes (Gradescope's run_autograder, PrairieLearn's run.sh).

The scripts run where a course's autograder runs, beside attncli rather than inside it: with the standard library
only, so that when attncli cannot run they can still write a results file saying so. `helpers` is their source.
"""

from __future__ import annotations

HELPERS = '''
def write(path, obj):
    """Write the results file and end the script."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\\n")
    sys.exit(0)


def read(path):
    """The JSON object attncli check wrote, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def run(command):
    """Run attncli; what it prints goes to this script's output (the course staff's log). Its exit status."""
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        print(f"attncli could not run: {err}")
        return 127
    print(proc.stdout, end="")
    print(proc.stderr, end="")
    return proc.returncode


def uploaded(folder):
    """The names of the files the student uploaded (their own), for a message."""
    names = []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        names += sorted(os.path.relpath(os.path.join(parent, f), folder) for f in files)
    if not names:
        return "no files"
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")

'''


def results_helpers() -> str:
    """The helper functions' source (they use json, os, subprocess and sys, which the script imports)."""
    return HELPERS
