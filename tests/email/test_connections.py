"""Connection reuse: a broadcast opens about as many SMTP connections as it has threads."""

from __future__ import annotations

import threading
from pathlib import Path

from local_smtp import SmtpServer

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import broadcast
from broadcastio_email import EmailProvider

from email_helpers import provider_settings

CONCURRENCY = 4


def test_a_thousand_message_broadcast_opens_at_most_concurrency_connections(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    provider = EmailProvider(**provider_settings(smtp_server, certificate))
    messages = (Message(f"person{number}@example.org", f"Hello {number}") for number in range(1000))
    with Orchestrator([provider]) as orchestrator:
        report = broadcast(orchestrator, messages, concurrency=CONCURRENCY)

    assert report.delivered == 1000, report
    received = smtp_server.messages
    assert sorted(message["To"] for message in received) == sorted(
        f"person{number}@example.org" for number in range(1000)
    )
    assert len({message["Message-ID"] for message in received}) == 1000
    # Health is asked once per chain; the connection it proved is adopted by
    # the first sending thread, so health costs no connection of its own.
    assert provider.connections_opened <= CONCURRENCY
    assert smtp_server.connections <= CONCURRENCY


def test_close_ends_every_pooled_connection(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    provider = EmailProvider(**provider_settings(smtp_server, certificate))
    with Orchestrator([provider]) as orchestrator:
        broadcast(
            orchestrator,
            (Message(f"p{number}@example.org", "hi") for number in range(40)),
            concurrency=CONCURRENCY,
        )
    # Leaving the orchestrator closed the provider: the next send fails at once.
    result = provider.send(Message("late@example.org", "hi"))

    assert result.error is not None and "closed" in result.error.message
    assert provider.connections_opened <= CONCURRENCY
    # Every connection the server accepted (health's and the senders') is gone.
    assert smtp_server.wait_for_disconnections(smtp_server.connections) == smtp_server.connections


def test_the_connection_of_a_thread_that_ended_is_closed_when_another_opens(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    def send_once() -> None:
        assert email_provider.send(Message("ops@example.org", "hi")).success

    for _ in range(3):
        worker = threading.Thread(target=send_once)
        worker.start()
        worker.join()

    # Three threads, three connections; the first two belonged to threads that
    # had ended by the time the next opened, so they are closed already.
    assert email_provider.connections_opened == 3
    assert smtp_server.wait_for_disconnections(2) == 2
    email_provider.close()
    assert smtp_server.wait_for_disconnections(3) == 3


def test_health_hands_its_connection_to_the_next_send(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    assert email_provider.health().ready
    assert email_provider.send(Message("ops@example.org", "hi")).success

    assert smtp_server.connections == 1
    assert email_provider.connections_opened == 0  # adopted, not opened for sending


def test_a_second_health_check_replaces_the_spare_and_proves_the_login_again(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    assert email_provider.health().ready
    assert email_provider.health().ready

    # Each check connects and logs in afresh; the earlier spare is closed.
    assert smtp_server.connections == 2
    assert smtp_server.wait_for_disconnections(1) == 1
    email_provider.close()
    assert smtp_server.wait_for_disconnections(2) == 2


def test_a_spare_the_server_dropped_is_replaced_before_sending(
    email_provider: EmailProvider, smtp_server: SmtpServer
) -> None:
    assert email_provider.health().ready
    smtp_server.handler.script["NOOP"] = ["421 4.4.2 idle too long"]
    email_provider.idle_check_after = 0.0

    assert email_provider.send(Message("ops@example.org", "hi")).success
    assert email_provider.connections_opened == 1
    assert [message["To"] for message in smtp_server.messages] == ["ops@example.org"]
