"""What the tests of real models share: the golden checkpoints (tests/golden/models, made by transformers) and a
copy of one with config.json changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "models"


def golden_copy(tmp_path: Path, case: str, changes: dict) -> Path:
    """The golden folder `case` copied under tmp_path with config.json's top-level keys changed (None: removed)."""
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    cfg = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder
