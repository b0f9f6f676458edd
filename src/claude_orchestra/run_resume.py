"""Taking up a killed run (``run --resume``) in the new run's loop: its merges, deliveries,
incidents and finished tasks, each instance's conversation, and origin's facts reconciled
with what it recorded."""

from __future__ import annotations

import logging

from claude_orchestra.coordinator import Coordinator
from claude_orchestra.errors import GitError, PrerequisiteError
from claude_orchestra.resume import PreviousRun, RunResumed

logger = logging.getLogger(__name__)


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
    for name, session in previous.sessions.items():
        if name in ctx.instances:
            ctx.instances[name].adopt(session.session_id, session.transcript_path)
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
