"""A journaled broadcast through an Apprise instance, several sends in flight at once."""

from __future__ import annotations

import collections
import json
import textwrap
from pathlib import Path

from apprise_helpers import json_url, run_cli
from local_http import HttpServer, Reply


def test_a_concurrent_broadcast_notifies_each_url_once_per_person(
    tmp_path: Path, http_server: HttpServer
) -> None:
    """The flaky URL fails some first attempts; their retries must not re-notify the steady one."""
    http_server.script("/flaky", *[Reply(500, b"busy")] * 6)
    steady, flaky = json_url(http_server, "/steady"), json_url(http_server, "/flaky")
    config = tmp_path / "team.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [orchestrator]
            order = ["team"]
            health_ttl = 0

            [providers.team]
            type = "apprise"
            urls = ["{steady}", "{flaky}"]
            timeout = 10

            [providers.team.retry]
            max_attempts = 4
            backoff = "fixed"
            base_delay = 0.01
            """
        )
    )
    names = [f"person{index}" for index in range(40)]
    (tmp_path / "people.csv").write_text("recipient,name\n" + "".join(f"{n},{n}\n" for n in names))
    done = run_cli(
        tmp_path, "--config", str(config), "broadcast", "--recipients", "people.csv",
        "--text", "Hello {name}", "--concurrency", "8", "--no-journal", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 40

    by_path: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for request in http_server.requests:
        by_path[request.path][request.json()["message"]] += 1
    expected = {f"Hello {name}" for name in names}
    assert set(by_path["/steady"]) == expected
    assert set(by_path["/steady"].values()) == {1}  # nobody notified twice on the steady URL
    assert set(by_path["/flaky"]) == expected
    assert sum(by_path["/flaky"].values()) == 40 + 6  # six failures, each retried once
