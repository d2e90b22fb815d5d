"""Settings: URLs checked by Apprise (errors at their index), shown only redacted, lazy import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcastio import ConfigurationError, ValidationError
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import collect_providers
from broadcastio.plugins.settings import structure_settings
from broadcastio.records.serialization import converter
from broadcastio_apprise import AppriseProvider, AppriseSettings


def structured(settings: dict[str, object]) -> AppriseSettings:
    plugin_manager = PluginManager()
    plugin_manager.load_entry_points({})
    registration = collect_providers(plugin_manager)["apprise"]
    result: AppriseSettings = structure_settings(registration, settings, {}, instance="alerts")
    return result


def problem_paths(error: ConfigurationError) -> dict[tuple[str | int, ...], str]:
    return {problem.key_path: problem.problem for problem in error.problems}


def test_a_bad_url_is_named_by_its_index() -> None:
    with pytest.raises(ConfigurationError) as caught:
        structured({"urls": ["json://hooks.example.com/a", "nope://secret-token-123"]})
    problems = problem_paths(caught.value)
    assert list(problems) == [("urls", 1)]
    assert "nope://" in problems[("urls", 1)]
    assert "secret-token-123" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("hooks.example.com/notify", "expected an Apprise URL like"),
        ("json://a.example.com json://b.example.com", "several list items"),
        ("", "cannot be empty"),
        ("json://hooks.example.com/?retry=2", "retry=2 makes Apprise retry"),
        ("tgram://not-a-bot-token/", "cannot parse this Telegram URL"),
    ],
)
def test_urls_apprise_cannot_use_are_refused_with_the_reason(url: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        structured({"urls": ["json://hooks.example.com/ok", url]})
    assert words in problem_paths(caught.value)[("urls", 1)]


def test_retry_zero_is_allowed() -> None:
    (url,) = structured({"urls": ["json://hooks.example.com/?retry=0"]}).urls
    assert url.service == "JSON"


def test_urls_must_be_a_list_of_strings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        structured({"urls": "json://hooks.example.com"})
    assert list(problem_paths(caught.value)) == [("urls",)]
    with pytest.raises(ConfigurationError) as caught:
        structured({"urls": ["json://hooks.example.com", 5]})
    assert list(problem_paths(caught.value)) == [("urls", 1)]


@pytest.mark.parametrize("timeout", [0, -1, 601, "30"])
def test_timeout_out_of_range_is_refused(timeout: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        structured({"urls": ["json://hooks.example.com"], "timeout": timeout})
    assert "timeout" in caught.value.message


def test_a_provider_without_urls_says_what_to_add() -> None:
    with pytest.raises(ValidationError) as caught:
        AppriseProvider()
    assert caught.value.field == "urls"
    assert "needs urls" in caught.value.message


def test_python_callers_get_the_index_too() -> None:
    with pytest.raises(ValidationError) as caught:
        AppriseSettings(urls=["json://hooks.example.com", "nope://x"])
    assert caught.value.message.startswith("urls[1]: ")
    assert caught.value.field == "urls"


_SECRET = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8)


@settings(max_examples=40, deadline=None)
@given(password=_SECRET, token=_SECRET)
def test_secrets_never_show_in_repr_or_written_settings(password: str, token: str) -> None:
    urls = [
        f"json://ops:{password}@hooks.example.com/notify?+Authorization=Bearer%20{token}",
        f"mailtos://alerts:{password}@example.com?to=ops@example.com",
        f"ntfys://ops:{password}@ntfy.example.com/topic?token={token}",
    ]
    settings_ = AppriseSettings(urls=urls)
    written = str(converter.unstructure(settings_))
    shown = repr(settings_) + written + " ".join(str(url) for url in settings_.urls)
    assert password not in shown and token not in shown
    assert written.count("hooks.example.com") == 1  # redacted, not blanked out


def test_neither_the_package_nor_plugin_discovery_imports_apprise() -> None:
    code = textwrap.dedent(
        """
        import sys
        import broadcastio_apprise
        from broadcastio.plugins.manager import PluginManager
        from broadcastio.plugins.registry import collect_providers
        manager = PluginManager()
        manager.load_entry_points({})
        assert "apprise" in collect_providers(manager)
        assert "apprise" not in sys.modules, "imported by loading the plugin"
        broadcastio_apprise.AppriseSettings()
        assert "apprise" not in sys.modules, "imported by settings without URLs"
        broadcastio_apprise.AppriseProvider(urls=["json://hooks.example.com"])
        assert "apprise" in sys.modules, "a built provider needs Apprise"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
