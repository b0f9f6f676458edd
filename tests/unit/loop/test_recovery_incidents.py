"""Recovery's decisions down to what they record: each incident's evidence and action (what
the report and the dashboard show), the record handed back, and the edges of the counts and
delays (:mod:`claude_orchestra.loop.recovery`)."""

from __future__ import annotations

import attrs

from claude_orchestra.auth.credentials import CredentialKind
from claude_orchestra.auth.moves import MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.auth.rotator import CredentialFailure, CredentialState, CredentialStatus
from claude_orchestra.events import FailureKind, TurnFailed
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop import recovery as decide
from claude_orchestra.loop import watchdog
from claude_orchestra.loop.actions import (
    EndAssignment,
    FailOver,
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
    RecordIncident,
    ResendPrompt,
    Schedule,
    ScreenRead,
    StopInstance,
    Terminate,
)
from claude_orchestra.loop.recovery import Decided, Now, RecoveryRecord, Replacement
from claude_orchestra.timers import (
    DeliveryDeadline,
    ExitDeadline,
    ProgressProbe,
    RestartDue,
    RetryDue,
    StartDeadline,
)
from claude_orchestra.values import IncidentKind

from .test_recovery import KEY2, NOW, RULES, SPINNER, answer, failed, worker

W = "worker-1"
FRESH_RECORD = RecoveryRecord(restarts=2)


def incident(kind: IncidentKind, evidence: str, action: str, **more: float) -> RecordIncident:
    return RecordIncident(instance=W, kind=kind, evidence=evidence, action=action, **more)  # type: ignore[arg-type]


def exit_of(
    record: RecoveryRecord, *, died: bool = True, was_exiting: bool = False, **rules: object
) -> Decided:
    """``record``'s instance exited: its pane died (``died``), or it ended its session."""
    return decide.exited(
        record,
        worker(InstanceState.DEAD if died else InstanceState.EXITING),
        died=died,
        was_exiting=was_exiting,
        evidence="exit 1" if died else "SessionEnd other",
        rules=attrs.evolve(RULES, **rules),
        now=NOW,
    )


# -- exits ----------------------------------------------------------------------------------


def test_an_instance_that_exits_once_too_often_is_left_stopped_and_says_how_often() -> None:
    record = RecoveryRecord(restarts=RULES.max_restarts)
    assert exit_of(record) == Decided(
        record,
        (
            EndAssignment(W),
            incident(
                IncidentKind.GAVE_UP, f"exited {RULES.max_restarts + 1} times", "leave it stopped"
            ),
        ),
    )


def test_a_pane_that_goes_after_a_counted_exit_changes_nothing_more() -> None:
    record = RecoveryRecord(restarts=1)
    assert exit_of(record, was_exiting=True) == Decided(record)


def test_a_session_end_is_an_exit_not_a_death_and_waits_for_its_pane() -> None:
    ended = exit_of(RecoveryRecord(restarts=1), died=False)
    delay = RULES.restart_delays[1]
    assert ended == Decided(
        RecoveryRecord(restarts=2, exit_delay=delay),
        (
            KeepPrompt(W),
            incident(
                IncidentKind.INSTANCE_EXITED,
                "SessionEnd other",
                f"restart with --resume in {delay:.0f} s",
            ),
        ),
    )


def test_the_restart_delays_back_off_and_the_last_one_repeats() -> None:
    delays = (0.0, 5.0, 20.0)
    for restarts, delay in [(1, 5.0), (2, 20.0), (3, 20.0), (5, 20.0)]:
        decided = exit_of(RecoveryRecord(restarts=restarts), max_restarts=9, restart_delays=delays)
        assert decided.actions[-1] == Schedule(
            NOW.mono + delay, RestartDue(instance=W, launch=1)
        ), restarts


def test_without_restart_delays_a_dead_instance_restarts_at_once() -> None:
    decided = exit_of(RecoveryRecord(), restart_delays=())
    assert decided.actions[-1] == Launch(instance=W, credential=None, resume=True)
    assert decided.actions[1] == incident(
        IncidentKind.INSTANCE_DIED, "exit 1", "restart with --resume"
    )


