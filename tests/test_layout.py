"""The package's import rules (docs/architecture.md#import-rules), checked on the source.

* No import cycle between our modules, counting imports inside functions (not `if TYPE_CHECKING:`).
* An import of our own module inside a function says why in a comment (the heavy library or the hot
  path it keeps off), on its line or above its block of imports.
* A package's `__all__` lists what the package itself defines: no re-exports (the top-level package's
  lazy public API, PEP 562, is the one exception and is checked by tests/test_public_api.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import symphony_assist_hooks

ROOT = Path(symphony_assist_hooks.__file__).parent
PKG = ROOT.name


def _modules() -> dict[str, tuple[Path, bool]]:
    out: dict[str, tuple[Path, bool]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = _modules()


class _Imports(ast.NodeVisitor):
    """Every import statement, with whether it sits inside a function; `if TYPE_CHECKING:` bodies skipped."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
        self._depth = 0

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.Import) -> None:
        self.found.append((node, self._depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node, self._depth > 0))


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> set[str]:
    """Our modules `node` imports (a `from pkg import name` names the submodule when `name` is one)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level else []
    target = ".".join(base + ([node.module] if node.module else []))
    out = set()
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            out.add(sub)
        elif target in MODULES:
            out.add(target)
    return out - {module}


def _imports() -> dict[str, list[tuple[ast.Import | ast.ImportFrom, bool, set[str]]]]:
    out = {}
    for module, (path, is_pkg) in MODULES.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        out[module] = [(node, inside, _targets(module, is_pkg, node)) for node, inside in visitor.found]
    return out


IMPORTS = _imports()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, children_of_root in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children_of_root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_even_counting_imports_inside_functions() -> None:
    graph = {m: set().union(*(t for _, _, t in found)) if found else set() for m, found in IMPORTS.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_import_of_our_own_modules_inside_a_function_says_why() -> None:
    silent = []
    for module, found in IMPORTS.items():
        lines = MODULES[module][0].read_text(encoding="utf-8").splitlines()
        for node, inside, targets in found:
            if not inside or not targets:
                continue
            first = node.lineno - 1
            while first > 0 and lines[first - 1].lstrip().startswith(("from ", "import ")):
                first -= 1  # the top of this block of imports
            block = lines[first : node.end_lineno or node.lineno]
            commented = any("#" in line for line in block) or lines[first - 1].lstrip().startswith("#")
            if not commented:
                silent.append(f"{module}:{node.lineno}")
    assert silent == []


def test_a_package_all_lists_only_what_the_package_defines() -> None:
    reexported = []
    for module, (path, is_pkg) in MODULES.items():
        if not is_pkg or module == PKG:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names = ast.literal_eval(node.value)
                reexported += [f"{module}.{name}" for name in names if name in imported]
    assert reexported == []
