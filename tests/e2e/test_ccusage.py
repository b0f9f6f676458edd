"""The ledger against ccusage (the npm tool users already trust) on the same transcripts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claude_orchestra.costs.transcripts import Usage

from .conftest import HOME, Target, WatchedRun

CCUSAGE = Path(__file__).resolve().parents[2] / "tools/ccusage/node_modules/.bin/ccusage"
"""ccusage 20.0.24, pinned in ``tools/package.json`` and installed by ``make setup``."""


def ccusage_totals(target: Target, *instances: str) -> dict[str, Any]:
    """The ``totals`` of ``ccusage claude daily --json --offline --mode calculate`` over
    these instances' config dirs (ccusage reads a comma-separated ``CLAUDE_CONFIG_DIR`` and
    counts a response once across all of them, by ``message.id`` and ``requestId``)."""
    config_dirs = [target.state("instances") / name / "config" for name in instances]
    for config_dir in config_dirs:
        assert (config_dir / "projects").is_dir(), config_dir
    result = subprocess.run(
        [str(CCUSAGE), "claude", "daily", "--json", "--offline", "--mode", "calculate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=target.workspace,  # no .ccusage/ccusage.json of ours or the user's applies
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(HOME),
            "TZ": "UTC",
            "CLAUDE_CONFIG_DIR": ",".join(map(str, config_dirs)),
        },
    )
    assert result.returncode == 0, result.stderr
    totals: dict[str, Any] = json.loads(result.stdout)["totals"]
    return totals


def tokens(totals: dict[str, Any]) -> dict[str, int]:
    """ccusage's four token totals under the report's names."""
    return {
        "input_tokens": totals["inputTokens"],
        "output_tokens": totals["outputTokens"],
        "cache_creation_input_tokens": totals["cacheCreationTokens"],
        "cache_read_input_tokens": totals["cacheReadTokens"],
    }


def as_json(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


@pytest.mark.usefixtures("ccusage_binary")  # skipped locally when missing, a failure under CI
def test_the_ledger_equals_ccusage_and_the_fake_api(watched_run: WatchedRun) -> None:
    target = watched_run.target
    assert watched_run.returncode == 0, watched_run.stderr[-3000:]
    report = target.report()
    names = [i["name"] for i in report["instances"]]
    assert sorted(names) == ["manager", "worker-1", "worker-2"]

    theirs = ccusage_totals(target, *names)
    ours = report["totals"]["usage"]
    assert ours["output_tokens"] > 0
    assert tokens(theirs) == ours
    assert as_json(target.fake.served_usage()) == ours
    # and instance by instance, so no two errors can cancel out
    for instance in report["instances"]:
        assert tokens(ccusage_totals(target, instance["name"])) == instance["usage"]

    # ccusage 20.0.24's offline price table predates claude-opus-5-5, the model Claude Code
    # 2.1.328 asks for (and the fake serves): it prices nothing and says so, so the cross-check
    # is on tokens only. When a new ccusage prices the model, compare its totalCost here.
    assert theirs["unpricedModels"] == ["claude-opus-5-5"]
    assert theirs["totalCost"] == 0
    assert report["totals"]["costUsd"] > 0
