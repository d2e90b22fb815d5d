"""Which exception ends in which exit code: the contract scripts rely on."""

from __future__ import annotations

import click
import pytest

from broadcastio import (
    AttachmentError,
    BroadcastioError,
    ConfigurationError,
    ErrorCode,
    OrchestrationError,
    ValidationError,
)
from broadcastio.cli.exit_codes import ExitCode, exit_code_for


def test_the_documented_values() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 130]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("bad"), ExitCode.USAGE),
        (ValidationError("bad"), ExitCode.USAGE),
        (AttachmentError("gone"), ExitCode.USAGE),
        (OrchestrationError("none", code=ErrorCode.NO_PROVIDERS), ExitCode.USAGE),
        (OrchestrationError("sick", code=ErrorCode.NO_HEALTHY_PROVIDERS), ExitCode.FAILED),
        (BroadcastioError("provider misuse"), ExitCode.FAILED),
        (click.UsageError("bad option"), ExitCode.USAGE),
        (click.BadParameter("bad value"), ExitCode.USAGE),
        (click.ClickException("other"), ExitCode.FAILED),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (click.Abort(), ExitCode.INTERRUPTED),
        (RuntimeError("bug"), ExitCode.INTERNAL),
    ],
)
def test_exit_code_for(error, code) -> None:
    assert exit_code_for(error) is code
