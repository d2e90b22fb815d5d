"""Every failure mapped onto an ErrorCode, driven by a real SMTP server's real replies."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from local_smtp import SmtpServer

from broadcastio import Contact, ErrorCode, Message
from broadcastio_email import EmailProvider
from broadcastio_email.outcomes import result_from_exception

from email_helpers import PASSWORD, provider_settings

MESSAGE = Message("ops@example.org", "Disk full")


@pytest.mark.parametrize(
    ("command", "reply", "code", "retry_after"),
    [
        ("RCPT", "550 5.1.1 No such user here", ErrorCode.INVALID_RECIPIENT, None),
        ("RCPT", "553 5.1.3 Mailbox name not allowed", ErrorCode.INVALID_RECIPIENT, None),
        ("RCPT", "554 5.7.1 Relay access denied", ErrorCode.INVALID_RECIPIENT, None),
        ("RCPT", "450 4.2.1 Mailbox busy", ErrorCode.PROVIDER_UNAVAILABLE, None),
        (
            "MAIL",
            "421 4.7.0 Too many messages, try again in 30 seconds",
            ErrorCode.RATE_LIMITED,
            30.0,
        ),
        ("MAIL", "553 5.7.1 Sender address rejected", ErrorCode.PROVIDER_MISCONFIGURED, None),
        (
            "DATA",
            "451 4.7.1 Greylisted, please retry in 5 minutes",
            ErrorCode.RATE_LIMITED,
            300.0,
        ),
        # 421/451 without a delay in the text: trouble, not throttling.
        ("DATA", "451 4.3.0 Local error", ErrorCode.PROVIDER_UNAVAILABLE, None),
        ("MAIL", "421 4.3.2 Service shutting down", ErrorCode.PROVIDER_UNAVAILABLE, None),
        ("DATA", "452 4.3.1 Insufficient system storage", ErrorCode.PROVIDER_UNAVAILABLE, None),
        ("DATA", "550 5.1.1 Mailbox unavailable", ErrorCode.INVALID_RECIPIENT, None),
        ("DATA", "554 5.7.1 Message rejected as spam", ErrorCode.PROVIDER_REJECTED, None),
    ],
)
def test_a_server_reply_becomes_its_error_code_with_the_smtp_code_and_text(
    email_provider: EmailProvider,
    smtp_server: SmtpServer,
    command: str,
    reply: str,
    code: ErrorCode,
    retry_after: float | None,
) -> None:
    smtp_server.handler.script[command] = [reply]

    result = email_provider.send(MESSAGE)

    assert not result.success
    assert result.error is not None
    assert result.error.code is code
    smtp_code, text = reply.split(" ", 1)
    assert result.error.details["smtp_code"] == int(smtp_code)
    assert result.error.details["smtp_message"] == text
    assert result.error.details.get("retry_after") == retry_after
    assert smtp_server.messages == []


def test_a_refused_recipient_keeps_the_connection_for_the_next_message(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.script["RCPT"] = ["550 5.1.1 No such user here"]

    refused = email_provider.send(MESSAGE)
    delivered = email_provider.send(MESSAGE)

    assert refused.error is not None and "'ops@example.org'" in refused.error.message
    assert delivered.success
    assert smtp_server.connections == 1


def test_a_421_closes_the_connection_and_the_next_send_opens_a_new_one(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.script["MAIL"] = ["421 4.7.0 Closing connection"]

    assert email_provider.send(MESSAGE).error is not None
    assert email_provider.send(MESSAGE).success
    assert smtp_server.connections == 2


@pytest.mark.parametrize(
    "idle_check_after",
    [
        0.0,  # checked with NOOP before reuse: the drop is found before MAIL FROM
        3600.0,  # reused unchecked: the drop is found at MAIL FROM, nothing sent yet
    ],
)
def test_a_connection_the_server_dropped_is_reopened_and_the_message_sent_once(
    certificate: tuple[Path, Path], idle_check_after: float
) -> None:
    first = SmtpServer(certificate=certificate[0], key=certificate[1], users={"u@x.org": "pw"})
    first.start()
    settings = provider_settings(first, certificate, username="u@x.org", password="pw")
    with EmailProvider(**settings) as provider:
        provider.idle_check_after = idle_check_after
        assert provider.send(MESSAGE).success
        first.stop()  # the server goes away under the pooled connection
        second = SmtpServer(
            certificate=certificate[0], key=certificate[1], users={"u@x.org": "pw"}, port=first.port
        ).start()
        try:
            result = provider.send(MESSAGE)
        finally:
            second.stop()

    assert result.success, result.error
    assert len(second.messages) == 1
    assert provider.connections_opened == 2


def test_a_connection_used_a_moment_ago_is_reused_without_noop(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    email_provider.idle_check_after = 3600.0
    for _ in range(20):
        assert email_provider.send(MESSAGE).success

    assert smtp_server.handler.noops == 0
    assert smtp_server.connections == 1


def test_an_idle_connection_is_checked_with_noop_before_reuse(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    email_provider.idle_check_after = 0.0
    for _ in range(3):
        assert email_provider.send(MESSAGE).success

    assert smtp_server.handler.noops == 2
    assert smtp_server.connections == 1


def test_a_wrong_password_is_authentication_failed_and_never_shown(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    wrong = "not-the-" + PASSWORD
    with EmailProvider(**provider_settings(smtp_server, certificate, password=wrong)) as provider:
        result = provider.send(MESSAGE)
        health = provider.health()

    assert result.error is not None
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert result.error.details["smtp_code"] == 535
    assert not health.ready
    assert health.details["smtp_code"] == 535
    assert "password" in health.details["reason"]
    for shown in (repr(result), repr(health), repr(provider), repr(provider.settings)):
        assert wrong not in shown
    assert smtp_server.messages == []


def test_health_is_ready_only_after_a_real_login(email_provider: EmailProvider) -> None:
    health = email_provider.health()

    assert health.ready, health.details
    assert health.details["security"] == "starttls"


def test_an_unreachable_server_is_provider_unavailable(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    smtp_server.stop()
    with EmailProvider(**provider_settings(smtp_server, certificate)) as provider:
        result = provider.send(MESSAGE)
        health = provider.health()

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["stage"] == "connect"
    assert "unreachable" in result.error.message
    assert not health.ready
    assert health.details["code"] == "PROVIDER_UNAVAILABLE"


def test_a_server_that_does_not_answer_data_in_time_is_a_timeout(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    smtp_server.handler.delay["DATA"] = 3.0
    with EmailProvider(**provider_settings(smtp_server, certificate, timeout=0.5)) as provider:
        result = provider.send(MESSAGE)

    assert result.error is not None
    assert result.error.code is ErrorCode.TIMEOUT
    assert "may have been sent" in result.error.message


def test_a_server_that_does_not_answer_mail_from_in_time_has_nothing_sent(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    smtp_server.handler.delay["MAIL"] = 3.0
    with EmailProvider(**provider_settings(smtp_server, certificate, timeout=0.5)) as provider:
        result = provider.send(MESSAGE)

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["stage"] == "mail"
    assert "nothing was sent" in result.error.message


def test_a_certificate_nobody_trusts_is_misconfiguration_not_a_send(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    settings = provider_settings(smtp_server, certificate)
    del settings["ca_file"]  # the system CAs do not know the test's certificate
    with EmailProvider(**settings) as provider:
        result = provider.send(MESSAGE)

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert "ca_file" in result.error.message
    assert smtp_server.messages == []


def test_starttls_required_but_not_offered_never_sends_in_clear(
    certificate: tuple[Path, Path],
) -> None:
    plain = SmtpServer().start()
    try:
        settings = provider_settings(plain, certificate, username=None, password=None)
        with EmailProvider(**settings) as provider:
            refused = provider.send(MESSAGE)
        with EmailProvider(**{**settings, "security": "none"}) as provider:
            delivered = provider.send(MESSAGE)
    finally:
        plain.stop()

    assert refused.error is not None
    assert refused.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert "STARTTLS" in refused.error.message
    assert delivered.success
    assert len(plain.messages) == 1


@pytest.mark.parametrize(
    "recipient", ["+6281234567", "ops@", "@example.org", "two@at@example.org", "a b@example.org"]
)
def test_a_recipient_that_is_not_an_email_address_is_refused_without_connecting(
    email_provider: EmailProvider, smtp_server: SmtpServer, recipient: str
) -> None:
    result = email_provider.send(Message(recipient, "hi"))

    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert repr(recipient) in result.error.message
    assert smtp_server.connections == 0


def test_a_closed_provider_fails_without_connecting(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    assert email_provider.send(MESSAGE).success
    email_provider.close()
    email_provider.close()  # idempotent

    result = email_provider.send(MESSAGE)

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "closed" in result.error.message
    assert not email_provider.health().ready
    assert smtp_server.connections == 1


def test_a_non_ascii_address_goes_through_a_server_with_smtputf8(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    result = email_provider.send(Message("josé@example.org", "Halo"))

    assert result.success, result.error
    assert smtp_server.handler.envelopes[0][1] == ["josé@example.org"]


def test_a_non_ascii_address_without_smtputf8_is_an_invalid_recipient(
    certificate: tuple[Path, Path],
) -> None:
    plain = SmtpServer(smtputf8=False).start()
    try:
        settings = provider_settings(plain, certificate, username=None, password=None)
        with EmailProvider(**{**settings, "security": "none"}) as provider:
            refused = provider.send(Message("josé@example.org", "Halo"))
            delivered = provider.send(MESSAGE)
    finally:
        plain.stop()

    assert refused.error is not None
    assert refused.error.code is ErrorCode.INVALID_RECIPIENT
    assert "SMTPUTF8" in refused.error.message
    assert delivered.success


@settings(max_examples=60, deadline=None)
@given(
    smtp_code=st.sampled_from([421, 451]),
    reason=st.sampled_from(
        ["4.7.0 Too many messages", "4.3.0 Local error", "4.7.1 Greylisted", "Server busy"]
    ),
    delay=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["try again in", "retry after", "please wait"]),
            st.integers(min_value=1, max_value=900),
            st.sampled_from([("seconds", 1), ("s", 1), ("minutes", 60), ("min", 60)]),
        ),
    ),
)
def test_421_and_451_are_rate_limited_only_when_the_reply_names_a_delay(
    smtp_code: int, reason: str, delay: tuple[str, int, tuple[str, int]] | None
) -> None:
    # A reply that names no delay is plain trouble ("451 Local error"):
    # PROVIDER_UNAVAILABLE like any 4xx, never a throttle with nothing to wait for.
    text = reason
    if delay is not None:
        words, amount, (unit, seconds_per_unit) = delay
        text = f"{reason}, {words} {amount} {unit}"
    error = smtplib.SMTPDataError(smtp_code, text.encode())

    result = result_from_exception(
        error, provider="email", server="smtp:25", stage="data", timeout=30, recipient="a@b.c"
    )

    assert result.error is not None
    if delay is None:
        assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
        assert "retry_after" not in result.error.details
    else:
        assert result.error.code is ErrorCode.RATE_LIMITED
        assert result.error.details["retry_after"] == float(amount * seconds_per_unit)
    assert result.error.details["smtp_code"] == smtp_code


def test_a_contact_handed_to_the_provider_directly_is_sent_to_its_email_address(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    person = Contact({"phone": "+6281234567", "email": "ops@example.org"}, id="ops")
    metadata = {"reference_id": "alert-9"}

    result = email_provider.send(Message(person, "Disk full", metadata=metadata))
    by_address = email_provider.build_message(
        Message("ops@example.org", "Disk full", metadata=metadata)
    )

    assert result.success, result.error
    (received,) = smtp_server.messages
    assert smtp_server.handler.envelopes[0][1] == ["ops@example.org"]
    assert received["To"] == "ops@example.org"
    # The same Message-ID as through an orchestrator, which hands over the address.
    assert received["Message-ID"] == by_address["Message-ID"] == result.message_id


def test_a_contact_without_an_email_address_is_an_invalid_recipient_without_connecting(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    result = email_provider.send(Message(Contact({"phone": "+6281234567"}), "Disk full"))

    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert "email address" in result.error.message
    assert smtp_server.connections == 0
