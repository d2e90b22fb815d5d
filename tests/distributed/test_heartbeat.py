"""A live worker keeps its heartbeat fresh even when Dramatiq's consumers fetch nothing.

Dramatiq refreshes a worker's heartbeat only when a consumer fetches or
acknowledges. A worker whose prefetch is full and whose threads all wait (for
a fleet slot, on a slow provider) would look dead once ``--redelivery-after``
passed, and another worker would send its messages again. Here the worker's
consumers and threads are paused outright: only the worker's own heartbeat
can move its score in Redis.
"""

from __future__ import annotations

from pathlib import Path

from distributed_helpers import wait_until

from broadcastio.distributed import WorkerOptions, start_worker


def test_a_worker_whose_consumers_are_idle_still_beats(tmp_path: Path, redis_url: str) -> None:
    config = tmp_path / "dummy.toml"
    config.write_text('[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n')
    running = start_worker(
        WorkerOptions(
            queue_url=redis_url,
            journal=tmp_path / "journal.sqlite",
            threads=1,
            config_path=config,
            redelivery_seconds=2,
        )
    )
    try:
        client = running.broker.client
        key = f"{running.broker.namespace}:__heartbeats__"
        me = running.broker.broker_id
        running.worker.pause()  # no fetch, no ack: Dramatiq writes no heartbeat now
        paused_at = client.zscore(key, me)
        assert paused_at is not None
        wait_until(
            lambda: (client.zscore(key, me) or 0) > paused_at + 1000,
            30,
            "a heartbeat written while the consumers are paused",
        )
    finally:
        running.worker.resume()
        running.stop()
