"""Cheap, unique-enough identifiers for traces.

A trace id only has to be unique, not secret, and ``os.urandom`` costs a system
call per send. So ids come from a private PRNG seeded from the OS. It is private
so that a program calling ``random.seed(0)`` does not make every trace id
repeat, and it is reseeded in forked children so that worker processes forked
from one parent never hand out the same ids.
"""

from __future__ import annotations

import os
import random

__all__ = ["new_trace_id"]

_generator = random.Random(os.urandom(32))


def _reseed() -> None:
    _generator.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_trace_id() -> str:
    """32 lowercase hex digits, the W3C trace-context / OpenTelemetry trace id shape."""
    return _generator.randbytes(16).hex()  # half the cost of formatting a 128-bit int
