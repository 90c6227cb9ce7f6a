"""No import cycle between packages (issue 22).

A "package" here is a directory with an `__init__.py` (so `dtn.twin` and its I/O subpackage `dtn.twin.runner` are
two), and each top-level module of `dtn` (`dtn.client`, `dtn.errors`, ...) is one of its own. Every import
counts, at module level or inside a function (a function-level import is still a dependency, only a later one),
except those under `if TYPE_CHECKING:`. The test builds the graph between packages and fails on any cycle,
naming the imports that close it.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOP = ("dtn", "routing", "contact_plans")


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(name: str) -> bool:
    return (ROOT / name.replace(".", "/") / "__init__.py").exists()


def _is_module(name: str) -> bool:
    return _is_package(name) or (ROOT / (name.replace(".", "/") + ".py")).exists()


def unit_of(module: str) -> str:
    """The package a module belongs to (top-level modules of a root package are their own unit)."""
    if _is_package(module):
        package = module
    else:
        package = module.rsplit(".", 1)[0]
    if package in TOP and module != package:
        return module
    return package


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for inner in node.body:
                    skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def imports_of(path: pathlib.Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import of ours in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if _is_module(sub) else target, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in TOP]


def package_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> ["file:line", ...] for the imports behind the edge."""
    graph: dict[str, dict[str, list[str]]] = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            src = unit_of(_module_name(path))
            edges = graph.setdefault(src, {})
            for name, line in imports_of(path):
                while name and not _is_module(name):
                    name = name.rsplit(".", 1)[0] if "." in name else ""
                if not name:
                    continue
                dst = unit_of(name)
                if dst != src:
                    edges.setdefault(dst, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_packages():
    graph = package_graph()
    found = cycles(graph)
    detail = []
    for component in found:
        members = set(component)
        for src in component:
            for dst, where in sorted(graph[src].items()):
                if dst in members:
                    detail.append(f"{src} -> {dst} ({', '.join(sorted(set(where))[:3])})")
    assert found == [], "import cycles between packages:\n" + "\n".join(detail)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": ["x:1"]}, "b": {"c": ["x:2"]}, "c": {"a": ["x:3"]}, "d": {"a": ["x:4"]}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": []}, "b": {}}) == []


def test_units():
    assert unit_of("dtn.client") == "dtn.client"
    assert unit_of("dtn.node.node") == "dtn.node"
    assert unit_of("dtn.twin.runner.simulate") == "dtn.twin.runner"
    assert unit_of("dtn.twin.links") == "dtn.twin"
    assert unit_of("routing.cgr") == "routing.cgr"
