"""One record per instance (:mod:`claude_orchestra.loop.record`): the run's record keeps
everything the loop knows of an instance in it, and every map by instance is a view of
those records."""

from __future__ import annotations

import attrs
import pytest

from claude_orchestra.events import SessionStarted, TurnStopped
from claude_orchestra.loop.record import InstanceRecord, Judging, LastEvent
from claude_orchestra.progress import RunProgress
from claude_orchestra.values import Assignment, AssignmentKind

TASK = Assignment(instance="worker-1", prompt="p", kind=AssignmentKind.WORK, task="Write a.py")


def test_an_instance_nothing_happened_to_has_an_empty_record() -> None:
    progress = RunProgress(run_branch="main")
    assert progress.record("worker-1") == InstanceRecord()
    assert not progress.record("worker-1").busy
    assert progress.records == {}  # reading creates nothing


def test_a_turn_goes_from_in_flight_to_judged_in_the_one_record() -> None:
    progress = RunProgress(run_branch="main")
    progress.record_assignment(TASK)
    assert progress.in_flight == {"worker-1": TASK}
    assert progress.record("worker-1").busy

    ended = progress.finish_assignment("worker-1")
    progress.start_judging("worker-1", ended)
    assert progress.in_flight == {}
    assert progress.judging == {"worker-1": Judging(TASK)}
    assert progress.record("worker-1").busy  # no new work until judged

    assert progress.end_judging("worker-1") == Judging(TASK)
    assert progress.end_judging("worker-1") is None  # judged once
    assert progress.record("worker-1") == InstanceRecord()


def test_a_second_stop_before_origin_answers_keeps_the_turn_being_judged() -> None:
    # Found by the LoopMachine: a duplicate Stop replaced the judgement of the task with
    # one of nothing, so the task was handed out again as new and its follow-ups uncounted.
    progress = RunProgress(run_branch="main")
    progress.record_assignment(TASK)
    progress.start_judging("worker-1", progress.finish_assignment("worker-1"))
    progress.start_judging("worker-1", progress.finish_assignment("worker-1"))
    assert progress.end_judging("worker-1") == Judging(TASK)


def test_a_kept_prompt_is_taken_once() -> None:
    progress = RunProgress(run_branch="main")
    progress.keep(TASK)
    assert progress.kept == {"worker-1": TASK}
    assert progress.take_kept("worker-1") == TASK
    assert progress.take_kept("worker-1") is None
    assert progress.kept == {}


def test_tasks_handed_back_are_cleared_by_a_replan_and_nothing_else_is() -> None:
    progress = RunProgress(run_branch="main")
    progress.hand_back("worker-1", "Write a.py")
    progress.hand_back("worker-2", "Write b.py")
    progress.keep(TASK)
    assert progress.handed_back == {"worker-1": "Write a.py", "worker-2": "Write b.py"}
    progress.clear_handed_back()
    assert progress.handed_back == {}
    assert progress.kept == {"worker-1": TASK}


def test_the_last_event_is_kept_by_kind_and_time() -> None:
    progress = RunProgress(run_branch="main")
    started = SessionStarted(
        instance="worker-1", at=1.0, session_id="s", source="startup", launch=1
    )
    progress.saw(started, 100.0)
    progress.saw(
        TurnStopped(instance="worker-1", at=2.0, session_id="s", last_message="done"), 105.0
    )
    assert progress.record("worker-1").last_event == LastEvent(TurnStopped, 105.0)


def test_the_views_cannot_be_written_to() -> None:
    progress = RunProgress(run_branch="main")
    progress.record_assignment(TASK)
    with pytest.raises(TypeError):
        progress.in_flight["worker-2"] = TASK  # type: ignore[index]


def test_each_change_keeps_the_rest_of_the_record() -> None:
    progress = RunProgress(run_branch="main")
    other = Assignment(instance="worker-1", prompt="q", kind=AssignmentKind.WORK, task="b")
    full = InstanceRecord(
        assignment=TASK, judging=Judging(other), kept=other, handed_back="c", follow_ups=2
    )
    changes = [
        (lambda: progress.record_assignment(other), {"assignment": other}),
        (lambda: progress.finish_assignment("worker-1"), {"assignment": None}),
        (lambda: progress.start_judging("worker-1", TASK), {"judging": Judging(TASK)}),
        (lambda: progress.end_judging("worker-1"), {"judging": None}),
        (lambda: progress.keep(TASK), {"kept": TASK}),
        (lambda: progress.take_kept("worker-1"), {"kept": None}),
        (lambda: progress.hand_back("worker-1", "d"), {"handed_back": "d"}),
        (progress.clear_handed_back, {"handed_back": None}),
    ]
    for change, expected in changes:
        progress.put("worker-1", full)
        change()
        assert progress.record("worker-1") == attrs.evolve(full, **expected)  # type: ignore[arg-type]
