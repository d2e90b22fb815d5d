"""``send --to KIND=ADDRESS`` and recipient files of contacts, through the installed script."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

# A chain that needs phone numbers, pointed at a port where nothing listens.
WHATSAPP_ONLY = """\
[orchestrator]
order = ["whatsapp"]

[providers.whatsapp]
base_url = "http://127.0.0.1:9"
"""


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("broadcastio: error: "), result.stderr
    return lines[0]


def test_send_to_a_contact_with_a_title(run_script: Run, dummy_config: Callable[..., Path]) -> None:
    config = dummy_config()
    result = run_script(
        "--config", str(config), "send",
        "--to", "phone=+6281234567", "--to", "email=ops@example.com", "--to", "id=ops",
        "--title", "Disk full", "--text", "db1 is at 98%", "--json", "--trace",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["success"] and data["provider"] == "dummy"


def test_a_bare_address_still_works(run_script: Run, dummy_config: Callable[..., Path]) -> None:
    config = str(dummy_config())
    result = run_script("--config", config, "send", "--to", "+15551234567", "--text", "hi")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (["email=ops@example"], "invalid email address 'ops@example'"),
        (["email=ops example@x.com"], "must not contain spaces"),
        (["phone=+1", "phone=+2"], "phone= given more than once"),
        (["+1555", "email=a@example.com"], "'+1555' is a bare address"),
        (["+1555", "+1666"], "a bare address can be given once"),
        (["id=ops"], "a contact needs at least one address"),
        (["Email=a@example.com", "phone=+1"], "a bare address"),
    ],
)
def test_bad_to_is_one_usage_line_and_nothing_is_sent(
    run_script: Run, dummy_config: Callable[..., Path], to: list[str], expected: str
) -> None:
    args = [item for value in to for item in ("--to", value)]
    result = run_script("--config", str(dummy_config()), "send", *args, "--text", "hi")
    line = one_error_line(result)
    assert "'--to'" in line and expected in line


def test_a_contact_the_chain_cannot_reach_is_refused_before_sending(
    run_script: Run, write_config: Callable[..., Path]
) -> None:
    config = write_config(WHATSAPP_ONLY)
    result = run_script(
        "--config", str(config), "send", "--to", "email=ops@example.com", "--text", "hi"
    )
    line = one_error_line(result)
    assert "no address any provider of the chain can use" in line
    assert "needs phone" in line and "has email" in line


def test_broadcast_of_a_contact_file_writes_the_contacts_in_the_results(
    run_script: Run, dummy_config: Callable[..., Path], tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("id,phone,email,name\nc1,+1555,,Ada\nc2,,b@example.com,Bob\n")
    result = run_script(
        "--config", str(dummy_config()), "broadcast", "--recipients", str(people),
        "--text", "Hi {name}", "--title", "For {name}", "--results", "out.jsonl",
        "--journal", "j.sqlite", "--id", "b1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcomes = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted((o["recipient"], o["contact"]["id"]) for o in outcomes) == [
        ('{"id":"c1"}', "c1"),
        ('{"id":"c2"}', "c2"),
    ]
    assert {o["contact"]["addresses"].get("email") for o in outcomes} == {None, "b@example.com"}
    # Resuming sends nobody twice.
    again = run_script(
        "--config", str(dummy_config()), "broadcast", "--recipients", str(people),
        "--text", "Hi {name}", "--title", "For {name}", "--journal", "j.sqlite",
        "--resume", "b1", "--json",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_delivered"] == 2


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("id,phone,email\nc1,+1555,\nc2,,\n", "line 3: has no address"),
        ("phone,email\n+1555,\n,bob@example\n", "line 3: invalid email address"),
        ("phone,email,name\n+1555,,Ada\n,{title},Bob\n", "line 3: the contact has only email"),
    ],
)
def test_a_bad_contact_row_stops_the_broadcast_before_any_send(
    run_script: Run, write_config: Callable[..., Path], tmp_path: Path, rows: str, expected: str
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(rows.replace("{title}", "bob@example.com"))
    result = run_script(
        "--config", str(write_config(WHATSAPP_ONLY)), "broadcast", "--recipients", str(people),
        "--text", "hi", "--journal", "j.sqlite",
    )  # fmt: skip
    line = one_error_line(result)
    assert f"people.csv, {expected}" in line and line.endswith("nothing was sent")