def test_a_restart_delay_under_a_second_still_waits() -> None:
    decided = exit_of(RecoveryRecord(), restart_delays=(0.5,))
    assert decided.actions[-1] == Schedule(NOW.mono + 0.5, RestartDue(instance=W, launch=1))


def test_a_replacement_nobody_planned_resumes_the_conversation_on_the_same_credential() -> None:
    assert decide.replace(FRESH_RECORD, worker(InstanceState.DEAD)) == Decided(
        FRESH_RECORD, (Launch(instance=W, credential=None, resume=True),)
    )


# -- failures and the failover's answers ------------------------------------------------------


def test_a_failed_turn_says_what_failed_and_when_it_is_retried() -> None:
    record = RecoveryRecord(failures=1)
    decided = decide.turn_failed(
        record, worker(), failed(FailureKind.SERVER_ERROR, "500"), RULES, NOW
    )
    delay = RULES.retry_delays[1]
    assert decided == Decided(
        RecoveryRecord(failures=2),
        (
            KeepPrompt(W),
            incident(
                IncidentKind.TURN_FAILED,
                "server_error: 500",
                f"retry on the same credential in {delay:.0f} s",
            ),
            Schedule(NOW.mono + delay, RetryDue(instance=W)),
        ),
    )


def test_a_limit_leaves_the_failure_count_alone() -> None:
    record = RecoveryRecord(failures=1, restarts=1)
    event = failed(FailureKind.RATE_LIMIT)
    assert decide.turn_failed(record, worker(), event, RULES, NOW).record == record


def test_a_move_names_the_new_credential_and_the_evidence() -> None:
    moved = decide.follow(
        FRESH_RECORD, worker(InstanceState.IDLE), answer(MoveTo(KEY2)), RULES, NOW
    )
    assert moved.actions[0] == incident(
        IncidentKind.RATE_LIMITED, "429", "restart on k2", resumes_at=NOW.wall
    )


def test_staying_on_the_credential_resends_and_keeps_the_record() -> None:
    record = RecoveryRecord(failures=1)
    stay = decide.follow(record, worker(InstanceState.IDLE), answer(StayOn()), RULES, NOW)
    assert stay == Decided(record, (ResendPrompt(W),))


def test_a_pause_says_how_long_and_why() -> None:
    paused = decide.follow(
        FRESH_RECORD, worker(InstanceState.IDLE), answer(PauseUntil(NOW.wall + 90)), RULES, NOW
    )
    assert paused.actions[0] == incident(
        IncidentKind.CREDENTIALS_EXHAUSTED,
        "429",
        "pause 90 s until a credential resets",
        resumes_at=NOW.wall + 90,
    )


def test_no_credential_left_is_given_up_in_so_many_words() -> None:
    record = RecoveryRecord(failures=1)
    decided = decide.follow(record, worker(InstanceState.IDLE), answer(NoCredential()), RULES, NOW)
    assert decided == Decided(
        attrs.evolve(record, stopped=True),
        (
            ForgetKept(W),
            EndAssignment(W),
            incident(IncidentKind.GAVE_UP, "429", "no valid credential left: stop it"),
            StopInstance(W),
        ),
    )


def test_an_unusable_credential_is_named_with_the_time_it_has_left() -> None:
    cooling = CredentialState(
        name="k1", kind=CredentialKind.API_KEY, status=CredentialStatus.COOLING, until=NOW.wall + 60
    )
    record = RecoveryRecord(failures=1)
    decided = decide.credential_unusable(record, worker(InstanceState.IDLE), cooling, NOW)
    failure = CredentialFailure(
        instance=W,
        credential="k1",
        kind=FailureKind.RATE_LIMIT,
        detail="its credential k1 is cooling for 60 s more",
        at=NOW.wall,
        reset_at=NOW.wall + 60,
    )
    assert decided == Decided(
        record,
        (
            FailOver(
                instance=W,
                cause=failure,
                evidence=failure.detail,
                moved=IncidentKind.CREDENTIAL_UNAVAILABLE,
            ),
        ),
    )
    invalid = attrs.evolve(cooling, status=CredentialStatus.INVALID, until=None)
    (ask,) = decide.credential_unusable(record, worker(InstanceState.IDLE), invalid, NOW).actions
    assert ask.evidence == "its credential k1 is invalid"  # type: ignore[union-attr]


