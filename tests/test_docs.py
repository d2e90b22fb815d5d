"""The docs cannot drift: every hook is documented, and every Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broadcastio.plugins import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The WhatsApp docs need a running bridge; their examples are exercised by the
# integration tests instead.
RUNNABLE = [
    "README.md",
    *sorted(str(p.relative_to(ROOT)) for p in DOCS.glob("*.md") if p.name != "whatsapp.md"),
]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def hookspec_names() -> list[str]:
    return [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "broadcastio_spec")
    ]


def test_there_are_hookspecs() -> None:
    assert set(hookspec_names()) >= {
        "register_providers",
        "before_send",
        "on_attempt",
        "on_health",
        "after_send",
    }


@pytest.mark.parametrize("name", hookspec_names())
def test_every_hookspec_is_documented(name: str) -> None:
    hooks_doc = (DOCS / "hooks.md").read_text()
    assert f"### `{name}`" in hooks_doc, f"docs/hooks.md has no section for hook {name!r}"


@pytest.mark.parametrize("document", RUNNABLE)
def test_python_examples_run(document: str, tmp_path: Path, monkeypatch, capsys) -> None:
    blocks = FENCE.findall((ROOT / document).read_text())
    if not blocks:
        pytest.skip(f"{document} has no python examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_example_{Path(document).stem}"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{document} (example {number})", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{document} example {number} failed: {type(exc).__name__}: {exc}")
