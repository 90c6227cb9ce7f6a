"""The import rule: Trio lives only in dtn/node, dtn/cla and the twin's I/O subpackage dtn/twin/runner. Pure
layers never import it (directly)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PURE = [
    "dtn/bpv7",
    "dtn/bpsec",
    "dtn/tcpcl",
    "dtn/tcpclv3",
    "dtn/ltp",
    "routing",
    "contact_plans",
    "dtn/archive",
    "dtn/twin",
    "dtn/agentproto",
    "dtn/compute",
]
IO_SUBPACKAGES = ["dtn/twin/runner"]  # the Trio side of a pure package, kept apart in its own subpackage


def _pure_files(package: str) -> list[pathlib.Path]:
    return [
        f
        for f in sorted((ROOT / package).rglob("*.py"))
        if not any(f.is_relative_to(ROOT / io) for io in IO_SUBPACKAGES)
    ]


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            if node.module.split(".")[0] == "dtn" and len(node.module.split(".")) > 1:
                names.add("dtn." + node.module.split(".")[1])
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_layers_do_not_import_trio(package):
    files = _pure_files(package)
    assert files, f"{package} has no modules"
    offenders = [str(f.relative_to(ROOT)) for f in files if "trio" in _imports(f)]
    assert offenders == [], f"trio imported in pure layer: {offenders}"


@pytest.mark.parametrize("package", PURE)
def test_pure_layers_do_not_import_node_or_cla(package):
    """Pure layers must not reach up into the Trio layers either (that would import trio indirectly)."""
    files = _pure_files(package)
    offenders = [str(f.relative_to(ROOT)) for f in files if {"dtn.node", "dtn.cla", "dtn.cli"} & _imports(f)]
    assert offenders == [], f"pure layer imports a Trio layer: {offenders}"


def test_pure_packages_import_without_trio(tmp_path):
    """Importing every pure package in a fresh interpreter must not load trio.

    The public `*.testing` modules are left out of this check: they import hypothesis, and trio registers a
    hypothesis plugin, so importing hypothesis loads trio (the AST checks above still keep them free of direct
    trio imports)."""
    import subprocess
    import sys

    modules = []
    for package in PURE:
        for f in _pure_files(package):
            parts = f.relative_to(ROOT).with_suffix("").parts
            if "testing" in parts:
                continue
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'trio' not in sys.modules, [k for k in sys.modules if k.startswith('trio')][:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
