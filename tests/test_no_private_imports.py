"""No import of a private module or attribute of any dependency in dtn/, routing/, contact_plans/ (issue 14).

Private means a name with a leading underscore (not a dunder) anywhere in an imported module path, in a name
imported from a module, or in an attribute (or a `getattr` with a literal name) read from a name bound to an
imported module. Our own packages may use their own private names; everything else (third-party and standard
library) is only used through its public API.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCANNED = ("dtn", "routing", "contact_plans")
OWN = {"dtn", "routing", "contact_plans", "tests"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own(module: str) -> bool:
    return module.split(".")[0] in OWN


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Every private use of a dependency in `source`, as 'file:line: what'."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to a non-own module

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _own(alias.name):
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    report(node, f"import {alias.name}")
                modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None or _own(node.module):
                continue
            if any(_private(part) for part in node.module.split(".")):
                report(node, f"from {node.module} import ...")
            for alias in node.names:
                if _private(alias.name):
                    report(node, f"from {node.module} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)  # may be a submodule: its attributes are checked too
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if _private(node.attr):
                report(node, f"{node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            target = node.args[0]
            if isinstance(target, ast.Name) and target.id in modules or isinstance(target, ast.Call):
                report(node, f"{node.func.id}(..., {node.args[1].value!r})")
    return found


def _files() -> list[pathlib.Path]:
    return sorted(p for package in SCANNED for p in (ROOT / package).rglob("*.py"))


def test_the_tree_uses_no_private_names_of_dependencies():
    assert _files(), "nothing scanned"
    found = [v for path in _files() for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from cbor2 import _decoder",
        "from cbor2._decoder import CBORDecoder",
        "import trio._core._run as r",
        "import trio\ntrio._core._run._r.seed(1)",
        "import trio\nrng = getattr(getattr(trio, '_core', None), '_run', None)",
        "from trio import lowlevel\nlowlevel._private()",
        "import cbor2\nc = cbor2._cbor2",
    ],
)
def test_the_scanner_catches(source):
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "import trio\ntrio.lowlevel.checkpoint()",
        "from dtn.bpv7._cbor import head",
        "from dtn.bpv7 import _cbor\n_cbor.head(0, 1)",
        "from . import _cbor",
        "import cbor2\nx = cbor2.__version__",
        "class A:\n    def f(self):\n        return self._x",
    ],
)
def test_the_scanner_allows(source):
    assert violations(source) == []
