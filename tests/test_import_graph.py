"""
The architecture holds: no import cycle among eventreg's modules, and no module over 700 lines.

The graph is read from the source with ``ast``: every ``import`` of an eventreg module,
at module level and inside functions alike (a function-level import is still an edge:
it only hides the cycle until the function runs). Imports under ``if TYPE_CHECKING:``
never run and are left out. Each module is also imported alone in a fresh interpreter,
so an order-dependent import that works only after another module was loaded fails here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import eventreg

PACKAGE = Path(eventreg.__file__).parent
MAX_LINES = 700



def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """
    The eventreg modules that ``name`` imports anywhere in its source (not under TYPE_CHECKING).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def target(module: str) -> None:
        # the deepest eventreg module named by a dotted path ("eventreg.log.X" -> "eventreg.log")
        while module and module not in MODULES:
            module = module.rpartition(".")[0]
        if module and module != name:
            out.add(module)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "eventreg":
                    target(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] == "eventreg":
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    target(sub if sub in MODULES else module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """
    The strongly connected components with more than one module (Tarjan), each sorted.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    fake = tmp_path / "mod.py"
    fake.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import eventreg.cli\n"
                    "def f():\n    from eventreg.domain import events as ev\n    from . import log\n"
                    "    import eventreg.config\n")
    assert _imports("eventreg.fake", fake) == {"eventreg.domain.events", "eventreg.log", "eventreg.config"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_eventreg_modules():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    cycles = list(_cycles(graph))
    described = [" <-> ".join(c) + ": " + "; ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c)
                 for c in cycles]
    assert described == []


def test_no_eventreg_module_is_over_700_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    long = {name: n for name, n in sizes.items()
            if n > MAX_LINES}
    assert long == {}


def _import_alone(name: str) -> tuple[str, int, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, env=env,
                          timeout=120)
    return name, done.returncode, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


#: Modules that need an optional extra: importing them without it must say so with ImportError.
_OPTIONAL_PREFIXES = ("eventreg.ui", "eventreg.mlflow")


def test_every_module_imports_alone_in_a_fresh_process():
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_import_alone, sorted(MODULES)))
    failed = [(name, last) for name, code, last in results if code != 0
              and not (name.startswith(_OPTIONAL_PREFIXES) and "ModuleNotFoundError" in last
                       and "eventreg" not in last)]
    assert failed == []
