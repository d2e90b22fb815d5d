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
# Bound once: reseeding reseeds this same generator, so the method stays right.
_random_bits = _generator.getrandbits


def _reseed() -> None:
    _generator.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_trace_id() -> str:
    """32 lowercase hex digits, the W3C trace-context / OpenTelemetry trace id shape."""
    # Two thirds of randbytes(16).hex() (no Python frame of its own), a third
    # of formatting the int with "032x"; the same 128 random bits.
    return _random_bits(128).to_bytes(16, "big").hex()
