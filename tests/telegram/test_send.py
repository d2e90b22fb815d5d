"""What a message becomes, checked on what the fake Bot API actually received."""

from __future__ import annotations

from fake_telegram import FakeTelegram
from telegram_helpers import TOKEN, jpeg_header, png

from broadcastio import Attachment, Contact, ErrorCode, Message
from broadcastio_telegram import TelegramProvider, utf16_length


def test_a_text_is_one_send_message_post_with_the_chat_id_as_a_number(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    result = provider.send(Message("123456789", "Disk full on db-1"))

    assert result.success, result.error
    (call,) = fake.calls
    assert (call.http_method, call.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert call.content_type == "application/json"
    assert call.params["chat_id"] == 123456789
    (sent,) = fake.messages
    assert sent.text == "Disk full on db-1"
    assert sent.parse_mode is None and sent.entities is None
    assert result.message_id == str(sent.message_id)
    assert result.details["parts"] == 1


def test_a_contact_is_reached_at_its_telegram_address(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    result = provider.send(Message(Contact({"telegram": "@ops_channel", "email": "a@b.io"}), "hi"))

    assert result.success, result.error
    assert fake.messages[0].chat_id == "@ops_channel"


def test_plain_text_gets_the_title_as_a_bold_entity_and_no_markup(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    title = "Alert 🚨 <db-1> *now*"
    provider.send(Message("42", "load > 9000 & rising", title=title))

    (sent,) = fake.messages
    assert sent.text == f"{title}\nload > 9000 & rising"
    # Offsets and lengths are UTF-16 code units: the emoji counts two.
    assert sent.entities == [{"type": "bold", "offset": 0, "length": utf16_length(title)}]
    assert utf16_length(title) == len(title) + 1


def test_html_titles_are_escaped_and_bold_and_the_content_is_html(fake: FakeTelegram) -> None:
    with TelegramProvider(token=TOKEN, api_base=fake.api_base, parse_mode="HTML") as provider:
        result = provider.send(
            Message("42", "<i>replica</i> lag &gt; 5 s", title="db <1> & db <2>")
        )

    assert result.success, result.error
    (sent,) = fake.messages
    assert sent.parse_mode == "HTML"
    assert sent.text == "<b>db &lt;1&gt; &amp; db &lt;2&gt;</b>\n<i>replica</i> lag &gt; 5 s"
    assert sent.visible == "db <1> & db <2>\nreplica lag > 5 s"


def test_markdown_v2_titles_escape_every_reserved_character(fake: FakeTelegram) -> None:
    title = "v1.2 (beta) - done! [x] #7 +1 = {ok} | a_b ~ `c` > d \\ e*"
    with TelegramProvider(token=TOKEN, api_base=fake.api_base, parse_mode="MarkdownV2") as provider:
        result = provider.send(Message("42", "_see_ the logs", title=title))

    assert result.success, result.error
    (sent,) = fake.messages
    # The fake parses MarkdownV2 as Telegram does: an unescaped reserved
    # character would have been a 400.
    assert sent.visible == f"{title}\nsee the logs"


def test_markdown_v2_content_the_user_did_not_escape_is_refused_as_invalid_message(
    fake: FakeTelegram,
) -> None:
    with TelegramProvider(token=TOKEN, api_base=fake.api_base, parse_mode="MarkdownV2") as provider:
        result = provider.send(Message("42", "version 1.2 is out"))

    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_MESSAGE
    assert "reserved" in result.error.details["telegram_description"]
    assert fake.messages == []


def test_settings_become_the_bot_api_flags(fake: FakeTelegram) -> None:
    with TelegramProvider(
        token=TOKEN,
        api_base=fake.api_base,
        disable_notification=True,
        disable_link_preview=True,
        protect_content=True,
    ) as provider:
        provider.send(Message("-1001234567890", "see https://example.com"))

    (sent,) = fake.messages
    assert sent.chat_id == "-1001234567890"
    assert sent.params["disable_notification"] is True
    assert sent.params["protect_content"] is True
    assert sent.params["link_preview_options"] == {"is_disabled": True}


def test_an_address_that_is_no_chat_id_fails_without_a_request(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    for address in ("+62 812 3456", "ops@example.com", "@ab", "12ab"):
        result = provider.send(Message(address, "hi"))
        assert result.error is not None
        assert result.error.code is ErrorCode.INVALID_RECIPIENT, address
        assert address in result.error.message
    assert fake.calls == []


def test_a_long_text_goes_out_as_several_messages_in_order(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    paragraphs = [f"Paragraph {number}: " + "word " * 300 for number in range(1, 13)]
    text = "\n\n".join(paragraph.strip() for paragraph in paragraphs)

    result = provider.send(Message("42", text, title="Weekly report"))

    assert result.success, result.error
    sent = fake.messages
    assert len(sent) == result.details["parts"] >= 5
    assert result.details["message_ids"] == [message.message_id for message in sent]
    assert all(utf16_length(message.visible) <= 4096 for message in sent)
    # Cut at paragraph breaks only: each message is whole paragraphs.
    assert "\n\n".join(message.text or "" for message in sent) == f"Weekly report\n{text}"
    assert sent[0].entities == [{"type": "bold", "offset": 0, "length": 13}]
    assert all(message.entities is None for message in sent[1:])


def test_a_png_within_the_photo_limits_is_a_photo_with_the_text_as_caption(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    image = png(64, 32)
    result = provider.send(
        Message(
            "42", "CPU graph", title="db-1", attachment=Attachment.from_bytes(image, "cpu.png")
        )
    )

    assert result.success, result.error
    (call,) = fake.calls
    assert call.path.endswith("/sendPhoto")
    assert call.content_type.startswith("multipart/form-data")
    assert call.params["chat_id"] == "42"
    (sent,) = fake.messages
    assert sent.upload is not None
    assert (sent.upload.filename, sent.upload.content_type) == ("cpu.png", "image/png")
    assert sent.upload.data == image
    assert sent.text == "db-1\nCPU graph"
    assert sent.entities == [{"type": "bold", "offset": 0, "length": 4}]


def test_images_outside_the_photo_limits_and_other_files_are_documents(
    fake: FakeTelegram, provider: TelegramProvider, tmp_path: object
) -> None:
    cases = [
        Attachment.from_bytes(png(9000, 2000), "wide.png"),  # width + height > 10,000
        Attachment.from_bytes(png(2100, 100), "strip.png"),  # ratio over 20
        Attachment.from_bytes(b"GIF89a...", "anim.gif"),
        Attachment.from_bytes(b"%PDF-1.7 report", "report.pdf"),
        Attachment.from_bytes(b"\x89PNG broken", "broken.png"),  # size unreadable
    ]
    for attachment in cases:
        assert provider.send(Message("42", None, attachment=attachment)).success

    assert [call.method for call in fake.calls] == ["sendDocument"] * len(cases)
    assert [message.upload.data for message in fake.messages if message.upload] == [
        attachment.read_bytes() for attachment in cases
    ]


def test_a_jpeg_is_a_photo(fake: FakeTelegram, provider: TelegramProvider) -> None:
    image = jpeg_header(1280, 720)
    provider.send(Message("42", None, attachment=Attachment.from_bytes(image, "shot.jpg")))

    assert [call.method for call in fake.calls] == ["sendPhoto"]


def test_a_text_too_long_for_a_caption_is_sent_first_and_the_file_after_it(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    text = "x" * 1500
    result = provider.send(
        Message("42", text, attachment=Attachment.from_bytes(b"log lines", "app.log"))
    )

    assert result.success, result.error
    assert [call.method for call in fake.calls] == ["sendMessage", "sendDocument"]
    first, second = fake.messages
    assert first.text == text
    assert second.text is None and second.upload is not None
    assert result.details["parts"] == 2


def test_a_file_too_large_for_the_bot_api_is_refused_before_any_request(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    huge = Attachment.from_bytes(b"\x00" * (50 * 1024 * 1024 + 1), "dump.bin")
    result = provider.send(Message("42", "the dump", attachment=huge))

    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_MESSAGE
    assert "50 MB" in result.error.message
    assert fake.calls == []


def test_a_missing_attachment_file_is_attachment_not_found(
    fake: FakeTelegram, provider: TelegramProvider, tmp_path: object
) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "gone.txt"
    path.write_text("soon gone")
    message = Message("42", "see file", attachment=Attachment(path))
    path.unlink()

    result = provider.send(message)

    assert result.error is not None
    assert result.error.code is ErrorCode.ATTACHMENT_NOT_FOUND
    assert fake.calls == []


def test_one_provider_sends_from_many_threads_at_once(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    messages = [Message(str(1000 + number), f"message {number}") for number in range(60)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(provider.send, messages))

    assert all(result.success for result in results)
    received = {(sent.chat_id, sent.text) for sent in fake.messages}
    assert received == {(str(1000 + number), f"message {number}") for number in range(60)}
    assert len({result.message_id for result in results}) == 60
