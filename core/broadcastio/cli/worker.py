"""``broadcastio worker``: Dramatiq workers that deliver the broadcasts submitted with --queue.

The worker builds its orchestrator from the same configuration file the
submitting command uses (``--config``, ``--provider``), opens the same
journal, and delivers one recipient per queue message until SIGTERM or Ctrl-C,
after which the sends under way finish and are journaled. Everything that
would stop it from working (the queue URL, Redis, the password, the
configuration, the journal) is one ``broadcastio: error:`` line and exit 2
before anything is consumed.
"""

from __future__ import annotations

import logging

import click

from broadcastio.cli.journal_path import JournalLocation, JournalLocationType

from broadcastio.cli.options import provider_option
from broadcastio.cli.state import CliState, pass_state

__all__ = ["worker"]

# "postgresql://..." as click's Path hands it over ("postgresql:/..."): a URL, not a file.


@click.command(short_help="Run Dramatiq workers that deliver broadcasts sent with --queue.")
@click.option(
    "--queue",
    "queue_url",
    metavar="URL",
    envvar="BROADCASTIO_QUEUE",
    help="The Redis the broadcasts are queued on: redis://[:PASSWORD@]HOST[:PORT]/DB "
    "(rediss:// for TLS). Default: $BROADCASTIO_QUEUE (keeps the password out of `ps`), "
    "then queue in the configuration's [broadcast] table.",
)
@click.option(
    "--journal",
    "journal_path",
    type=JournalLocationType(),
    help="The journal the submitting command uses: a file workers on one machine share, "
    "or postgresql://USER:PASSWORD@HOST/DB for workers on several. "
    "Default: $BROADCASTIO_JOURNAL, else the user state directory.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each with its own threads and its own Python interpreter).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Sending threads per process.",
)
@click.option(
    "--redelivery-after",
    "redelivery_seconds",
    type=click.FloatRange(1, 86_400),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the messages a crashed worker held wait before another worker takes them.",
)
@click.option(
    "--max-pause",
    "max_pause",
    type=click.FloatRange(0, 6 * 86_400),
    default=86_400.0,
    show_default=True,
    metavar="SECONDS",
    help="The longest rate-limit pause (a WhatsApp cap's retry_after) a message is put back "
    "on the queue for, to be sent when the window reopens; a longer one fails the recipient. "
    "0: never.",
)
@provider_option
@pass_state
def worker(
    state: CliState,
    queue_url: str | None,
    journal_path: JournalLocation | None,
    processes: int,
    threads: int,
    redelivery_seconds: float,
    max_pause: float,
    providers: tuple[str, ...],
) -> None:
    """Deliver the recipients of broadcasts submitted with `broadcastio broadcast --queue`.

    Runs until SIGTERM or Ctrl-C; the sends under way then finish and are
    journaled. Start one per machine core or so; every worker on the machine
    must use the submitter's journal file and configuration.

    \b
    Examples:
      broadcastio worker --queue redis://localhost:6379/0 --journal /srv/broadcasts.sqlite
      broadcastio worker --queue redis://:secret@redis:6379/0 --processes 2 --threads 16
    """
    from broadcastio.cli.journal_path import (
        configured_journal,
        default_journal_path,
        make_journal_directory,
    )
    from broadcastio.distributed import WorkerOptions, check_queue_url, run_workers

    configuration = state.load_config()
    if queue_url is None:
        queue_url = configuration.broadcast.queue
    if queue_url is None:
        raise click.UsageError(
            "give --queue URL, or queue in the configuration's [broadcast] table"
        )
    check_queue_url(queue_url)
    if journal_path is not None:
        journal = journal_path
    else:
        journal = default_journal_path(configured=configured_journal(configuration))
    make_journal_directory(journal)
    if state.quiet:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(state.verbosity, logging.DEBUG)
    run_workers(
        WorkerOptions(
            queue_url=queue_url,
            journal=journal,
            processes=processes,
            threads=threads,
            config_path=state.config_path,
            providers=providers,
            redelivery_seconds=redelivery_seconds,
            log_level=level,
            max_pause=max_pause,
        )
    )
