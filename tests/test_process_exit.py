"""The console script ends its process itself (attncli.cli.end_process) instead of letting Python tear down every
module: the exit status, the output, the atexit callbacks and the threads must come out as Python's own exit
gives them. `main(argv)` called as a function never ends the process."""

from __future__ import annotations

import os
import subprocess
import sys

X = "1 0 1 0; 0 2 0 2; 1 1 1 1; 0 1 0 1"

# the console script's main(), with an atexit callback and a thread of the caller's that outlive the command
SCRIPT = """
import atexit, sys, threading, time
atexit.register(lambda: print("atexit ran", file=sys.stderr))
def late():
    time.sleep(0.2)
    print("thread done", file=sys.stderr)
threading.Thread(target=late).start()
sys.argv = ["attncli", *sys.argv[1:]]
from attncli.cli import main
main()
"""


def run(*args: str, code: str = SCRIPT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered, as usual in a pipe
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


def test_success_exits_0_with_all_output_threads_joined_and_atexit_run():
    proc = run("compute", "--x", X, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("{") and proc.stdout.endswith("}\n")  # the whole document, flushed
    assert proc.stderr.splitlines() == ["thread done", "atexit ran"]  # Python's order: threads, then atexit


def test_a_large_table_on_stdout_is_complete():
    proc = run("compute", "--x", "; ".join(" ".join(str((i * j) % 7) for j in range(8)) for i in range(300)),
               "--format", "csv", "--show", "output")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 300


def test_errors_keep_their_exit_status():
    assert run("compute", "--x", "1 0; 0").returncode == 2  # a user mistake
    assert run("compute", "--no-such-option").returncode == 2  # a usage mistake
    assert run("--version").returncode == 0
    assert run().returncode == 0  # bare `attncli` prints the help


def test_a_string_exit_code_is_left_to_python():
    code = ("import sys\nimport attncli.cli as cli\n"
            "def bye(args):\n    sys.exit('bye from a test')\n"
            "cli.run = bye\nsys.argv = ['attncli']\ncli.main()\n")
    proc = run(code=code)
    assert proc.returncode == 1 and "bye from a test" in proc.stderr


def test_what_was_written_to_the_original_stdout_is_flushed():
    code = ("import sys\nprint('before the CLI took over stdout', file=sys.__stdout__)\n"
            "sys.argv = ['attncli', 'compute', '--x', '1 0; 0 1', '--format', 'csv']\n"
            "from attncli.cli import main\nmain()\n")
    proc = run(code=code)
    assert proc.returncode == 0 and "before the CLI took over stdout" in proc.stdout


def test_main_with_argv_returns_to_its_caller():
    code = ("from attncli.cli import main\n"
            "main(['compute', '--x', '1 0; 0 1', '--format', 'json'])\n"
            "print('still here')\n")
    proc = run(code=code)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("still here")


def test_main_run_by_a_thread_leaves_the_process_to_its_owner():
    code = ("import sys, threading\nsys.argv = ['attncli', 'compute', '--x', '1 0; 0 1', '--format', 'csv']\n"
            "from attncli.cli import main\n"
            "def go():\n    main()\n    print('main returned')\n"
            "t = threading.Thread(target=go)\nt.start()\nt.join()\nprint('still here')\n")
    proc = run(code=code)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-2:] == ["main returned", "still here"]
