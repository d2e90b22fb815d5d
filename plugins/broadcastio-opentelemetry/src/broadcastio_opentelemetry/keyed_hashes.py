"""``RecipientKey``: the user's secret, and the keyed hashes that stand in for personal data.

A span must never carry who a message went to, nor anything from which that can
be worked out by trying every phone number: the address, a message id holding
it (WhatsApp's), a digest made of it without a secret (a broadcast's reference
id). A user who needs to find one person's messages anyway gives the plugin a
key; each such value is then recorded as an HMAC-SHA256 under it, which nobody
without the key can recompute or reverse.
"""

from __future__ import annotations

import hashlib
import hmac

from broadcastio import ConfigurationError, Contact
from broadcastio.records.contact import recipient_key

__all__ = ["MINIMUM_KEY_BYTES", "RecipientKey"]

MINIMUM_KEY_BYTES = 16
"""A shorter key could itself be guessed, and with it every hash reversed."""

# What each hash is of, so that one value can never pass for another's hash.
_REFERENCE_ID_LABEL = b"broadcastio.message.reference_id"
_MESSAGE_ID_LABEL = b"broadcastio.message.id"


class RecipientKey:
    """A checked secret (at least ``MINIMUM_KEY_BYTES``) and the hashes made with it.

    Every hash is the first 128 bits, in hex, of an HMAC-SHA256 under the key;
    the same key gives the same value in every process, so one person's (or one
    message's) spans can be found together and from the outside.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes | str) -> None:
        secret = key.encode() if isinstance(key, str) else key
        if len(secret) < MINIMUM_KEY_BYTES:
            raise ConfigurationError(
                f"recipient_key must be at least {MINIMUM_KEY_BYTES} bytes: a short key makes "
                f"the recipient hash easy to reverse (got {len(secret)})",
                field="recipient_key",
            )
        self._key = secret

    def __repr__(self) -> str:
        return "RecipientKey(***)"

    def recipient_hash(self, recipient: str | Contact) -> str:
        """``broadcastio.recipient.hash``: of the recipient's identity (an address, or a
        contact's id or addresses), unlabelled."""
        return self._hash(recipient_key(recipient).encode("utf-8", "surrogatepass"))

    def reference_id_hash(self, reference_id: str) -> str:
        """``broadcastio.message.reference_id_hash``: of a message's ``metadata.reference_id``."""
        return self._labelled(_REFERENCE_ID_LABEL, reference_id)

    def message_id_hash(self, message_id: str) -> str:
        """``broadcastio.message.id_hash``: of a provider's message id."""
        return self._labelled(_MESSAGE_ID_LABEL, message_id)

    def _labelled(self, label: bytes, value: str) -> str:
        return self._hash(label + b"\x00" + value.encode("utf-8", "surrogatepass"))

    def _hash(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()[:32]
