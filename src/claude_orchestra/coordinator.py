"""The loop: the only writer of run state.

Every event — a hook, a pane death — arrives on one memory stream; timers wake the loop
when something should have happened and did not. For each, the coordinator updates the
instance's state, checks evidence in git after a turn ends, asks the plugins what to do
next, and carries their answers out (type a prompt, restart an instance, record a merge).
Git and tmux work happens in threads (behind the adapters), one step at a time, so no state
is ever shared between tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import final

import anyio
import attrs
from anyio.abc import ObjectReceiveStream

from claude_orchestra._clock import Clock
from claude_orchestra.credentials import Credential
from claude_orchestra.errors import GitError, PluginError, TmuxError
from claude_orchestra.events import (
    Event,
    PaneDied,
    PromptSubmitted,
    SessionEnded,
    SessionStarted,
    ToolUsed,
    TurnFailed,
    TurnStopped,
)
from claude_orchestra.evidence import read_origin
from claude_orchestra.failover import Decision, Failover, MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.instance import Instance, Role
from claude_orchestra.journal import Journal
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import (
    Assignment,
    AssignmentKind,
    Incident,
    IncidentKind,
    MergeByManager,
    MergeRecord,
    RunProgress,
    RunView,
    WorkerFinished,
)
from claude_orchestra.rules import Outcome, RunRules
from claude_orchestra.timers import (
    CredentialDue,
    DeliveryDeadline,
    ExitDeadline,
    RetryDue,
    StartDeadline,
    Timer,
    Timers,
)
from claude_orchestra.worktree import GitRepo, Worktree

logger = logging.getLogger(__name__)


@final
@attrs.define(eq=False)
class Coordinator:
    """Applies events to the run and decides what happens next."""

    rules: RunRules
    instances: Mapping[str, Instance]
    worktrees: Mapping[str, Worktree]
    """Instance name -> its worktree (workers only)."""
    repo: GitRepo
    plugins: PluginHost
    failover: Failover
    journal: Journal
    clock: Clock
    progress: RunProgress = attrs.field(init=False)
    _timers: Timers = attrs.field(init=False, factory=Timers)
    _resend: dict[str, Assignment] = attrs.field(init=False, factory=dict)
    _failures: dict[str, int] = attrs.field(init=False, factory=dict)
    _restarts: dict[str, int] = attrs.field(init=False, factory=dict)
    _launches: dict[str, int] = attrs.field(init=False, factory=dict)
    _ahead: dict[str, tuple[str, ...]] = attrs.field(init=False, factory=dict)
    _replacing: dict[str, tuple[Credential | None, bool]] = attrs.field(init=False, factory=dict)
    """Instances whose process was asked to exit so it can be replaced: (credential, resume)."""

    def __attrs_post_init__(self) -> None:
        self.progress = RunProgress(run_branch=self.rules.run_branch)

    # -- the loop -------------------------------------------------------------------------

    async def run(self, events: ObjectReceiveStream[Event]) -> Outcome:
        """Consume events until the run is complete, stalls, fails or reaches its deadline."""
        for name in self.instances:
            self._watch_start(name)
        while True:
            now = self.clock.now()
            if now >= self.rules.deadline:
                return Outcome.TIME_LIMIT
            wake = min(self.rules.deadline, self._timers.next_due() or self.rules.deadline)
            event: Event | None = None
            with anyio.move_on_after(max(0.0, wake - now)):
                event = await events.receive()
            if event is not None:
                await self._apply(event)
            for timer in self._timers.pop_due(self.clock.now()):
                await self._on_timer(timer)
            outcome = await self._settle()
            if outcome is not None:
                return outcome

    async def drain_until_stopped(self, events: ObjectReceiveStream[Event], grace: float) -> None:
        """After asking instances to stop, apply events until all have exited."""
        with anyio.move_on_after(grace):
            while any(i.state.alive for i in self.instances.values()):
                await self._observe(await events.receive())

    # -- events ---------------------------------------------------------------------------

    async def _observe(self, event: Event) -> Instance | None:
        instance = self.instances.get(event.instance)
        if instance is None:
            return None
        if instance.is_stale(event):
            logger.debug("%s: ignored %s from a replaced process", instance.name, event)
            return None
        before = len(instance.history)
        instance.observe(event)
        self.journal.record(event)
        for change in instance.history[before:]:
            self.journal.record(change)
            self.plugins.notify(
                "orchestra_instance_state_changed", instance=instance.snapshot(), change=change
            )
        self.plugins.notify("orchestra_hook_event", event=event)
        return instance

    async def _apply(self, event: Event) -> None:
        instance = await self._observe(event)
        if instance is None:
            return
        if isinstance(event, PaneDied) and instance.name in self._replacing:
            await self._replace(instance)
            return
        match event:
            case SessionStarted() if instance.state is InstanceState.IDLE:
                pending = self._resend.pop(instance.name, None)
                if pending is not None:
                    await self._send(pending)
            case TurnStopped() if instance.state is InstanceState.IDLE:
                self._failures.pop(instance.name, None)
                self.failover.progressed(instance.name)
                assignment = self.progress.finish_assignment(instance.name)
                await self._after_turn(instance, assignment)
            case TurnFailed():
                await self._after_failure(instance, event)
            case PaneDied() | SessionEnded() if instance.state in {
                InstanceState.DEAD,
                InstanceState.EXITING,
            }:
                await self._after_exit(instance, event)
            case ToolUsed():
                self.failover.progressed(instance.name)
            case PromptSubmitted():
                pass

    async def _after_turn(self, instance: Instance, assignment: Assignment | None) -> None:
        await self._refresh_from_origin(instance)
        if instance.role is Role.MANAGER:
            self._check_manager_turn(instance, assignment)
        else:
            await self._check_worker_turn(instance, assignment)

    def _check_manager_turn(self, instance: Instance, assignment: Assignment | None) -> None:
        if assignment is None:
            return
        if assignment.kind is AssignmentKind.PLAN and not self.progress.planned:
            self._incident(
                IncidentKind.PLAN_MISSING,
                instance,
                "the manager stopped but origin's run branch has no task list",
                "ask again",
            )
        for branch in assignment.branches:
            if self._ahead.get(branch):
                self._incident(
                    IncidentKind.MERGE_INCOMPLETE,
                    instance,
                    f"{branch} still has {len(self._ahead[branch])} commit(s) to merge",
                    "ask again",
                )

    async def _check_worker_turn(self, instance: Instance, assignment: Assignment | None) -> None:
        branch = self._branch_of(instance)
        commits = self._ahead.get(branch, ())
        if commits:
            self.progress.idle_retries.pop(instance.name, None)
            if assignment is not None and assignment.task is not None:
                self.progress.completed_tasks.append((instance.name, assignment.task))
            finished = WorkerFinished(
                instance=instance.name,
                worker=instance.worker or 0,
                branch=branch,
                commits=commits,
            )
            plan = self.plugins.merge_plan(self._view(), finished)
            match plan:
                case MergeByManager():
                    self.progress.await_merge(branch, commits)
                case _:
                    raise PluginError("?", "orchestra_merge", f"no merger for plan {plan!r}")
            return
        if assignment is None or assignment.kind is not AssignmentKind.WORK:
            return
        tries = self.progress.idle_retries.get(instance.name, 0)
        if tries < self.rules.idle_retries:
            self.progress.idle_retries[instance.name] = tries + 1
            self._incident(
                IncidentKind.IDLE_WITHOUT_WORK,
                instance,
                f"stopped without new commits on {branch}: {_clip(assignment.task or '')}",
                "prompt again",
            )
            follow_up = attrs.evolve(
                assignment,
                prompt="You stopped before finishing. Finish the task, commit and push "
                f"your branch as asked.\n\n{assignment.prompt}",
            )
            await self._send(follow_up)
        else:
            self._incident(
                IncidentKind.GAVE_UP,
                instance,
                f"stopped {tries + 1} times without commits on {branch}",
                "leave the task open",
            )

    async def _after_failure(self, instance: Instance, event: TurnFailed) -> None:
        assignment = self.progress.finish_assignment(instance.name)
        if assignment is not None:
            self._resend[instance.name] = assignment
        if event.error.is_credential_problem:
            self.failover.failure_of(instance.snapshot(), event)
            await self._follow(instance, self.failover.decide(instance.snapshot()), event.detail)
            return
        count = self._failures.get(instance.name, 0)
        self._failures[instance.name] = count + 1
        if count >= len(self.rules.retry_delays):
            self._resend.pop(instance.name, None)
            self._incident(
                IncidentKind.GAVE_UP, instance, f"{count + 1} failed turns", "stop retrying"
            )
            return
        delay = self.rules.retry_delays[count]
        self._incident(
            IncidentKind.TURN_FAILED,
            instance,
            f"{event.error.value}: {_clip(event.detail)}",
            f"retry on the same credential in {delay:.0f} s",
        )
        self._timers.add(self.clock.now() + delay, RetryDue(instance=instance.name))

    async def _follow(self, instance: Instance, decision: Decision, evidence: str) -> None:
        """Carry out a failover decision."""
        match decision:
            case MoveTo(credential=credential):
                self._incident(
                    IncidentKind.RATE_LIMITED,
                    instance,
                    _clip(evidence),
                    f"restart on {credential.name}",
                )
                await self._relaunch(instance, credential=credential)
            case StayOn():
                pending = self._resend.pop(instance.name, None)
                if pending is not None:
                    await self._send(pending)
            case PauseUntil(until=until):
                wait = max(1.0, until - self.clock.wall())
                self._incident(
                    IncidentKind.CREDENTIALS_EXHAUSTED,
                    instance,
                    _clip(evidence),
                    f"pause {wait:.0f} s until a credential resets",
                )
                self._timers.add(self.clock.now() + wait, CredentialDue(instance=instance.name))
            case NoCredential():
                self._resend.pop(instance.name, None)
                self._incident(
                    IncidentKind.GAVE_UP, instance, _clip(evidence), "no valid credential left"
                )

    async def _after_exit(self, instance: Instance, event: Event) -> None:
        assignment = self.progress.finish_assignment(instance.name)
        restarts = self._restarts.get(instance.name, 0)
        if restarts >= self.rules.max_restarts:
            self._incident(
                IncidentKind.GAVE_UP, instance, f"exited {restarts + 1} times", "leave it stopped"
            )
            return
        kind = (
            IncidentKind.INSTANCE_DIED
            if isinstance(event, PaneDied)
            else IncidentKind.INSTANCE_EXITED
        )
        self._incident(kind, instance, instance.history[-1].evidence, "restart with --resume")
        self._restarts[instance.name] = restarts + 1
        if assignment is not None:
            self._resend[instance.name] = assignment
        if isinstance(event, PaneDied):
            await self._relaunch(instance)

    # -- timers ---------------------------------------------------------------------------

    async def _on_timer(self, timer: Timer) -> None:
        instance = self.instances[timer.instance]
        match timer:
            case StartDeadline(launch=launch) if (
                launch == self._launches.get(instance.name)
                and instance.state is InstanceState.STARTING
            ):
                screen = await self._screen(instance)
                self._incident(
                    IncidentKind.INSTANCE_DIED,
                    instance,
                    f"no SessionStart within {self.rules.start_timeout:.0f} s; screen: {screen}",
                    "restart",
                )
                if self._restarts.get(instance.name, 0) < self.rules.max_restarts:
                    self._restarts[instance.name] = self._restarts.get(instance.name, 0) + 1
                    await self._relaunch(instance, resume=False)
            case DeliveryDeadline(prompt_number=number, nudge=nudge) if (
                instance.state is InstanceState.PROMPTED
                and instance.snapshot().prompts_sent == number
            ):
                logger.debug("%s: no UserPromptSubmit yet; pressing Enter again", instance.name)
                await self._guard_tmux(instance, instance.press("Enter"))
                if nudge + 1 < len(self.rules.delivery_nudges):
                    self._timers.add(
                        self.clock.now() + self.rules.delivery_nudges[nudge + 1],
                        attrs.evolve(timer, nudge=nudge + 1),
                    )
                else:
                    waited = sum(self.rules.delivery_nudges)
                    self._incident(
                        IncidentKind.PROMPT_NOT_DELIVERED,
                        instance,
                        f"no UserPromptSubmit within {waited:.0f} s; "
                        f"screen: {await self._screen(instance)}",
                        "wait for the instance",
                    )
            case ExitDeadline(launch=launch) if (
                launch == self._launches.get(instance.name) and instance.name in self._replacing
            ):
                logger.warning(
                    "%s: did not exit within %.0f s; replacing it",
                    instance.name,
                    self.rules.exit_timeout,
                )
                await self._replace(instance)
            case CredentialDue() if instance.state.accepts_prompt:
                await self._follow(
                    instance, self.failover.decide(instance.snapshot()), "pause ended"
                )
            case RetryDue() if instance.state.accepts_prompt:
                pending = self._resend.pop(instance.name, None)
                if pending is not None:
                    await self._send(pending)
            case _:
                pass

    # -- actions --------------------------------------------------------------------------

    async def _settle(self) -> Outcome | None:
        """Schedule what can start now; report the end when nothing more can happen."""
        view = self._view()
        for assignment in self.plugins.schedule(view):
            if assignment.instance not in self._resend:
                await self._send(assignment)
        views = [i.snapshot() for i in self.instances.values()]
        ahead = sum(1 for commits in self._ahead.values() if commits)
        if self.progress.is_complete(views, ahead):
            return Outcome.COMPLETE
        busy = any(
            i.state in {InstanceState.STARTING, InstanceState.PROMPTED, InstanceState.WORKING}
            for i in self.instances.values()
        )
        if not busy and not self.progress.in_flight and not self._resend:
            logger.warning("nothing is running and nothing can be scheduled: the run stalled")
            return Outcome.STALLED
        return None

    async def _send(self, assignment: Assignment) -> None:
        instance = self.instances[assignment.instance]
        if not instance.state.accepts_prompt:
            self._resend[instance.name] = assignment
            return
        self.progress.record_assignment(assignment)
        self.journal.record(assignment)
        await self._guard_tmux(instance, instance.send(assignment.prompt))
        self._timers.add(
            self.clock.now() + self.rules.delivery_nudges[0],
            DeliveryDeadline(
                instance=instance.name, prompt_number=instance.snapshot().prompts_sent
            ),
        )

    async def _relaunch(
        self, instance: Instance, *, credential: Credential | None = None, resume: bool = True
    ) -> None:
        """Replace the instance's process once the old one has gone.

        A live process is asked to exit first and replaced on its pane's death: it writes
        its config dir (``.claude.json``) as it exits, which would undo the new launch's
        seeding if the two overlapped.
        """
        self._replacing[instance.name] = (credential, resume)
        if not instance.state.alive:
            await self._replace(instance)
            return
        await self._guard_tmux(instance, instance.terminate())
        self._timers.add(
            self.clock.now() + self.rules.exit_timeout,
            ExitDeadline(instance=instance.name, launch=self._launches.get(instance.name, 0)),
        )

    async def _replace(self, instance: Instance) -> None:
        credential, resume = self._replacing.pop(instance.name)
        await self._guard_tmux(instance, instance.restart(credential, resume=resume))
        self._watch_start(instance.name)

    def _watch_start(self, name: str) -> None:
        launch = self._launches.get(name, 0) + 1
        self._launches[name] = launch
        self._timers.add(
            self.clock.now() + self.rules.start_timeout,
            StartDeadline(instance=name, launch=launch),
        )

    async def _guard_tmux(self, instance: Instance, action: Awaitable[None]) -> None:
        try:
            await action
        except TmuxError as exc:
            self._incident(IncidentKind.INSTANCE_DIED, instance, str(exc), "none possible")

    async def _screen(self, instance: Instance) -> str:
        try:
            lines = [" ".join(line.split()) for line in (await instance.screen()).splitlines()]
            shown = [line for line in lines if line.strip(" ─━│")]
            return _clip(" / ".join(shown[-12:]), 1200)
        except TmuxError as exc:
            return str(exc)

    async def _refresh_from_origin(self, instance: Instance) -> None:
        """Push the instance's branch, then read the run's facts back from origin."""
        worktree = self.worktrees.get(instance.name)
        if worktree is not None:
            try:
                await worktree.push()
            except GitError as exc:
                self._incident(IncidentKind.PUSH_REJECTED, instance, str(exc), "keep going")
        try:
            facts = await read_origin(
                self.repo,
                run_branch=self.rules.run_branch,
                workers=range(1, self.rules.worker_count + 1),
                branches=[tree.branch for tree in self.worktrees.values()],
            )
        except GitError as exc:
            self._incident(IncidentKind.GIT_FAILED, instance, str(exc), "keep going")
            return
        self.progress.task_lists.update(facts.task_lists)
        self._ahead = dict(facts.unmerged)
        for branch in list(self.progress.awaiting_merge):
            if not self._ahead.get(branch):
                self._record_merge(branch, instance.name)

    def _record_merge(self, branch: str, by: str) -> None:
        record = MergeRecord(
            branch=branch,
            commits=self.progress.awaiting_merge[branch],
            at=self.clock.wall(),
            merged_by=by,
        )
        self.progress.merged(record)
        self.journal.record(record)
        self.plugins.notify("orchestra_merged", merge=record)

    def _incident(self, kind: IncidentKind, instance: Instance, evidence: str, action: str) -> None:
        incident = Incident(
            at=self.clock.wall(),
            kind=kind,
            instance=instance.name,
            evidence=evidence,
            action=action,
        )
        logger.warning("%s: %s: %s -> %s", instance.name, kind.value, evidence, action)
        self.progress.incidents.append(incident)
        self.journal.record(incident)
        self.plugins.notify("orchestra_incident", incident=incident)

    def _branch_of(self, instance: Instance) -> str:
        return self.worktrees[instance.name].branch

    def _view(self) -> RunView:
        return self.progress.view(
            scheduler=self.rules.scheduler,
            merger=self.rules.merger,
            worker_count=self.rules.worker_count,
            instances=[i.snapshot() for i in self.instances.values()],
        )


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
