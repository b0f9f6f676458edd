"""The origin watch's bookkeeping: requests wait for one round, a second request of the same
instance merges into the first."""

from __future__ import annotations

from pathlib import Path

from claude_orchestra._clock import ManualClock
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.origin_watch import OriginWatch, ReadRequest
from claude_orchestra.git.repo import GitRepo


def watch() -> OriginWatch:
    reader = OriginReader(
        repo=GitRepo(path=Path("/nonexistent")), run_branch="main", workers=(1,), branches=()
    )
    return OriginWatch(reader=reader, clock=ManualClock())


def test_a_request_makes_the_watch_busy_until_its_round() -> None:
    origin = watch()
    assert not origin.busy
    assert not origin.waiting
    origin.request(ReadRequest(instance="worker-1"))
    assert origin.busy
    assert origin.waiting
    assert origin.rounds == 0


def test_a_second_request_of_an_instance_merges_into_the_first() -> None:
    origin = watch()
    origin.request(ReadRequest(instance="worker-1", uncommitted=True))
    origin.request(ReadRequest(instance="worker-1"))
    origin.request(ReadRequest(instance="manager"))
    assert [(r.instance, r.uncommitted) for r in origin.pending] == [
        ("worker-1", True),
        ("manager", False),
    ]
