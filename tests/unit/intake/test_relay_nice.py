"""A pane's session gets its niceness for the CPU (:func:`relay.set_session_nice`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from claude_orchestra.intake import relay


def test_the_sessions_group_is_given_the_niceness(tmp_path: Path) -> None:
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 0\n")
    assert relay.set_session_nice(10, autogroup=group)
    assert group.read_text() == "10"


def test_at_the_orchestrators_own_priority_nothing_is_written(tmp_path: Path) -> None:
    group = tmp_path / "autogroup"
    assert relay.set_session_nice(0, autogroup=group)
    assert not group.exists()


def test_where_sessions_are_not_grouped_there_is_nothing_to_do(tmp_path: Path) -> None:
    waits: list[float] = []
    assert relay.set_session_nice(10, autogroup=tmp_path, wait=waits.append)  # not writable
    assert waits == []


def test_a_change_refused_for_now_is_tried_again_a_tenth_of_a_second_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = tmp_path / "autogroup"
    refusals = iter([BlockingIOError(11, "Resource temporarily unavailable")] * 2)

    def opener(path: Path, mode: str, **kwargs: Any) -> Any:
        refusal = next(refusals, None)
        if refusal is not None:
            raise refusal
        return open(path, mode, **kwargs)

    monkeypatch.setattr(relay, "open", opener, raising=False)
    waits: list[float] = []
    assert relay.set_session_nice(10, autogroup=group, wait=waits.append)
    assert waits == [0.1, 0.1]
    assert group.read_text() == "10"


def test_after_its_tries_it_reports_the_group_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(relay, "open", refuse, raising=False)
    waits: list[float] = []
    assert not relay.set_session_nice(10, tries=3, autogroup=tmp_path / "g", wait=waits.append)
    assert waits == [0.1, 0.1]
