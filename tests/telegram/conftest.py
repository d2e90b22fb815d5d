"""Fixtures: a fake Bot API server on loopback (scripts/fake_telegram.py), per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# fake_telegram (shared with bench/ and the demo) lives in scripts/;
# telegram_helpers beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).parent))

from fake_telegram import FakeTelegram  # noqa: E402
from telegram_helpers import TOKEN  # noqa: E402

from broadcastio_telegram import TelegramProvider  # noqa: E402


@pytest.fixture(autouse=True)
def _no_telegram_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own BROADCASTIO_TELEGRAM_* must not leak into what a test builds."""
    for variable in ("BROADCASTIO_TELEGRAM_TOKEN", "BROADCASTIO_TELEGRAM_API_BASE"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
def provider(fake: FakeTelegram) -> Iterator[TelegramProvider]:
    with TelegramProvider(token=TOKEN, api_base=fake.api_base, timeout=5.0) as made:
        yield made
