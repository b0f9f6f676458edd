"""What status.json adds for the views: the merges and incidents as a timeline, the spend
over time (thinned, never unbounded), and the run model reading both."""

from __future__ import annotations

import copy

from claude_orchestra.progress import RunProgress
from claude_orchestra.runmodel import RunModel, TimelineEntry
from claude_orchestra.status import HISTORY_LIMIT, CostHistory, Pacer, timeline
from claude_orchestra.values import Incident, IncidentKind, MergeRecord
from tests.unit.test_runmodel import DOCUMENT, NOW


def test_merges_and_incidents_make_one_timeline_oldest_first_and_capped() -> None:
    progress = RunProgress(run_branch="main")
    progress.merges.append(
        MergeRecord(branch="worker-1", commits=("a", "b"), at=30.0, merged_by="queue", tasks=("t",))
    )
    progress.incidents.append(
        Incident(
            at=20.0,
            kind=IncidentKind.RATE_LIMITED,
            instance="worker-2",
            evidence="StopFailure 429",
            action="moved to key-2",
        )
    )
    entries = timeline(progress)
    assert [(e["kind"], e["at"]) for e in entries] == [("incident", 20.0), ("merge", 30.0)]
    assert entries[0]["summary"] == "rate limited"
    assert entries[0]["detail"] == "StopFailure 429 -> moved to key-2"
    assert entries[1]["summary"] == "worker-1 merged by queue (2 commits)"
    assert timeline(progress, limit=1) == entries[1:]


def test_the_spend_history_keeps_changes_only_and_thins_itself() -> None:
    history = CostHistory()
    history.note(0.0, 0.0)
    history.note(1.0, 0.0)  # no change: no point
    for second in range(2, 2000):
        history.note(float(second), second / 100)
    points = history.as_json()
    assert points[0] == [0.0, 0.0]
    assert points[-1] == [1999.0, 19.99]  # the latest is always kept
    assert len(points) <= HISTORY_LIMIT
    assert [p[0] for p in points] == sorted(p[0] for p in points)


def test_the_run_model_reads_the_timeline_and_the_history() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["timeline"] = [
        {"at": NOW - 9, "kind": "merge", "instance": "worker-1", "summary": "s", "detail": ""},
        "not an entry",
    ]
    document["spending"]["history"] = [[NOW - 60, 0.5], [NOW - 5, 1.5], ["bad"], [True, 1]]  # type: ignore[index]
    run = RunModel.from_document(document)
    assert run.timeline == (
        TimelineEntry(at=NOW - 9, kind="merge", instance="worker-1", summary="s", detail=""),
    )
    assert run.cost_history == ((NOW - 60, 0.5), (NOW - 5, 1.5))
    older = RunModel.from_document(copy.deepcopy(DOCUMENT))  # a run from before them
    assert older.timeline == ()
    assert older.cost_history == ()


def test_a_burst_of_changes_is_written_once_per_interval_and_none_is_left_unwritten() -> None:
    pacer = Pacer(0.5)
    assert pacer.next_due() is None
    assert pacer.changed(10.0)  # the first change after a quiet spell: at once
    pacer.done(10.0)
    assert pacer.next_due() is None
    assert not pacer.changed(10.1)  # a burst: kept for later
    assert not pacer.changed(10.3)
    assert pacer.next_due() == 10.5  # the loop wakes then, even if no event comes
    assert pacer.changed(10.5)
    pacer.done(10.5)
    assert pacer.changed(11.2)  # quiet for longer than the interval: at once again
