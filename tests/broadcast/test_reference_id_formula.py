"""``reference_id_for`` keeps the journal's formula while reusing the hash of the broadcast id.

Every resume of an existing broadcast depends on the formula: the same
broadcast id and recipient must give the same id as they always did, whatever
was derived before, and from any thread.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio.broadcast import reference_id_for


def formula(broadcast_id: str, recipient: str) -> str:
    """The contract, written out: blake2b-128 of both texts, personalised."""
    text = f"{broadcast_id}\x00{recipient}".encode()
    return hashlib.blake2b(text, digest_size=16, person=b"bio-broadcast").hexdigest()


def test_known_ids_do_not_change() -> None:
    # Computed by the version before the prefix was reused: journals hold these.
    assert reference_id_for("spring-sale", "+15551234567") == "152bbfc78aed4d649b18b116575c8527"
    assert reference_id_for("b-1", "café") == "df5b2bab628963052ec0b85fe89ecc42"


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "", "é\x00"]) | st.text(), st.text())))
def test_any_sequence_of_ids_follows_the_formula(pairs: list[tuple[str, str]]) -> None:
    for broadcast_id, recipient in pairs:
        try:
            expected = formula(broadcast_id, recipient)
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                reference_id_for(broadcast_id, recipient)
            continue
        assert reference_id_for(broadcast_id, recipient) == expected


def test_threads_deriving_for_different_broadcasts_get_their_own_ids() -> None:
    wrong: list[tuple[str, str]] = []

    def derive(broadcast_id: str) -> None:
        for number in range(3000):
            recipient = f"+1555{number:07d}"
            if reference_id_for(broadcast_id, recipient) != formula(broadcast_id, recipient):
                wrong.append((broadcast_id, recipient))

    threads = [threading.Thread(target=derive, args=(f"b-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
