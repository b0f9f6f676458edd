"""The end of a run: every instance stopped and every worker's commits kept on origin, then
its :class:`~claude_orchestra.summary.RunSummary` and ``report.json`` written from what the
loop kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Secret
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.config import RunConfig
from claude_orchestra.config_load import describe
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.events import Event
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.outcomes import Outcome
from claude_orchestra.plugins import PluginHost
from claude_orchestra.report import build_report, instance_usage, write_report
from claude_orchestra.runtimes.base import Runtime
from claude_orchestra.summary import RunSummary
from claude_orchestra.workers import worker_name
from claude_orchestra.workspace import Workspace

_SHUTDOWN_GRACE = 15.0


async def shut_down(
    coordinator: Coordinator,
    receive: anyio.abc.ObjectReceiveStream[Event],
    runtime: Runtime,
    worktrees: Mapping[int, Worktree],
) -> None:
    """Stop every instance, keep every worker's commits on origin, end the runtime."""
    with anyio.move_on_after(_SHUTDOWN_GRACE):
        for instance in coordinator.ctx.instances.values():
            await coordinator.executor.pane_ready(instance.name)
            await instance.stop()
        await coordinator.drain_until_stopped(receive, _SHUTDOWN_GRACE / 2)
        for instance in coordinator.ctx.instances.values():
            if instance.state.alive:  # /exit went unheard: end it the hard way
                await runtime.terminate(instance.name)
        await coordinator.drain_until_stopped(receive, _SHUTDOWN_GRACE / 2)
    for n in worktrees:
        await coordinator.review.push(worker_name(n))
    await runtime.close()


def finish_run(
    coordinator: Coordinator,
    outcome: Outcome,
    started: float,
    *,
    config: RunConfig,
    plugins: PluginHost,
    rotator: AuthRotator,
    clock: Clock,
    broker: Callable[[], dict[str, Any]] | None,
    secrets: Callable[[], tuple[Secret, ...]],
) -> RunSummary:
    """Charge what was written after the last event, publish the outcome, write the report.

    Args:
        broker: the broker's totals (``Broker.as_json``), when the run had one.
    """
    progress = coordinator.ctx.progress
    instances = list(coordinator.ctx.instances.values())
    spending = coordinator.spending
    for instance in instances:  # what was written after the last event
        spending.charge(instance)
    coordinator.board.publish(outcome.value)
    tasks_total, tasks_done = progress.task_counts()
    summary = RunSummary(
        outcome=outcome.value,
        exit_code=outcome.exit_code,
        run_branch=config.orchestrator.branch,
        started_at=started,
        ended_at=clock.wall(),
        tasks_total=tasks_total,
        tasks_done=tasks_done,
        merges=len(progress.merges),
        incidents=len(progress.incidents),
        usage=tuple(instance_usage(i, spending.ledger) for i in instances),
        by_credential=tuple(spending.ledger.spend_by("credential").items()),
        report_path=Workspace(config.workspace).report,
    )
    write_report(
        Workspace(config.workspace).report,
        build_report(
            summary=summary,
            progress=progress,
            instances=instances,
            config=describe(config),
            plugins=plugins.names(),
            rotations=coordinator.executor.failover.rotations,
            pool=rotator.view(),
            spending=spending,
            loop_latency=coordinator.latency.as_json(),
            broker=broker() if broker else None,
        ),
        secrets(),
    )
    return summary
