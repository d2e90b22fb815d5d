"""``journal show`` and ``list`` print no terminal control sequences from the journal's data.

Recipients come from files and error messages from providers; before, a row
could clear the screen, retitle the terminal or hide text from whoever ran
``journal show``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio import DeliveryResult, Message
from broadcastio.broadcast import Journal, RecipientState, RecipientTask
from broadcastio.cli.main import cli

# Any C0 control but newline, DEL, any C1 control: what must never reach the terminal.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

HOSTILE = [
    ("\x1b]0;owned\x07+15550000001", "\x1b[2J\x1b[Hscreen cleared"),
    ("+1555\x9b31m0000002", "hidden\x1b[8m text\x1b[0m"),
    ("+15550000003\r+19999999999", "bell\x07 and \x1bP+q544e\x1b\\ DCS"),
    ("+15550000004", "C1 \x9d0;title\x9c and \x85 next line"),
]


def write_journal(path: Path, broadcast_id: str, rows: list[tuple[str, str]]) -> None:
    with Journal(path) as journal:
        run = journal.begin_run(broadcast_id)
        messages = [Message(recipient, "hi") for recipient, _ in rows]
        journal.admit(broadcast_id, run, list(enumerate(messages)))
        tasks = [RecipientTask(broadcast_id, run, n, m) for n, m in enumerate(messages)]
        journal.mark_in_flight(tasks)
        for task, (_, error) in zip(tasks, rows, strict=True):
            result = DeliveryResult.failed("dummy", "INVALID_RECIPIENT", error)
            journal.record_outcome(task, RecipientState.FAILED, result)


def test_show_and_list_strip_control_sequences(tmp_path: Path, run_script) -> None:
    journal = tmp_path / "journal.sqlite"
    broadcast_id = "spring\x9b2J"  # C1 CSI: allowed in an id by the library, not printed
    write_journal(journal, broadcast_id, HOSTILE)
    shown = run_script("journal", "show", broadcast_id, "--journal", str(journal))
    assert shown.returncode == 0, shown.stderr
    assert CONTROL.search(shown.stdout) is None, repr(shown.stdout)
    assert "screen cleared" in shown.stdout and "hidden text" in shown.stdout
    # Whole sequences go (an OSC's title with it), the text around them stays.
    assert "+15550000001" in shown.stdout and "owned" not in shown.stdout
    assert "[2J" not in shown.stdout and "31m" not in shown.stdout
    assert "broadcast spring:" in shown.stdout
    listed = run_script("journal", "list", "--journal", str(journal))
    assert listed.returncode == 0 and CONTROL.search(listed.stdout) is None
    # JSON escapes them instead: the data is kept exactly.
    data = json.loads(
        run_script("journal", "show", broadcast_id, "--journal", str(journal), "--json").stdout
    )
    assert data["broadcast"]["broadcast_id"] == broadcast_id
    assert {row["recipient"] for row in data["rows"]} == {r for r, _ in HOSTILE}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(error=st.text(min_size=1, max_size=60), plain=st.from_regex(r"[a-z]{4,12}", fullmatch=True))
def test_whatever_an_error_message_holds_show_prints_no_control(
    tmp_path_factory, error: str, plain: str
) -> None:
    journal = tmp_path_factory.mktemp("show") / "journal.sqlite"
    write_journal(journal, "b", [("+15550000001", plain + " " + error)])
    shown = CliRunner().invoke(cli, ["journal", "show", "b", "--journal", str(journal)])
    assert shown.exit_code == 0, shown.output
    assert CONTROL.search(shown.stdout) is None, repr(shown.stdout)
    assert plain in shown.stdout
