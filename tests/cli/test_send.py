"""``broadcastio send``: the summary, JSON, exit codes and the chain it sends through."""

from __future__ import annotations

import json
import re

SEND = ("--config", "dummy.toml", "send", "--to", "+15551234567")


def sent(built) -> list:
    (orchestrator,) = built
    return orchestrator.providers[0].sent


# -- the summary and exit codes -----------------------------------------------------------


def test_delivered_prints_a_one_line_summary(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text", "Backup finished")
    assert result.exit_code == 0
    assert re.fullmatch(
        r"delivered via dummy \(dummy is a test double: nothing was sent\): "
        r"message id dummy-[0-9a-f]{32}; 1 attempt in [0-9.]+ m?s\n",
        result.stdout,
    )
    assert result.stderr == ""


def test_summary_counts_retries(invoke, write_config) -> None:
    write_config(
        """
        [orchestrator]
        order = ["dummy"]
        [providers.dummy]
        fail_first = 2
        retry = { max_attempts = 3 }
        """,
        "dummy.toml",
    )
    result = invoke(*SEND, "--text", "hi")
    assert result.exit_code == 0
    assert "; 3 attempts in " in result.stdout


def test_not_delivered_exits_1_with_the_summary_on_stdout(invoke, dummy_config) -> None:
    dummy_config(fail_first=1, fail_code="AUTHENTICATION_FAILED")
    result = invoke(*SEND, "--text", "hi")
    assert result.exit_code == 1
    assert result.stdout.startswith("not delivered: AUTHENTICATION_FAILED: simulated ")
    assert "; tried dummy; 1 attempt in " in result.stdout


def test_trace_without_json_lists_the_attempts(invoke, write_config) -> None:
    write_config(
        """
        [orchestrator]
        order = ["dummy"]
        [providers.dummy]
        fail_first = 1
        retry = { max_attempts = 2 }
        """,
        "dummy.toml",
    )
    lines = invoke(*SEND, "--text", "hi", "--trace").stdout.splitlines()
    assert lines[0].startswith("delivered via dummy")
    assert re.fullmatch(r"  trace [0-9a-f]{32}", lines[1])
    assert lines[2].split() == ["ATTEMPT", "OUTCOME", "TOOK", "DETAILS"]
    assert lines[3].split()[:3] == ["dummy", "#1", "failed"]
    assert "PROVIDER_UNAVAILABLE" in lines[3]
    assert lines[4].split()[:3] == ["dummy", "#2", "delivered"]


def test_json_is_the_delivery_result_without_trace(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text", "hi", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["success"] is True and data["provider"] == "dummy"
    assert data["providers_tried"] == ["dummy"]
    assert data["trace"] is None
    assert set(data) == {
        "success",
        "provider",
        "message_id",
        "error",
        "providers_tried",
        "trace",
        "details",
        "test_double",
    }
    assert data["test_double"] is True


def test_json_with_trace(invoke, dummy_config) -> None:
    dummy_config(fail_first=1)
    result = invoke(*SEND, "--text", "hi", "--json", "--trace")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["success"] is False
    assert data["error"]["code"] == "PROVIDER_UNAVAILABLE"
    (attempt,) = data["trace"]["attempts"]
    assert attempt["provider"] == "dummy" and attempt["success"] is False


def test_quiet_silences_success_but_not_failure_nor_json(invoke, dummy_config) -> None:
    dummy_config("ok.toml")
    dummy_config("failing.toml", fail_first=1)
    ok = ("send", "--to", "+1555", "--text", "hi")
    assert invoke("-q", "--config", "ok.toml", *ok).stdout == ""
    assert json.loads(invoke("-q", "--config", "ok.toml", *ok, "--json").stdout)["success"]
    failed = invoke("-q", "--config", "failing.toml", *ok)
    assert failed.exit_code == 1
    assert failed.stdout.startswith("not delivered:")


def test_reference_id_becomes_the_message_reference(invoke, dummy_config, built) -> None:
    dummy_config()
    invoke(*SEND, "--text", "hi", "--reference-id", "nightly-2026-01-02")
    assert sent(built)[0].metadata.reference_id == "nightly-2026-01-02"


# -- the chain ------------------------------------------------------------------------------


def test_provider_overrides_the_configured_order(
    invoke, write_config, built, closed_port
) -> None:
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]
        [providers.whatsapp]
        base_url = "http://127.0.0.1:{closed_port}"
        """
    )
    result = invoke("send", "--to", "+1555", "--text", "hi", "--provider", "dummy", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["providers_tried"] == ["dummy"]
    assert [provider.name for provider in built[0].providers] == ["dummy"]


def test_repeated_provider_gives_the_chain_in_order(invoke, write_config, built, closed_port):
    write_config(f'[providers.whatsapp]\nbase_url = "http://127.0.0.1:{closed_port}"\n')
    args = ("send", "--to", "+1555", "--text", "hi", "--provider", "dummy", "--provider")
    assert invoke(*args, "whatsapp").exit_code == 0
    assert [provider.name for provider in built[0].providers] == ["dummy", "whatsapp"]


def test_a_provider_given_twice_is_a_usage_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text", "hi", "--provider", "dummy", "--provider", "dummy")
    assert result.exit_code == 2
    assert "Invalid value for '--provider': 'dummy' given more than once" in result.stderr


def test_fallback_is_in_the_summary(invoke, write_config, closed_port) -> None:
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]
        health_ttl = 0
        [providers.whatsapp]
        base_url = "http://127.0.0.1:{closed_port}"
        """
    )
    result = invoke("send", "--to", "+1555", "--text", "hi")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "delivered via dummy (dummy is a test double: nothing was sent): message id "
    )
    assert "skipped whatsapp (not ready)" in result.stdout


def test_unknown_provider_is_a_configuration_error(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke(*SEND, "--text", "hi", "--provider", "carrier-pigeon")
    assert result.exit_code == 2
    assert "unknown provider 'carrier-pigeon'; available providers: " in result.stderr
    available = result.stderr.split("available providers: ", 1)[1].strip().split(", ")
    assert available == sorted(available) and {"dummy", "email", "whatsapp"} <= set(available)
    assert "--provider" in result.stderr


def test_require_healthy_with_nobody_ready_exits_1(invoke, dummy_config) -> None:
    dummy_config(healthy=False)
    result = invoke(*SEND, "--text", "hi", "--require-healthy")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "broadcastio: error: no healthy provider: dummy: configured unhealthy\n"
    )


def test_no_require_healthy_overrides_the_file(invoke, write_config) -> None:
    write_config(
        """
        [orchestrator]
        order = ["dummy"]
        require_healthy = true
        [providers.dummy]
        healthy = false
        """,
        "dummy.toml",
    )
    assert invoke(*SEND, "--text", "hi").exit_code == 1
    assert invoke(*SEND, "--text", "hi", "--no-require-healthy").exit_code == 0


def test_no_provider_plugins_is_a_usage_error(invoke, monkeypatch) -> None:
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "")
    result = invoke("send", "--to", "+1555", "--text", "hi")
    assert result.exit_code == 2
    assert result.stderr.startswith("broadcastio: error: no provider is configured: ")
    assert "no real provider is installed" in result.stderr


def test_bad_provider_setting_names_file_and_key(invoke, write_config) -> None:
    write_config("[providers.dummy]\nfail_first = 'twice'\n")
    result = invoke("send", "--to", "+1555", "--text", "hi")
    assert result.exit_code == 2
    assert result.stderr.startswith("broadcastio: error: ")
    assert "broadcastio.toml: providers.dummy.fail_first" in result.stderr
    assert len(result.stderr.splitlines()) == 1
