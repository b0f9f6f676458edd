"""Recovery's decisions, pure: keeping instances alive, delivered to and authenticated.

Each function takes an instance's :class:`RecoveryRecord`, a frozen view of the instance,
the run's rules and the time (:class:`Now`), and returns :class:`Decided`: the new record
and the actions to take. What the decisions cover:

- a failed turn: a credential problem goes to the failover (move, pause, stay, give up);
  any other error is retried on the same credential after a back-off (``retry_delays``);
- an instance that exited or died: restarted with ``--resume``, a bounded number of times
  (``max_restarts``), backing off (``restart_delays``) when it dies again;
- a restart: a live process is asked to exit and replaced only once it has gone (or after
  ``exit_timeout``).

Deadlines and what the screen says (what fires no hook) are decided in
:mod:`claude_orchestra.loop.watchdog`, on the same record.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.auth.credentials import Credential
from claude_orchestra.auth.moves import Decision, MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.auth.rotator import CredentialFailure, CredentialState, CredentialStatus
from claude_orchestra.events import FailureKind, TurnFailed
from claude_orchestra.instance import InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.actions import (
    Action,
    EndAssignment,
    FailOver,
    FailoverAnswered,
    ForgetKept,
    KeepPrompt,
    Launch,
    RecordIncident,
    Recovered,
    ResendPrompt,
    Schedule,
    StopInstance,
    Terminate,
)
from claude_orchestra.loop.text import clip
from claude_orchestra.rules import RunRules
from claude_orchestra.timers import (
    CredentialDue,
    ExitDeadline,
    QuietDeadline,
    RestartDue,
    RetryDue,
    StartDeadline,
)
from claude_orchestra.values import IncidentKind


@final
@attrs.frozen
class Now:
    """The time a decision is made at: monotonic seconds (deadlines) and wall-clock
    seconds (what people and the API's reset times read)."""

    mono: float
    wall: float


@final
@attrs.frozen
class Replacement:
    """How an instance whose process was asked to exit is started again."""

    credential: Credential | None
    """The credential to move to (``None``: stay on its own)."""
    resume: bool


@final
@attrs.frozen(kw_only=True)
class RecoveryRecord:
    """What recovery knows of one instance beyond its state and launch number."""

    failures: int = 0
    """Turns in a row that failed for another reason than the credential."""
    restarts: int = 0
    """Restarts after an exit, a death or a stuck turn (bounded by ``max_restarts``)."""
    activity: int = 0
    """Events seen so far: a quiet deadline or probe set at another count is moot."""
    active_at: float | None = None
    """When its last event arrived (monotonic seconds)."""
    replacing: Replacement | None = None
    """Its process was asked to exit so that it can be replaced."""
    tool_running: bool = False
    """A tool runs: quiet is the tool's own time until it ends."""
    exit_delay: float | None = None
    """It ended its session by itself: the back-off before the restart once the pane goes."""
    stale_input: bool = False
    """Its input box may hold an interrupted prompt: replace it, never type into it."""
    paused: bool = False
    """It waits for a credential to reset (a ``CredentialDue`` is set)."""
    stopped: bool = False
    """It was stopped for good (its budget, no credential left): nothing is launched for
    it again, whatever was under way."""


@final
@attrs.frozen
class Decided:
    """A decision: the instance's new record and what to do."""

    record: RecoveryRecord
    actions: tuple[Action, ...] = ()


# -- what the loop reports --------------------------------------------------------------------


def launched(record: RecoveryRecord, view: InstanceView, rules: RunRules, now: Now) -> Decided:
    """A process was started: it should say ``SessionStart`` in time."""
    return Decided(
        attrs.evolve(record, stale_input=False, tool_running=False),
        (
            Schedule(
                now.mono + rules.start_timeout,
                StartDeadline(instance=view.name, launch=view.launch),
            ),
        ),
    )


def event_arrived(record: RecoveryRecord, view: InstanceView, rules: RunRules, now: Now) -> Decided:
    """An event arrived for the instance; while it works, watch for quiet."""
    record = attrs.evolve(record, activity=record.activity + 1, active_at=now.mono)
    if view.state is not InstanceState.WORKING:
        return Decided(record)
    deadline = QuietDeadline(instance=view.name, mark=record.activity)
    return Decided(record, (Schedule(now.mono + rules.look_after, deadline),))


def progressed(record: RecoveryRecord, view: InstanceView) -> Decided:
    """A request of the instance succeeded (a tool ran, a turn stopped)."""
    return Decided(attrs.evolve(record, failures=0, tool_running=False), (Recovered(view.name),))


def tool_started(record: RecoveryRecord) -> Decided:
    """A tool runs: until it ends, quiet is its own time (Claude Code's tool timeout)."""
    return Decided(attrs.evolve(record, tool_running=True))


def relaunch(
    record: RecoveryRecord,
    view: InstanceView,
    rules: RunRules,
    now: Now,
    *,
    credential: Credential | None = None,
    resume: bool = True,
) -> Decided:
    """Replace the instance's process once the old one has gone.

    A live process is asked to exit first and replaced on its exit report: it writes its
    config dir (``.claude.json``) as it exits, which would undo the new launch's seeding
    if the two overlapped.
    """
    record = attrs.evolve(record, replacing=Replacement(credential, resume))
    if not view.state.alive:
        return replace(record, view)
    deadline = ExitDeadline(instance=view.name, launch=view.launch)
    return Decided(
        record, (Terminate(view.name), Schedule(now.mono + rules.exit_timeout, deadline))
    )


def replace(record: RecoveryRecord, view: InstanceView) -> Decided:
    """The old process is gone (or overdue): start the new one, unless the instance was
    stopped for good meanwhile."""
    if record.stopped:
        return Decided(attrs.evolve(record, replacing=None))
    replacement = record.replacing or Replacement(None, resume=True)
    return Decided(
        attrs.evolve(record, replacing=None),
        (Launch(instance=view.name, credential=replacement.credential, resume=replacement.resume),),
    )


# -- failures ---------------------------------------------------------------------------------


def turn_failed(
    record: RecoveryRecord, view: InstanceView, event: TurnFailed, rules: RunRules, now: Now
) -> Decided:
    """A ``StopFailure`` (or the screen's equivalent): fail over or back off. Not for a
    process that is exiting or gone: its exit decides what follows (a restart, a
    replacement already under way, or nothing for an instance stopped for good)."""
    if view.state.going:
        return Decided(record)
    keep = KeepPrompt(view.name)
    if event.error.is_credential_problem:
        return Decided(
            record, (keep, FailOver(instance=view.name, cause=event, evidence=event.detail))
        )
    count = record.failures
    record = attrs.evolve(record, failures=count + 1)
    if count >= len(rules.retry_delays):
        gave_up = RecordIncident(
            instance=view.name,
            kind=IncidentKind.GAVE_UP,
            evidence=f"{count + 1} failed turns",
            action="stop retrying",
        )
        return Decided(record, (keep, ForgetKept(view.name), gave_up))
    delay = rules.retry_delays[count]
    failed = RecordIncident(
        instance=view.name,
        kind=IncidentKind.TURN_FAILED,
        evidence=f"{event.error.value}: {clip(event.detail)}",
        action=f"retry on the same credential in {delay:.0f} s",
    )
    return Decided(record, (keep, failed, Schedule(now.mono + delay, RetryDue(instance=view.name))))


def credential_unusable(
    record: RecoveryRecord, view: InstanceView, standing: CredentialState, now: Now
) -> Decided:
    """The instance is idle on a credential that cannot take a request now (another
    instance's limit made it cool down; it was found invalid; its budget is spent): move it
    before anything is typed. A prompt there would only fail, and with real accounts
    hammering a limited key can lengthen the limit."""
    if record.replacing is not None or record.paused:
        return Decided(record)
    kind = {
        CredentialStatus.COOLING: FailureKind.RATE_LIMIT,
        CredentialStatus.SPENT: FailureKind.BILLING_ERROR,
    }.get(standing.status, FailureKind.AUTHENTICATION_FAILED)
    rest = f" for {standing.until - now.wall:.0f} s more" if standing.until else ""
    failure = CredentialFailure(
        instance=view.name,
        credential=standing.name,
        kind=kind,
        detail=f"its credential {standing.name} is {standing.status.value}{rest}",
        at=now.wall,
        reset_at=standing.until,
        budget=standing.status is CredentialStatus.SPENT,
    )
    return Decided(
        record, (credential_retired(view, failure, moved=IncidentKind.CREDENTIAL_UNAVAILABLE),)
    )


def credential_retired(
    view: InstanceView,
    failure: CredentialFailure,
    *,
    moved: IncidentKind = IncidentKind.BUDGET_REACHED,
) -> FailOver:
    """The core retired the instance's credential (its budget): move on, like after a limit."""
    return FailOver(instance=view.name, cause=failure, evidence=failure.detail, moved=moved)


def follow(
    record: RecoveryRecord, view: InstanceView, answer: FailoverAnswered, rules: RunRules, now: Now
) -> Decided:
    """Carry out the failover's answer. An instance asked to exit meanwhile (stopped for
    good, or being replaced) is not moved: nothing is launched beside what that decided."""
    if view.state.asked_to_stop:
        return Decided(record)
    decision: Decision = answer.decision
    evidence = clip(answer.evidence)
    match decision:
        case MoveTo(credential=credential):
            moved = RecordIncident(
                instance=view.name,
                kind=answer.moved,
                evidence=evidence,
                action=f"restart on {credential.name}",
                resumes_at=now.wall,
            )
            after = relaunch(record, view, rules, now, credential=credential)
            return Decided(after.record, (moved, *after.actions))
        case StayOn() if record.stale_input:
            return relaunch(record, view, rules, now)  # a fresh process: its input box is not empty
        case StayOn():
            return Decided(record, (ResendPrompt(view.name),))
        case PauseUntil(until=until):
            wait = max(1.0, until - now.wall)
            paused = RecordIncident(
                instance=view.name,
                kind=IncidentKind.CREDENTIALS_EXHAUSTED,
                evidence=evidence,
                action=f"pause {wait:.0f} s until a credential resets",
                resumes_at=now.wall + wait,
            )
            due = Schedule(now.mono + wait, CredentialDue(instance=view.name))
            return Decided(attrs.evolve(record, paused=True), (paused, due))
        case NoCredential():
            gave_up = RecordIncident(
                instance=view.name,
                kind=IncidentKind.GAVE_UP,
                evidence=evidence,
                action="no valid credential left: stop it",
            )
            # Nothing may run on a retired or spent credential: not even a prompt.
            actions = (
                ForgetKept(view.name),
                EndAssignment(view.name),
                gave_up,
                StopInstance(view.name),
            )
            return Decided(attrs.evolve(record, stopped=True, replacing=None), actions)
    raise AssertionError(decision)  # pragma: no cover - every Decision is matched


def exited(
    record: RecoveryRecord,
    view: InstanceView,
    *,
    died: bool,
    was_exiting: bool,
    evidence: str,
    rules: RunRules,
    now: Now,
) -> Decided:
    """The process exited (``died``: its pane died; else it ended its session) without our
    asking: restart it, a bounded number of times, backing off when it happens again.

    A ``SessionEnd`` and the pane's death that follows it are one exit: the restart waits
    for the pane to go (``was_exiting``: the pane died after the session ended).
    """
    if died and was_exiting:
        if record.exit_delay is None:
            return Decided(record)
        return restart_after(
            attrs.evolve(record, exit_delay=None), view, record.exit_delay, rules, now
        )
    restarts = record.restarts
    if restarts >= rules.max_restarts:
        gave_up = RecordIncident(
            instance=view.name,
            kind=IncidentKind.GAVE_UP,
            evidence=f"exited {restarts + 1} times",
            action="leave it stopped",
        )
        return Decided(record, (EndAssignment(view.name), gave_up))
    delays = rules.restart_delays
    delay = delays[min(restarts, len(delays) - 1)] if delays else 0.0
    incident = RecordIncident(
        instance=view.name,
        kind=IncidentKind.INSTANCE_DIED if died else IncidentKind.INSTANCE_EXITED,
        evidence=evidence,
        action="restart with --resume" + (f" in {delay:.0f} s" if delay > 0 else ""),
    )
    record = attrs.evolve(record, restarts=restarts + 1)
    actions: tuple[Action, ...] = (KeepPrompt(view.name), incident)
    if not died:
        return Decided(attrs.evolve(record, exit_delay=delay), actions)  # once its pane has gone
    after = restart_after(record, view, delay, rules, now)
    return Decided(after.record, actions + after.actions)


def restart_after(
    record: RecoveryRecord, view: InstanceView, delay: float, rules: RunRules, now: Now
) -> Decided:
    """Restart now, or after ``delay`` seconds: it went before, never a tight loop."""
    if delay <= 0:
        return relaunch(record, view, rules, now)
    due = RestartDue(instance=view.name, launch=view.launch)
    return Decided(record, (Schedule(now.mono + delay, due),))
