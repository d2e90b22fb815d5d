"""Apprise URLs as settings values: checked by Apprise itself, shown only redacted.

An Apprise URL is a credential: ``tgram://BOT_TOKEN/CHAT``,
``mailtos://user:PASSWORD@example.com``, ``json://host/?+Authorization=Bearer%20X``.
``AppriseUrl`` keeps the URL as written (``value``, for Apprise alone) next to
the form a person may see (``shown``), and its ``repr`` and ``str`` are the
shown form, so a URL printed, logged or put in an error by accident is already
redacted.

The generic HTTP schemes (``json://``, ``xml://``, ``form://`` and their
``s`` forms) post to whatever path the URL names, and for the endpoints they
reach (a function URL, an incoming-webhook URL) that path usually is the
credential, which Apprise's privacy form shows as it is. For them the path is
shown as ``/***`` (scheme, host and port stay, as the webhook plugin shows its
URLs), and the path and the ``-name=value`` parameters Apprise appends to the
request's query are secrets scrubbed from log lines and results.

Apprise is imported the first time a URL is checked, never when the plugin is
loaded: listing plugins or sending through other providers does not pay for
Apprise's ~100 service plugins.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs

from broadcastio import ValidationError
from broadcastio_apprise.logs import quiet

if TYPE_CHECKING:
    from apprise import AppriseAsset
    from apprise.plugins import NotifyBase

__all__ = ["GENERIC_SCHEMES", "REDACTED", "AppriseUrl", "load_url", "scrub"]

REDACTED = "***"

GENERIC_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
"""Schemes whose URL path (and ``-`` parameters) are shown only as ``***``: see the module docs."""

# Query parameters whose value is a secret whatever the service: Apprise's
# privacy form hides the secrets it knows of (passwords, tokens in the path),
# but prints custom headers (``+Authorization=...``) and unknown parameters
# as they are.
_SECRET_PARAMETER = re.compile(
    r"key|token|secret|pass|auth|credential|signature|sig\b|apikey", re.IGNORECASE
)
# Shorter parts of a URL (a user name "ops", a port) are not scrubbed from
# text: replacing them everywhere would garble messages and hide nothing.
_MIN_SECRET_LENGTH = 4


@attrs.frozen(repr=False, eq=True)
class AppriseUrl:
    """One Apprise URL: ``value`` as written (secret), ``shown`` redacted, ``service`` its name.

    Build it with ``load_url``, which asks Apprise whether it can use the URL.
    Equality compares ``value``; ``repr`` and ``str`` never show it.
    """

    value: str = attrs.field(repr=False)
    shown: str = attrs.field(eq=False)
    service: str = attrs.field(eq=False)
    secrets: tuple[str, ...] = attrs.field(eq=False, repr=False, default=())
    """The parts of ``value`` that ``scrub`` removes from any text shown to a person."""
    read_timeout_set: bool = attrs.field(eq=False, default=False)
    """Whether the URL sets Apprise's socket read timeout (``rto=``) itself."""

    def __repr__(self) -> str:
        return f"AppriseUrl({self.shown!r})"

    def __str__(self) -> str:
        return self.shown


