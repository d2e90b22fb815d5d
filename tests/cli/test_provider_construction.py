"""A provider that refuses to start names the file and the key it needs.

A constructor's own check ("needs host") is a set-up problem: the one line
says which file, which instance and which setting, so a user with several
instances of one type knows which table to fix.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('type = "email"\nfrom_address = "ops@example.com"', "providers.mail.host: "),
        ('type = "email"\nhost = "localhost"', "providers.mail.from_address: "),
        (
            'type = "email"\nhost = "localhost"\nfrom_address = "ops@example.com"\nusername = "u"',
            "providers.mail.password: ",
        ),
        ('type = "telegram"', "providers.mail.token: "),
    ],
)
def test_a_missing_setting_is_named_with_its_key_path(
    invoke, write_config, monkeypatch, table: str, expected: str
) -> None:
    for variable in ("HOST", "FROM", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"BROADCASTIO_EMAIL_{variable}", raising=False)
    monkeypatch.delenv("BROADCASTIO_TELEGRAM_TOKEN", raising=False)
    path = write_config(f'[orchestrator]\norder = ["mail"]\n\n[providers.mail]\n{table}\n')

    result = invoke("--config", str(path), "health")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"broadcastio: error: {path}: {expected}")
    assert result.stderr.count("\n") == 1
