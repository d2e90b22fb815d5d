"""The package's version, reported as the instrumentation scope's version."""

__version__ = "0.1.0.dev0"
