"""``broadcastio health``: the table, the JSON, and exit 1 only when nobody is ready."""

from __future__ import annotations

import datetime as dt
import json


def test_ready_provider_table(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke("--config", "dummy.toml", "health")
    assert result.exit_code == 0
    header, row = result.stdout.splitlines()
    assert header.split() == ["PROVIDER", "READY", "CHECK", "DETAILS"]
    assert row.split()[:2] == ["dummy", "yes"]
    assert row.endswith("reason: dummy is always ready")


def test_nobody_ready_exits_1(invoke, dummy_config) -> None:
    dummy_config(healthy=False)
    result = invoke("--config", "dummy.toml", "health")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].split()[:2] == ["dummy", "no"]
    assert "reason: configured unhealthy" in result.stdout


def test_one_ready_is_enough(invoke, write_config, closed_port) -> None:
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]
        [providers.whatsapp]
        base_url = "http://127.0.0.1:{closed_port}"
        """
    )
    result = invoke("health")
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [["whatsapp", "no"], ["dummy", "yes"]]
    assert f"reason: bridge unreachable at http://127.0.0.1:{closed_port}" in rows[0]


def test_json(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke("--config", "dummy.toml", "health", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["any_ready"] is True
    (report,) = data["providers"]
    assert report["provider"] == "dummy" and report["ready"] is True
    assert report["details"] == {"reason": "dummy is always ready"}
    assert report["check_ms"] >= 0
    checked_at = dt.datetime.fromisoformat(report["checked_at"])
    assert abs(dt.datetime.now(dt.timezone.utc) - checked_at) < dt.timedelta(minutes=1)


def test_json_when_nobody_is_ready(invoke, dummy_config) -> None:
    dummy_config(healthy=False)
    result = invoke("-q", "--config", "dummy.toml", "health", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["any_ready"] is False


def test_quiet_prints_only_trouble(invoke, dummy_config) -> None:
    dummy_config("ok.toml")
    dummy_config("sick.toml", healthy=False)
    assert invoke("-q", "--config", "ok.toml", "health").stdout == ""
    sick = invoke("-q", "--config", "sick.toml", "health")
    assert sick.exit_code == 1 and "configured unhealthy" in sick.stdout
