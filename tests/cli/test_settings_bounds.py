"""Settings outside their documented ranges, and hostile TOML, through the installed script.

Each case used to end in a traceback, an "internal error", or a send that
crashed half-way; each must now be exit 2 and one line naming the file and the
key, before anything is sent.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunScript = Callable[..., subprocess.CompletedProcess[str]]
SEND = ("send", "--to", "+15551234567", "--text", "hi")


@pytest.mark.parametrize("command", [("config",), SEND, ("health",)])
def test_a_huge_dummy_latency_is_refused_when_the_file_is_read(
    run_script: RunScript, dummy_config: Callable[..., Path], command: tuple[str, ...]
) -> None:
    # 0x7fffffffffffffff seconds used to reach time.sleep: OverflowError, with a
    # traceback at the default log level, in the middle of a send.
    dummy_config(latency=0x7FFFFFFFFFFFFFFF)
    result = run_script("--config", "dummy.toml", *command)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "broadcastio: error: dummy.toml: providers.dummy.latency: "
        "latency must be between 0 and 3600, got 9.223372036854776e+18\n"
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "[orchestrator]\nhealth_ttl = 1e12\n",
            "orchestrator.health_ttl: health_ttl must be between 0 and 86400, got 1000000000000.0",
        ),
        (
            "[orchestrator.retry]\nmax_attempts = 1000\n",
            "orchestrator.retry.max_attempts: max_attempts must be between 1 and 100, got 1000",
        ),
        (
            "[providers.dummy.retry]\nmax_attempts = 2\nbackoff = 'fixed'\nbase_delay = 1e7\n",
            "providers.dummy.retry.base_delay: base_delay must be between 0 and 86400, "
            "got 10000000.0",
        ),
        (
            "[providers.dummy]\nrate_limit = { rate = '10/s', burst = 1000000 }\n",
            "providers.dummy.rate_limit: rate limit burst must be between 1 and 10000, "
            "got 1000000",
        ),
        (
            "[providers.dummy]\nfail_first = 9223372036854775807\n",
            "providers.dummy.fail_first: fail_first must be between 0 and 1000000, "
            "got 9223372036854775807",
        ),
        (
            "[providers.dummy]\nretry_after = -1\n",
            "providers.dummy.retry_after: retry_after must be between 0 and 86400, got -1.0",
        ),
        (
            "[providers.dummy]\nlatency = 1" + "0" * 30 + "\n",
            "providers.dummy.latency: integer out of range: TOML integers are 64-bit "
            "(-2**63 to 2**63-1), got an integer of 31 digits",
        ),
    ],
)
def test_out_of_range_settings_name_file_key_and_range(
    run_script: RunScript,
    write_config: Callable[..., Path],
    table: str,
    expected: str,
) -> None:
    write_config('[orchestrator]\norder = ["dummy"]\n' + table.replace("[orchestrator]\n", ""))
    result = run_script("--config", "broadcastio.toml", *SEND)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"broadcastio: error: broadcastio.toml: {expected}\n"


@pytest.mark.parametrize(
    "value",
    ["[" * 10_000 + "]" * 10_000, "{ a = " * 10_000 + "1" + " }" * 10_000],
    ids=["arrays", "inline-tables"],
)
def test_deeply_nested_toml_is_a_one_line_configuration_error(
    run_script: RunScript, write_config: Callable[..., Path], value: str
) -> None:
    # tomllib recurses once per level: this was "internal error: RecursionError", exit 3.
    write_config(f"x = {value}\n", "deep.toml")
    result = run_script("--config", "deep.toml", "config")
    assert result.returncode == 2
    assert result.stderr == (
        "broadcastio: error: deep.toml: invalid TOML: arrays or tables nested too deeply "
        "to read (a configuration needs at most 32 levels)\n"
    )
