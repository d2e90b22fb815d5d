"""``broadcastio send``: where the text (and the attachment) comes from."""

from __future__ import annotations

from broadcastio.cli import send as send_module

SEND = ("--config", "dummy.toml", "send", "--to", "+15551234567")


def sent(built) -> list:
    (orchestrator,) = built
    return orchestrator.providers[0].sent


def test_text_option(invoke, dummy_config, built) -> None:
    dummy_config()
    invoke(*SEND, "--text", "  indented\n")
    assert sent(built)[0].content == "  indented\n"  # --text is taken as given


def test_text_from_stdin_loses_trailing_newlines_only(invoke, dummy_config, built) -> None:
    dummy_config()
    result = invoke(*SEND, input="  disk usage\n/dev/sda1 93%\n\n")
    assert result.exit_code == 0
    assert sent(built)[0].content == "  disk usage\n/dev/sda1 93%"


def test_stdin_is_read_as_utf8(invoke, dummy_config, built) -> None:
    dummy_config()
    assert invoke(*SEND, input="Café ☕\r\nsecond line\r\n").exit_code == 0
    assert sent(built)[0].content == "Café ☕\nsecond line"


def test_stdin_that_is_not_utf8_is_a_usage_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, input=b"caf\xe9")
    assert result.exit_code == 2
    assert "no message text: stdin is not UTF-8 text" in result.stderr


def test_empty_stdin_is_a_usage_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, input="\n")
    assert result.exit_code == 2
    assert "no message text: stdin was empty" in result.stderr


def test_terminal_without_text_is_a_usage_error(invoke, dummy_config, monkeypatch) -> None:
    monkeypatch.setattr(send_module, "_stdin_is_terminal", lambda: True)
    dummy_config()
    result = invoke(*SEND)
    assert result.exit_code == 2
    assert "no message text: give --text or --text-file, or pipe" in result.stderr


def test_terminal_with_an_attachment_alone_sends_it_without_text(
    invoke, dummy_config, built, monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(send_module, "_stdin_is_terminal", lambda: True)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    dummy_config()
    result = invoke(*SEND, "--attach", "report.pdf")
    assert result.exit_code == 0
    (message,) = sent(built)
    assert message.content is None
    assert message.attachment.filename == "report.pdf"
    assert message.attachment.mime_type == "application/pdf"


def test_attachment_with_caption(invoke, dummy_config, built, tmp_path) -> None:
    (tmp_path / "chart.png").write_bytes(b"\x89PNG")
    dummy_config()
    assert invoke(*SEND, "--attach", "chart.png", "--text", "Weekly chart").exit_code == 0
    (message,) = sent(built)
    assert message.content == "Weekly chart" and message.attachment.filename == "chart.png"


def test_missing_attachment_is_a_usage_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text", "hi", "--attach", "gone.pdf")
    assert result.exit_code == 2
    assert result.stderr == (
        "broadcastio: error: attachment file not found or not a regular file: gone.pdf\n"
    )


def test_text_file(invoke, dummy_config, built, tmp_path) -> None:
    (tmp_path / "body.txt").write_text("Line one\nLine two\n", encoding="utf-8")
    dummy_config()
    assert invoke(*SEND, "--text-file", "body.txt").exit_code == 0
    assert sent(built)[0].content == "Line one\nLine two"


def test_text_file_dash_is_stdin(invoke, dummy_config, built) -> None:
    dummy_config()
    assert invoke(*SEND, "--text-file", "-", input="from stdin\n").exit_code == 0
    assert sent(built)[0].content == "from stdin"


def test_missing_text_file_is_a_usage_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text-file", "nowhere.txt")
    assert result.exit_code == 2
    assert "Invalid value for '--text-file'" in result.stderr
    assert "nowhere.txt" in result.stderr


def test_text_file_that_is_not_utf8_is_a_usage_error(invoke, dummy_config, tmp_path) -> None:
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    dummy_config()
    result = invoke(*SEND, "--text-file", "latin1.txt")
    assert result.exit_code == 2
    assert "'latin1.txt' is not UTF-8 text" in result.stderr


def test_text_and_text_file_are_exclusive(invoke, dummy_config, tmp_path) -> None:
    (tmp_path / "body.txt").write_text("x")
    dummy_config()
    result = invoke(*SEND, "--text", "hi", "--text-file", "body.txt")
    assert result.exit_code == 2
    assert "--text and --text-file cannot be used together" in result.stderr


def test_blank_recipient_is_a_validation_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke("--config", "dummy.toml", "send", "--to", "  ", "--text", "hi")
    assert result.exit_code == 2
    assert result.stderr == "broadcastio: error: recipient must not be empty or blank\n"
