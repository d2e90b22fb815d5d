"""The exit codes of ``broadcastio``, and which exception ends in which one.

Scripts branch on these, so they are a contract (documented in docs/cli.md):
a failed delivery (1) is worth retrying later, a usage or configuration error
(2) is not until a person fixes it, and an internal error (3) is a bug to report.
"""

from __future__ import annotations

import enum

import click

from broadcastio.errors.codes import ErrorCode
from broadcastio.errors import (
    BroadcastioError,
    ConfigurationError,
    OrchestrationError,
    ValidationError,
)

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What a ``broadcastio`` process tells its caller."""

    OK = 0
    """Delivered, healthy, listed: the command did what was asked."""
    FAILED = 1
    """The message was not delivered, or no provider is healthy."""
    USAGE = 2
    """Bad arguments or configuration: nothing was attempted."""
    INTERNAL = 3
    """An unexpected exception: a bug in broadcastio or a plugin (-vv shows the traceback)."""
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), the shell's 128 + 2."""


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code a command ending with ``error`` returns."""
    if isinstance(error, (KeyboardInterrupt, click.Abort)):
        return ExitCode.INTERRUPTED
    if isinstance(error, click.UsageError):
        return ExitCode.USAGE
    if isinstance(error, click.ClickException):
        return ExitCode(error.exit_code) if error.exit_code in (1, 2) else ExitCode.FAILED
    if isinstance(error, OrchestrationError):
        # Nobody healthy is a state of the world (try again later), not a mistake;
        # no providers at all is a set-up problem.
        if error.code is ErrorCode.NO_HEALTHY_PROVIDERS:
            return ExitCode.FAILED
        return ExitCode.USAGE
    if isinstance(error, (ConfigurationError, ValidationError)):
        return ExitCode.USAGE
    if isinstance(error, BroadcastioError):
        return ExitCode.FAILED
    return ExitCode.INTERNAL
