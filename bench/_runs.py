"""Running the orchestrator as a user does, and reading its journal afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from claude_orchestra.journal import read_journal


def run_config(config: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``claude-orchestra run --config CONFIG`` in a process of its own, ``HOME`` at
    ``home`` (created), output captured."""
    home.mkdir()
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", "-q", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )


def stop_to_pushed(journal: Path) -> list[float]:
    """Seconds from each worker's ``Stop`` to its branch merged and pushed (wall clock)."""
    stopped: dict[str, float] = {}
    delays = []
    for entry in read_journal(journal):
        if entry["type"] == "TurnStopped" and str(entry["instance"]).startswith("worker-"):
            stopped[entry["instance"]] = entry["recorded"]
        elif entry["type"] == "MergeFinished" and entry["outcome"] == "merged":
            delays.append(entry["recorded"] - stopped[entry["instance"]])
    return delays
