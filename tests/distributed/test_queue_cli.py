"""``broadcastio broadcast --queue`` with ``broadcastio worker`` processes: real Redis, real CLI."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until, write_recipients
from hypothesis import given
from hypothesis import strategies as st

from broadcastio.broadcast import Journal, RecipientState
from broadcastio.distributed import redact_url

DUMMY_CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcastio.toml"
    path.write_text(DUMMY_CONFIG)
    return path


def journal_states(path: Path, broadcast_id: str) -> dict[RecipientState, int]:
    with Journal(path, read_only=True) as journal:
        return journal.summary(broadcast_id)


def test_a_queued_broadcast_is_delivered_by_the_workers_and_reported(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli
) -> None:
    numbers = write_recipients(tmp_path / "people.csv", 120)
    # One repeated row: the submitter skips it as a duplicate, as a local run does.
    with (tmp_path / "people.csv").open("a") as file:
        file.write(f"{numbers[0]}\n")
    processes.worker(redis_url, config, "--processes", "2", "--threads", "4")
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "queued-1", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["delivered"] == 120
    assert report["duplicates"] == 1
    assert report["total"] == 121
    assert report["delivered_by_provider"] == {"dummy": 120}
    states = journal_states(tmp_path / "journal.sqlite", "queued-1")
    assert states[RecipientState.DELIVERED] == 120
    assert sum(states.values()) == 120
    # The report is the run's report in the journal, as after a local run.
    shown = run_cli("journal", "show", "--journal", "journal.sqlite", "queued-1", "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"delivered": 120' in shown.stdout.replace('":120', '": 120')


def test_a_resume_through_the_queue_sends_nobody_twice(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli
) -> None:
    write_recipients(tmp_path / "people.csv", 30)
    processes.worker(redis_url, config)
    arguments = (
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config",
        str(config), "--recipients", "people.csv", "--text", "hello", "--json",
    )  # fmt: skip
    first = run_cli(*arguments, "--id", "twice")
    assert first.returncode == 0, first.stderr
    second = run_cli(*arguments, "--resume", "twice")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["already_delivered"] == 30
    assert report["delivered"] == 0
    with Journal(tmp_path / "journal.sqlite", read_only=True) as journal:
        assert {row.attempts for row in journal.rows("twice")} == {1}


def test_detach_returns_once_queued_and_the_workers_finish_alone(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli
) -> None:
    write_recipients(tmp_path / "people.csv", 50)
    submitted = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "later", "--detach",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert "50 recipients queued" in submitted.stdout
    assert "journal show" in submitted.stdout
    # Nobody is working yet: every row waits, pending, in the journal.
    assert journal_states(tmp_path / "journal.sqlite", "later")[RecipientState.PENDING] == 50
    processes.worker(redis_url, config)
    wait_until(
        lambda: journal_states(tmp_path / "journal.sqlite", "later")[RecipientState.DELIVERED]
        == 50,
        60,
        "the worker to deliver the detached broadcast",
    )


def test_killing_the_submitting_command_leaves_the_workers_delivering(
    tmp_path: Path, redis_url: str, tmp_path_factory, processes: Processes, run_cli
) -> None:
    # A slow dummy, so the submitter is still watching when it is killed.
    config = tmp_path / "slow.toml"
    config.write_text(DUMMY_CONFIG + "latency = 0.05\n")
    write_recipients(tmp_path / "people.csv", 80)
    processes.worker(redis_url, config, "--threads", "2")
    submitter = processes.start(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "orphan",
    )  # fmt: skip
    journal = tmp_path / "journal.sqlite"

    def some_delivered() -> bool:
        try:
            return journal_states(journal, "orphan")[RecipientState.DELIVERED] >= 5
        except Exception:  # noqa: BLE001 - the journal or the broadcast is not there yet
            return False

    wait_until(some_delivered, 60, "the first deliveries")
    submitter.send_signal(signal.SIGKILL)
    submitter.wait(timeout=10)
    wait_until(
        lambda: journal_states(journal, "orphan")[RecipientState.DELIVERED] == 80,
        90,
        "the workers to finish without the submitter",
    )
    shown = run_cli("journal", "show", "--journal", "journal.sqlite", "orphan")
    assert shown.returncode == 0, shown.stderr
    assert "80" in shown.stdout
    assert "delivered" in shown.stdout


# -- bad input ---------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_one_line_error(done, *, names: str, secret: str | None = None) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("broadcastio: error: ")
    assert names in lines[0]
    assert "Traceback" not in done.stderr
    if secret is not None:
        assert secret not in done.stderr and secret not in done.stdout


def broadcast_with_queue(run_cli, config: Path, queue: str):
    return run_cli(
        "broadcast", "--queue", queue, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "refused",
    )  # fmt: skip


def assert_nothing_recorded(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    if journal.exists():
        with Journal(journal, read_only=True) as opened:
            assert opened.broadcasts() == []


def test_an_unreachable_redis_is_one_line_and_nothing_is_recorded(
    tmp_path: Path, config: Path, closed_port: int, run_cli, redis_server
) -> None:
    write_recipients(tmp_path / "people.csv", 3)
    url = f"redis://:hunter2secret@127.0.0.1:{closed_port}/0"
    done = broadcast_with_queue(run_cli, config, url)
    assert_one_line_error(
        done, names=f"redis://:***@127.0.0.1:{closed_port}/0", secret="hunter2secret"
    )
    assert "cannot reach Redis" in done.stderr
    assert_nothing_recorded(tmp_path)
    worker = run_cli(
        "worker", "--queue", url, "--journal", "journal.sqlite", "--config", str(config)
    )
    assert_one_line_error(
        worker, names=f"redis://:***@127.0.0.1:{closed_port}/0", secret="hunter2secret"
    )


def test_a_wrong_password_is_one_line_and_nothing_is_queued(
    tmp_path: Path, config: Path, redis_server, redis_url: str, run_cli
) -> None:
    import redis

    write_recipients(tmp_path / "people.csv", 3)
    url = redis_server.url_with_password("wrong-password-123")
    done = broadcast_with_queue(run_cli, config, url)
    assert_one_line_error(done, names="redis://:***@127.0.0.1", secret="wrong-password-123")
    assert "refused the password" in done.stderr
    assert_nothing_recorded(tmp_path)
    client = redis.Redis.from_url(redis_url)
    assert client.keys("dramatiq:*") == []
    # No password at all, against a server that wants one.
    done = broadcast_with_queue(run_cli, config, redis_server.url_without_password)
    assert_one_line_error(done, names=redis_server.url_without_password)
    worker = run_cli(
        "worker", "--queue", url, "--journal", "journal.sqlite", "--config", str(config)
    )
    assert_one_line_error(worker, names="redis://:***@127.0.0.1", secret="wrong-password-123")


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:topsecret@localhost/",
        "postgresql://u:topsecret@localhost/db",
        "localhost:6379",
    ],
)
def test_an_unknown_queue_scheme_is_one_line(
    tmp_path: Path, config: Path, url: str, run_cli
) -> None:
    write_recipients(tmp_path / "people.csv", 3)
    done = broadcast_with_queue(run_cli, config, url)
    assert_one_line_error(done, names="unknown scheme", secret="topsecret")
    assert redact_url(url) in done.stderr
    assert_nothing_recorded(tmp_path)


def test_detach_and_no_journal_need_what_they_need(tmp_path: Path, config: Path, run_cli) -> None:
    write_recipients(tmp_path / "people.csv", 3)
    alone = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "x",
        "--detach",
    )  # fmt: skip
    assert alone.returncode == 2 and "--detach needs --queue" in alone.stderr
    no_journal = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "x",
        "--queue", "redis://127.0.0.1:1/0", "--no-journal",
    )  # fmt: skip
    assert no_journal.returncode == 2 and "--queue needs the journal" in no_journal.stderr


@given(
    password=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@/?#[]"),
        min_size=4,
        max_size=30,
    ),
    user=st.sampled_from(["", "default", "worker"]),
    scheme=st.sampled_from(["redis", "rediss", "unknown"]),
)
def test_a_redacted_url_never_shows_the_password(password: str, user: str, scheme: str) -> None:
    from urllib.parse import quote

    url = f"{scheme}://{user}:{quote(password, safe='')}@example.invalid:6379/0"
    shown = redact_url(url)
    credentials, _, rest = shown.partition("://")[2].partition("@")
    assert credentials == f"{user}:***"
    assert rest == "example.invalid:6379/0"


@given(
    password=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="&#"), min_size=1
    ),
    name=st.sampled_from(["password", "PASSWORD", "auth", "token"]),
    scheme=st.sampled_from(["redis", "rediss", "unix"]),
)
def test_a_password_in_the_query_is_redacted_too(password: str, name: str, scheme: str) -> None:
    from urllib.parse import quote

    where = "/run/redis.sock" if scheme == "unix" else "example.invalid:6379/0"
    url = f"{scheme}://{where}?db=0&{name}={quote(password, safe='')}"
    shown = redact_url(url)
    assert shown == f"{scheme}://{where}?db=0&{name}=***"


def test_workers_stop_cleanly_when_their_whole_process_group_gets_sigterm(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes
) -> None:
    # As a service manager stops a unit: every process of the group at once, so
    # each child hears SIGTERM twice (directly, and forwarded by its supervisor).
    import os

    supervisor = processes.worker(redis_url, config, "--processes", "2", log="fleet.log")
    wait_until(
        lambda: (tmp_path / "fleet.log").read_text().count("delivering from queue") == 2,
        60,
        "both worker processes to start",
    )
    # Many at once: a handler that takes a lock deadlocks when a signal lands
    # while the previous one is being handled.
    for _ in range(300):
        os.killpg(supervisor.pid, signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0, processes.output()


def test_a_message_delivered_again_after_its_outcome_was_journaled_sends_nothing(
    tmp_path: Path, redis_url: str, processes: Processes, run_cli
) -> None:
    """Dramatiq redelivers a message whose worker died after journaling, before acking."""
    import dramatiq

    from broadcastio import Message
    from broadcastio.broadcast import RecipientTask
    from broadcastio.broadcast.admission import prepare_message
    from broadcastio.distributed.queue import ACTOR_NAME, QUEUE_NAME, connect_broker

    # A failed outcome: the journal would let a failed row be claimed and sent again.
    config = tmp_path / "failing.toml"
    config.write_text(DUMMY_CONFIG + 'fail_first = 1000\nfail_code = "INVALID_RECIPIENT"\n')
    (tmp_path / "people.csv").write_text("recipient\n+15550000001\n")
    processes.worker(redis_url, config, log="worker.log")
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "again",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the one recipient failed
    task = RecipientTask(
        broadcast_id="again",
        run=1,
        index=0,
        message=prepare_message("again", Message("+15550000001", "hello")),
    )
    broker = connect_broker(redis_url)
    broker.enqueue(
        dramatiq.Message(
            queue_name=QUEUE_NAME,
            actor_name=ACTOR_NAME,
            args=({"journal": str(tmp_path / "journal.sqlite"), "task": task.to_dict()},),
            kwargs={},
            options={},
        )
    )
    broker.close()
    journal = tmp_path / "journal.sqlite"

    def handled() -> bool:
        with Journal(journal, read_only=True) as opened:
            row = opened.row("again", "+15550000001")
        assert row is not None
        return row.attempts > 1 or "already settled" in (tmp_path / "worker.log").read_text()

    wait_until(handled, 30, "the worker to take the redelivered message")
    with Journal(journal, read_only=True) as opened:
        row = opened.row("again", "+15550000001")
    assert row is not None and row.attempts == 1 and row.state is RecipientState.FAILED


def test_a_worker_given_a_journal_url_of_an_unknown_scheme_is_one_line(
    tmp_path: Path, config: Path, run_cli
) -> None:
    done = run_cli(
        "worker", "--queue", "redis://127.0.0.1:1/0", "--config", str(config),
        "--journal", "mysql://ops:dbsecret@db.example/broadcasts",
    )  # fmt: skip
    assert_one_line_error(done, names="unknown scheme 'mysql'", secret="dbsecret")
    assert "mysql://ops:***@db.example/broadcasts" in done.stderr
    assert not (tmp_path / "mysql:").exists()


def test_the_queue_url_can_come_from_the_environment_out_of_sight_of_ps(
    tmp_path: Path, config: Path, closed_port: int, script_env: dict[str, str], run_cli
) -> None:
    # A URL that cannot work, so the errors prove the option was read from the variable.
    script_env["BROADCASTIO_QUEUE"] = f"redis://:hunter2secret@127.0.0.1:{closed_port}/0"
    write_recipients(tmp_path / "people.csv", 3)
    shown = f"redis://:***@127.0.0.1:{closed_port}/0"
    done = run_cli(
        "broadcast", "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "from-env",
    )  # fmt: skip
    assert_one_line_error(done, names=shown, secret="hunter2secret")
    assert "cannot reach Redis" in done.stderr
    assert_nothing_recorded(tmp_path)
    worker = run_cli("worker", "--journal", "journal.sqlite", "--config", str(config))
    assert_one_line_error(worker, names=shown, secret="hunter2secret")


def _spawned_children(parent: int) -> list[int]:
    """The worker processes ``parent`` spawned (multiprocessing's spawn_main), by /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def test_a_worker_process_dying_at_start_is_one_line_and_exit_2(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes
) -> None:
    import os

    supervisor = processes.start(
        "worker", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--processes", "2", log="supervisor.log",
    )  # fmt: skip
    children: list[int] = []

    def a_child_started() -> bool:
        children.extend(_spawned_children(supervisor.pid))
        return bool(children)

    wait_until(a_child_started, 60, "the supervisor to start its worker processes")
    # Killed at once: to the supervisor, a child that failed to start.
    os.kill(children[0], signal.SIGKILL)
    assert supervisor.wait(timeout=60) == 2, processes.output()
    output = (tmp_path / "supervisor.log").read_text()
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("broadcastio: error: worker process ")
    assert "right after starting" in lines[0]
    assert "Traceback" not in output
