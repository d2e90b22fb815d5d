"""Layers import only downwards: the rule, checked on every module of ``broadcastio``.

Bottom to top: error codes and exceptions, records, the provider interface, the
delivery engine, plugins, configuration, broadcasts, distributed broadcasts
(Dramatiq workers), the command line. A
module may import its own layer and those below, never one above; imports
under ``TYPE_CHECKING`` count too, since a type-only cycle is still a cycle a
reader has to untangle. The only exceptions are the four documented aliases
that keep earlier spellings alive (``Orchestrator.from_plugins`` and the
like): each imports its higher-layer function when called.

The package root, the entry points and the modules kept for old import paths
(``broadcastio.core.*``, ``broadcastio.providers.dummy``/``whatsapp``) sit on
top: they may import anything, and nothing below may import them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "core" / "broadcastio"

LAYERS = (
    "errors",
    "records",
    "providers",
    "engine",
    "plugins",
    "config",
    "broadcast",
    "distributed",
    "cli",
)
"""The layer packages of ``broadcastio``, bottom first."""

TOP = {
    "broadcastio",
    "broadcastio.__main__",
    "broadcastio._compat",
    "broadcastio.providers.dummy",
    "broadcastio.providers.whatsapp",
}
"""Modules above every layer: the root, its entry point, and old import paths."""

BASE = {"broadcastio._version"}
"""Modules below every layer: they import nothing of broadcastio."""

ALIASES = {
    ("broadcastio.engine.orchestrator", "Orchestrator.from_plugins"),
    ("broadcastio.engine.orchestrator", "Orchestrator.from_config"),
    ("broadcastio.engine.orchestrator", "Orchestrator.broadcast"),
    ("broadcastio.engine.orchestrator", "Orchestrator.iter_broadcast"),
}
"""Functions allowed to import upwards, lazily: the documented aliases."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rank(module: str) -> float:
    """The layer of ``module``: an index into ``LAYERS``, -1 below them, inf above."""
    if module in BASE:
        return -1
    if module in TOP or module.startswith("broadcastio.core"):
        return float("inf")
    layer = module.split(".")[1]
    if layer not in LAYERS:
        pytest.fail(f"{module} is in no layer: add its package to LAYERS, TOP or BASE")
    return LAYERS.index(layer)


def imports(path: Path, module: str) -> Iterator[tuple[str, str, int]]:
    """(imported module, enclosing function's qualified name or "", line) of each import."""
    tree = ast.parse(path.read_text(), str(path))
    package = module
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]

    def visit(node: ast.AST, scope: str) -> Iterator[tuple[str, str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
                yield from visit(child, inner)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, scope, child.lineno
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                yield target, scope, child.lineno
                for alias in child.names:  # ``from broadcastio.x import module``
                    yield f"{target}.{alias.name}", scope, child.lineno
            yield from visit(child, scope)

    yield from visit(tree, "")


def own(target: str) -> str | None:
    """The broadcastio module (or package) ``target`` names, if it is one of ours."""
    if target != "broadcastio" and not target.startswith("broadcastio."):
        return None
    parts = target.split(".")
    while parts:
        candidate = PACKAGE.parent.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return None


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        here = rank(module)
        for target, scope, line in imports(path, module):
            imported = own(target)
            if imported is None or imported == module:
                continue
            if rank(imported) > here and (module, scope.removesuffix(".")) not in ALIASES:
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                found.append(f"{where}: {module} ({scope or 'module'}) imports {imported}")
    return found


def test_every_layer_imports_only_its_own_and_lower_layers() -> None:
    assert violations() == []


def test_the_layers_are_the_packages_of_the_tree() -> None:
    packages = {
        path.parent.name for path in PACKAGE.glob("*/__init__.py") if path.parent.name != "core"
    }
    assert packages == set(LAYERS)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule would catch a record reaching into the engine, even for typing only."""
    source = (PACKAGE / "records" / "ids.py").read_text()
    probe = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from broadcastio.engine.orchestrator import Orchestrator\n"
    )
    target = tmp_path / "ids.py"
    target.write_text(probe + source)
    found = [
        (imported, scope)
        for imported, scope, _ in imports(target, "broadcastio.records.ids")
        if own(imported) == "broadcastio.engine.orchestrator"
    ]
    assert found and rank("broadcastio.engine.orchestrator") > rank("broadcastio.records.ids")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("broadcastio.core.message", "broadcastio.records.message"),
        ("broadcastio.core.orchestrator", "broadcastio.engine.orchestrator"),
        ("broadcastio.core.codes", "broadcastio.errors.codes"),
        ("broadcastio.core.checks", "broadcastio.records.checks"),
        ("broadcastio.core.deadline", "broadcastio.engine.deadline"),
    ],
)
def test_old_module_paths_are_the_new_modules(old: str, new: str) -> None:
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)


def test_the_old_health_module_still_offers_both_names() -> None:
    from broadcastio.core.health import HealthCache, ProviderHealth
    from broadcastio.engine.health_cache import HealthCache as NewCache
    from broadcastio.records.health import ProviderHealth as NewHealth

    assert (HealthCache, ProviderHealth) == (NewCache, NewHealth)
