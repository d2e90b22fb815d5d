"""Every TOML example of the Apprise docs loads and builds its chain as printed.

A reader copies these files whole; an example that names a provider without
its table (``order = ["team", "email"]`` and no ``[providers.email]``) fails
for them with "EmailProvider needs host", so each is loaded here with the
configuration loader and built into an orchestrator.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from broadcastio.config import load_config, orchestrator_from_config

REPO = Path(__file__).resolve().parents[2]
SOURCES = (REPO / "docs" / "apprise.md", REPO / "plugins" / "broadcastio-apprise" / "README.md")
_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.MULTILINE | re.DOTALL)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def examples() -> list[Any]:
    found = []
    for source in SOURCES:
        for number, block in enumerate(_BLOCK.findall(source.read_text()), start=1):
            label = f"{source.relative_to(REPO)}#{number}"
            found.append(pytest.param(block, id=label))
    return found


def test_the_docs_have_toml_examples() -> None:
    assert len(examples()) >= 3


def placeholder(variable: str) -> str:
    """A value each service's URL check accepts: digits for ids, a token-like text else."""
    return "1234567890" if variable.endswith("_ID") else "Example-Secret-4f9e2a"


@pytest.mark.parametrize("text", examples())
def test_each_toml_example_loads_and_builds_its_chain(text: str, tmp_path: Path) -> None:
    path = tmp_path / "broadcastio.toml"
    path.write_text(text)
    # Only the variables the example names: nothing from the developer's shell.
    environ = {name: placeholder(name) for name in _VARIABLE.findall(text)}

    config = load_config(path, environ=environ)
    with orchestrator_from_config(path, environ=environ) as orchestrator:
        names = [provider.name for provider in orchestrator.providers]

    assert names
    if config.orchestrator.order is not None:
        assert names == list(config.orchestrator.order)
