"""0.3.0a2's ``WhatsAppProvider(base_url, timeout=5)`` keeps working, with a warning.

We publish under the seed's distribution name, so its users upgrade into us;
their constructor calls must still build a working provider, and the warning
must show the spelling to move to.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ConfigurationError, Message, ValidationError
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings

MESSAGE = Message("+15551234567", "hello")


def test_a_positional_url_warns_and_still_sends(scripted_server) -> None:
    with pytest.warns(DeprecationWarning, match=r"WhatsAppProvider\(base_url=url\)") as caught:
        provider = WhatsAppProvider(scripted_server.url)
    # The warning points at the caller's line, not at the plugin's internals.
    assert caught[0].filename == __file__
    assert provider.base_url == scripted_server.url
    assert provider.send(MESSAGE).success
    assert scripted_server.requests[0]["path"] == "/v1/messages"


@given(seconds=st.one_of(st.integers(1, 300), st.floats(0.5, 300)))
def test_a_scalar_timeout_means_connect_and_read_as_before(seconds: float) -> None:
    with pytest.warns(DeprecationWarning, match=r"timeout=\(connect, read\)"):
        provider = WhatsAppProvider(base_url="http://127.0.0.1:3000", timeout=seconds)
    assert provider.settings.timeout == (seconds, seconds)
    provider.close()


def test_the_seed_spelling_with_both_arguments() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        provider = WhatsAppProvider("http://localhost:3000", 10)
    messages = [str(warning.message) for warning in caught]
    assert all(warning.category is DeprecationWarning for warning in caught)
    assert any("base_url=url" in message for message in messages)
    assert any("timeout=(10, 10)" in message for message in messages)
    assert provider.settings.timeout == (10.0, 10.0)
    assert provider.base_url == "http://localhost:3000"


def test_the_new_spelling_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WhatsAppProvider(base_url="http://localhost:3000", timeout=(5, 40)).close()
        WhatsAppProvider(WhatsAppSettings(base_url="http://localhost:3000")).close()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: WhatsAppProvider("http://a:1", base_url="http://b:2"), "base_url twice"),
        (lambda: WhatsAppProvider("http://a:1", 5, timeout=(1, 2)), "timeout twice"),
        (lambda: WhatsAppProvider(None, 5), "pass timeout=\\(connect, read\\) by keyword"),
    ],
)
def test_ambiguous_legacy_calls_are_refused(call, match) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigurationError, match=match):
            call()


def test_a_legacy_scalar_is_still_range_checked() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(ValidationError, match="timeout"):
        WhatsAppProvider("http://localhost:3000", 0)
