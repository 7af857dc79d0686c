"""No import circles in attncli, lazy imports included (issue 21).

Every module under attncli/ is parsed with `ast` (nothing is imported) and every import in it becomes an edge of
a graph of attncli's modules: the ones at the top of a module *and* the ones inside functions, methods and
`if __name__ == "__main__":` blocks (a lazy import only delays the circle it closes), `from attncli.x import y`
(an edge to the module attncli.x.y when y is one, else to attncli.x), `from attncli import x`, relative imports,
and `importlib.import_module(...)` of a constant name (or of an f-string under a package: an edge to each
module of that package, since any of them may be the one named). Imports under `if TYPE_CHECKING:` never run
and are not edges.

A package's `__init__.py` is the module named by the package (attncli/core/__init__.py is `attncli.core`).
Importing attncli.core.x first runs attncli/core/__init__.py, so an import of attncli.core.x is an edge to
attncli.core.x *and* to attncli.core — unless the importer is itself inside attncli.core: a package's
`__init__` has begun before any of its modules can run, so importing a sibling does not run it again. By the
same rule the package root `attncli` is never such an implicit edge (everything is inside it); an explicit
`from attncli import name` is an edge to it like any other.

Any cycle in that graph fails the test, named as `a → b → a` with the file and line of each import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "attncli"

# Circles other helpers cut on their branches, as the edge (importer, imported) that closes each. The test
# leaves these edges out, and fails when one is gone (so the list never keeps a circle that no longer exists).
# cut on another branch; the lead empties this at merge
NOT_YET: list[tuple[str, str]] = [
]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # relative to the repository
    line: int
    lazy: bool  # inside a function, a class or an `if __name__ == "__main__":` block

    def where(self) -> str:
        return f"{self.path}:{self.line}{' (lazy)' if self.lazy else ''}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under attncli/ (a package by its __init__.py)."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[tuple[ast.AST, bool]]:
    """The import statements and import_module calls of a module, each with whether it runs lazily; none under
    `if TYPE_CHECKING:`."""
    found: list[tuple[ast.AST, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, lazy)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, lazy))
        elif isinstance(node, ast.Call) and _import_module_call(node):
            found.append((node, lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) or \
            (isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def _import_module_call(node: ast.Call) -> bool:
    fn = node.func
    return (isinstance(fn, ast.Attribute) and fn.attr == "import_module") or \
        (isinstance(fn, ast.Name) and fn.id == "import_module")


def _named(node: ast.AST, module: str, modules: dict[str, Path]) -> list[str]:
    """The attncli modules an import statement or import_module call names (before implicit packages)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the importer's package
            package = module if _is_package(module, modules) else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            names.append(sub if sub in modules else base)
        return names
    assert isinstance(node, ast.Call)
    arg = node.args[0] if node.args else None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        prefix = str(arg.values[0].value)
        package = prefix.rstrip(".")
        if prefix.endswith(".") and package in modules:
            return [m for m in modules if m.rpartition(".")[0] == package]
    raise AssertionError(f"{module}:{node.lineno}: import_module({ast.unparse(arg) if arg else ''}) names a "
                         "module this test cannot work out; name it as a constant or an f-string 'pkg.{...}'")


def _with_packages(target: str, importer: str, modules: dict[str, Path]) -> list[str]:
    """`target` and the packages on the way to it whose __init__ importing it runs (not the importer's own)."""
    own = {importer.rsplit(".", n)[0] for n in range(importer.count(".") + 1)}
    chain = [target.rsplit(".", n)[0] for n in range(target.count("."), 0, -1)]  # outermost package first
    return [p for p in chain if p in modules and p not in own] + [target]


def import_graph(root: Path = ROOT) -> dict[str, list[Edge]]:
    """Module -> its edges to attncli modules (each with the file and line of the import)."""
    modules = module_files(root)
    graph: dict[str, list[Edge]] = {name: [] for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(root))
        for node, lazy in _imports(tree):
            for named in _named(node, name, modules):
                if named != PACKAGE and not named.startswith(PACKAGE + "."):
                    continue
                assert named in modules, f"{rel}:{node.lineno} imports {named}, which is not a module of attncli"
                for target in _with_packages(named, name, modules):
                    if target != name:
                        graph[name].append(Edge(name, target, rel, node.lineno, lazy))
    return graph


