"""``${VAR}`` and ``${VAR:-default}`` in string values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ConfigurationError
from broadcastio.config.interpolation import interpolate

ENV = {"KEY": "s3cret", "EMPTY": "", "HOST": "bridge"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${KEY}", "s3cret"),
        ("Bearer ${KEY}", "Bearer s3cret"),
        ("http://${HOST}:${PORT:-3000}", "http://bridge:3000"),
        ("${MISSING:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),  # as in a shell, empty counts as unset
        ("${EMPTY}", ""),
        ("${MISSING:-}", ""),
        ("${MISSING:-a:-b}", "a:-b"),
        ("$${KEY}", "${KEY}"),
        ("cost: $5", "cost: $5"),
    ],
)
def test_expansion(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


def test_nested_tables_and_lists_are_walked_but_keys_are_not() -> None:
    data = {"${KEY}": {"list": ["${HOST}", 3, True]}}
    assert interpolate(data, ENV) == {"${KEY}": {"list": ["bridge", 3, True]}}


def test_missing_variable_names_the_key_and_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        interpolate({"providers": {"whatsapp": {"api_key": "${WA_KEY}"}}}, ENV)
    assert caught.value.message.startswith("providers.whatsapp.api_key: ")
    assert "WA_KEY is not set" in caught.value.message
    assert caught.value.details == {"key": "providers.whatsapp.api_key", "variable": "WA_KEY"}


@pytest.mark.parametrize("text", ["${}", "${1ABC}", "${KEY", "${KEY:default}", "${A B}"])
def test_malformed_references_are_errors(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^x\[0\]: malformed reference"):
        interpolate({"x": [text]}, ENV)


@given(st.text().filter(lambda text: "$" not in text))
def test_text_without_a_dollar_is_untouched(text: str) -> None:
    assert interpolate(text, ENV) == text


@given(st.text(alphabet=st.characters(blacklist_characters="}"), max_size=20))
def test_default_is_used_verbatim(default: str) -> None:
    assert interpolate("${UNSET_FOR_SURE:-" + default + "}", {}) == default
