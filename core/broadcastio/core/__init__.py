"""Old import paths only: each ``broadcastio.core.<module>`` is the moved module itself.

The records now live in ``broadcastio.records`` and the delivery engine in
``broadcastio.engine`` (see docs/architecture.md); the 0.3.0a2 modules here
(``exceptions``, ``error_codes``, ``errors``, ``attachment``) warn when imported.
Nothing in broadcastio imports this package; it is kept, without a warning, so
existing imports keep working.
"""
