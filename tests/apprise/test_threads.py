"""Sending threads never share an Apprise service object.

Apprise does not document its service objects as thread-safe, and they keep
state between notifications (the last request's time for their pacing, tokens
fetched once). A probe service, registered with Apprise for the test, records
every object that is inside ``send`` and holds each send until two are in
flight at once: two sends through one object at the same time is the race.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from broadcastio import Message
from broadcastio_apprise import AppriseProvider

SCHEME = "bioprobe"


class _Probe:
    """What the probe's sends saw: objects in flight, objects used, overlaps."""

    def __init__(self, parties: int) -> None:
        self.lock = threading.Lock()
        self.in_flight: set[int] = set()
        self.used: list[tuple[int, int]] = []  # (thread id, object id)
        self.overlaps: list[int] = []
        self.barrier = threading.Barrier(parties)


@pytest.fixture
def probe() -> Iterator[_Probe]:
    from apprise.plugins import N_MGR
    from apprise.plugins.base import NotifyBase

    state = _Probe(parties=2)

    class NotifyProbe(NotifyBase):  # type: ignore[misc]
        service_name = "Probe"
        protocol = SCHEME
        request_rate_per_sec = 0

        def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
            return f"{SCHEME}://{self.host}/"

        def send(self, body: str, title: str = "", **kwargs: Any) -> bool:
            with state.lock:
                if id(self) in state.in_flight:
                    state.overlaps.append(id(self))
                state.in_flight.add(id(self))
                state.used.append((threading.get_ident(), id(self)))
            try:
                state.barrier.wait(timeout=10)  # both sends inside send() at once
            finally:
                with state.lock:
                    state.in_flight.discard(id(self))
            return True

        @staticmethod
        def parse_url(url: str) -> dict[str, Any] | None:
            return NotifyBase.parse_url(url, verify_host=False)  # type: ignore[no-any-return]

    N_MGR.add(NotifyProbe, schemas=SCHEME)
    try:
        yield state
    finally:
        N_MGR.remove(SCHEME)


def test_two_threads_sending_at_once_never_share_a_service_object(probe: _Probe) -> None:
    with AppriseProvider(urls=[f"{SCHEME}://channel"]) as provider:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(
                pool.map(provider.send, [Message("team", "one"), Message("team", "two")])
            )

    assert all(result.success for result in results), [result.error for result in results]
    assert probe.overlaps == []
    (first_thread, first_object), (second_thread, second_object) = probe.used
    assert first_thread != second_thread and first_object != second_object


def test_one_thread_keeps_its_service_objects_across_sends(probe: _Probe) -> None:
    probe.barrier = threading.Barrier(1)
    with AppriseProvider(urls=[f"{SCHEME}://channel"]) as provider:
        for text in ("one", "two", "three"):
            assert provider.send(Message("team", text)).success

    assert len({object_id for _, object_id in probe.used}) == 1
