"""The package's surface: sorted, complete ``__all__`` in every module, and only real names."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import broadcastio.broadcast as package

# Modules of this package written for the broadcast engine (the package also
# hosts other people's modules, which this test leaves alone).
ENGINE_MODULES = [
    "admission",
    "journal",
    "journal_file",
    "journal_reading",
    "journal_records",
    "journal_sql",
    "pool",
    "report",
    "run",
    "runner",
    "states",
    "task",
]


def test_the_package_exports_a_sorted_list_of_real_names() -> None:
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_engine_modules_exist() -> None:
    found = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert set(ENGINE_MODULES) <= found


@pytest.mark.parametrize("name", ENGINE_MODULES)
def test_every_module_declares_its_public_names(name: str) -> None:
    module = importlib.import_module(f"broadcastio.broadcast.{name}")
    assert module.__doc__, f"{name} has no docstring"
    assert module.__all__ == sorted(module.__all__), name
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ lists missing {exported}"