def find_cycle(graph: dict[str, list[Edge]]) -> list[Edge] | None:
    """One cycle of the graph as its edges (the first a depth-first search meets), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(node: str) -> list[Edge] | None:
        state[node] = 1
        for edge in graph[node]:
            if state.get(edge.target) == 1:
                start = next((i for i, e in enumerate(path) if e.source == edge.target), len(path))
                return path[start:] + [edge]
            if edge.target not in state:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def describe(cycle: list[Edge]) -> str:
    """`a → b → a` and where each import is."""
    names = " → ".join([cycle[0].source] + [e.target for e in cycle])
    lines = "\n".join(f"  {e.source} → {e.target}: {e.where()}" for e in cycle)
    return f"{names}\n{lines}"


def without(graph: dict[str, list[Edge]], edges: list[tuple[str, str]]) -> dict[str, list[Edge]]:
    cut = set(edges)
    return {name: [e for e in out if (e.source, e.target) not in cut] for name, out in graph.items()}


def all_cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """Cycles until none is left, cutting the last edge of each one found (so each circle is named once)."""
    cycles = []
    while (cycle := find_cycle(graph)) is not None and len(cycles) < 50:
        cycles.append(cycle)
        graph = without(graph, [(cycle[-1].source, cycle[-1].target)])
    return cycles


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Edge]]:
    return import_graph()


def test_no_import_circle(graph: dict[str, list[Edge]]) -> None:
    cycles = all_cycles(without(graph, NOT_YET))
    assert not cycles, "import circles (a lazy import still closes one: move what both need to a module both " \
        "can import):\n" + "\n".join(describe(c) for c in cycles)


def reaches(graph: dict[str, list[Edge]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for edge in graph[todo.pop()]:
            if edge.target == goal:
                return True
            if edge.target not in seen:
                seen.add(edge.target)
                todo.append(edge.target)
    return False


def test_not_yet_lists_only_circles_that_exist(graph: dict[str, list[Edge]]) -> None:
    edges = {(e.source, e.target) for out in graph.values() for e in out}
    for source, target in NOT_YET:
        assert (source, target) in edges, f"NOT_YET: {source} no longer imports {target}: remove it from NOT_YET"
        assert reaches(graph, target, source), f"NOT_YET: {source} → {target} closes no circle: remove it"


# The walker itself, on a made-up package (so a pass above means the walk saw the kinds of import it must see)

def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, list[Edge]]:
    for name, text in {"__init__.py": "", **files}.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path)


def _cycle(graph: dict[str, list[Edge]]) -> str | None:
    found = find_cycle(graph)
    return None if found is None else " → ".join([found[0].source] + [e.target for e in found])


def test_a_lazy_import_in_a_function_closes_a_circle(tmp_path: Path) -> None:
    graph = _package(tmp_path, {"a.py": "from attncli.b import g\n",
                                "b.py": "def g():\n    from attncli import a\n    return a\n"})
    assert _cycle(graph) == "attncli.a → attncli.b → attncli.a"
    edge = [e for e in graph["attncli.b"] if e.target == "attncli.a"][0]
    assert (edge.line, edge.lazy, edge.where()) == (2, True, "attncli/b.py:2 (lazy)")


def test_a_main_block_relative_imports_and_import_module_count(tmp_path: Path) -> None:
    assert _cycle(_package(tmp_path / "main", {
        "a.py": "import attncli.b\n",
        "b.py": "if __name__ == '__main__':\n    import attncli.a\n"})) == "attncli.a → attncli.b → attncli.a"
    assert _cycle(_package(tmp_path / "relative", {
        "p/__init__.py": "", "p/a.py": "from . import b\n",
        "p/b.py": "from .a import name\n"})) == "attncli.p.a → attncli.p.b → attncli.p.a"
    assert _cycle(_package(tmp_path / "dynamic", {
        "p/__init__.py": "import importlib\ndef load(m):\n    importlib.import_module(f'attncli.p.{m}')\n",
        "p/a.py": "from attncli.p import load\n"})) == "attncli.p → attncli.p.a → attncli.p"


def test_importing_a_module_runs_its_package_unless_the_importer_is_inside(tmp_path: Path) -> None:
    # attncli.x.y's import runs attncli/p/__init__.py, which imports attncli.x: a circle
    graph = _package(tmp_path / "outside", {"p/__init__.py": "from attncli import x\n", "p/q.py": "",
                                            "x.py": "from attncli.p.q import name\n"})
    assert _cycle(graph) == "attncli.p → attncli.x → attncli.p"
    # a module of p importing its sibling: p's __init__ has begun already, no edge to it
    graph = _package(tmp_path / "inside", {"p/__init__.py": "from attncli.p import q\n", "p/q.py": "",
                                           "p/r.py": "from attncli.p.q import name\n"})
    assert _cycle(graph) is None
    assert [e.target for e in graph["attncli.p.r"]] == ["attncli.p.q"]


def test_type_checking_imports_are_not_edges(tmp_path: Path) -> None:
    graph = _package(tmp_path, {"a.py": "from attncli import b\n", "b.py": "from typing import TYPE_CHECKING\n"
                                "if TYPE_CHECKING:\n    from attncli import a\n"})
    assert _cycle(graph) is None


def test_the_version_comes_from_attncli_version() -> None:
    """attncli.version holds the version (the package root re-exports it): a module outside the core that took it
    from the root would import the whole package's __init__ (and, lazily, the core) for one string."""
    import tomllib

    from attncli.version import __version__

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]
    from_root = []
    for name, path in module_files().items():
        if name == PACKAGE or name.startswith(f"{PACKAGE}.core"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == PACKAGE and not node.level and \
                    any(a.name == "__version__" for a in node.names):
                from_root.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Attribute) and node.attr == "__version__" and \
                    isinstance(node.value, ast.Name) and node.value.id == PACKAGE:
                from_root.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not from_root, f"import __version__ from attncli.version: {from_root}"
