"""What the SMTP server receives: headers, bodies, subject, attachments, Message-ID."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from local_smtp import SmtpServer

from broadcastio import Attachment, Message, Orchestrator, RetryPolicy
from broadcastio_email import EmailProvider, EmailSettings, message_id

from email_helpers import USER, provider_settings



def text_of(part: object) -> str:
    """A text part's content with the wire's CRLF line ends read as newlines."""
    content = part.get_content()  # type: ignore[attr-defined]
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_the_server_receives_headers_body_subject_and_envelope(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    with EmailProvider(
        **provider_settings(
            smtp_server,
            certificate,
            reply_to="support@example.com",
            list_unsubscribe="mailto:unsubscribe@example.com, https://example.com/u",
        )
    ) as provider:
        message = Message(
            "ops@example.org", "Disk full on db-1.\nFree some space.", title="Disk alert"
        )
        result = provider.send(message)

    assert result.success, result.error
    (received,) = smtp_server.messages
    assert smtp_server.handler.envelopes == [("alerts@example.com", ["ops@example.org"])]
    assert received["From"] == "Alerts <alerts@example.com>"
    assert received["To"] == "ops@example.org"
    assert received["Subject"] == "Disk alert"
    assert received["Reply-To"] == "support@example.com"
    assert received["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.com>, <https://example.com/u>"
    )
    assert received["Date"] is not None
    assert received["Message-ID"] == result.message_id
    assert received.get_content_type() == "text/plain"
    assert text_of(received) == "Disk full on db-1.\nFree some space.\n"
    # It logged in, over the STARTTLS the server required for AUTH.
    assert smtp_server.logins == [USER]


def test_unicode_title_and_body_arrive_intact(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    result = email_provider.send(
        Message("ops@example.org", "Gudang penuh — kapasitas 98 % ✓", title="Peringatan: gudang ✓")
    )

    assert result.success, result.error
    (received,) = smtp_server.messages
    assert received["Subject"] == "Peringatan: gudang ✓"
    assert text_of(received) == "Gudang penuh — kapasitas 98 % ✓\n"


def test_without_a_title_the_first_line_is_the_subject(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    email_provider.send(Message("ops@example.org", "\n  Backup finished  \nall 12 volumes"))
    email_provider.send(Message("ops@example.org", "x" * 200))

    first, second = smtp_server.messages
    assert first["Subject"] == "Backup finished"
    assert len(second["Subject"]) == 78
    assert second["Subject"].endswith("…")


def test_attachments_arrive_byte_for_byte_with_their_mime_type(
    email_provider: EmailProvider, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 40
    report = tmp_path / "report.pdf"
    report.write_bytes(payload)
    email_provider.send(Message("ops@example.org", "See attached", attachment=Attachment(report)))
    email_provider.send(
        Message(
            "ops@example.org",
            None,
            attachment=Attachment.from_bytes(b"a,b\n1,2\n", "numbers.csv"),
        )
    )

    with_file, bytes_only = smtp_server.messages
    (part,) = list(with_file.iter_attachments())
    assert part.get_filename() == "report.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == payload
    assert text_of(with_file.get_body(("plain",))) == "See attached\n"
    (csv_part,) = list(bytes_only.iter_attachments())
    assert csv_part.get_content_type() == "text/csv"
    assert csv_part.get_payload(decode=True) == b"a,b\n1,2\n"
    assert bytes_only["Subject"] == "numbers.csv"


def test_an_html_alternative_comes_from_metadata_extra(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    email_provider.send(
        Message(
            "ops@example.org",
            "Plain words",
            metadata={"html": "<p><b>Bold</b> words</p>"},
        )
    )

    (received,) = smtp_server.messages
    assert received.get_content_type() == "multipart/alternative"
    assert text_of(received.get_body(("plain",))) == "Plain words\n"
    assert text_of(received.get_body(("html",))) == "<p><b>Bold</b> words</p>\n"


def test_message_id_is_the_same_across_a_retry(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    # The first DATA is answered 451 without a delay (PROVIDER_UNAVAILABLE);
    # the orchestrator retries.
    smtp_server.handler.script["DATA"] = ["451 4.7.1 Throttled, slow down"]
    provider = EmailProvider(**provider_settings(smtp_server, certificate))
    policy = RetryPolicy(max_attempts=2, retry_on=["PROVIDER_UNAVAILABLE"])
    with Orchestrator([provider], retry_policy=policy) as orchestrator:
        result = orchestrator.send(Message("ops@example.org", "Deploy finished"))

    assert result.success, result.error
    first, second = smtp_server.data_attempts
    assert first["Message-ID"] == second["Message-ID"] == result.message_id
    assert len(smtp_server.messages) == 1


def test_message_id_is_the_same_when_another_process_resends_the_message(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    # A resumed broadcast rebuilds the Message with the journaled reference id,
    # in a new process: a new provider must produce the same Message-ID.
    metadata = {"reference_id": "broadcast-7/row-12"}
    for _ in range(2):
        with EmailProvider(**provider_settings(smtp_server, certificate)) as provider:
            provider.send(Message("ops@example.org", "Hello", metadata=metadata))
    with EmailProvider(**provider_settings(smtp_server, certificate)) as provider:
        provider.send(Message("other@example.org", "Hello", metadata=metadata))

    first, resent, other_person = smtp_server.messages
    assert first["Message-ID"] == resent["Message-ID"]
    assert other_person["Message-ID"] != first["Message-ID"]


_reference_ids = st.text(
    alphabet=st.characters(codec="utf-8"), min_size=1
).filter(str.strip)
_local_parts = st.from_regex(r"[a-z0-9._+-]{1,20}", fullmatch=True)


@given(reference_id=_reference_ids, local=_local_parts)
@settings(max_examples=200)
def test_message_id_is_a_stable_well_formed_header_for_any_reference_id(
    reference_id: str, local: str
) -> None:
    message = Message(f"{local}@example.org", "x", metadata={"reference_id": reference_id})
    again = Message(f"{local}@example.org", "y", metadata={"reference_id": reference_id})

    made = message_id(message, "example.com")

    assert made == message_id(again, "example.com")
    assert made.startswith("<bio.") and made.endswith("@example.com>")
    assert made.isascii() and " " not in made


_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=200
).filter(str.strip)


@given(title=_texts, content=_texts)
@settings(max_examples=100, deadline=None)
def test_any_title_and_text_survive_the_round_trip_through_mime(title: str, content: str) -> None:
    import email
    import email.policy

    provider = EmailProvider(
        EmailSettings(host="127.0.0.1", from_address="a@example.com", security="none")
    )
    built = provider.build_message(Message("b@example.org", content, title=title))
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)

    assert parsed["Subject"] == " ".join(title.split())
    body = text_of(parsed)
    assert body.rstrip("\n") == content.replace("\r\n", "\n").replace(
        "\r", "\n"
    ).rstrip("\n")


def test_message_ids_are_declared_to_carry_the_address() -> None:
    # The Message-ID digests the address without a secret: exporters must not publish it.
    from broadcastio_email import EmailProvider, message_id

    assert EmailProvider.message_ids_contain_address is True
    first = message_id(Message("a@example.com", "hi", metadata={"reference_id": "r1"}), "x.org")
    other = message_id(Message("b@example.com", "hi", metadata={"reference_id": "r1"}), "x.org")
    assert first != other  # the address decides the id: it is derived from it
