"""Property test of the bridge's promise: no request, however malformed, gets a 500.

schemathesis generates requests (valid and invalid bodies, headers, paths) for
every public route from the bridge's own ``/openapi.json``: the same schemas that
validate requests. Each answer must not be a 500 and, for every error, must have
the documented error shape. Seeded, so CI runs the same cases every time.
The fake driver's control routes are left out: they are test scaffolding, and
fuzzing them would move the fake session into states that make 503 the right
answer.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable

from .conftest import API_KEY

pytestmark = pytest.mark.integration


def _operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if not op.path.startswith("/__fake")]


def _check(response: requests.Response) -> None:
    assert response.status_code != 500, response.text[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["code"].isupper()
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def _fuzzer(operation, mode: GenerationMode, with_key: bool, seen: set[int]):
    """A hypothesis test for one operation and mode, recording the statuses it provokes.

    An explicit seed, not ``derandomize``: the latter derives its seed from the
    test's digest, which here includes run-time objects, so it was not stable.
    """

    @seed(20261122)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        headers = {"X-Api-Key": API_KEY} if with_key else {}
        try:
            response = case.call(headers=headers, timeout=10)
        except requests.exceptions.InvalidHeader:
            return  # requests refused to send the generated header: nothing reached the bridge
        seen.add(response.status_code)
        _check(response)

    return fuzz


def test_no_request_gets_a_server_error(bridge) -> None:
    operations = _operations(bridge.url)
    assert {op.path for op in operations} >= {"/health", "/v1/messages", "/v1/session/qr"}
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        with_key = operation.path.startswith("/v1")
        seen = statuses.setdefault(f"{operation.method.upper()} {operation.path}", set())

        # Valid-shaped requests, then deliberately invalid ones (negative mode).
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz = _fuzzer(operation, mode, with_key, seen)
            bridge.reset()  # a fuzzed logout moves the fake to QR; start every run READY
            try:
                fuzz()
            except Unsatisfiable:
                # Negative mode finds nothing to make invalid in an operation that
                # takes no input (GET /health); positive mode still covered it.
                assert mode is GenerationMode.NEGATIVE, operation.path
            except AssertionError as error:
                where = f"{operation.method.upper()} {operation.path} ({mode.value})"
                raise AssertionError(f"{where}: {error}") from error
    # The run must have reached the bridge's logic, not just bounced off one check.
    assert {201, 400} <= statuses["POST /v1/messages"], statuses
    assert 404 in statuses["GET /v1/messages/{id}"], statuses
