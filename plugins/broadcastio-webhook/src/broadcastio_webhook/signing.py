"""Signed requests: an HMAC-SHA256 of the timestamp and the body, in one header.

The header is ``Broadcastio-Signature: t=<unix seconds>,v1=<hex digest>``,
where the digest is ``HMAC-SHA256(key=signing_secret, msg=f"{t}." + body)``
over the body's exact bytes. Putting the timestamp under the MAC lets a
receiver refuse a replayed request (an old ``t``) without trusting anything
unsigned; the ``v1=`` label leaves room for another scheme later, sent beside
this one during a change-over. Each attempt is signed afresh, with its own
time; a retry of the same message keeps its ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "signature"]

SIGNATURE_HEADER = "Broadcastio-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Broadcastio-Signature`` header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"
