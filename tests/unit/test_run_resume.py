"""Ending a killed run's runtime on ``run --resume``: a runtime whose conversations live
elsewhere (the ``remote`` one) carries them first, and its instances resume them without
looking for a transcript here; a session it could not carry starts anew."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from claude_orchestra.resume import PreviousRun, Session
from claude_orchestra.run_resume import end_previous, lost_sessions
from claude_orchestra.runtimes.base import CarriedSessions, SessionCarryingRuntime
from claude_orchestra.values import IncidentKind

from .test_instance_hostile import SID, RecordingRuntime, make

pytestmark = pytest.mark.anyio

OTHER = "1b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


class CarryingRuntime(RecordingRuntime):
    """Carries worker-1's session, not worker-2's."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[Mapping[str, str], str]] = []

    async def hand_over(self, sessions: Mapping[str, str], *, successor: str) -> CarriedSessions:
        self.asked.append((dict(sessions), successor))
        return CarriedSessions(carried=frozenset({"worker-1"}), lost={"worker-2": "host gone"})


class ClosingRuntime(RecordingRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def previous() -> PreviousRun:
    sessions = {
        "worker-1": Session(session_id=SID, transcript_path=None),
        "worker-2": Session(session_id=OTHER, transcript_path=None),
        "worker-3": Session(session_id="not-a-uuid", transcript_path=None),
    }
    return PreviousRun(
        pid=None,
        tmux_socket="orchestra-old",
        config_dir=None,
        started_at=None,
        sessions=sessions,
        merges=(),
        incidents=(),
    )


async def test_a_carrying_runtime_hands_the_sessions_over_and_says_which_are_lost() -> None:
    runtime = CarryingRuntime()
    assert isinstance(runtime, SessionCarryingRuntime)
    taken = await end_previous(previous(), runtime, successor="orchestra-new")
    assert runtime.asked == [({"worker-1": SID, "worker-2": OTHER}, "orchestra-new")]
    assert set(taken.sessions) == {"worker-1", "worker-3"}
    assert taken.carried == {"worker-1"}
    assert taken.sessions_lost == {"worker-2": "host gone"}


async def test_each_lost_session_is_one_incident_and_the_instance_starts_anew() -> None:
    taken = await end_previous(previous(), CarryingRuntime(), successor="orchestra-new")
    (incident,) = lost_sessions(taken, {"manager", "worker-1", "worker-2"})
    assert incident.instance == "worker-2"
    assert incident.kind is IncidentKind.RUNTIME_TROUBLE
    assert incident.evidence.endswith("could not be carried to where it runs: host gone")
    assert incident.action == "started in a new session"
    assert lost_sessions(taken, {"manager"}) == []


async def test_another_runtime_is_closed_and_the_sessions_stay_where_they_are() -> None:
    runtime = ClosingRuntime()
    assert not isinstance(runtime, SessionCarryingRuntime)
    before = previous()
    assert await end_previous(before, runtime, successor="orchestra-new") is before
    assert runtime.closed


async def test_a_carried_session_is_resumed_without_a_transcript_here(tmp_path: Path) -> None:
    instance, runtime, _ = make(tmp_path)
    instance.adopt(SID, None, found=True)
    await instance.start(resume=True)
    assert runtime.specs[-1].command[-2:] == ("--resume", SID)


async def test_a_session_not_carried_is_looked_for_here_and_not_found(tmp_path: Path) -> None:
    instance, runtime, _ = make(tmp_path)
    instance.adopt(SID, None)
    await instance.start(resume=True)
    assert "--resume" not in runtime.specs[-1].command
