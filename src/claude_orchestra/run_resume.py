"""Taking up a killed run (``run --resume``): ending what it left running (carrying its
conversations where they live elsewhere), then in the new run's loop its merges,
deliveries, incidents and finished tasks, each instance's conversation, and origin's facts
reconciled with what it recorded."""

from __future__ import annotations

import logging
from collections.abc import Collection

import attrs

from claude_orchestra.coordinator import Coordinator
from claude_orchestra.errors import GitError, PrerequisiteError
from claude_orchestra.events import is_session_id
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.resume import PreviousRun, RunResumed
from claude_orchestra.runtimes.base import Runtime, SessionCarryingRuntime
from claude_orchestra.values import IncidentKind

logger = logging.getLogger(__name__)


async def end_previous(previous: PreviousRun, runtime: Runtime, *, successor: str) -> PreviousRun:
    """End what the killed run left running in ``runtime`` (its own, by its tmux socket:
    its instances lost their hook server). A runtime whose conversations live where the
    resumed run (tmux socket ``successor``) would not find them carries them there first;
    the sessions it could not carry are moved to :attr:`PreviousRun.sessions_lost`."""
    if not isinstance(runtime, SessionCarryingRuntime):
        await runtime.close()
        return previous
    ids = {n: s.session_id for n, s in previous.sessions.items() if is_session_id(s.session_id)}
    handed = await runtime.hand_over(ids, successor=successor)
    return attrs.evolve(
        previous,
        sessions={n: s for n, s in previous.sessions.items() if n not in handed.lost},
        carried=handed.carried,
        sessions_lost=handed.lost,
    )


def lost_sessions(previous: PreviousRun, instances: Collection[str]) -> list[RecordIncident]:
    """One incident per instance among ``instances`` whose session could not be carried
    to where it runs: it starts a new one."""
    return [
        RecordIncident(
            instance=name,
            kind=IncidentKind.RUNTIME_TROUBLE,
            evidence=f"its last session could not be carried to where it runs: {reason}",
            action="started in a new session",
        )
        for name, reason in sorted(previous.sessions_lost.items())
        if name in instances
    ]


async def take_up(previous: PreviousRun, coordinator: Coordinator) -> None:
    """Carry on a killed run: its record, its sessions, origin's facts.

    Raises:
        PrerequisiteError: git failed reading origin back.
    """
    ctx = coordinator.ctx
    ctx.progress.merges.extend(previous.merges)
    ctx.progress.deliveries.extend(previous.deliveries)
    ctx.progress.incidents.extend(previous.incidents)
    ctx.progress.tasks_done.update(previous.tasks_done)
    coordinator.spending.ledger.replay(previous.charges)
    for name, session in previous.sessions.items():
        if name in ctx.instances:
            found = name in previous.carried
            ctx.instances[name].adopt(session.session_id, session.transcript_path, found=found)
    for incident in lost_sessions(previous, ctx.instances):  # logged, journaled, reported
        await coordinator.executor.perform(incident)
    ctx.journal.record(
        RunResumed(
            previous_pid=previous.pid,
            sessions=tuple(sorted(previous.sessions)),
            merges_before=len(previous.merges),
        )
    )
    logger.info(
        "resuming the run of pid %s: %d merges so far, sessions of %s",
        previous.pid,
        len(previous.merges),
        ", ".join(sorted(previous.sessions)) or "none",
    )
    try:
        await coordinator.review.reconcile(
            previous.held_tasks,
            delivered=[c for d in previous.deliveries for c in d.commits],
            finished_tasks=previous.finished_tasks,
        )
    except GitError as exc:
        raise PrerequisiteError("git", str(exc)) from exc
