"""0.3.0a2's Attachment(host_path=..., provider_path=..., filename=...) works, with warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Attachment, Message, ValidationError

file_names = st.from_regex(r"[A-Za-z0-9_-]{1,12}\.(txt|png|pdf|xlsx)", fullmatch=True)


@given(file_names, st.text(min_size=1).filter(lambda text: "\x00" not in text))
def test_host_path_is_the_path_and_provider_path_is_ignored(
    name: str, provider_path: str
) -> None:
    with pytest.warns(DeprecationWarning) as caught:
        old = Attachment(
            host_path=f"shared_files/{name}", provider_path=provider_path, filename=name
        )
    assert old == Attachment(path=f"shared_files/{name}", filename=name)
    texts = [str(w.message) for w in caught]
    assert "Attachment(host_path=...) is deprecated: use Attachment(path=...)" in texts
    (ignored,) = [text for text in texts if "provider_path" in text]
    assert "is ignored" in ignored and "sends the file's bytes" in ignored
    assert {w.filename for w in caught} == {__file__}


def test_the_seed_readme_attachment_sends_the_file(tmp_path: Path) -> None:
    report = tmp_path / "report.xlsx"
    report.write_bytes(b"PK\x03\x04 report")
    with pytest.warns(DeprecationWarning):
        attachment = Attachment(
            host_path=str(report),
            provider_path="/app/shared_files/report.xlsx",
            filename="report.xlsx",
        )
    message = Message(recipient="6281234567890", content="Daily report", attachment=attachment)
    assert message.attachment is not None
    assert message.attachment.read_bytes() == b"PK\x03\x04 report"
    assert message.attachment.mime_type.endswith("spreadsheetml.sheet")


def test_host_path_alone_warns_once() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        Attachment(host_path="a.txt")
    assert len(caught) == 1


def test_path_and_host_path_together_is_an_error() -> None:
    with pytest.raises(ValidationError, match="path .*host_path.* not both"):
        Attachment("a.txt", host_path="b.txt")


def test_seed_positional_order_gets_a_hint() -> None:
    # Attachment(host_path, provider_path, filename) puts the container path in filename.
    with pytest.raises(ValidationError, match=r"Attachment\(host_path, provider_path\)"):
        Attachment("report.xlsx", "/app/shared_files/report.xlsx", "report.xlsx")


def test_todays_spelling_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    Attachment("a.txt")
    Attachment(path="a.txt", filename="b.txt", mime_type="text/plain")
    Attachment.from_bytes(b"x", "x.bin")
    assert [w for w in recwarn if issubclass(w.category, DeprecationWarning)] == []