# -- deadlines --------------------------------------------------------------------------------


def test_deadlines_hand_the_record_back_unchanged() -> None:
    record = RecoveryRecord(failures=1, activity=3)
    starting = worker(InstanceState.STARTING)
    start = StartDeadline(instance=W, launch=1)
    assert watchdog.timer_due(record, starting, start, RULES, NOW).record == record
    idle = worker(InstanceState.IDLE)
    assert watchdog.timer_due(record, idle, RetryDue(instance=W), RULES, NOW) == Decided(
        record, (ResendPrompt(W),)
    )
    prompted = worker(InstanceState.PROMPTED)
    for nudge in (0, len(RULES.delivery_nudges) - 1):
        deadline = DeliveryDeadline(instance=W, prompt_number=1, nudge=nudge)
        assert watchdog.timer_due(record, prompted, deadline, RULES, NOW).record == record


def test_the_last_nudge_but_one_schedules_the_last() -> None:
    last_but_one = DeliveryDeadline(
        instance=W, prompt_number=1, nudge=len(RULES.delivery_nudges) - 2
    )
    decided = watchdog.timer_due(
        FRESH_RECORD, worker(InstanceState.PROMPTED), last_but_one, RULES, NOW
    )
    assert decided.actions == (
        Press(W, "Enter"),
        Schedule(
            NOW.mono + RULES.delivery_nudges[-1],
            attrs.evolve(last_but_one, nudge=len(RULES.delivery_nudges) - 1),
        ),
    )


def test_an_exit_deadline_replaces_only_a_process_being_replaced() -> None:
    deadline = ExitDeadline(instance=W, launch=1)
    assert watchdog.timer_due(FRESH_RECORD, worker(), deadline, RULES, NOW).actions == ()
    replacing = RecoveryRecord(replacing=Replacement(KEY2, resume=True))
    assert watchdog.timer_due(replacing, worker(), deadline, RULES, NOW).actions == (
        Note(instance=W, message="still running after SIGTERM; replacing it"),
        Launch(instance=W, credential=KEY2, resume=True),
    )


def test_a_restart_due_for_a_live_instance_of_the_same_launch_does_nothing() -> None:
    due = RestartDue(instance=W, launch=1)
    assert (
        watchdog.timer_due(FRESH_RECORD, worker(InstanceState.IDLE), due, RULES, NOW).actions == ()
    )


def test_a_probe_from_before_the_last_event_is_moot() -> None:
    stale = ProgressProbe(instance=W, mark=2, progress=(10, 5), since=NOW.mono)
    record = RecoveryRecord(activity=3)
    assert watchdog.timer_due(record, worker(), stale, RULES, NOW).actions == ()


# -- the screen -------------------------------------------------------------------------------


def test_no_session_start_with_no_restarts_left_is_reported_without_a_restart() -> None:
    record = RecoveryRecord(restarts=RULES.max_restarts)
    seen = ScreenRead(instance=W, purpose=NoSessionStart(), text="Loading\n")
    decided = watchdog.screen_read(record, worker(InstanceState.STARTING), seen, RULES, NOW)
    assert decided.record == record
    assert kinds_and_evidence(decided) == [
        (
            IncidentKind.INSTANCE_DIED,
            f"no SessionStart within {RULES.start_timeout:.0f} s; screen: Loading",
        )
    ]
    assert not any(isinstance(a, Launch | Terminate) for a in decided.actions)


