from __future__ import annotations

import json

from broadcastio import ErrorCode

REQUIRED = [
    "PROVIDER_UNAVAILABLE",
    "TIMEOUT",
    "RATE_LIMITED",
    "INVALID_MESSAGE",
    "INVALID_RECIPIENT",
    "AUTHENTICATION_FAILED",
    "PROVIDER_REJECTED",
    "ATTACHMENT_NOT_FOUND",
    "PROVIDER_MISCONFIGURED",
    "NO_PROVIDERS",
    "NO_HEALTHY_PROVIDERS",
    "ALL_PROVIDERS_FAILED",
    "UNKNOWN",
]


def test_required_members_compare_equal_to_their_names() -> None:
    for name in REQUIRED:
        code = ErrorCode[name]
        assert code == name
        assert str(code) == name
        assert isinstance(code, str)


def test_codes_serialize_as_their_names() -> None:
    assert json.dumps({"code": ErrorCode.TIMEOUT}) == '{"code": "TIMEOUT"}'
    assert ErrorCode("RATE_LIMITED") is ErrorCode.RATE_LIMITED
