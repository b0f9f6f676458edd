"""Reset times read from Claude Code's limit messages."""

from __future__ import annotations

import datetime as dt

import pytest

from claude_orchestra.auth.reset_time import parse_reset_time

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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You've hit your weekly limit · resets Jan 2, 5pm (UTC)", at(2027, 1, 2, 17, 0)),
        ("You've hit your weekly limit · resets Dec 31, 11pm (UTC)", at(2026, 12, 31, 23, 0)),
        ("You've hit your weekly limit · resets Dec 30, 6pm (UTC)", at(2026, 12, 30, 18, 0)),
        ("You've hit your weekly limit · resets Dec 30, 4pm (UTC)", at(2027, 12, 30, 16, 0)),
    ],
)
def test_a_dated_reset_is_this_years_unless_it_is_well_past(text: str, expected: float) -> None:
    now = at(2026, 12, 31, 17, 0)
    assert parse_reset_time(text, now=now) == expected


def test_a_reset_is_on_the_minute_whatever_the_fraction_of_a_second_now() -> None:
    now = at(2026, 11, 24, 1, 0) + 0.75
    assert parse_reset_time("resets 3:25am (UTC)", now=now) == at(2026, 11, 24, 3, 25)
    dated = parse_reset_time("resets Nov 26, 9:15am (UTC)", now=now)
    assert dated == at(2026, 11, 26, 9, 15)
