"""``Receipt``: what a provider learned about a message after accepting it.

Accepting a message ("delivered" in a broadcast's journal) only means the
provider took it. Some channels report more later: WhatsApp says when its
server has the message, when it reached the recipient's phone, when it was
read. A ``Receipt`` is one such report; providers that learn nothing after a
send have none (``MessageProvider.fetch_receipts`` answers ``{}``), and the
journal then says the receipt is unknown rather than guessing "delivered".
"""

from __future__ import annotations

import datetime as _dt
import enum

import attrs

from broadcastio.errors import ValidationError

__all__ = ["Receipt", "ReceiptState"]


class ReceiptState(str, enum.Enum):
    """How far a message got, as the channel reports it; values are stored in the journal.

    In order of progress: ``pending`` < ``server`` < ``device`` < ``read`` <
    ``played``. ``error`` is the channel saying the message will not arrive.
    """

    PENDING = "pending"
    """Accepted, not yet confirmed by the channel's server."""
    SERVER = "server"
    """The channel's server has it (one tick in WhatsApp)."""
    DEVICE = "device"
    """On the recipient's device (two ticks)."""
    READ = "read"
    """The recipient opened it (blue ticks; only when they share read receipts)."""
    PLAYED = "played"
    """A voice or video message was played."""
    ERROR = "error"
    """The channel reports that delivery failed."""

    @property
    def rank(self) -> int:
        """Progress, for "at least ``device``" questions; ``error`` ranks lowest."""
        return _RANK[self]

    def at_least(self, other: ReceiptState) -> bool:
        """Whether this state is ``other`` or further along (never true for ``error``)."""
        return self is not ReceiptState.ERROR and self.rank >= other.rank

    def __str__(self) -> str:
        return self.value


_RANK = {
    ReceiptState.ERROR: -1,
    ReceiptState.PENDING: 0,
    ReceiptState.SERVER: 1,
    ReceiptState.DEVICE: 2,
    ReceiptState.READ: 3,
    ReceiptState.PLAYED: 4,
}


def _state(value: ReceiptState | str) -> ReceiptState:
    try:
        return ReceiptState(value)
    except ValueError:
        names = ", ".join(state.value for state in ReceiptState)
        raise ValidationError(f"Receipt state must be one of {names}; got {value!r}") from None


def _aware(name: str, value: _dt.datetime | None) -> _dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, _dt.datetime) or value.tzinfo is None:
        raise ValidationError(f"Receipt {name} must be a timezone-aware datetime, got {value!r}")
    return value


@attrs.frozen
class Receipt:
    """The channel's latest word on one message it accepted.

    ``message_id`` is the provider's id (``DeliveryResult.message_id``);
    ``state`` the latest state; ``updated_at`` when the channel recorded it
    (``None`` if it does not say). ``delivered_at`` and ``read_at`` are when the
    message reached the device and was read, when the channel says so.
    """

    message_id: str
    state: ReceiptState = attrs.field(converter=_state)
    updated_at: _dt.datetime | None = None
    delivered_at: _dt.datetime | None = None
    read_at: _dt.datetime | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.message_id, str) or not self.message_id:
            raise ValidationError(
                f"Receipt message_id must be non-empty text, got {self.message_id!r}"
            )
        for name in ("updated_at", "delivered_at", "read_at"):
            _aware(name, getattr(self, name))
