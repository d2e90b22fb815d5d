"""broadcastio-email: send messages by email through an SMTP server."""

from broadcastio_email.provider import HTML_EXTRA_KEY, EmailProvider, message_id
from broadcastio_email.settings import (
    FROM_ENV,
    HOST_ENV,
    PASSWORD_ENV,
    PORT_ENV,
    USERNAME_ENV,
    EmailSettings,
)

__all__ = [
    "FROM_ENV",
    "HOST_ENV",
    "HTML_EXTRA_KEY",
    "PASSWORD_ENV",
    "PORT_ENV",
    "USERNAME_ENV",
    "EmailProvider",
    "EmailSettings",
    "message_id",
]
