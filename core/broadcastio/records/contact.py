"""``Contact``: one person reachable at several addresses, one per kind of channel."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from broadcastio.errors import ValidationError

__all__ = ["Contact", "check_address", "recipient_key", "shown_address", "shown_recipient"]

# A kind names a family of addresses (``phone``, ``email``, ``telegram``): lowercase
# so that ``Email`` in one file and ``email`` in another cannot become two kinds.
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
# Names a recipient file or ``--to`` uses for something other than an address.
_RESERVED_KINDS = frozenset({"id", "recipient"})


def _check_text(name: str, value: Any) -> str:
    """``value`` stripped, if it is non-blank text encodable as UTF-8."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValidationError(f"{name} must not be empty or blank")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{name} is not valid Unicode text: character {exc.start + 1} is a lone surrogate",
            details={"field": name},
        ) from None
    return text


def _check_email(address: str) -> None:
    """A basic syntax check: enough to catch a typo, not an RFC 5322 parser.

    The mail server is the judge of whether an address exists; what is refused
    here is what can never be one (no ``@``, two of them, spaces, a domain
    without a dot), so a broadcast does not spend a send finding that out.
    """
    if any(character.isspace() or ord(character) < 32 or ord(character) == 127
           for character in address):
        raise ValidationError(
            f"invalid email address {address!r}: it must not contain spaces or control characters",
            details={"field": "email", "address": address},
        )
    local, at, domain = address.partition("@")
    if not at or "@" in domain or not local:
        raise ValidationError(
            f"invalid email address {address!r}: expected exactly one '@' with a name before it",
            details={"field": "email", "address": address},
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise ValidationError(
            f"invalid email address {address!r}: the domain {domain!r} needs a dot "
            "(like example.com)",
            details={"field": "email", "address": address},
        )


def shown_address(address: str) -> str:
    """``address`` as it may appear in logs and on screen: a URL's path and query hidden.

    A per-contact webhook address is a URL whose path is its credential (Slack,
    Discord and Teams webhook URLs are); so is any user or password in it. A
    URL shows as ``scheme://host[:port]/***``; anything else (a phone number,
    an email address, a chat id) is shown as it is.
    """
    scheme, separator, rest = address.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        return address
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    hidden = rest != authority or "@" in authority
    return f"{scheme}://{host}/***" if hidden else address


def check_address(kind: str, address: Any) -> str:
    """``address`` stripped and checked for ``kind``; ``ValidationError`` naming the kind if not."""
    text = _check_text(f"{kind} address", address)
    if kind == "email":
        _check_email(text)
    elif kind == "webhook":
        _check_webhook(text)
    return text


def _check_webhook(address: str) -> None:
    """A webhook address is an http(s) URL with a host; the error never repeats its path."""
    scheme, separator, rest = address.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if not separator or scheme.lower() not in ("http", "https") or not host or " " in address:
        raise ValidationError(
            # Not repeated: a webhook URL is often its own credential.
            "invalid webhook address: it must be an http:// or https:// URL with a host",
            details={"field": "webhook"},
        )


def _to_addresses(value: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"a contact's addresses must be a mapping of kind to address, "
            f"got {type(value).__name__}"
        )
    addresses: dict[str, str] = {}
    for kind in sorted(value, key=str):
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ValidationError(
                f"address kind {kind!r} is not a lowercase name like 'phone' or 'email'",
                details={"field": "addresses"},
            )
        if kind in _RESERVED_KINDS:
            raise ValidationError(
                f"{kind!r} is not an address kind (give a contact's id as id=...)",
                details={"field": "addresses"},
            )
        addresses[kind] = check_address(kind, value[kind])
    if not addresses:
        raise ValidationError(
            "a contact needs at least one address (phone, email, telegram, ...)",
            details={"field": "addresses"},
        )
    return addresses


def _to_id(value: str | None) -> str | None:
    return None if value is None else _check_text("contact id", value)


@attrs.frozen(eq=True, hash=False)
class Contact:
    """One person, reachable at one address per kind of channel.

    ``addresses`` maps an address kind (``phone``, ``email``, ``telegram``: a
    lowercase name, the one a provider declares as its ``address_kind``) to
    that person's address of that kind; it is kept sorted by kind so two
    contacts with the same addresses are equal and print alike. ``id`` is an
    optional stable identifier of the person (a customer number): when given,
    it alone identifies them across broadcasts and resumes, so an address that
    changes between two runs does not make them a new person.

    Email addresses get a basic syntax check here; other kinds are only
    checked to be non-blank text, their providers know their formats.
    """

    addresses: dict[str, str] = attrs.field(converter=_to_addresses)
    id: str | None = attrs.field(default=None, converter=_to_id)
    # A stable text that identifies this person, where a plain recipient string
    # goes: ``{"id":"..."}`` when the contact has an id, otherwise its addresses
    # as compact JSON with sorted kinds. JSON because it cannot be mistaken for a
    # phone number or an email address used as a plain recipient; the journal,
    # duplicate detection and the derived reference id all key on it, so it is
    # computed once, here.
    key: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        identity: Mapping[str, str] = (
            self.addresses if self.id is None else {"id": self.id}
        )
        key = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
        object.__setattr__(self, "key", key)

    def __hash__(self) -> int:
        return hash(self.key)

    def address(self, kind: str) -> str | None:
        """This person's address of ``kind``, or ``None`` if they have none."""
        return self.addresses.get(kind)

    def __str__(self) -> str:
        # For people reading logs and tables: a URL address shows without its secret path.
        shown = ", ".join(
            f"{kind}={shown_address(address)}" for kind, address in self.addresses.items()
        )
        return f"{self.id} ({shown})" if self.id is not None else shown

    def __repr__(self) -> str:
        # The same care as __str__: a repr lands in tracebacks, assertion messages
        # and %r log lines, where a webhook URL's path (its credential) must not.
        shown = {kind: shown_address(address) for kind, address in self.addresses.items()}
        return f"Contact(addresses={shown!r}, id={self.id!r})"


def recipient_key(recipient: str | Contact) -> str:
    """The text that identifies ``recipient``: a plain recipient itself, a contact's ``key``."""
    return recipient if isinstance(recipient, str) else recipient.key


def shown_recipient(key: str) -> str:
    """A recipient key (``recipient_key``) as a person may see it in a log line.

    A plain recipient is shown with ``shown_address``; a contact's key (compact
    JSON of its addresses, or of its id) with each address shown that way.
    """
    if key.startswith("{"):
        try:
            identity = json.loads(key)
        except ValueError:
            return shown_address(key)
        if isinstance(identity, dict) and all(isinstance(v, str) for v in identity.values()):
            shown = {kind: shown_address(value) for kind, value in identity.items()}
            return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
    return shown_address(key)
