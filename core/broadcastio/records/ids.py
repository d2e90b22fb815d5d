"""Cheap identifiers: trace ids, and random (version 4) UUIDs as text.

A trace id only has to be unique, not secret, and ``os.urandom`` costs a system
call per send. So ids come from a private PRNG seeded from the OS. It is private
so that a program calling ``random.seed(0)`` does not make every trace id
repeat, and it is reseeded in forked children so that worker processes forked
from one parent never hand out the same ids.

A message's reference id is another matter: providers derive idempotency keys
from it and it leaves the machine, so it keeps ``uuid.uuid4()``'s source,
``os.urandom``. What ``uuid.uuid4()`` adds on top, a ``UUID`` object built
and checked field by field and then formatted, costs more than the random
bytes themselves, once per message made (issue 15). ``new_reference_id`` sets
the version and variant bits on the integer and formats it once: the same
text ``str(uuid.uuid4())`` gives.

The bytes are read from ``os.urandom`` 4 KiB at a time and handed out 16 at
a time (``_random_16``): the same kernel generator, one system call per 256
ids instead of one per id, which was most of an id's cost. Each 16 bytes are
handed out once: the slices come from a C iterator, whose ``next`` the
interpreter lock makes atomic, so two threads never get the same ones; a
forked child drops what it inherited, so it never repeats its parent's ids.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator

__all__ = ["new_reference_id", "new_trace_id", "new_uuid4_hex"]

_generator = random.Random(os.urandom(32))
# Bound once: reseeding reseeds this same generator, so the method stays right.
_random_bits = _generator.getrandbits


# 16-byte slices of the last block read from ``os.urandom``, as 1-tuples.
_RANDOM_BLOCK_BYTES = 4096
_random_slices: Iterator[tuple[bytes]] = iter(())


def _random_16() -> bytes:
    """16 bytes from ``os.urandom``, never handed out twice (see the module's docstring)."""
    global _random_slices
    try:
        return next(_random_slices)[0]
    except StopIteration:
        # Threads that meet the end together each read a block of their own:
        # whichever iterator ends up shared, each slice is still taken once.
        slices: Iterator[tuple[bytes]] = struct.iter_unpack(
            "16s", os.urandom(_RANDOM_BLOCK_BYTES)
        )
        _random_slices = slices
        return next(slices)[0]


def _reseed() -> None:
    global _random_slices
    _generator.seed(os.urandom(32))
    _random_slices = iter(())


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
_from_bytes = int.from_bytes


def new_uuid4_hex() -> str:
    """A random version 4 UUID as 32 lowercase hex digits: ``uuid.uuid4().hex``'s text."""
    return ((_from_bytes(_random_16(), "big") & _UUID4_CLEAR) | _UUID4_SET).to_bytes(
        16, "big"
    ).hex()


def new_reference_id() -> str:
    """A random version 4 UUID in its usual text form: ``str(uuid.uuid4())``'s text.

    Made from ``os.urandom`` as ``uuid.uuid4()`` is (a block at a time), so it
    is as unpredictable and as unlikely to repeat;
    ``uuid.UUID(new_reference_id()).version`` is 4.
    """
    digits = ((_from_bytes(_random_16(), "big") & _UUID4_CLEAR) | _UUID4_SET).to_bytes(
        16, "big"
    ).hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
