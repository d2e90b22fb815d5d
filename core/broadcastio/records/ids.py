"""Cheap identifiers: trace ids, and random (version 4) UUIDs as text.

A trace id only has to be unique, not secret, and ``os.urandom`` costs a system
call per send. So ids come from a private PRNG seeded from the OS. It is private
so that a program calling ``random.seed(0)`` does not make every trace id
repeat, and it is reseeded in forked children so that worker processes forked
from one parent never hand out the same ids.

A message's reference id is another matter: providers derive idempotency keys
from it and it leaves the machine, so it keeps ``uuid.uuid4()``'s source, 16
bytes of ``os.urandom``. What ``uuid.uuid4()`` adds on top, a ``UUID`` object
built and checked field by field and then formatted, costs more than the
random bytes themselves, once per message made (issue 15).
``new_reference_id`` sets the version and variant bits on the integer and
formats it once: the same text ``str(uuid.uuid4())`` gives, at under half its
cost.
"""

from __future__ import annotations

import os
import random

__all__ = ["new_reference_id", "new_trace_id", "new_uuid4_hex"]

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


# RFC 4122 / 9562, version 4: the version nibble (bits 76-79 of the 128-bit
# integer) is 4 and the variant's two top bits (bits 62-63) are 10.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_urandom = os.urandom
_from_bytes = int.from_bytes


def new_uuid4_hex() -> str:
    """A random version 4 UUID as 32 lowercase hex digits: ``uuid.uuid4().hex``'s text."""
    return ((_from_bytes(_urandom(16), "big") & _UUID4_CLEAR) | _UUID4_SET).to_bytes(
        16, "big"
    ).hex()


def new_reference_id() -> str:
    """A random version 4 UUID in its usual text form: ``str(uuid.uuid4())``'s text.

    Made from ``os.urandom`` as ``uuid.uuid4()`` is, so it is as unpredictable
    and as unlikely to repeat; ``uuid.UUID(new_reference_id()).version`` is 4.
    """
    digits = ((_from_bytes(_urandom(16), "big") & _UUID4_CLEAR) | _UUID4_SET).to_bytes(
        16, "big"
    ).hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
