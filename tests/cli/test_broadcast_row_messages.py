"""The command's per-row messages are built without a uuid4 that would only be replaced."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from broadcastio.broadcast import reference_id_for
from broadcastio.broadcast.recipients import Template, open_recipient_file
from broadcastio.cli.broadcast import _messages
from broadcastio.records.contact import recipient_key


def test_each_row_gets_its_derived_reference_id_and_no_random_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = tmp_path / "team.csv"
    csv_path.write_text("phone,name\n+15550000001,Ana\n+15550000002,Budi\n", encoding="utf-8")

    def no_uuid4() -> uuid.UUID:
        raise AssertionError("a random reference id was made for a row")

    monkeypatch.setattr(uuid, "uuid4", no_uuid4)
    recipients = open_recipient_file(str(csv_path), kind=None)
    messages = list(_messages(recipients, Template("Hi {name}"), None, "daily"))
    assert [m.content for m in messages] == ["Hi Ana", "Hi Budi"]
    assert [m.metadata.reference_id for m in messages] == [
        reference_id_for("daily", recipient_key(m.recipient)) for m in messages
    ]
    assert len({m.metadata.reference_id for m in messages}) == 2
