"""The 0.3.0a2 module paths still import, warn where the user imported them, and map every name."""

from __future__ import annotations

import sys
import warnings

import pytest

import broadcastio
from broadcastio import ErrorCode
from broadcastio_dummy import DummyProvider
from broadcastio_whatsapp import WhatsAppProvider

# Every module 0.3.0a2 had that this release moved, with the names it held.
OLD_MODULES = {
    "broadcastio.core.exceptions": (
        "BroadcastioError",
        "ConfigurationError",
        "OrchestrationError",
        "ProviderError",
        "AttachmentError",
        "ValidationError",
        "ErrorCode",
    ),
    "broadcastio.core.error_codes": ("ErrorCode",),
    "broadcastio.core.errors": ("DeliveryError",),
    "broadcastio.core.attachment": ("Attachment",),
    "broadcastio.providers.dummy": ("DummyProvider",),
    "broadcastio.providers.whatsapp": ("WhatsAppProvider",),
}
TODAY = {
    "ProviderError": broadcastio.ConfigurationError,
    "DummyProvider": DummyProvider,
    "WhatsAppProvider": WhatsAppProvider,
}


def import_with_statement(module: str) -> None:
    # A real import statement in this file, so the warning's location can be checked.
    exec(compile(f"import {module}", __file__, "exec"), {})


@pytest.mark.parametrize("module", sorted(OLD_MODULES))
def test_old_module_warns_at_the_import_and_maps_every_name(module: str) -> None:
    with pytest.warns(DeprecationWarning, match=r"0\.3\.0a2 layout") as caught:
        import_with_statement(module)
    (warning,) = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert warning.filename == __file__
    assert module in str(warning.message)
    old = sys.modules[module]
    for name in OLD_MODULES[module]:
        # The warning names the new spelling of everything the module held.
        assert name in str(warning.message)
        assert getattr(old, name) is TODAY.get(name, getattr(broadcastio, name, None))


def test_the_warning_points_at_a_from_import_too() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        exec(
            compile("from broadcastio.core.exceptions import ProviderError", __file__, "exec"),
            {},
        )
    assert [w.filename for w in caught] == [__file__]


def test_every_seed_error_code_is_a_member_equal_to_its_old_string() -> None:
    with pytest.warns(DeprecationWarning):
        from broadcastio.core.error_codes import ErrorCode as OldErrorCode
    seed_members = [
        "ATTACHMENT_NOT_FOUND",
        "NO_PROVIDERS",
        "ALL_PROVIDERS_FAILED",
        "PROVIDER_MISCONFIGURED",
        "PROVIDER_UNAVAILABLE",
        "INVALID_MESSAGE",
    ]
    for name in seed_members:
        assert getattr(OldErrorCode, name) == name
        assert getattr(OldErrorCode, name) is ErrorCode[name]


def test_the_seed_exception_classes_keep_their_codes() -> None:
    with pytest.warns(DeprecationWarning):
        from broadcastio.core import exceptions as old
    assert old.ProviderError("base_url is not configured").code == "PROVIDER_MISCONFIGURED"
    assert old.ValidationError("bad").code == "INVALID_MESSAGE"
    assert old.AttachmentError("gone").code == "ATTACHMENT_NOT_FOUND"
    assert old.OrchestrationError("none").code == "NO_PROVIDERS"
    with pytest.raises(old.ProviderError):
        raise broadcastio.ConfigurationError("a provider's bad setting")


@pytest.mark.parametrize(
    ("module", "name", "distribution"),
    [
        ("broadcastio.providers.dummy", "DummyProvider", "broadcastio-dummy"),
        ("broadcastio.providers.whatsapp", "WhatsAppProvider", "broadcastio-whatsapp"),
    ],
)
def test_a_missing_plugin_is_a_clear_import_error(
    module: str, name: str, distribution: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = distribution.replace("-", "_")
    # None in sys.modules makes ``import package`` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, package, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ImportError) as caught:
            exec(f"from {module} import {name}", {})
    text = str(caught.value)
    assert f"{module}.{name} now lives in the {distribution} plugin package" in text
    assert f"pip install {distribution}" in text


def test_plugins_are_imported_only_when_a_provider_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "broadcastio_whatsapp", None)
    with pytest.warns(DeprecationWarning):
        import_with_statement("broadcastio.providers.whatsapp")
    with pytest.raises(AttributeError, match="has no attribute 'requests'"):
        sys.modules["broadcastio.providers.whatsapp"].requests  # noqa: B018
