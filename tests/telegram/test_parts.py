"""A message of several parts that fails half-way: honest results, retries that resume,
fallback that says what the reader already has. Driven through the orchestrator."""

from __future__ import annotations

from fake_telegram import FakeTelegram, Scripted
from telegram_helpers import TOKEN, words_of

from broadcastio import Contact, ErrorCode, Message, Orchestrator, RetryPolicy
from broadcastio_dummy import DummyProvider
from broadcastio_telegram import TelegramProvider

THREE_PARTS = "\n\n".join(f"Section {number}. " + "lorem ipsum " * 330 for number in (1, 2, 3))


def _provider(fake: FakeTelegram) -> TelegramProvider:
    return TelegramProvider(token=TOKEN, api_base=fake.api_base, timeout=5.0)


def test_a_failure_after_the_first_part_says_which_parts_were_delivered(
    fake: FakeTelegram,
) -> None:
    fake.script("sendMessage", Scripted(), Scripted(403, "Forbidden: bot was blocked by the user"))
    with _provider(fake) as provider:
        result = provider.send(Message("42", THREE_PARTS))

    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    details = result.error.details
    assert (details["part"], details["parts"], details["parts_sent"]) == (2, 3, 1)
    assert details["sent_message_ids"] == [fake.messages[0].message_id]
    assert result.error.message.startswith("part 2 of 3: ")
    assert "parts 1-1 were delivered" in result.error.message
    assert TOKEN not in words_of(result)


def test_a_retry_resumes_after_the_delivered_parts_and_sends_none_twice(
    fake: FakeTelegram,
) -> None:
    fake.script(
        "sendMessage",
        Scripted(),
        Scripted(429, "Too Many Requests: retry after 0", retry_after=0),
    )
    policy = RetryPolicy(max_attempts=3, retry_on=[ErrorCode.RATE_LIMITED])
    with Orchestrator([_provider(fake)], retry_policy=policy) as orchestrator:
        result = orchestrator.send(Message("42", THREE_PARTS), trace=True)

    assert result.success, result.error
    assert result.trace is not None and len(result.trace.attempts) == 2
    texts = [message.text or "" for message in fake.messages]
    assert [text.split(".")[0] for text in texts] == ["Section 1", "Section 2", "Section 3"]
    assert result.details["resumed_at_part"] == 2
    assert result.details["message_ids"] == [message.message_id for message in fake.messages]
    # Four sends: part 1, part 2 refused, part 2 again, part 3 (and getMe for health).
    sends = [call.status for call in fake.calls if call.method == "sendMessage"]
    assert sends == [200, 429, 200, 200]


def test_an_unanswered_part_is_sent_again_on_retry_as_the_timeout_warned(
    fake: FakeTelegram,
) -> None:
    # Part 2 reaches Telegram but the answer is lost: the retry cannot know,
    # sends part 2 again, and never part 1.
    fake.script("sendMessage", Scripted(), Scripted(drop=True, deliver=True))
    policy = RetryPolicy(max_attempts=2)  # PROVIDER_UNAVAILABLE is retried by default
    with Orchestrator([_provider(fake)], retry_policy=policy) as orchestrator:
        result = orchestrator.send(Message("42", THREE_PARTS))

    assert result.success, result.error
    heads = [(message.text or "").split(".")[0] for message in fake.messages]
    assert heads == ["Section 1", "Section 2", "Section 2", "Section 3"]


def test_the_same_text_as_a_new_message_is_sent_whole(fake: FakeTelegram) -> None:
    fake.script("sendMessage", Scripted(), Scripted(500, "Internal Server Error"))
    with _provider(fake) as provider:
        assert not provider.send(Message("42", THREE_PARTS)).success
        # Another message (a new reference id) with the same text is not a retry.
        assert provider.send(Message("42", THREE_PARTS)).success

    assert len(fake.messages) == 1 + 3


def test_fallback_after_a_partial_send_keeps_what_telegram_delivered_in_the_trace(
    fake: FakeTelegram,
) -> None:
    fake.script("sendMessage", Scripted(), Scripted(403, "Forbidden: bot was kicked"))
    backup = DummyProvider()
    contact = Contact({"telegram": "42", "phone": "+15551234567"})
    with Orchestrator([_provider(fake), backup]) as orchestrator:
        result = orchestrator.send(Message(contact, THREE_PARTS), trace=True)

    assert result.success
    assert result.provider == "dummy"
    assert result.trace is not None
    telegram_attempt = result.trace.attempts[0]
    assert telegram_attempt.provider == "telegram"
    assert telegram_attempt.error is not None
    assert telegram_attempt.error.details["parts_sent"] == 1
    assert len(fake.messages) == 1


def test_rate_limits_and_fallback_through_the_orchestrator(fake: FakeTelegram) -> None:
    fake.script("sendMessage", Scripted(429, "Too Many Requests: retry after 600", retry_after=600))
    backup = DummyProvider()
    # The policy allows waits of 30 s at most: Telegram asks for 600, so the
    # orchestrator falls back at once instead of sleeping.
    policy = RetryPolicy(max_attempts=3, retry_on=[ErrorCode.RATE_LIMITED], max_delay=30)
    with Orchestrator([_provider(fake), backup], retry_policy=policy) as orchestrator:
        result = orchestrator.send(Message("42", "short alert"))

    assert result.success
    assert result.provider == "dummy"
    assert result.providers_tried == ("telegram", "dummy")
    assert fake.messages == []
