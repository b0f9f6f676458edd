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


def start_run(config: Path, home: Path, *, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """``claude-orchestra run --config CONFIG`` started in a process of its own (its pid is
    the orchestrator's, for sampling), ``HOME`` at ``home`` (created), standard error
    piped."""
    home.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "claude_orchestra", "-q", "run", "--config", str(config)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )


def wait_run(process: subprocess.Popen[str], minutes: float) -> str:
    """Its standard error once it ends; past the run's ``minutes`` and 5 more, terminated
    (the orchestrator ends its own instances on SIGTERM)."""
    try:
        _, err = process.communicate(timeout=minutes * 60 + 300)
    except subprocess.TimeoutExpired:
        process.terminate()
        _, err = process.communicate(timeout=120)
        err = f"timed out after {minutes} min; {err}"
    return err


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
