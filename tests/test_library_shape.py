"""The library's shape, as issue 21 set it: small entry points (≤ 12 parameters each, like jax's
dot_product_attention's 13 and SDPA's 8), no function in core/ longer than a screen (80 lines, its docstring
not counted), and every public name documented with the shapes it takes."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import attncli

CORE = Path(attncli.__file__).resolve().parent / "core"
PUBLIC = ("attend", "project", "attention")
MOST_LINES = 80
MOST_PARAMETERS = 12


@pytest.mark.parametrize("name", PUBLIC)
def test_entry_points_are_small(name: str) -> None:
    fn = getattr(attncli, name)
    params = inspect.signature(fn).parameters
    assert len(params) <= MOST_PARAMETERS, f"attncli.{name} takes {len(params)} parameters: {list(params)}"
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), f"attncli.{name} takes **kwargs"


@pytest.mark.parametrize("name", [*PUBLIC, "Spec", "Plan", "AttentionResult"])
def test_public_names_say_their_shapes(name: str) -> None:
    doc = inspect.getdoc(getattr(attncli, name)) or ""
    assert len(doc) > 80, f"attncli.{name} has no real docstring"
    if name in PUBLIC or name == "AttentionResult":
        assert "(B, H" in doc or "(n_q, d)" in doc or "(n, d" in doc, f"attncli.{name}'s docstring gives no shapes"


def test_exports() -> None:
    from attncli import AttentionResult, Plan, Spec, attend, attention, project  # noqa: F401

    assert set(PUBLIC) | {"Spec", "Plan"} <= set(attncli.__all__)


def long_functions() -> list[str]:
    found = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = node.body[0] if ast.get_docstring(node) is not None else None
                lines = node.end_lineno - node.lineno + 1 - (doc.end_lineno - doc.lineno + 1 if doc else 0)
                if lines > MOST_LINES:
                    found.append(f"core/{path.name}:{node.lineno} {node.name}: {lines} lines")
    return found


def test_no_core_function_runs_past_a_screen() -> None:
    assert not long_functions(), "split these along their steps:\n" + "\n".join(long_functions())