def load_url(value: Any, asset: AppriseAsset | None = None) -> tuple[AppriseUrl, NotifyBase]:
    """``value`` checked by Apprise: the ``AppriseUrl`` and the service object Apprise built.

    A ``ValidationError`` says what is wrong without showing the URL's
    secrets: not a string, not one URL, a scheme no Apprise plugin knows, a
    plugin that is disabled here (a package it needs is missing), values the
    service refuses, or ``retry=`` (broadcastio retries, see the module docs).
    ``asset`` is what the service is built with (the provider's, carrying its
    timeout); unset, Apprise's default.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an Apprise URL string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValidationError("an Apprise URL cannot be empty")
    if any(char.isspace() or ord(char) < 32 for char in text):
        raise ValidationError(
            "expected one Apprise URL without blanks; give several URLs as several list items"
        )
    scheme, separator, _ = text.partition("://")
    if not separator or not scheme:
        raise ValidationError(
            f"expected an Apprise URL like json://host/path or mailtos://user:pass@example.com, "
            f"got {_scheme_only(text)!r}"
        )
    import apprise
    from apprise.plugins import N_MGR

    asset = asset if asset is not None else apprise.AppriseAsset()
    known = scheme.lower() in N_MGR
    if known and not N_MGR[scheme.lower()].enabled:
        raise ValidationError(
            f"Apprise's {scheme.lower()}:// plugin is disabled here "
            "(usually a Python package it needs is not installed)"
        )
    generic = scheme.lower() in GENERIC_SCHEMES
    secrets = _secret_parts(text, generic=generic)
    with quiet():
        try:
            service = apprise.Apprise.instantiate(text, asset=asset, suppress_exceptions=False)
        except Exception as exc:  # noqa: BLE001 - a plugin refusing its arguments
            words = scrub(str(exc), secrets) or type(exc).__name__
            name = N_MGR[scheme.lower()].service_name if known else scheme
            raise ValidationError(f"Apprise cannot use this {name} URL: {words}") from None
    if service is None:
        if not known:
            raise ValidationError(
                f"no Apprise plugin handles {scheme.lower()}:// URLs (a misspelled scheme?); "
                "see https://github.com/caronc/apprise/wiki for the supported services"
            )
        raise ValidationError(
            f"Apprise cannot parse this {N_MGR[scheme.lower()].service_name} URL "
            f"({_scheme_only(text)}); check it against the service's Apprise documentation"
        )
    retry = int(getattr(service, "retry", 0) or 0)
    if retry > 0:
        raise ValidationError(
            f"retry={retry} makes Apprise retry inside one broadcastio attempt; remove it and "
            "set the instance's retry table instead ([providers.NAME.retry])"
        )
    written = {name for name, _ in _query_pairs(urllib.parse.urlsplit(text).query)}
    privacy_url = service.url(privacy=True)  # type: ignore[no-untyped-call]
    shown = _shown(privacy_url, secrets, written, generic=generic)
    hidden = _hidden_parts(text, shown)
    url = AppriseUrl(
        value=text,
        shown=shown,
        service=str(service.service_name),
        # The URL as a whole is a secret only when Apprise's privacy form hides part of it.
        secrets=tuple(dict.fromkeys((*secrets, *hidden, *((text,) if hidden else ())))),
        read_timeout_set="rto" in written,
    )
    return url, service


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` (longest first) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scheme_only(text: str) -> str:
    scheme, separator, _ = text.partition("://")
    return f"{scheme}://{REDACTED}" if separator else REDACTED


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a query as Apprise reads them: ``+`` is a character, not a blank."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return pairs


def _secret_parts(text: str, *, generic: bool = False) -> tuple[str, ...]:
    """The parts of a URL that may be secrets: its password and secret-ish parameter values.

    With ``generic`` (a ``json://``-like scheme), also its path and the values
    of its ``-name`` parameters, which Apprise puts in the request's query.
    Both as written and percent-decoded, since Apprise and plugins log either.
    """
    parts = urllib.parse.urlsplit(text)
    candidates = []
    try:
        password = parts.password
    except ValueError:
        password = None
    if password:
        candidates.append(password)
    if generic and parts.path.strip("/"):
        candidates.append(parts.path.strip("/"))
    for name, value in _query_pairs(parts.query):
        if _is_secret_parameter(name, generic=generic):
            candidates.append(value)
    decoded = [urllib.parse.unquote(candidate) for candidate in candidates]
    return tuple(
        dict.fromkeys(
            candidate
            for candidate in (*candidates, *decoded)
            if len(candidate) >= _MIN_SECRET_LENGTH
        )
    )


_URL_DELIMITERS = re.compile(r"[/:@?&=#,;+\s]+")


def _hidden_parts(text: str, shown: str) -> tuple[str, ...]:
    """The pieces of the URL that Apprise's privacy form does not show: its idea of the secrets.

    Apprise knows, per service, which parts are credentials (Discord's webhook
    token in the path, Telegram's bot token as the host); whatever it leaves
    out of the shown form (in the host and path) is treated as secret wherever
    it turns up in a log line or a failure reason, as written and
    percent-decoded.
    """
    visible = (shown, urllib.parse.unquote(shown))
    # The query is left to _secret_parts: a parameter Apprise does not echo
    # (mode=insecure) is a setting, not a secret, unless named like one.
    _, _, rest = text.partition("://")
    rest = rest.split("?", 1)[0]
    pieces = []
    for piece in _URL_DELIMITERS.split(rest):
        for form in (piece, urllib.parse.unquote(piece)):
            if len(form) >= _MIN_SECRET_LENGTH and not any(form in view for view in visible):
                pieces.append(form)
    return tuple(dict.fromkeys(pieces))


def _is_secret_parameter(name: str, *, generic: bool) -> bool:
    """A header (``+Name``), a name like a secret's, or for a generic scheme a ``-name``."""
    return (
        name.startswith("+")
        or bool(_SECRET_PARAMETER.search(name))
        or (generic and name.startswith("-"))
    )


def _shown(
    privacy_url: str, secrets: tuple[str, ...], written: set[str], *, generic: bool = False
) -> str:
    """Apprise's privacy form of a URL, made safe to show.

    Only the query parameters the user wrote are kept (Apprise adds its
    defaults); a header (``+Name``), a ``-name`` or a parameter named like a
    secret shows ``***``; with ``generic`` the path shows as ``/***``; and any
    secret part of the original URL still present goes.
    """
    parts = urllib.parse.urlsplit(privacy_url)
    if generic and parts.path.strip("/"):
        parts = parts._replace(path=f"/{REDACTED}")
    query = []
    for name, value in _query_pairs(parts.query):
        if name not in written:
            continue
        if _is_secret_parameter(name, generic=True):
            value = REDACTED
        query.append((name, value))
    shown = urllib.parse.urlunsplit(
        parts._replace(query=urllib.parse.urlencode(query, safe="*+", quote_via=urllib.parse.quote))
    )
    return scrub(shown, secrets)
