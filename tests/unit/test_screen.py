"""The screen fallback classifies Claude Code 2.1.328's own wording."""

from __future__ import annotations

import datetime as dt

import pytest

from claude_orchestra.screen import ScreenState, read_screen

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC).timestamp()
FOOTER = "⏵⏵ bypass permissions on (shift+tab to cycle)"


@pytest.mark.parametrize(
    ("screen", "state", "status", "credential_problem"),
    [
        (
            "✻ 429 This request would exceed the rate limit for your organization. "
            "Please try again later. · retrying in 2s · attempt 3/10\n"
            + FOOTER
            + " · esc to interrupt",
            ScreenState.RETRYING,
            429,
            True,
        ),
        (
            "✻ 529 Overloaded · retrying in 1s · attempt 4/10\n· esc to interrupt",
            ScreenState.RETRYING,
            529,
            False,
        ),
        (
            "✻ 401 invalid x-api-key · retrying in 1s · attempt 3/10",
            ScreenState.RETRYING,
            401,
            True,
        ),
        (
            "⎿  You've hit your 5-hour limit · resets 3:25am (UTC)\n"
            "● Usage limit reached · continuing automatically at 3:25am · esc to cancel",
            ScreenState.USAGE_LIMIT,
            None,
            True,
        ),
        ("Do you want to use this API key?\n❯ No (recommended)", ScreenState.DIALOG, None, False),
        (
            "✢ Pontificating… (5s · ↓ 3 tokens)\n" + FOOTER + " · esc to interrupt",
            ScreenState.BUSY,
            None,
            False,
        ),
        ("❯ \n" + FOOTER, ScreenState.IDLE, None, False),
    ],
)
def test_screens(
    screen: str, state: ScreenState, status: int | None, credential_problem: bool
) -> None:
    reading = read_screen(screen, now=NOW)
    assert reading.state is state
    assert reading.status == status
    assert reading.credential_problem is credential_problem


def test_a_usage_limit_carries_its_reset_time() -> None:
    reading = read_screen("You've hit your 5-hour limit · resets 3:25am (UTC)", now=NOW)
    assert reading.reset_at == dt.datetime(2026, 11, 24, 3, 25, tzinfo=dt.UTC).timestamp()
    # the whole line, reset time and all, is the incident's evidence
    assert reading.line == "You've hit your 5-hour limit · resets 3:25am (UTC)"


@pytest.mark.parametrize(
    ("spinner", "tokens"),
    [
        ("✻ Accomplishing… (20s · ↓ 57 tokens)", 57),  # seen while a request hung
        ("· Swirling… (1m 8s · ↓ 2.3k tokens)", 2300),
        ("✶ Swirling… (5s · ↑ 69 tokens)", 69),
        ("✢ Pontificating…", None),
    ],
)
def test_the_spinner_gives_the_turns_streamed_tokens(spinner: str, tokens: int | None) -> None:
    reading = read_screen(spinner + "\n" + FOOTER + " · esc to interrupt", now=NOW)
    assert reading.state is ScreenState.BUSY
    assert reading.tokens == tokens
