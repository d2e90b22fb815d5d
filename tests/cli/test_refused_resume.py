"""A resume refused for different text records no run and keeps the last run's report.

Before, the refused run counted as run 2 and its empty, interrupted report
replaced the real one in ``journal list``.
"""

from __future__ import annotations

import json
from pathlib import Path


def test_a_refused_resume_leaves_the_journal_as_it_was(
    tmp_path: Path, dummy_config, run_script
) -> None:
    (tmp_path / "team.csv").write_text("recipient\n+15550000001\n+15550000002\n")
    dummy_config()
    journal = tmp_path / "journal.sqlite"
    common = ("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
              "--journal", str(journal))  # fmt: skip
    first = run_script(*common, "--text", "Backup at 9", "--id", "nine")
    assert first.returncode == 0, first.stderr
    before = json.loads(run_script("journal", "list", "--journal", str(journal), "--json").stdout)

    refused = run_script(*common, "--text", "Backup at 10", "--resume", "nine")
    assert refused.returncode == 2, refused.stderr
    assert "differs from the one an earlier run journaled" in refused.stderr

    after = json.loads(run_script("journal", "list", "--journal", str(journal), "--json").stdout)
    assert after == before
    assert after[0]["runs"] == 1 and after[0]["last_report"]["delivered"] == 2
