"""Constants shared by the webhook tests (imported by name: tests are not a package)."""

from __future__ import annotations

SECRET_PATH = "/services/T000/B000/s3cr3tW3bh00kT0k3n"
"""A path shaped like a Slack webhook's: the part of a URL that must never be shown."""
