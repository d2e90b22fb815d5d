"""The send path builds its trace positionally, for speed: its field order is pinned here."""

from __future__ import annotations

import attrs

from broadcastio import DeliveryResult, DeliveryTrace, ErrorCode


def test_the_trace_field_order_the_send_path_relies_on() -> None:
    assert [field.name for field in attrs.fields(DeliveryTrace)] == [
        "trace_id",
        "started_at",
        "finished_at",
        "success",
        "attempts",
        "skipped",
    ]


def test_the_provider_shorthands_fill_the_fields_they_name() -> None:
    delivered = DeliveryResult.delivered("p", "id-1", status=200)
    assert delivered == DeliveryResult(
        success=True, provider="p", message_id="id-1", details={"status": 200}
    )
    failed = DeliveryResult.failed("p", "TIMEOUT", "too slow", waited=3)
    assert failed.success is False and failed.provider == "p" and failed.message_id is None
    assert failed.error is not None and failed.error.code is ErrorCode.TIMEOUT
    assert failed.error.details == {"waited": 3} and failed.details == {}
    assert failed.providers_tried == () and failed.trace is None
