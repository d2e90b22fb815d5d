"""Refusing an output file that is one of the command's inputs.

``--results team.csv --recipients team.csv`` used to truncate the recipient
list before the first row was read, and the run then reported success for its
zero recipients. A command that writes files checks them against the files it
reads (and the journal) before anything is opened for writing.

Two paths are the same file when they resolve to the same path (symbolic
links, ``..``, a relative and an absolute spelling) or when both exist and
are the same inode (hard links, bind mounts). An output that exists and is not
a regular file (``/dev/null``, ``/dev/stdout``, a pipe) is never refused:
writing to it destroys no input.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import click

__all__ = ["refuse_overwriting_inputs", "same_file"]


def same_file(first: Path, second: Path) -> bool:
    """Whether ``first`` and ``second`` name one file, existing or not (see the module doc)."""
    try:
        if first.resolve() == second.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: fall through to the inode check
        pass
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist, and they do not resolve alike
        return False


def _writing_destroys(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return True  # created by the write: only a resolved-path match can find it
    return stat.S_ISREG(mode)


def refuse_overwriting_inputs(
    output_option: str, output: Path | None, inputs: Mapping[str, Path | None]
) -> None:
    """``click.BadParameter`` (exit 2) when ``output`` is the same file as one of ``inputs``.

    ``output_option`` is the option a person typed (``--results``); ``inputs``
    goes from each input's option to its path (``None``: not given). The
    message names both options and both paths.
    """
    if output is None or not _writing_destroys(output):
        return
    for input_option, source in inputs.items():
        if source is None or not same_file(output, source):
            continue
        also = "" if str(output) == str(source) else f" {str(source)!r}"
        raise click.BadParameter(
            f"{str(output)!r} is the same file as {input_option}{also}: writing it "
            "would destroy what this command reads; choose another file",
            param_hint=f"'{output_option}'",
        )
