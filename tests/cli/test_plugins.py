"""``broadcastio plugins``: every installed plugin, broken ones with their error."""

from __future__ import annotations

import json

PROVIDER_PLUGIN = """
from broadcastio import DeliveryResult, MessageProvider, ProviderHealth, hookimpl

class Provider(MessageProvider):
    name = "{provider}"
    def send(self, message):
        return DeliveryResult.delivered(self.name, "id")
    def health(self):
        return ProviderHealth(self.name, True)

@hookimpl
def register_providers(register):
    register(Provider)

@hookimpl
def after_send(result):
    pass
"""

FAILING_REGISTRATION = """
from broadcastio import hookimpl

@hookimpl
def register_providers(register):
    raise RuntimeError("no licence key")
"""


def plugins_by_name(output: str) -> dict[str, dict]:
    return {plugin["name"]: plugin for plugin in json.loads(output)["plugins"]}


def test_lists_the_installed_plugins(invoke) -> None:
    result = invoke("plugins")
    assert result.exit_code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["PLUGIN", "DISTRIBUTION", "VERSION", "TYPES", "HOOKS"]
    names = [row.split()[0] for row in rows]
    assert names == sorted(names)  # listed by name, whatever else is installed
    by_name = {row.split()[0]: row.split() for row in rows}
    assert by_name["dummy"][:2] == ["dummy", "broadcastio-dummy"]
    assert by_name["dummy"][3:] == ["dummy", "register_providers"]
    assert by_name["email"][:2] == ["email", "broadcastio-email"]
    assert by_name["whatsapp"][:2] == ["whatsapp", "broadcastio-whatsapp"]


def test_json(invoke) -> None:
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    plugins = plugins_by_name(result.stdout)
    assert plugins["whatsapp"] == {
        "name": "whatsapp",
        "distribution": "broadcastio-whatsapp",
        "version": plugins["whatsapp"]["version"],
        "providers": ["whatsapp"],
        "hooks": ["register_providers"],
        "error": None,
    }
    assert plugins["whatsapp"]["version"].count(".") >= 2
    assert json.loads(result.stdout)["problems"] == []


def test_broken_plugin_is_listed_with_its_error(invoke, broken_plugin_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(broken_plugin_path))
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    broken = plugins_by_name(result.stdout)["broken"]
    assert broken["distribution"] == "broadcastio-broken" and broken["version"] == "1.0"
    assert broken["error"] == (
        "import failed: ImportError: the SDK broadcastio_broken needs is not installed"
    )
    assert broken["providers"] == [] and broken["hooks"] == []
    assert "dummy" in plugins_by_name(result.stdout)  # the others still load

    human = invoke("plugins")
    assert "broken plugins (skipped):\n  broken (broadcastio-broken 1.0): import failed" in (
        human.stdout
    )
    assert "broadcastio: warning: broadcastio plugin 'broken'" in human.stderr


def test_hooks_and_providers_of_a_plugin(invoke, monkeypatch, tmp_path, make_distribution):
    root = make_distribution(
        tmp_path / "site",
        "broadcastio-pager",
        {"pager": "broadcastio_pager"},
        {"broadcastio_pager": PROVIDER_PLUGIN.format(provider="pager")},
    )
    monkeypatch.syspath_prepend(str(root))
    pager = plugins_by_name(invoke("plugins", "--json").stdout)["pager"]
    assert pager["providers"] == ["pager"]
    assert pager["hooks"] == ["after_send", "register_providers"]


def test_failing_registration_makes_a_plugin_broken(
    invoke, monkeypatch, tmp_path, make_distribution
) -> None:
    root = make_distribution(
        tmp_path / "site",
        "broadcastio-licensed",
        {"licensed": "broadcastio_licensed"},
        {"broadcastio_licensed": FAILING_REGISTRATION},
    )
    monkeypatch.syspath_prepend(str(root))
    licensed = plugins_by_name(invoke("plugins", "--json").stdout)["licensed"]
    assert licensed["error"] == "register_providers failed: RuntimeError: no licence key"


def test_clashing_provider_names_are_a_problem_not_a_crash(
    invoke, monkeypatch, tmp_path, make_distribution
) -> None:
    root = make_distribution(
        tmp_path / "site",
        "broadcastio-fake-dummy",
        {"fake_dummy": "broadcastio_fake_dummy"},
        {"broadcastio_fake_dummy": PROVIDER_PLUGIN.format(provider="dummy")},
    )
    monkeypatch.syspath_prepend(str(root))
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    (problem,) = json.loads(result.stdout)["problems"]
    assert "provider name 'dummy' is registered twice" in problem
    assert "problem: provider name 'dummy' is registered twice" in invoke("plugins").stdout


def test_no_plugins(invoke, monkeypatch) -> None:
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "")
    result = invoke("plugins")
    assert result.exit_code == 0
    assert result.stdout.startswith("no plugins installed")
    assert json.loads(invoke("plugins", "--json").stdout) == {"plugins": [], "problems": []}


def test_disabled_plugins_are_not_listed(invoke, monkeypatch) -> None:
    monkeypatch.setenv("BROADCASTIO_DISABLE_PLUGINS", "whatsapp")
    listed = list(plugins_by_name(invoke("plugins", "--json").stdout))
    assert "whatsapp" not in listed
    assert {"dummy", "email"} <= set(listed)
