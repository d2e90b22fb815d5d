"""Mapping what Apprise reports for one notify() call onto a broadcastio result.

Apprise answers per service (``AppriseResult`` holds one ``NotifyResult`` per
URL notified); this module turns that into one ``DeliveryResult``, with each
URL's outcome in ``details["urls"]`` so a trace says which service failed.
Nothing here raises. The rules:

* every URL delivered (now or in an earlier attempt of the same message) →
  delivered;
* any URL timed out (Apprise stopped waiting; the service may still have
  taken the message) → ``TIMEOUT``;
* otherwise any URL failed → ``PROVIDER_UNAVAILABLE``. Apprise says only
  that a service failed, not why in a form a program can read (an outage, a
  refused token and a 4xx all look alike), and most failures of a
  notification service are passing ones: retrying is the useful default, and
  the provider never re-notifies a URL that already took the message (see
  ``AppriseProvider``);
* Apprise refusing the call itself (nothing notified) → ``PROVIDER_REJECTED``.

A partial failure is a failure: the message did not reach everyone it was
meant for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from broadcastio import DeliveryResult, ErrorCode
from broadcastio_apprise.urls import AppriseUrl, scrub

if TYPE_CHECKING:
    from apprise import AppriseResult

__all__ = ["DELIVERED", "FAILED", "SKIPPED", "TIMED_OUT", "result_from_apprise"]

DELIVERED = "delivered"
FAILED = "failed"
TIMED_OUT = "timeout"
SKIPPED = "already-delivered"
"""A URL that took this message in an earlier attempt; not notified again."""

_LOG_LIMIT = 300


def result_from_apprise(
    outcome: AppriseResult,
    *,
    provider: str,
    urls: Sequence[AppriseUrl],
    notified: Sequence[int],
    skipped: Iterable[int],
    timeout: float,
) -> tuple[DeliveryResult, list[int]]:
    """The ``DeliveryResult`` of one notify() call, and the indexes of the URLs it delivered to.

    ``urls`` are all the instance's URLs; ``notified`` the indexes of those
    this call notified, in the order given to Apprise (its results keep that
    order); ``skipped`` those left out because they already have the message.
    """
    from apprise import AppriseResultStatus

    reports: dict[int, dict[str, Any]] = {
        index: _report(index, urls[index], SKIPPED) for index in skipped
    }
    results = outcome.results
    if not results:
        # Apprise refused the call before any service: the message itself.
        logs = [entry.message for entry in outcome.call_logs()]
        reason = _words(logs, urls) or f"Apprise status {outcome.status.name}"
        return (
            DeliveryResult.failed(
                provider,
                ErrorCode.PROVIDER_REJECTED,
                f"Apprise notified no service: {reason}",
                urls=[reports[index] for index in sorted(reports)],
                apprise_status=outcome.status.name,
            ),
            [],
        )
    delivered: list[int] = []
    failing_indexes: list[int] = []
    for index, result in zip(notified, results, strict=True):
        attempts = result.attempts
        last = attempts[-1].status if attempts else AppriseResultStatus.FAILURE
        if last == AppriseResultStatus.SUCCESS:
            status = DELIVERED
        elif last == AppriseResultStatus.TIMEOUT:
            status = TIMED_OUT
        else:
            status = FAILED
        report = _report(index, urls[index], status)
        if result.optional:
            report["optional"] = True
        if status != DELIVERED:
            logs = [entry.message for entry in result.logs()]
            report["error"] = _words(logs, urls) or "Apprise gave no reason"
        if status == DELIVERED:
            delivered.append(index)
        # An optional URL (optional=yes) may fail without failing the send:
        # Apprise counts it a success, and so does this mapping.
        if not (status == DELIVERED or result.optional):
            failing_indexes.append(index)
        reports[index] = report
    ordered = [reports[index] for index in sorted(reports)]
    failing = [reports[index] for index in sorted(failing_indexes)]
    if not failing:
        return DeliveryResult.delivered(provider, None, urls=ordered), delivered
    timed_out = [report for report in failing if report["status"] == TIMED_OUT]
    summary = "; ".join(
        f"urls[{report['index']}] ({report['service']}) "
        + (
            f"did not finish within {timeout:g} s"
            if report["status"] == TIMED_OUT
            else f"failed: {report['error']}"
        )
        for report in failing
    )
    total = len(urls)
    prefix = f"{len(failing)} of {total} Apprise URL{'s' if total != 1 else ''} not delivered"
    if timed_out:
        code = ErrorCode.TIMEOUT
        summary += "; a service that timed out may still have delivered the message"
    else:
        code = ErrorCode.PROVIDER_UNAVAILABLE
    return (
        DeliveryResult.failed(
            provider,
            code,
            f"{prefix}: {summary}",
            urls=ordered,
            timeout_seconds=timeout,
        ),
        delivered,
    )


def _report(index: int, url: AppriseUrl, status: str) -> dict[str, Any]:
    return {"index": index, "service": url.service, "url": url.shown, "status": status}


def _words(logs: Iterable[str], urls: Sequence[AppriseUrl]) -> str:
    """Apprise's log lines for a failure as one short sentence, every URL's secrets removed."""
    secrets = tuple(secret for url in urls for secret in url.secrets)
    text = " ".join(" ".join(str(line).split()) for line in logs if line)
    text = scrub(text, secrets)
    return text if len(text) <= _LOG_LIMIT else text[: _LOG_LIMIT - 3] + "..."