def kinds_and_evidence(decided: Decided) -> list[tuple[IncidentKind, str]]:
    return [(a.kind, a.evidence) for a in decided.actions if isinstance(a, RecordIncident)]


def test_an_undelivered_prompt_is_reported_with_the_time_waited_and_the_screen() -> None:
    record = RecoveryRecord(failures=1)
    seen = ScreenRead(instance=W, purpose=NotDelivered(), text="", error="no pane")
    decided = watchdog.screen_read(record, worker(InstanceState.PROMPTED), seen, RULES, NOW)
    waited = sum(RULES.delivery_nudges)
    assert decided == Decided(
        record,
        (
            incident(
                IncidentKind.PROMPT_NOT_DELIVERED,
                f"no UserPromptSubmit within {waited:.0f} s; screen: no pane",
                "wait for the instance",
            ),
        ),
    )


def stuck_probe(record: RecoveryRecord, since: float, at: float) -> Decided:
    timer = ProgressProbe(instance=W, mark=record.activity, progress=(1000, 57), since=since)
    seen = ScreenRead(
        instance=W, purpose=Probe(timer), text=SPINNER.format(n=57), transcript_bytes=1000
    )
    return watchdog.screen_read(record, worker(), seen, RULES, Now(at, NOW.wall))


def test_a_stuck_turn_says_how_long_it_has_been_quiet_and_what_stood_still() -> None:
    at = NOW.mono + 100
    decided = stuck_probe(RecoveryRecord(active_at=NOW.mono - 20), since=NOW.mono, at=at)
    evidence = (
        "no hook for 120 s, transcript at 1000 bytes and the spinner at 57 tokens for 100 s; "
        "screen: (12s · ↓ 57 tokens · esc to interrupt)"
    )
    assert decided.actions[:2] == (
        KeepPrompt(W),
        incident(IncidentKind.STUCK, evidence, "restart with --resume, resend the prompt"),
    )
    unknown = stuck_probe(RecoveryRecord(), since=NOW.mono, at=at)
    assert unknown.actions[1].evidence.startswith("no hook for 100 s,")  # type: ignore[union-attr]


def test_stuck_too_often_is_given_up_and_left_alone() -> None:
    record = RecoveryRecord(restarts=RULES.max_restarts)
    assert watchdog.stuck(record, worker(), "quiet", RULES, NOW) == Decided(
        record, (incident(IncidentKind.GAVE_UP, "quiet", "leave it; stuck too often"),)
    )


def test_a_limit_seen_at_a_probe_is_acted_on_like_one_seen_when_quiet() -> None:
    screen = "  ⎿  API Error (429 rate_limit_error) · retrying in 30 seconds… (attempt 3/10)\n"
    timer = ProgressProbe(instance=W, mark=0, progress=(1000, 57), since=NOW.mono)
    seen = ScreenRead(instance=W, purpose=Probe(timer), text=screen, transcript_bytes=1000)
    decided = watchdog.screen_read(RecoveryRecord(), worker(), seen, RULES, NOW)
    assert decided.record.stale_input
    assert decided.actions[0] == Press(W, "Escape")


def test_a_401_on_screen_is_an_authentication_failure_of_this_session() -> None:
    screen = "  ⎿  API Error (401 authentication_error) · retrying in 5 seconds… (attempt 1/10)\n"
    timer = ProgressProbe(instance=W, mark=0, progress=(0, None), since=0)
    seen = ScreenRead(instance=W, purpose=Probe(timer), text=screen)
    view = attrs.evolve(worker(launch=2), session_id="sess-1")
    (_, observe) = watchdog.screen_read(RecoveryRecord(), view, seen, RULES, NOW).actions
    assert isinstance(observe, ObserveFailure)
    assert observe.event == TurnFailed(
        instance=W,
        at=NOW.mono,
        launch=2,
        session_id="sess-1",
        error=FailureKind.AUTHENTICATION_FAILED,
        detail="screen: 401 authentication_error) · retrying in 5 seconds… (attempt 1/10",
    )
    anonymous = watchdog.screen_read(RecoveryRecord(), worker(), seen, RULES, NOW).actions[1]
    assert anonymous.event.session_id == ""  # type: ignore[union-attr]


