"""Reset times read from Claude Code's limit messages."""

from __future__ import annotations

import datetime as dt

import pytest

from claude_orchestra.reset_time import parse_reset_time

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC).timestamp()


def at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You've hit your 5-hour limit · resets 3:25am (UTC)", at(2026, 11, 24, 3, 25)),
        ("You've hit your 5-hour limit · resets 12:30am (UTC)", at(2026, 11, 25, 0, 30)),
        ("Usage limit reached · continuing automatically at 3pm", at(2026, 11, 24, 15, 0)),
        ("You've hit your weekly limit · resets Nov 26, 9am (UTC)", at(2026, 11, 26, 9, 0)),
        ("resets 2am (Europe/Paris)", at(2026, 11, 24, 1, 1)),  # 2am Paris is now
        ("resets 12:59am (UTC)", at(2026, 11, 25, 0, 59)),  # a minute ago: tomorrow
    ],
)
def test_reset_times(text: str, expected: float) -> None:
    assert parse_reset_time(text, now=NOW) == expected


def test_no_time_no_answer() -> None:
    assert parse_reset_time("API Error: Request rejected (429)", now=NOW) is None


def test_a_reset_within_the_current_minute_is_not_tomorrow() -> None:
    now = at(2026, 11, 24, 13, 41) + 25  # 13:41:25; the text says 1:41pm
    assert parse_reset_time("resets 1:41pm (UTC)", now=now) == at(2026, 11, 24, 13, 42)
