"""What the loop's parts share: the run's rules, its instances, the run's record and timers.

The :class:`~claude_orchestra.coordinator.Coordinator` owns one :class:`RunContext` and
hands it to its helpers (:class:`~claude_orchestra.review.WorkReview`,
:class:`~claude_orchestra.recovery.Recovery`, the
:class:`~claude_orchestra.executor.Executor`); all of them run on the loop, one step at a
time, so the context needs no locks. It holds state and reads it; every action on the
world is the executor's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.instance import Instance
from claude_orchestra.journal import Journal
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import RunProgress
from claude_orchestra.rules import RunRules
from claude_orchestra.taskfile import TASK_FILE
from claude_orchestra.timers import Timers
from claude_orchestra.values import RunView

logger = logging.getLogger(__name__)


@final
@attrs.define(eq=False)
class RunContext:
    """The run's shared state: rules, instances, the run's record, timers, and the outlets
    (journal, plugins) the executor writes to."""

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
