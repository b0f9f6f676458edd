"""Keeping instances alive, delivered to and authenticated.

:class:`Recovery` handles what goes wrong with an instance rather than with its work:

- a failed turn: a credential problem goes to :class:`~claude_orchestra.failover.Failover`
  (move, pause, stay, give up); any other error is retried on the same credential after a
  back-off;
- an instance that exited or died: restarted with ``--resume``, a bounded number of times,
  backing off (``restart_delays``) when it dies again;
- a restart: the old process is asked to exit and replaced only once it has gone;
- deadlines: no ``SessionStart`` after a launch, no ``UserPromptSubmit`` after a prompt
  (Enter is pressed again), a pause that has ended, a retry that is due;
- quiet: a turn with no hook event for ``look_after`` seconds has its screen read (the
  labelled fallback, :mod:`claude_orchestra.screen`), then again every ``probe_after``
  seconds; a limit Claude Code is silently retrying is treated as the ``StopFailure`` it
  will become, so the instance moves to a free credential instead of waiting it out;
- stuck: a quiet turn whose transcript and streamed-token count have not moved for
  ``quiet_after`` seconds, with no tool running and no retry of Claude Code's own on
  screen, is restarted on its conversation and its prompt sent again. A reply that streams
  slowly moves the count, so it is never stuck.
"""

from __future__ import annotations

import logging
from typing import final

import anyio
import attrs

from claude_orchestra.auth import CredentialFailure, CredentialStatus
from claude_orchestra.context import RunContext, clip
from claude_orchestra.credentials import Credential
from claude_orchestra.events import Event, FailureKind, PaneDied, TurnFailed
from claude_orchestra.failover import Decision, Failover, MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.instance import Instance
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.progress import IncidentKind
from claude_orchestra.screen import ScreenReading, ScreenState, read_screen
from claude_orchestra.timers import (
    CredentialDue,
    DeliveryDeadline,
    ExitDeadline,
    ProgressProbe,
    QuietDeadline,
    RestartDue,
    RetryDue,
    StartDeadline,
    Timer,
)
from claude_orchestra.transcripts import transcript_size

logger = logging.getLogger(__name__)


async def transcript_bytes(instance: Instance) -> int:
    """The size of every transcript the instance has written (grows with each response);
    counted in a thread, since the instance decides how many files there are."""
    return await anyio.to_thread.run_sync(transcript_size, instance.home.projects_dir)


