"""api/ has the shape of its concerns (runs, pipelines, schedules, mirror, routes) and no import
circle: the module-level imports between api modules form no cycle, and every module imports
on its own, first, in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"


def api_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(API.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_imports(path: Path, known: set[str]) -> set[str]:
    """The api modules ``path`` imports when it is imported (not in functions, not for mypy)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # "from api.runs import views" imports a module
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in known else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)

    visit(ast.parse(path.read_text()).body)
    return {name for name in found if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_api_modules_import_no_circle() -> None:
    modules = api_modules()
    graph = {name: module_imports(path, set(modules)) - {name} for name, path in modules.items()}
    # A package's __init__ is imported with each of its modules: count its imports for them.
    assert cycles(graph) == []


def test_api_is_one_package_per_concern() -> None:
    packages = {p.parent.name for p in API.glob("*/__init__.py")}
    assert {"runs", "pipelines", "schedules", "mirror", "routes"} <= packages
    loose = sorted(p.stem for p in API.glob("*.py") if p.stem != "__init__")
    assert len(loose) <= 20, loose


def test_every_api_module_imports_first_and_alone() -> None:
    """Each module imported first in a fresh state of ``api`` (an import circle shows as an
    ImportError or a partly initialised module, depending on which module comes first)."""
    script = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "api" or m.startswith("api.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""
    names = sorted(api_modules())
    done = subprocess.run(
        [sys.executable, "-c", script, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
