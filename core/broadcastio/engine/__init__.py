"""The delivery engine: the orchestrator, its chain checks, observers, health
cache and deadline. It imports records, the provider interface and errors, and
nothing above: plugins reach it through the ``HookRelay`` protocol.
"""
