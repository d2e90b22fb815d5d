"""The single place the broadcastio version is written; packaging reads it from here."""

__version__ = "0.4.0.dev0"