def test_a_dialog_is_reported_as_waiting_for_a_person_and_the_record_kept() -> None:
    screen = "Do you want to use this API key?\n❯ 1. Yes\n"
    record = RecoveryRecord(activity=3, failures=1)
    timer = ProgressProbe(instance=W, mark=3, progress=(0, None), since=NOW.mono)
    seen = ScreenRead(instance=W, purpose=Probe(timer), text=screen)
    decided = watchdog.screen_read(record, worker(), seen, RULES, NOW)
    assert decided.record == record
    (waiting, _) = decided.actions
    assert isinstance(waiting, RecordIncident)
    assert (waiting.instance, waiting.kind, waiting.action) == (
        W,
        IncidentKind.WAITING_FOR_PERSON,
        "keep watching",
    )
    assert waiting.evidence.startswith("screen: ")


# -- events and tools -------------------------------------------------------------------------


def test_an_event_notes_when_it_came() -> None:
    assert decide.event_arrived(RecoveryRecord(), worker(), RULES, NOW).record.active_at == NOW.mono


def test_a_running_tool_keeps_a_still_turn_from_being_stuck_until_it_ends() -> None:
    running = decide.tool_started(RecoveryRecord(active_at=NOW.mono)).record
    assert running.tool_running
    far = NOW.mono + RULES.quiet_after * 10
    assert not kinds_and_evidence(stuck_probe(running, since=NOW.mono, at=far))
    ended = decide.progressed(running, worker()).record
    assert [k for k, _ in kinds_and_evidence(stuck_probe(ended, since=NOW.mono, at=far))] == [
        IncidentKind.STUCK
    ]


def test_no_session_start_is_recorded_as_a_death_and_restarted_afresh() -> None:
    seen = ScreenRead(instance=W, purpose=NoSessionStart(), text="Loading\n")
    decided = watchdog.screen_read(
        RecoveryRecord(), worker(InstanceState.STARTING), seen, RULES, NOW
    )
    assert decided.actions[0] == incident(
        IncidentKind.INSTANCE_DIED,
        f"no SessionStart within {RULES.start_timeout:.0f} s; screen: Loading",
        "restart",
    )


def test_a_busy_instance_on_an_unusable_credential_keeps_its_record() -> None:
    spent = CredentialState(name="k1", kind=CredentialKind.API_KEY, status=CredentialStatus.SPENT)
    record = RecoveryRecord(paused=True, failures=2)
    assert decide.credential_unusable(record, worker(InstanceState.IDLE), spent, NOW) == Decided(
        record
    )


def test_a_quiet_turn_with_no_event_yet_is_probed_from_now() -> None:
    seen = ScreenRead(instance=W, purpose=Quiet(), text=SPINNER.format(n=3), transcript_bytes=10)
    decided = watchdog.screen_read(RecoveryRecord(), worker(), seen, RULES, NOW)
    assert decided.actions[-1] == Schedule(
        NOW.mono + RULES.probe_after,
        ProgressProbe(instance=W, mark=0, progress=(10, 3), since=NOW.mono),
    )


def test_no_session_start_with_no_restarts_left_says_it_is_left_not_restarted() -> None:
    seen = ScreenRead(instance=W, purpose=NoSessionStart(), text="Loading\n")
    spent = RecoveryRecord(restarts=RULES.max_restarts)
    decided = watchdog.screen_read(spent, worker(InstanceState.STARTING), seen, RULES, NOW)
    assert decided.actions == (
        incident(
            IncidentKind.INSTANCE_DIED,
            f"no SessionStart within {RULES.start_timeout:.0f} s; screen: Loading",
            f"leave it; restarted {RULES.max_restarts} times",
        ),
    )
