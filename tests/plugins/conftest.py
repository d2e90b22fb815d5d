"""Real distributions for discovery tests: a .dist-info with entry points, on sys.path."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def install_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., None]]:
    """Make a distribution importlib.metadata will find: its modules and its entry points."""
    created: list[str] = []

    def install(
        name: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0"
    ) -> None:
        root = tmp_path / name
        dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        lines = ["[broadcastio]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)
        monkeypatch.syspath_prepend(str(root))

    yield install
    for module in created:
        sys.modules.pop(module, None)


PROVIDER_MODULE = """
from broadcastio import DeliveryResult, MessageProvider, ProviderHealth, hookimpl

class {cls}(MessageProvider):
    name = "{name}"
    def send(self, message):
        return DeliveryResult.delivered(self.name, "{name}-id")
    def health(self):
        return ProviderHealth(self.name, True)

@hookimpl
def register_providers(register):
    register({cls}, priority={priority})
"""


@pytest.fixture
def provider_module() -> Callable[..., str]:
    """Source of a plugin module registering one provider class."""

    def source(name: str, priority: int = 0, cls: str = "Provider") -> str:
        return PROVIDER_MODULE.format(name=name, priority=priority, cls=cls)

    return source
