"""The suite's own set-up: the Hypothesis profile, and tools that must be there under CI."""

from __future__ import annotations

import sys

import pytest
from hypothesis import settings

from claude_orchestra.testing import tools


def test_the_default_hypothesis_profile_has_no_deadline() -> None:
    assert settings.default.deadline is None
    assert settings.get_profile("dev").deadline is None
    ci = settings.get_profile("ci")
    assert ci.deadline is None
    assert ci.derandomize


def test_a_missing_tool_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bwrap is not installed"):
        tools.require("bwrap", None)


def test_a_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="ccusage is not installed"):
        tools.require("ccusage", None)
    tools.require("ccusage", "/usr/bin/ccusage")  # present: neither


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bubblewrap is Linux only")
def test_bwrap_and_chromium_are_required_like_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", "/nonexistent")
    for require in (tools.require_bwrap, tools.require_chromium, tools.require_tmux):
        with pytest.raises(pytest.fail.Exception, match="is not installed"):
            require()
