"""``broadcastio broadcast`` when WhatsApp's pacing holds sends: "paused until HH:MM", not a hang.

The installed console script against the real node-bridge (fake driver) with
its pacing on: a cap or a risk pause answers 429 RATE_LIMITED with the time
sends resume, and the broadcast waits until then, says so, and goes on.
"""

from __future__ import annotations

import datetime as _dt
import io
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcastio.broadcast import BroadcastPause
from broadcastio.cli.progress import BroadcastProgress

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

API_KEY = "cli-pacing-key-51c9"


def paced_bridge(tmp_path: Path, **env: str) -> LocalBridge:
    try:
        return LocalBridge(
            {
                "BRIDGE_API_KEY": API_KEY,
                "BRIDGE_PACING": "1",
                "BRIDGE_MIN_INTERVAL_MS": "0",
                "BRIDGE_JITTER_MS": "0",
                "BRIDGE_DATA_DIR": str(tmp_path / "bridge-data"),
                **env,
            }
        )
    except BridgeStartError as error:
        pytest.fail(str(error))


@pytest.fixture
def whatsapp_config(write_config: Callable[..., Path]) -> Callable[[LocalBridge], Path]:
    def write(bridge: LocalBridge) -> Path:
        return write_config(
            f"""
            [orchestrator]
            order = ["whatsapp"]

            [providers.whatsapp]
            base_url = "{bridge.url}"
            api_key = "{API_KEY}"
            """
        )

    return write


def rows(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("recipient\n" + "".join(f"+1555000{n:04d}\n" for n in range(count)))
    return path


@pytest.fixture
def risk_bridge(tmp_path: Path) -> Iterator[LocalBridge]:
    # A one-second risk pause: WhatsApp's scripted rate error holds sends that long.
    bridge = paced_bridge(
        tmp_path, BRIDGE_HOURLY_CAP="0", BRIDGE_DAILY_CAP="0", BRIDGE_RISK_PAUSE_MS="1000"
    )
    yield bridge
    bridge.stop()


def test_broadcast_pauses_through_a_risk_pause_and_then_delivers_everyone(
    risk_bridge: LocalBridge,
    run_script: Callable[..., Any],
    whatsapp_config: Callable[[LocalBridge], Path],
    tmp_path: Path,
) -> None:
    whatsapp_config(risk_bridge)
    risk_bridge.script({"type": "rate_limited", "retryAfter": 1})
    result = run_script(
        "broadcast",
        "--recipients",
        str(rows(tmp_path, 3)),
        "--text",
        "hello",
        "--concurrency",
        "1",
        "--journal",
        str(tmp_path / "journal.sqlite"),
    )
    assert result.returncode == 0, result.stderr
    assert "whatsapp: paused until" in result.stderr
    assert "whatsapp_rate_limited" in result.stderr
    sent = sorted(message["to"] for message in risk_bridge.sent())
    assert sent == [f"1555000{n:04d}@c.us" for n in range(3)], "each recipient exactly once"
    assert "Traceback" not in result.stderr


def test_an_hourly_cap_shows_paused_until_and_ctrl_c_stops_the_wait(
    tmp_path: Path,
    start_script: Callable[..., Any],
    run_script: Callable[..., Any],
    whatsapp_config: Callable[[LocalBridge], Path],
    script_env: dict[str, str],
) -> None:
    bridge = paced_bridge(tmp_path, BRIDGE_HOURLY_CAP="1", BRIDGE_DAILY_CAP="0")
    try:
        config = whatsapp_config(bridge)
        script_env["BROADCASTIO_CONFIG"] = str(config)
        process = start_script(
            "broadcast",
            "--recipients",
            str(rows(tmp_path, 2)),
            "--text",
            "hello",
            "--concurrency",
            "1",
            "--journal",
            str(tmp_path / "journal.sqlite"),
            "--id",
            "capped",
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in process.stderr], daemon=True
        ).start()
        seen = io.StringIO()
        while True:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail(f"no 'paused until' line; stderr so far:\n{seen.getvalue()}")
            seen.write(line)
            if "paused until" in line:
                break
        assert "hourly_cap" in line
        journal = str(tmp_path / "journal.sqlite")
        shown = run_script("journal", "show", "capped", "--journal", journal)
        assert shown.returncode == 0, shown.stderr
        assert "in_flight" in shown.stdout and "paused until" in shown.stdout
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        assert process.returncode == 130, seen.getvalue()
        assert len(bridge.sent()) == 1, "the second recipient was held, never sent"
    finally:
        bridge.stop()


def test_the_progress_line_says_paused_until_instead_of_the_eta() -> None:
    stream = io.StringIO()
    progress = BroadcastProgress(10, stream, enabled=False)
    assert "ETA" in progress.line()
    until = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(hours=1)
    progress.pause(
        BroadcastPause(
            broadcast_id="b",
            recipient="+1555",
            provider="whatsapp",
            until=until,
            seconds=3600,
            reason="hourly_cap",
        )
    )
    line = progress.line()
    assert f"paused until {until.astimezone():%H:%M}" in line
    assert "ETA" not in line
    # A pause that has ended gives the ETA back.
    progress.paused_until = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=1)
    assert "ETA" in progress.line()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{ hourly_cap = -3 }", "pacing.hourly_cap must be between 0 and 1000000, got -3"),
        ("{ hourlycap = 3 }", "pacing has no setting 'hourlycap'"),
        ('"fast"', "pacing must be true, false or a table"),
    ],
)
def test_bad_provider_pacing_in_the_config_file_is_one_line_exit_2(
    run_script: Callable[..., Any], write_config: Callable[..., Path], value: str, problem: str
) -> None:
    write_config(f"{CONFIG_HEAD}pacing = {value}\n")
    result = run_script("config")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("broadcastio: error: ")
    assert "providers.whatsapp.pacing" in line and problem in line


WARMUP = '{ hourly_cap = 30, warmup_start = "2026-12-01", warmup_caps = [20, 40] }'
CONFIG_HEAD = '[orchestrator]\norder = ["whatsapp"]\n\n[providers.whatsapp]\n'


@pytest.mark.parametrize("value", ["false", "true", WARMUP])
def test_provider_pacing_in_the_config_file_is_shown_as_used(
    run_script: Callable[..., Any], write_config: Callable[..., Path], value: str
) -> None:
    write_config(f"{CONFIG_HEAD}pacing = {value}\n")
    result = run_script("config")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("pacing = ")]
    assert f"enabled = {'false' if value == 'false' else 'true'}" in line
    if "warmup_start" in value:
        assert 'warmup_start = "2026-12-01"' in line and "hourly_cap = 30" in line
