"""broadcastio-whatsapp: send WhatsApp messages through the broadcastio node-bridge."""

from broadcastio_whatsapp.provider import (
    API_KEY_ENV,
    BASE_URL_ENV,
    WhatsAppProvider,
    idempotency_key,
)
from broadcastio_whatsapp.settings import WhatsAppSettings

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "WhatsAppProvider", "WhatsAppSettings", "idempotency_key"]
