"""``[broadcast]``: the defaults of ``broadcastio broadcast`` and ``worker``, checked on load."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio.config import parse_config
from broadcastio.config.model import BroadcastConfig, redact_url
from broadcastio.errors import ConfigurationError


def test_the_table_is_read_and_optional() -> None:
    assert parse_config({}).broadcast == BroadcastConfig()
    config = parse_config(
        {
            "broadcast": {
                "journal": "postgresql://ops:${PW}@db/broadcasts",
                "concurrency": 16,
                "queue": "redis://redis:6379/0",
            }
        },
        environ={"PW": "s3cret"},
    )
    assert config.broadcast == BroadcastConfig(
        journal="postgresql://ops:s3cret@db/broadcasts",
        concurrency=16,
        queue="redis://redis:6379/0",
    )
    assert config.to_dict()["broadcast"]["journal"] == "postgresql://ops:***@db/broadcasts"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"concurrency": 0}, "broadcast.concurrency"),
        ({"concurrency": 257}, "broadcast.concurrency"),
        ({"concurrency": True}, "broadcast.concurrency"),
        ({"journl": "x"}, "broadcast.journl"),
        ({"journal": 3}, "broadcast.journal"),
    ],
)
def test_bad_values_name_their_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config({"broadcast": table})
    assert raised.value.details["key"] == key


@given(
    user=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
    password=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12),
)
def test_redact_url_hides_any_password(user: str, password: str) -> None:
    shown = redact_url(f"postgresql://{user}:{password}@db.example:5432/journal")
    assert shown == f"postgresql://{user}:***@db.example:5432/journal"
