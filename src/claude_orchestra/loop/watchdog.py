"""The watchdog's decisions, pure: what fires no hook, caught by deadlines and the screen.

Each function decides on an instance's
:class:`~claude_orchestra.loop.recovery.RecoveryRecord` and returns
:class:`~claude_orchestra.loop.recovery.Decided`, like those of
:mod:`claude_orchestra.loop.recovery`:

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

import attrs

from claude_orchestra.events import FailureKind, TurnFailed
from claude_orchestra.instance import InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.actions import (
    FailOver,
    KeepPrompt,
    NoSessionStart,
    NotDelivered,
    Note,
    ObserveFailure,
    Press,
    Probe,
    Quiet,
    ReadScreen,
    RecordIncident,
    ResendPrompt,
    Schedule,
    ScreenRead,
)
from claude_orchestra.loop.recovery import Decided, Now, RecoveryRecord, relaunch, replace
from claude_orchestra.loop.text import screen_evidence
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
