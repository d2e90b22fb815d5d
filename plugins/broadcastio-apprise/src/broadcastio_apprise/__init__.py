"""broadcastio-apprise: notify Apprise URLs (about a hundred services) from broadcastio.

Importing this package does not import Apprise; building a provider does.
"""

from broadcastio_apprise.provider import READ_TIMEOUT_MARGIN, REMEMBERED_MESSAGES, AppriseProvider
from broadcastio_apprise.settings import TIMEOUT_MAX, AppriseSettings
from broadcastio_apprise.urls import AppriseUrl, load_url

__all__ = [
    "READ_TIMEOUT_MARGIN",
    "REMEMBERED_MESSAGES",
    "TIMEOUT_MAX",
    "AppriseProvider",
    "AppriseSettings",
    "AppriseUrl",
    "load_url",
]
