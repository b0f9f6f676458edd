"""Recovery's decisions, pure: keeping instances alive, delivered to and authenticated.

Each function takes an instance's :class:`RecoveryRecord`, a frozen view of the instance,
the run's rules and the time (:class:`Now`), and returns :class:`Decided`: the new record
and the actions to take. What the decisions cover:

- a failed turn: a credential problem goes to the failover (move, pause, stay, give up);
  any other error is retried on the same credential after a back-off (``retry_delays``);
- an instance that exited or died: restarted with ``--resume``, a bounded number of times
  (``max_restarts``), backing off (``restart_delays``) when it dies again;
- a restart: a live process is asked to exit and replaced only once it has gone (or after
  ``exit_timeout``);
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

from typing import final

import attrs

from claude_orchestra.auth import CredentialFailure, CredentialState, CredentialStatus
from claude_orchestra.credentials import Credential
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
    NoSessionStart,
    NotDelivered,
    Note,
    ObserveFailure,
    Press,
    Probe,
    Quiet,
    ReadScreen,
    RecordIncident,
    Recovered,
    ResendPrompt,
    Schedule,
    ScreenRead,
    StopInstance,
    Terminate,
)
from claude_orchestra.loop.text import clip, screen_evidence
from claude_orchestra.moves import Decision, MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.rules import RunRules
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
    """The old process is gone (or overdue): start the new one."""
    replacement = record.replacing or Replacement(None, resume=True)
    return Decided(
        attrs.evolve(record, replacing=None),
        (Launch(instance=view.name, credential=replacement.credential, resume=replacement.resume),),
    )


# -- failures ---------------------------------------------------------------------------------


def turn_failed(
    record: RecoveryRecord, view: InstanceView, event: TurnFailed, rules: RunRules, now: Now
) -> Decided:
    """A ``StopFailure`` (or the screen's equivalent): fail over or back off."""
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
    """Carry out the failover's answer."""
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
            return Decided(record, actions)
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


# -- deadlines --------------------------------------------------------------------------------


def timer_due(  # noqa: PLR0911 - one answer per kind of deadline
    record: RecoveryRecord, view: InstanceView, timer: Timer, rules: RunRules, now: Now
) -> Decided:
    """A deadline came due: act if what it waited for still has not happened."""
    if isinstance(timer, CredentialDue):
        record = attrs.evolve(record, paused=False)
    name = view.name
    state = view.state
    match timer:
        case StartDeadline(launch=launch) if (
            launch == view.launch and state is InstanceState.STARTING
        ):
            return Decided(record, (ReadScreen(instance=name, purpose=NoSessionStart()),))
        case DeliveryDeadline(prompt_number=number) if (
            state is InstanceState.PROMPTED and view.prompts_sent == number
        ):
            return _nudge(record, view, timer, rules, now)
        case ExitDeadline(launch=launch) if launch == view.launch and record.replacing is not None:
            after = replace(record, view)
            return Decided(
                after.record,
                (
                    Note(instance=name, message="still running after SIGTERM; replacing it"),
                    *after.actions,
                ),
            )
        case QuietDeadline(mark=mark) if mark == record.activity and state is InstanceState.WORKING:
            return Decided(record, (ReadScreen(instance=name, purpose=Quiet()),))
        case ProgressProbe(mark=mark) if mark == record.activity and state is InstanceState.WORKING:
            return Decided(record, (ReadScreen(instance=name, purpose=Probe(timer)),))
        case RestartDue(launch=launch) if launch == view.launch and not state.alive:
            return relaunch(record, view, rules, now)
        case CredentialDue() if state.accepts_prompt:
            return Decided(record, (FailOver(instance=name, cause=None, evidence="pause ended"),))
        case RetryDue() if state.accepts_prompt:
            return Decided(record, (ResendPrompt(name),))
        case _:
            return Decided(record)


def _nudge(
    record: RecoveryRecord, view: InstanceView, timer: DeliveryDeadline, rules: RunRules, now: Now
) -> Decided:
    """No ``UserPromptSubmit`` yet: press Enter again, and look again later, or give up."""
    enter = Press(view.name, "Enter")
    if timer.nudge + 1 < len(rules.delivery_nudges):
        later = attrs.evolve(timer, nudge=timer.nudge + 1)
        return Decided(
            record, (enter, Schedule(now.mono + rules.delivery_nudges[timer.nudge + 1], later))
        )
    return Decided(record, (enter, ReadScreen(instance=view.name, purpose=NotDelivered())))


# -- what the screen says ---------------------------------------------------------------------


def screen_read(
    record: RecoveryRecord, view: InstanceView, seen: ScreenRead, rules: RunRules, now: Now
) -> Decided:
    """Act on what a :class:`~claude_orchestra.loop.actions.ReadScreen` found."""
    evidence = seen.error or screen_evidence(seen.text)
    match seen.purpose:
        case NoSessionStart():
            spent = record.restarts >= rules.max_restarts
            incident = RecordIncident(
                instance=view.name,
                kind=IncidentKind.INSTANCE_DIED,
                evidence=f"no SessionStart within {rules.start_timeout:.0f} s; screen: {evidence}",
                action=f"leave it; restarted {record.restarts} times" if spent else "restart",
            )
            if spent:
                return Decided(record, (incident,))
            after = relaunch(
                attrs.evolve(record, restarts=record.restarts + 1), view, rules, now, resume=False
            )
            return Decided(after.record, (incident, *after.actions))
        case NotDelivered():
            incident = RecordIncident(
                instance=view.name,
                kind=IncidentKind.PROMPT_NOT_DELIVERED,
                evidence=f"no UserPromptSubmit within {sum(rules.delivery_nudges):.0f} s; "
                f"screen: {evidence}",
                action="wait for the instance",
            )
            return Decided(record, (incident,))
        case Quiet():
            return _quiet(record, view, seen, rules, now)
        case Probe(timer=probe):
            return _probe(record, view, seen, probe, rules=rules, now=now)
    raise AssertionError(seen.purpose)  # pragma: no cover - every purpose is matched


def _quiet(
    record: RecoveryRecord, view: InstanceView, seen: ScreenRead, rules: RunRules, now: Now
) -> Decided:
    """No hook for a while in the middle of a turn: a limit or a dialog on screen is acted
    on; otherwise the turn's progress (transcript size, the spinner's token count) is noted
    and looked at again ``probe_after`` seconds later."""
    reading = read_screen(seen.text, now=now.wall)
    problem = _screen_problem(record, view, reading, rules, now)
    if problem is not None:
        return problem
    note = Note(instance=view.name, message=f"quiet; the screen says {reading.state.value}")
    since = record.active_at if record.active_at is not None else now.mono
    later = _probe_later(
        record, view, (seen.transcript_bytes, reading.tokens), since=since, rules=rules, now=now
    )
    return Decided(record, (note, later))


def _probe(
    record: RecoveryRecord,
    view: InstanceView,
    seen: ScreenRead,
    probe: ProgressProbe,
    *,
    rules: RunRules,
    now: Now,
) -> Decided:
    """Quiet since the last look: moving on, or stuck?

    Moving on: the transcript grew, the spinner's count moved, a tool runs (it has its own
    timeout), or Claude Code shows a retry of its own (it ends in a ``StopFailure``). Stuck:
    none of these for ``quiet_after`` seconds.
    """
    reading = read_screen(seen.text, now=now.wall)
    problem = _screen_problem(record, view, reading, rules, now)
    if problem is not None:
        return problem
    progress = (seen.transcript_bytes, reading.tokens)
    moving = (
        progress != probe.progress or record.tool_running or reading.state is ScreenState.RETRYING
    )
    if moving:
        note = Note(
            instance=view.name, message=f"quiet but progressing ({probe.progress} -> {progress})"
        )
        return Decided(
            record,
            (note, _probe_later(record, view, progress, since=now.mono, rules=rules, now=now)),
        )
    if now.mono - probe.since < rules.quiet_after:
        return Decided(
            record, (_probe_later(record, view, progress, since=probe.since, rules=rules, now=now),)
        )
    quiet = now.mono - (record.active_at if record.active_at is not None else probe.since)
    return stuck(
        record,
        view,
        f"no hook for {quiet:.0f} s, transcript at {progress[0]} bytes and the spinner at "
        f"{progress[1]} tokens for {now.mono - probe.since:.0f} s; screen: {reading.line}",
        rules,
        now,
    )


def _probe_later(
    record: RecoveryRecord,
    view: InstanceView,
    progress: tuple[int, int | None],
    *,
    since: float,
    rules: RunRules,
    now: Now,
) -> Schedule:
    probe = ProgressProbe(instance=view.name, mark=record.activity, progress=progress, since=since)
    return Schedule(now.mono + rules.probe_after, probe)


def stuck(
    record: RecoveryRecord, view: InstanceView, evidence: str, rules: RunRules, now: Now
) -> Decided:
    """A turn that stopped moving: restart the instance on its conversation, prompt kept."""
    if record.restarts >= rules.max_restarts:
        gave_up = RecordIncident(
            instance=view.name,
            kind=IncidentKind.GAVE_UP,
            evidence=evidence,
            action="leave it; stuck too often",
        )
        return Decided(record, (gave_up,))
    incident = RecordIncident(
        instance=view.name,
        kind=IncidentKind.STUCK,
        evidence=evidence,
        action="restart with --resume, resend the prompt",
    )
    after = relaunch(attrs.evolve(record, restarts=record.restarts + 1), view, rules, now)
    return Decided(after.record, (KeepPrompt(view.name), incident, *after.actions))


def _screen_problem(
    record: RecoveryRecord, view: InstanceView, reading: ScreenReading, rules: RunRules, now: Now
) -> Decided | None:
    """Act on a limit or a dialog the screen shows (``None``: it shows neither)."""
    if reading.credential_problem:
        # Esc stops Claude Code's own retries (or its wait for the reset) and puts the
        # prompt back in the input box, so the instance is replaced, never typed into.
        error = (
            FailureKind.AUTHENTICATION_FAILED if reading.status == 401 else FailureKind.RATE_LIMIT
        )
        failure = TurnFailed(
            instance=view.name,
            at=now.mono,
            launch=view.launch,  # of the process on the screen, which is current
            session_id=view.session_id or "",
            error=error,
            detail=f"screen: {reading.line}",
        )
        return Decided(
            attrs.evolve(record, stale_input=True),
            (Press(view.name, "Escape"), ObserveFailure(failure)),
        )
    if reading.state is ScreenState.DIALOG:
        incident = RecordIncident(
            instance=view.name,
            kind=IncidentKind.WAITING_FOR_PERSON,
            evidence=f"screen: {reading.line}",
            action="keep watching",
        )
        # a person is needed: look again, but not so often that the incident repeats
        again = QuietDeadline(instance=view.name, mark=record.activity)
        return Decided(record, (incident, Schedule(now.mono + rules.quiet_after, again)))
    return None
