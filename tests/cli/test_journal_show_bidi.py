"""``journal show`` and ``list`` show Unicode's bidirectional controls as visible escapes.

They are not terminal controls, so the C0/C1 stripping let them through; but a
terminal that renders them reorders the text around them: a recipient holding
U+202E (right-to-left override) makes the rest of its row, its state and error
included, read backwards, and one crafted recipient can pass for another.
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

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
BIDI_CHARACTER = re.compile(f"[{BIDI}]")


def write_journal(path: Path, broadcast_id: str, rows: list[tuple[str, str]]) -> None:
    """Broadcast ``broadcast_id`` with one failed row per ``(recipient, error message)``."""
    with Journal(path) as journal:
        run = journal.begin_run(broadcast_id)
        messages = [Message(recipient, "hi") for recipient, _ in rows]
        journal.admit(broadcast_id, run, list(enumerate(messages)))
        tasks = [
            RecipientTask(broadcast_id=broadcast_id, run=run, index=n, message=m)
            for n, m in enumerate(messages)
        ]
        journal.mark_in_flight(tasks)
        for task, (_, error) in zip(tasks, rows, strict=True):
            result = DeliveryResult.failed("dummy", "INVALID_RECIPIENT", error)
            journal.record_outcome(task, RecipientState.FAILED, result)


def escaped(text: str) -> str:
    return BIDI_CHARACTER.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def test_show_and_list_escape_bidi_controls_through_the_script(tmp_path: Path, run_script) -> None:
    journal = tmp_path / "journal.sqlite"
    broadcast_id = "spring\u2067sale"
    # Reads "+15550000001" then, reversed, a state that is not the row's.
    spoof = "+15550000001\u202e deliveredtxt"
    write_journal(journal, broadcast_id, [(spoof, "no such number \u2066(isolated)\u2069")])

    shown = run_script("journal", "show", broadcast_id, "--journal", str(journal))
    assert shown.returncode == 0, shown.stderr
    assert BIDI_CHARACTER.search(shown.stdout) is None, repr(shown.stdout)
    assert "+15550000001\\u202e deliveredtxt" in shown.stdout
    assert "no such number \\u2066(isolated)\\u2069" in shown.stdout
    assert "broadcast spring\\u2067sale:" in shown.stdout

    listed = run_script("journal", "list", "--journal", str(journal))
    assert listed.returncode == 0, listed.stderr
    assert BIDI_CHARACTER.search(listed.stdout) is None and "spring\\u2067sale" in listed.stdout

    # JSON keeps the data exact: a program reading it gets the real recipient.
    data = json.loads(
        run_script("journal", "show", broadcast_id, "--journal", str(journal), "--json").stdout
    )
    assert [row["recipient"] for row in data["rows"]] == [spoof]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    parts=st.lists(
        st.tuples(st.from_regex(r"[a-z0-9+]{0,6}", fullmatch=True), st.sampled_from(BIDI)),
        min_size=1,
        max_size=6,
    ),
    tail=st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True),
)
def test_every_bidi_control_in_a_recipient_or_error_is_shown_escaped(
    tmp_path_factory, parts: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(plain + control for plain, control in parts) + tail
    recipient = "+1555" + text
    journal = tmp_path_factory.mktemp("bidi") / "journal.sqlite"
    write_journal(journal, "b", [(recipient, "error " + text)])
    shown = CliRunner().invoke(cli, ["journal", "show", "b", "--journal", str(journal)])
    assert shown.exit_code == 0, shown.output
    assert BIDI_CHARACTER.search(shown.stdout) is None, repr(shown.stdout)
    # Each control is still there, visibly, in place: nothing is silently dropped.
    assert escaped(recipient) in shown.stdout
    assert "error " + escaped(text) in shown.stdout
