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
    "group_commit",
    "journal",
    "journal.claim",
    "journal.errors",
    "journal.file",
    "journal.reading",
    "journal.records",
    "journal.runs",
    "journal.sql",
    "journal.store",
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
    found = {
        info.name.removeprefix(f"{package.__name__}.")
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    }
    assert set(ENGINE_MODULES) <= found


def test_the_journal_is_one_subpackage_and_its_old_error_module_an_alias() -> None:
    """The journal's modules live in ``journal/``; only the documented old path remains."""
    import broadcastio.broadcast.journal as journal

    top_level = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert {name for name in top_level if name.startswith("journal_")} == {"journal_errors"}
    assert importlib.import_module("broadcastio.broadcast.journal_errors") is journal.errors
    for name in ("Journal", "JournalError", "JournalProblem", "JournalRow", "BroadcastInfo"):
        assert getattr(journal, name) is getattr(package, name), name


@pytest.mark.parametrize("name", ENGINE_MODULES)
def test_every_module_declares_its_public_names(name: str) -> None:
    module = importlib.import_module(f"broadcastio.broadcast.{name}")
    assert module.__doc__, f"{name} has no docstring"
    assert module.__all__ == sorted(module.__all__), name
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ lists missing {exported}"
