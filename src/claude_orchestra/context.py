"""What the loop's parts share: the instances, the run's record, its timers and its outlets.

The :class:`~claude_orchestra.coordinator.Coordinator` owns one :class:`RunContext` and
hands it to its helpers (:class:`~claude_orchestra.review.WorkReview`,
:class:`~claude_orchestra.recovery.Recovery`); all of them run on the loop, one step at a
time, so the context needs no locks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.errors import TmuxError
from claude_orchestra.instance import Instance
from claude_orchestra.journal import Journal
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import RunProgress
from claude_orchestra.rules import RunRules
from claude_orchestra.taskfile import TASK_FILE
from claude_orchestra.timers import DeliveryDeadline, Timers
from claude_orchestra.values import Assignment, Incident, IncidentKind, RunView

logger = logging.getLogger(__name__)


@final
@attrs.define(eq=False)
class RunContext:
    """The run's shared state and the actions every part of the loop may take."""

    rules: RunRules
    instances: Mapping[str, Instance]
    plugins: PluginHost
    journal: Journal
    clock: Clock
    rotator: AuthRotator
    progress: RunProgress = attrs.field(init=False)
    timers: Timers = attrs.field(init=False, factory=Timers)

    def __attrs_post_init__(self) -> None:
        self.progress = RunProgress(run_branch=self.rules.run_branch)

    def view(self) -> RunView:
        """The frozen view plugins get."""
        return self.progress.view(
            scheduler=self.rules.scheduler,
            merger=self.rules.merger,
            worker_count=self.rules.worker_count,
            instances=[i.snapshot() for i in self.instances.values()],
            task_file_name=self.rules.task_file or TASK_FILE,
            unavailable=[i.name for i in self.instances.values() if not self.can_prompt(i)],
        )

    def can_prompt(self, instance: Instance) -> bool:
        """Whether a request on the instance's credential may be sent now: no prompt is
        ever typed on a credential that is cooling down, invalid or spent."""
        return self.rotator.usable(instance.credential.name)

    def incident(
        self,
        kind: IncidentKind,
        instance: Instance,
        evidence: str,
        action: str,
        *,
        resumes_at: float | None = None,
    ) -> None:
        """Record what went wrong and what is done about it: log, journal, report, plugins."""
        incident = Incident(
            at=self.clock.wall(),
            kind=kind,
            instance=instance.name,
            evidence=evidence,
            action=action,
            resumes_at=resumes_at,
        )
        logger.warning("%s: %s: %s -> %s", instance.name, kind.value, evidence, action)
        self.progress.incidents.append(incident)
        self.journal.record(incident)
        self.plugins.incident(incident)

    async def send(self, assignment: Assignment) -> None:
        """Type the assignment's prompt, or keep it until the instance can take one."""
        instance = self.instances[assignment.instance]
        if not instance.state.accepts_prompt or not self.can_prompt(instance):
            # kept: sent once it is up again, or once it has moved to a usable credential
            self.progress.keep(assignment)
            return
        self.progress.record_assignment(assignment)
        self.journal.record(assignment)
        await self.guard(instance, instance.send(assignment.prompt))
        self.timers.add(
            self.clock.now() + self.rules.delivery_nudges[0],
            DeliveryDeadline(
                instance=instance.name, prompt_number=instance.snapshot().prompts_sent
            ),
        )

    async def resend_pending(self, instance: Instance) -> None:
        """Send the instance's kept assignment, if any."""
        pending = self.progress.take_kept(instance.name)
        if pending is not None:
            await self.send(pending)

    async def guard(self, instance: Instance, action: Awaitable[None]) -> None:
        """Run a tmux action; its failure is an incident, not a crash of the loop."""
        try:
            await action
        except TmuxError as exc:
            self.incident(IncidentKind.INSTANCE_DIED, instance, str(exc), "none possible")
