"""Regenerate the pictures the README shows, with the exact commands the README prints.

Run from anywhere: python samples/pictures/make.py (needs attncli[plot]; the HTML and terminal
screenshots also need Debian's chromium package). Like tests/test_readme.py, each command runs in a
temporary directory with samples/ linked in, and what it writes is copied here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
COMMANDS = [  # as in the README's "Seeing attention" section
    'attncli compute --text "the cat sat on the mat" --embeddings samples/text/embeddings.txt --causal '
    '--show scores,weights --dpi 80 -o sentence.png',
    "attncli show samples/attention_maps/maps.npy --labels samples/attention_maps/tokens.txt --dpi 50 -o layers.png",
    "attncli show samples/attention_maps/maps.npy --labels samples/attention_maps/tokens.txt -o maps.html",
]
TERMINAL = ("attncli show samples/attention_maps/maps.npy --labels samples/attention_maps/tokens.txt "
            "--layer 1 --head 1 --precision 2")
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def terminal_svg(cwd: Path) -> Path:
    """TERMINAL's real colour output (run on a pseudo-terminal, 100 columns), drawn by rich as SVG."""
    import pty

    from rich.console import Console
    from rich.terminal_theme import MONOKAI
    from rich.text import Text

    env = dict(os.environ, COLUMNS="100", COLORTERM="truecolor", TERM="xterm-256color")
    master, slave = pty.openpty()
    proc = subprocess.Popen(["bash", "-c", TERMINAL], cwd=cwd, env=env, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait() == 0, proc.stderr.read()
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor", file=open(os.devnull, "w"))
    console.print(Text.from_ansi(out.decode().replace("\r\n", "\n")))
    path = cwd / "terminal.svg"
    console.save_svg(str(path), theme=MONOKAI, title=TERMINAL.split(" --labels")[0] + " ...")
    return path


def screenshot(page: Path, target: Path, size: str, cwd: Path, anchor: str = "") -> None:
    """A Chromium screenshot of `page`, cropped to what is not background."""
    from PIL import Image, ImageChops

    shot = cwd / "shot.png"
    subprocess.run([*CHROMIUM, f"--user-data-dir={cwd / 'profile'}", f"--window-size={size}",
                    "--virtual-time-budget=3000", f"--screenshot={shot}", page.as_uri() + anchor],
                   check=True, capture_output=True, timeout=120)
    im = Image.open(shot).convert("RGB")
    bg = Image.new("RGB", im.size, im.getpixel((im.width - 1, im.height - 1)))
    box = ImageChops.difference(im, bg).getbbox()
    im.crop((max(0, box[0] - 24), max(0, box[1] - 24), min(im.width, box[2] + 24), min(im.height, box[3] + 24))
            ).save(target, optimize=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "samples").symlink_to(ROOT / "samples")
        for cmd in COMMANDS:
            subprocess.run(["bash", "-c", cmd + " > /dev/null"], cwd=cwd, check=True)
            name = cmd.rsplit("-o ", 1)[1]
            shutil.copy(cwd / name, HERE / name)
            print("wrote", HERE / name)
        if shutil.which("chromium") is None:
            sys.exit("chromium is not installed: the HTML and terminal screenshots were not made")
        screenshot(cwd / "maps.html", HERE / "html.png", "1000,640", cwd, "#selftest")
        screenshot(terminal_svg(cwd), HERE / "terminal.png", "900,1300", cwd)
        print("wrote", HERE / "html.png", HERE / "terminal.png")


if __name__ == "__main__":
    main()
