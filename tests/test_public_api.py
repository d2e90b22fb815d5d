"""The public surface: names, module paths and version promised by the docs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import broadcastio

PROMISED = [
    "Orchestrator",
    "Message",
    "MessageMetadata",
    "Attachment",
    "RetryPolicy",
    "ErrorCode",
    "DeliveryResult",
    "DeliveryError",
    "DeliveryAttempt",
    "DeliveryTrace",
    "ProviderHealth",
    "MessageProvider",
    "hookimpl",
    "BroadcastioError",
    "ValidationError",
    "AttachmentError",
    "OrchestrationError",
    "ConfigurationError",
    "BroadcastOptions",
]


def test_every_promised_name_is_exported() -> None:
    for name in PROMISED:
        assert name in broadcastio.__all__, name
        assert getattr(broadcastio, name) is not None


def test_all_is_sorted_and_complete() -> None:
    assert broadcastio.__all__ == sorted(broadcastio.__all__)
    public = {
        name
        for name, value in vars(broadcastio).items()
        if not name.startswith("_") and not isinstance(value, type(broadcastio))
    }
    public -= {"annotations", "logging", "importlib", "TYPE_CHECKING", "Any"}
    assert public <= set(broadcastio.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(broadcastio.__version__, str)
    assert broadcastio.__version__.count(".") >= 2


def test_documented_module_paths() -> None:
    paths = {
        "broadcastio.records.retry": "RetryPolicy",
        "broadcastio.engine.orchestrator": "Orchestrator",
        "broadcastio.records.message": "Message",
        "broadcastio.records.result": "DeliveryResult",
        "broadcastio.records.trace": "DeliveryTrace",
        "broadcastio.records.health": "ProviderHealth",
        "broadcastio.providers.base": "MessageProvider",
        "broadcastio.broadcast": "BroadcastOptions",
    }
    for module, name in paths.items():
        assert getattr(importlib.import_module(module), name) is getattr(broadcastio, name)


def test_dummy_provider_import() -> None:
    from broadcastio_dummy import DummyProvider

    assert DummyProvider.name == "dummy"


def test_importing_broadcastio_loads_no_plugin() -> None:
    # A fresh interpreter in which entry-point discovery is booby-trapped: importing
    # the package (and everything it re-exports) must not even look for plugins.
    code = (
        "import sys\nfrom importlib import metadata as importlib_metadata\n"
        "def trap(*a, **k): raise SystemExit('entry points were read at import time')\n"
        "importlib_metadata.entry_points = trap\n"
        "import broadcastio, broadcastio.engine.orchestrator, broadcastio.plugins.manager\n"
        "print(sorted(m for m in sys.modules if m.startswith('broadcastio_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr or out.stdout
    assert out.stdout.strip() == "[]"


def test_package_ships_py_typed() -> None:
    from importlib.resources import files

    assert files("broadcastio").joinpath("py.typed").is_file()


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_importing_broadcastio_imports_only_what_is_used() -> None:
    loaded = _modules_after("import broadcastio")
    assert not {m for m in loaded if m.startswith(("broadcastio.broadcast", "broadcastio.plugins"))}
    assert "importlib_metadata" not in loaded and "pluggy" not in loaded

    # A sender's imports stop below the broadcast machinery.
    loaded = _modules_after("from broadcastio import Message, Orchestrator, RetryPolicy")
    assert "broadcastio.engine.orchestrator" in loaded
    assert not {m for m in loaded if m.startswith("broadcastio.broadcast")}


def test_version_command_imports_no_broadcast_or_plugin_machinery() -> None:
    code = (
        "import sys\nsys.argv = ['broadcastio', '--version']\n"
        "from broadcastio.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.startswith(("broadcastio.broadcast", "broadcastio.plugins"))}


def test_lazy_names_resolve_to_their_homes_and_unknown_names_fail() -> None:
    import pytest

    assert "Journal" in dir(broadcastio)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        broadcastio.Nope  # noqa: B018
    from broadcastio.broadcast import Journal

    assert broadcastio.Journal is Journal
