"""The results files autograders read, as their documentation defines them, and validators the tests share.

- Gradescope, "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/): top-level
  `score` (overrides the tests' total), `output`, `visibility`, `stdout_visibility`, `extra_data`, `tests[]`
  with `score`, `max_score`, `status` (passed|failed), `name`, `number`, `output`, `tags`, `visibility`
  (hidden|after_due_date|after_published|visible), `extra_data`.
- PrairieLearn, "External Grading: Grading results" (docs/externalGrading.md): `score` in [0.0, 1.0] (mandatory
  when gradable), `gradable` (false: invalid input, no attempt lost, with `format_errors` a string or a list of
  strings), `message`, `output`, `images`, `tests[]` with `name`, `description`, `points`, `max_points`,
  `message`, `output`, `images`; the file is at most 1 MB.
"""

from __future__ import annotations

import json
import math

GS_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
          "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GS_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
           "visibility", "extra_data"}
GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
PL_TOP = {"gradable", "score", "message", "output", "images", "tests", "format_errors"}
PL_TEST = {"name", "description", "points", "max_points", "message", "output", "images"}
PL_LIMIT = 1_000_000  # bytes


def number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_gradescope(obj: dict) -> None:
    assert isinstance(obj, dict) and set(obj) <= GS_TOP, set(obj) - GS_TOP
    assert "score" in obj or all("score" in t for t in obj.get("tests", []))
    assert number(obj.get("score", 0))
    assert isinstance(obj.get("output", ""), str)
    for key in ("visibility", "stdout_visibility"):
        assert obj.get(key, "visible") in GS_VISIBILITY
    assert isinstance(obj.get("extra_data", {}), dict)
    for t in obj.get("tests", []):
        assert isinstance(t, dict) and set(t) <= GS_TEST, set(t) - GS_TEST
        assert number(t["score"]) and number(t.get("max_score", 0))
        assert 0 <= t["score"] <= t.get("max_score", math.inf)
        assert t.get("status", "passed") in {"passed", "failed"}
        assert isinstance(t.get("name", ""), str) and isinstance(t.get("output", ""), str)
        assert t.get("visibility", "visible") in GS_VISIBILITY
        assert isinstance(t.get("extra_data", {}), dict)


def validate_prairielearn(raw: bytes) -> dict:
    """Check a results.json's bytes; the object."""
    assert len(raw) <= PL_LIMIT
    obj = json.loads(raw)
    assert isinstance(obj, dict) and set(obj) <= PL_TOP, set(obj) - PL_TOP
    gradable = obj.get("gradable", True)
    assert isinstance(gradable, bool)
    if gradable:
        assert number(obj["score"]) and 0.0 <= obj["score"] <= 1.0
    else:
        errors = obj.get("format_errors")
        assert isinstance(errors, str) or (isinstance(errors, list) and all(isinstance(e, str) for e in errors))
    for key in ("message", "output"):
        assert isinstance(obj.get(key, ""), str)
    for t in obj.get("tests", []):
        assert isinstance(t, dict) and set(t) <= PL_TEST, set(t) - PL_TEST
        assert isinstance(t["name"], str) and number(t["points"]) and number(t["max_points"])
        assert 0 <= t["points"] <= t["max_points"]
        for key in ("description", "message", "output"):
            assert isinstance(t.get(key, ""), str)
    return obj
