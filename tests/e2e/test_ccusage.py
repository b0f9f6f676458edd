"""The ledger against ccusage (the npm tool users already trust) on the same transcripts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import HOME, Target

CCUSAGE = Path(__file__).resolve().parents[2] / "tools/ccusage/node_modules/.bin/ccusage"


def ccusage_totals(target: Target) -> dict[str, float]:
    """``ccusage claude daily --json --offline`` over every instance's config dir."""
    config_dirs = sorted((target.workspace / ".orchestra" / "instances").glob("*/config"))
    assert len(config_dirs) == 3
    result = subprocess.run(
        [str(CCUSAGE), "claude", "daily", "--json", "--offline", "--mode", "calculate"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(HOME),
            "CLAUDE_CONFIG_DIR": ",".join(map(str, config_dirs)),
        },
    )
    totals: dict[str, float] = json.loads(result.stdout)["totals"]
    return totals


@pytest.mark.skipif(not CCUSAGE.exists(), reason="ccusage is installed by `make setup`")
def test_the_ledger_equals_ccusage_and_the_fake_api(target: Target) -> None:
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    ours = target.report()["spending"]["total"]
    theirs = ccusage_totals(target)
    served = target.fake.served_usage()
    # ccusage 20.0.24's offline price table predates Claude Code 2.1.328's default model,
    # so it prices nothing here (and says so): the cross-check is on tokens.
    assert theirs["unpricedModels"] == ["claude-opus-5-5"]
    assert ours["usage"] == {
        "input_tokens": theirs["inputTokens"],
        "output_tokens": theirs["outputTokens"],
        "cache_creation_input_tokens": theirs["cacheCreationTokens"],
        "cache_read_input_tokens": theirs["cacheReadTokens"],
    }
    assert ours["usage"] == {
        "input_tokens": served.input_tokens,
        "output_tokens": served.output_tokens,
        "cache_creation_input_tokens": served.cache_creation_input_tokens,
        "cache_read_input_tokens": served.cache_read_input_tokens,
    }
    assert ours["costUsd"] > 0