@final
@attrs.define(eq=False)
class Recovery:
    """Failures, exits, restarts and the deadlines that catch what fires no hook."""

    ctx: RunContext
    failover: Failover
    _failures: dict[str, int] = attrs.field(init=False, factory=dict)
    _restarts: dict[str, int] = attrs.field(init=False, factory=dict)
    _launches: dict[str, int] = attrs.field(init=False, factory=dict)
    _activity: dict[str, int] = attrs.field(init=False, factory=dict)
    _active_at: dict[str, float] = attrs.field(init=False, factory=dict)
    """When each instance's last event arrived (monotonic seconds)."""
    _replacing: dict[str, tuple[Credential | None, bool]] = attrs.field(init=False, factory=dict)
    """Instances whose process was asked to exit so it can be replaced: (credential, resume)."""
    _tools_running: set[str] = attrs.field(init=False, factory=set)
    _exit_delays: dict[str, float] = attrs.field(init=False, factory=dict)
    """Instances that ended their session by themselves: the back-off once the pane goes."""
    _stale_input: set[str] = attrs.field(init=False, factory=set)
    """Instances whose input box may hold an interrupted prompt: replace, never type."""
    _paused: set[str] = attrs.field(init=False, factory=set)
    """Instances waiting for a credential to reset (a ``CredentialDue`` is set)."""

    # -- what the coordinator tells us ---------------------------------------------------

    def launched(self, name: str) -> None:
        """A process was started for ``name``: it should say ``SessionStart`` in time."""
        launch = self._launches.get(name, 0) + 1
        self._launches[name] = launch
        self._stale_input.discard(name)
        self._tools_running.discard(name)
        self.ctx.timers.add(
            self.ctx.clock.now() + self.ctx.rules.start_timeout,
            StartDeadline(instance=name, launch=launch),
        )

    def active(self, instance: Instance) -> None:
        """An event arrived for ``instance``; while it works, watch for quiet."""
        count = self._activity.get(instance.name, 0) + 1
        self._activity[instance.name] = count
        self._active_at[instance.name] = self.ctx.clock.now()
        if instance.state is InstanceState.WORKING:
            self.ctx.timers.add(
                self.ctx.clock.now() + self.ctx.rules.look_after,
                QuietDeadline(instance=instance.name, mark=count),
            )

    def progressed(self, instance: Instance) -> None:
        """A request of ``instance`` succeeded (a tool ran, a turn stopped)."""
        self._failures.pop(instance.name, None)
        self._tools_running.discard(instance.name)
        self.failover.progressed(instance.name)

    def tool_started(self, instance: Instance) -> None:
        """A tool runs: until it ends, quiet is its own time (Claude Code's tool timeout)."""
        self._tools_running.add(instance.name)

    def replacing(self, instance: Instance) -> bool:
        """The instance's process was asked to exit so it can be replaced."""
        return instance.name in self._replacing

    async def replace(self, instance: Instance) -> None:
        """The old process is gone: start the new one."""
        credential, resume = self._replacing.pop(instance.name)
        await self.ctx.guard(instance, instance.restart(credential, resume=resume))
        self.launched(instance.name)

    async def relaunch(
        self, instance: Instance, *, credential: Credential | None = None, resume: bool = True
    ) -> None:
        """Replace the instance's process once the old one has gone.

        A live process is asked to exit first and replaced on its exit report: it writes its
        config dir (``.claude.json``) as it exits, which would undo the new launch's
        seeding if the two overlapped.
        """
        self._replacing[instance.name] = (credential, resume)
        if not instance.state.alive:
            await self.replace(instance)
            return
        await self.ctx.guard(instance, instance.terminate())
        self.ctx.timers.add(
            self.ctx.clock.now() + self.ctx.rules.exit_timeout,
            ExitDeadline(instance=instance.name, launch=self._launches.get(instance.name, 0)),
        )

    # -- failures ------------------------------------------------------------------------

    async def turn_failed(self, instance: Instance, event: TurnFailed) -> None:
        """A ``StopFailure`` (or the screen's equivalent): fail over or back off."""
        ctx = self.ctx
        assignment = ctx.progress.finish_assignment(instance.name)
        if assignment is not None:
            ctx.resend[instance.name] = assignment
        if event.error.is_credential_problem:
            # journaled: a resumed run keeps the cooldown (and sends nothing on it)
            ctx.journal.record(self.failover.failure_of(instance.snapshot(), event))
            await self._follow(instance, self.failover.decide(instance.snapshot()), event.detail)
            return
        count = self._failures.get(instance.name, 0)
        self._failures[instance.name] = count + 1
        if count >= len(ctx.rules.retry_delays):
            ctx.resend.pop(instance.name, None)
            ctx.incident(
                IncidentKind.GAVE_UP, instance, f"{count + 1} failed turns", "stop retrying"
            )
            return
        delay = ctx.rules.retry_delays[count]
        ctx.incident(
            IncidentKind.TURN_FAILED,
            instance,
            f"{event.error.value}: {clip(event.detail)}",
            f"retry on the same credential in {delay:.0f} s",
        )
        ctx.timers.add(ctx.clock.now() + delay, RetryDue(instance=instance.name))

    async def move_off_unusable(self, instance: Instance) -> None:
        """The instance is idle on a credential that cannot take a request now (another
        instance's limit made it cool down; it was found invalid; its budget is spent):
        move it before anything is typed. A prompt there would only fail, and with real
        accounts hammering a limited key can lengthen the limit."""
        if instance.name in self._replacing or instance.name in self._paused:
            return
        standing = self.failover.rotator.standing(instance.credential.name)
        kind = {
            CredentialStatus.COOLING: FailureKind.RATE_LIMIT,
            CredentialStatus.SPENT: FailureKind.BILLING_ERROR,
        }.get(standing.status, FailureKind.AUTHENTICATION_FAILED)
        failure = CredentialFailure(
            instance=instance.name,
            credential=standing.name,
            kind=kind,
            detail=f"its credential {standing.name} is {standing.status.value}"
            + (
                f" for {standing.until - self.ctx.clock.wall():.0f} s more"
                if standing.until
                else ""
            ),
            at=self.ctx.clock.wall(),
            reset_at=standing.until,
            budget=standing.status is CredentialStatus.SPENT,
        )
        decision = self.failover.move_off(instance.snapshot(), failure)
        await self._follow(
            instance, decision, failure.detail, moved=IncidentKind.CREDENTIAL_UNAVAILABLE
        )

    async def move_off(self, instance: Instance, failure: CredentialFailure) -> None:
        """The core retired the instance's credential (its budget): move on, like after a limit."""
        decision = self.failover.move_off(instance.snapshot(), failure)
        await self._follow(instance, decision, failure.detail, moved=IncidentKind.BUDGET_REACHED)

    async def _follow(
        self,
        instance: Instance,
        decision: Decision,
        evidence: str,
        *,
        moved: IncidentKind = IncidentKind.RATE_LIMITED,
    ) -> None:
        ctx = self.ctx
        match decision:
            case MoveTo(credential=credential):
                ctx.incident(
                    moved,
                    instance,
                    clip(evidence),
                    f"restart on {credential.name}",
                    resumes_at=ctx.clock.wall(),
                )
                await self.relaunch(instance, credential=credential)
            case StayOn() if instance.name in self._stale_input:
                await self.relaunch(instance)  # a fresh process: the old input box is not empty
            case StayOn():
                await ctx.resend_pending(instance)
            case PauseUntil(until=until):
                wait = max(1.0, until - ctx.clock.wall())
                ctx.incident(
                    IncidentKind.CREDENTIALS_EXHAUSTED,
                    instance,
                    clip(evidence),
                    f"pause {wait:.0f} s until a credential resets",
                    resumes_at=ctx.clock.wall() + wait,
                )
                self._paused.add(instance.name)
                ctx.timers.add(ctx.clock.now() + wait, CredentialDue(instance=instance.name))
            case NoCredential():
                ctx.resend.pop(instance.name, None)
                ctx.progress.finish_assignment(instance.name)
                ctx.incident(
                    IncidentKind.GAVE_UP,
                    instance,
                    clip(evidence),
                    "no valid credential left: stop it",
                )
                # Nothing may run on a retired or spent credential: not even a prompt.
                await ctx.guard(instance, instance.stop())

    async def exited(self, instance: Instance, event: Event, *, before: InstanceState) -> None:
        """The process exited or died without our asking: restart it, a bounded number of
        times, backing off when it happens again.

        A ``SessionEnd`` and the pane's death that follows it are one exit: the restart
        waits for the pane to go.
        """
        ctx = self.ctx
        if isinstance(event, PaneDied) and before is InstanceState.EXITING:
            if instance.name in self._exit_delays:
                await self._restart_after(instance, self._exit_delays.pop(instance.name))
            return
        assignment = ctx.progress.finish_assignment(instance.name)
        restarts = self._restarts.get(instance.name, 0)
        if restarts >= ctx.rules.max_restarts:
            ctx.incident(
                IncidentKind.GAVE_UP, instance, f"exited {restarts + 1} times", "leave it stopped"
            )
            return
        died = isinstance(event, PaneDied)
        kind = IncidentKind.INSTANCE_DIED if died else IncidentKind.INSTANCE_EXITED
        delays = ctx.rules.restart_delays
        delay = delays[min(restarts, len(delays) - 1)] if delays else 0.0
        action = "restart with --resume" + (f" in {delay:.0f} s" if delay > 0 else "")
        ctx.incident(kind, instance, instance.history[-1].evidence, action)
        self._restarts[instance.name] = restarts + 1
        if assignment is not None:
            ctx.resend[instance.name] = assignment
        if died:
            await self._restart_after(instance, delay)
        else:
            self._exit_delays[instance.name] = delay  # restarted once its pane has gone

    async def _restart_after(self, instance: Instance, delay: float) -> None:
        """Restart now, or after ``delay`` seconds: it went before, never a tight loop."""
        if delay <= 0:
            await self.relaunch(instance)
            return
        launch = self._launches.get(instance.name, 0)
        self.ctx.timers.add(
            self.ctx.clock.now() + delay, RestartDue(instance=instance.name, launch=launch)
        )

    # -- deadlines -----------------------------------------------------------------------

    async def on_timer(self, timer: Timer) -> None:
        """A deadline came due: act if what it waited for still has not happened."""
        ctx = self.ctx
        instance = ctx.instances[timer.instance]
        if isinstance(timer, CredentialDue):
            self._paused.discard(instance.name)
        match timer:
            case StartDeadline(launch=launch) if (
                launch == self._launches.get(instance.name)
                and instance.state is InstanceState.STARTING
            ):
                await self._no_session_start(instance)
            case DeliveryDeadline(prompt_number=number) if (
                instance.state is InstanceState.PROMPTED
                and instance.snapshot().prompts_sent == number
            ):
                await self._not_delivered(instance, timer)
            case ExitDeadline(launch=launch) if (
                launch == self._launches.get(instance.name) and instance.name in self._replacing
            ):
                logger.info("%s: still running after SIGTERM; replacing it", instance.name)
                await self.replace(instance)
            case QuietDeadline(mark=mark) if (
                mark == self._activity.get(instance.name)
                and instance.state is InstanceState.WORKING
            ):
                await self._quiet(instance)
            case ProgressProbe(mark=mark) if (
                mark == self._activity.get(instance.name)
                and instance.state is InstanceState.WORKING
            ):
                await self._probe(instance, timer)
            case RestartDue(launch=launch) if (
                launch == self._launches.get(instance.name) and not instance.state.alive
            ):
                await self.relaunch(instance)
            case CredentialDue() if instance.state.accepts_prompt:
                await self._follow(
                    instance, self.failover.decide(instance.snapshot()), "pause ended"
                )
            case RetryDue() if instance.state.accepts_prompt:
                await ctx.resend_pending(instance)
            case _:
                pass

    async def _no_session_start(self, instance: Instance) -> None:
        ctx = self.ctx
        ctx.incident(
            IncidentKind.INSTANCE_DIED,
            instance,
            f"no SessionStart within {ctx.rules.start_timeout:.0f} s; "
            f"screen: {await ctx.screen(instance)}",
            "restart",
        )
        if self._restarts.get(instance.name, 0) < ctx.rules.max_restarts:
            self._restarts[instance.name] = self._restarts.get(instance.name, 0) + 1
            await self.relaunch(instance, resume=False)

    async def _not_delivered(self, instance: Instance, timer: DeliveryDeadline) -> None:
        ctx = self.ctx
        logger.debug("%s: no UserPromptSubmit yet; pressing Enter again", instance.name)
        await ctx.guard(instance, instance.press("Enter"))
        if timer.nudge + 1 < len(ctx.rules.delivery_nudges):
            ctx.timers.add(
                ctx.clock.now() + ctx.rules.delivery_nudges[timer.nudge + 1],
                attrs.evolve(timer, nudge=timer.nudge + 1),
            )
            return
        ctx.incident(
            IncidentKind.PROMPT_NOT_DELIVERED,
            instance,
            f"no UserPromptSubmit within {sum(ctx.rules.delivery_nudges):.0f} s; "
            f"screen: {await ctx.screen(instance)}",
            "wait for the instance",
        )

    async def _quiet(self, instance: Instance) -> None:
        """No hook for a while in the middle of a turn: read the screen (labelled evidence).

        A limit or a dialog there is acted on. Otherwise the turn's progress (transcript
        size, the spinner's token count) is noted and looked at again ``probe_after``
        seconds later.
        """
        ctx = self.ctx
        reading = read_screen(await instance.screen(), now=ctx.clock.wall())
        logger.info("%s: quiet; the screen says %s", instance.name, reading.state.value)
        if await self._screen_problem(instance, reading):
            return
        self._probe_later(
            instance,
            (await transcript_bytes(instance), reading.tokens),
            since=self._active_at.get(instance.name, ctx.clock.now()),
        )

    async def _probe(self, instance: Instance, probe: ProgressProbe) -> None:
        """Quiet since the last look: moving on, or stuck?

        Moving on: the transcript grew, the spinner's count moved, a tool runs (it has its
        own timeout), or Claude Code shows a retry of its own (it ends in a ``StopFailure``).
        Stuck: none of these for ``quiet_after`` seconds.
        """
        ctx = self.ctx
        now = ctx.clock.now()
        reading = read_screen(await instance.screen(), now=ctx.clock.wall())
        if await self._screen_problem(instance, reading):
            return
        progress = (await transcript_bytes(instance), reading.tokens)
        moving = (
            progress != probe.progress
            or instance.name in self._tools_running
            or reading.state is ScreenState.RETRYING
        )
        if moving:
            logger.info(
                "%s: quiet but progressing (%s -> %s)", instance.name, probe.progress, progress
            )
            self._probe_later(instance, progress, since=now)
            return
        if now - probe.since < ctx.rules.quiet_after:
            self._probe_later(instance, progress, since=probe.since)
            return
        quiet = now - self._active_at.get(instance.name, probe.since)
        await self._stuck(
            instance,
            f"no hook for {quiet:.0f} s, transcript at {progress[0]} bytes and the spinner at "
            f"{progress[1]} tokens for {now - probe.since:.0f} s; screen: {reading.line}",
        )

    def _probe_later(
        self, instance: Instance, progress: tuple[int, int | None], *, since: float
    ) -> None:
        self.ctx.timers.add(
            self.ctx.clock.now() + self.ctx.rules.probe_after,
            ProgressProbe(
                instance=instance.name,
                mark=self._activity.get(instance.name, 0),
                progress=progress,
                since=since,
            ),
        )

    async def _stuck(self, instance: Instance, evidence: str) -> None:
        """A turn that stopped moving: restart the instance on its conversation, prompt kept."""
        ctx = self.ctx
        restarts = self._restarts.get(instance.name, 0)
        if restarts >= ctx.rules.max_restarts:
            ctx.incident(IncidentKind.GAVE_UP, instance, evidence, "leave it; stuck too often")
            return
        self._restarts[instance.name] = restarts + 1
        assignment = ctx.progress.finish_assignment(instance.name)
        if assignment is not None:
            ctx.resend[instance.name] = assignment
        ctx.incident(
            IncidentKind.STUCK, instance, evidence, "restart with --resume, resend the prompt"
        )
        await self.relaunch(instance)

    async def _screen_problem(self, instance: Instance, reading: ScreenReading) -> bool:
        """Act on a limit or a dialog the screen shows; ``True`` when it showed one."""
        ctx = self.ctx
        if reading.credential_problem:
            # Esc stops Claude Code's own retries (or its wait for the reset) and puts the
            # prompt back in the input box, so the instance is replaced, never typed into.
            await ctx.guard(instance, instance.press("Escape"))
            self._stale_input.add(instance.name)
            error = (
                FailureKind.AUTHENTICATION_FAILED
                if reading.status == 401
                else FailureKind.RATE_LIMIT
            )
            event = TurnFailed(
                instance=instance.name,
                at=ctx.clock.now(),
                launch=instance.launch,  # of the process on the screen, which is current
                session_id=instance.session_id or "",
                error=error,
                detail=f"screen: {reading.line}",
            )
            instance.observe(event)
            ctx.journal.record(event)
            await self.turn_failed(instance, event)
            return True
        if reading.state is ScreenState.DIALOG:
            ctx.incident(
                IncidentKind.WAITING_FOR_PERSON,
                instance,
                f"screen: {reading.line}",
                "keep watching",
            )
            # a person is needed: look again, but not so often that the incident repeats
            self.ctx.timers.add(
                self.ctx.clock.now() + self.ctx.rules.quiet_after,
                QuietDeadline(instance=instance.name, mark=self._activity.get(instance.name, 0)),
            )
            return True
        return False
