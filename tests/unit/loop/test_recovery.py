"""Recovery's pure decisions (:mod:`claude_orchestra.loop.recovery`): plain values in, the
new record and the actions out; no tmux, no clock, no Claude Code. Plus the executor's
part of a crash: the prompt in flight is typed again once the new process has started."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.moves import MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.auth.rotator import (
    AuthRotator,
    CredentialFailure,
    CredentialState,
    CredentialStatus,
)
from claude_orchestra.context import RunContext
from claude_orchestra.events import (
    FailureKind,
    PaneDied,
    PromptSubmitted,
    SessionStarted,
    TurnFailed,
)
from claude_orchestra.executor import Executor
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.origin_watch import OriginWatch
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.instance import Instance, InstanceView
from claude_orchestra.journal import Journal
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop import recovery as decide
from claude_orchestra.loop import watchdog
from claude_orchestra.loop.actions import (
    EndAssignment,
    FailOver,
    FailoverAnswered,
    ForgetKept,
    KeepPrompt,
    Launch,
    NoSessionStart,
    NotDelivered,
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
from claude_orchestra.loop.recovery import Decided, Now, RecoveryRecord, Replacement
from claude_orchestra.plugins import PluginHost
from claude_orchestra.recovery import Recovery
from claude_orchestra.rules import RunRules
from claude_orchestra.timers import (
    CredentialDue,
    DeliveryDeadline,
    ExitDeadline,
    ProgressProbe,
    QuietDeadline,
    RestartDue,
    RetryDue,
    StartDeadline,
)
from claude_orchestra.values import Assignment, AssignmentKind, IncidentKind

from ..test_instance_hostile import SID, RecordingRuntime, make
from ..test_manager_protocol import view

RULES = RunRules(
    run_branch="main", scheduler="manager", merger="manager", worker_count=1, deadline=1e9
)
NOW = Now(mono=100.0, wall=1_000_000.0)
FRESH = RecoveryRecord()
KEY2 = Credential(name="k2", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret("b")})


def worker(state: InstanceState = InstanceState.WORKING, *, launch: int = 1) -> InstanceView:
    return attrs.evolve(view("worker-1", state), launch=launch, prompts_sent=1)


def kinds(actions: tuple[object, ...]) -> list[IncidentKind]:
    return [a.kind for a in actions if isinstance(a, RecordIncident)]


def failed(error: FailureKind, detail: str = "429 rate_limit_error") -> TurnFailed:
    return TurnFailed(
        instance="worker-1", at=0.0, session_id=SID, launch=1, error=error, detail=detail
    )


# -- launches and restarts ----------------------------------------------------------------


def test_a_launch_must_say_session_start_in_time_and_forgets_the_old_input_box() -> None:
    record = RecoveryRecord(stale_input=True, tool_running=True)
    decided = decide.launched(record, worker(InstanceState.STARTING, launch=3), RULES, NOW)
    assert decided.actions == (
        Schedule(NOW.mono + RULES.start_timeout, StartDeadline(instance="worker-1", launch=3)),
    )
    assert not decided.record.stale_input
    assert not decided.record.tool_running


def test_no_session_start_reads_the_screen_then_restarts_a_fresh_session() -> None:
    starting = worker(InstanceState.STARTING, launch=2)
    older = watchdog.timer_due(
        FRESH, starting, StartDeadline(instance="worker-1", launch=1), RULES, NOW
    )
    assert older.actions == ()  # an earlier launch's deadline is moot
    due = watchdog.timer_due(
        FRESH, starting, StartDeadline(instance="worker-1", launch=2), RULES, NOW
    )
    assert due.actions == (ReadScreen(instance="worker-1", purpose=NoSessionStart()),)
    seen = ScreenRead(instance="worker-1", purpose=NoSessionStart(), text="Do you trust?\n")
    decided = watchdog.screen_read(FRESH, starting, seen, RULES, NOW)
    assert kinds(decided.actions) == [IncidentKind.INSTANCE_DIED]
    assert "screen: Do you trust?" in decided.actions[0].evidence  # type: ignore[union-attr]
    assert decided.record.restarts == 1
    assert Terminate("worker-1") in decided.actions  # alive: asked to exit first
    assert decided.record.replacing == Replacement(None, resume=False)


def test_a_crash_mid_turn_keeps_the_prompt_and_restarts_with_resume_at_once() -> None:
    dead = worker(InstanceState.DEAD)
    decided = decide.exited(
        FRESH, dead, died=True, was_exiting=False, evidence="exit 1", rules=RULES, now=NOW
    )
    assert decided.actions == (
        KeepPrompt("worker-1"),
        RecordIncident(
            instance="worker-1",
            kind=IncidentKind.INSTANCE_DIED,
            evidence="exit 1",
            action="restart with --resume",
        ),
        Launch(instance="worker-1", credential=None, resume=True),
    )
    assert decided.record.restarts == 1
    assert decided.record.replacing is None


def test_a_second_death_backs_off_and_a_fourth_is_left_alone() -> None:
    dead = worker(InstanceState.DEAD, launch=2)
    second = decide.exited(
        RecoveryRecord(restarts=1),
        dead,
        died=True,
        was_exiting=False,
        evidence="",
        rules=RULES,
        now=NOW,
    )
    assert second.actions[-1] == Schedule(
        NOW.mono + RULES.restart_delays[1], RestartDue(instance="worker-1", launch=2)
    )
    due = watchdog.timer_due(
        second.record, dead, RestartDue(instance="worker-1", launch=2), RULES, NOW
    )
    assert due.actions == (Launch(instance="worker-1", credential=None, resume=True),)
    last = decide.exited(
        RecoveryRecord(restarts=RULES.max_restarts),
        dead,
        died=True,
        was_exiting=False,
        evidence="",
        rules=RULES,
        now=NOW,
    )
    assert last.actions[0] == EndAssignment("worker-1")  # the prompt is not kept
    assert kinds(last.actions) == [IncidentKind.GAVE_UP]
    assert not any(isinstance(a, Launch | Terminate | KeepPrompt) for a in last.actions)


def test_a_session_end_restarts_only_once_the_pane_has_gone() -> None:
    ended = decide.exited(
        FRESH,
        worker(InstanceState.EXITING),
        died=False,
        was_exiting=False,
        evidence="",
        rules=RULES,
        now=NOW,
    )
    assert not any(isinstance(a, Launch) for a in ended.actions)
    assert ended.record.exit_delay == 0.0
    gone = decide.exited(
        ended.record,
        worker(InstanceState.DEAD),
        died=True,
        was_exiting=True,
        evidence="",
        rules=RULES,
        now=NOW,
    )
    assert gone.actions == (Launch(instance="worker-1", credential=None, resume=True),)
    assert gone.record.exit_delay is None
    assert gone.record.restarts == 1  # one exit, counted once


@given(st.lists(st.sampled_from(["died", "stuck", "silent"]), max_size=12))
def test_restarts_are_bounded_whatever_goes_wrong(troubles: list[str]) -> None:
    record = FRESH
    restarts = 0
    for trouble in troubles:
        if trouble == "died":
            decided = decide.exited(
                record,
                worker(InstanceState.DEAD),
                died=True,
                was_exiting=False,
                evidence="",
                rules=RULES,
                now=NOW,
            )
        elif trouble == "stuck":
            decided = watchdog.stuck(record, worker(), "quiet", RULES, NOW)
        else:
            seen = ScreenRead(instance="worker-1", purpose=NoSessionStart(), text="")
            decided = watchdog.screen_read(record, worker(InstanceState.STARTING), seen, RULES, NOW)
        record = decided.record
        restarts += sum(isinstance(a, Launch | Terminate) for a in decided.actions)
    assert restarts <= RULES.max_restarts
    assert record.restarts <= RULES.max_restarts


# -- failed turns and credentials ---------------------------------------------------------


def test_a_limit_keeps_the_prompt_and_asks_the_failover() -> None:
    event = failed(FailureKind.RATE_LIMIT)
    decided = decide.turn_failed(FRESH, worker(InstanceState.IDLE), event, RULES, NOW)
    assert decided.actions == (
        KeepPrompt("worker-1"),
        FailOver(instance="worker-1", cause=event, evidence=event.detail),
    )


@pytest.mark.parametrize(
    "state",
    [InstanceState.STOPPING, InstanceState.STOPPED, InstanceState.EXITING, InstanceState.DEAD],
)
@pytest.mark.parametrize("kind", [FailureKind.RATE_LIMIT, FailureKind.SERVER_ERROR])
def test_a_failed_turn_of_a_process_that_is_going_decides_nothing(
    state: InstanceState, kind: FailureKind
) -> None:
    # Found by the LoopMachine: an instance stopped for its budget whose last request then
    # failed was moved to another credential and launched again, and given work.
    decided = decide.turn_failed(FRESH, worker(state), failed(kind), RULES, NOW)
    assert decided == Decided(FRESH)


@pytest.mark.parametrize("state", [InstanceState.STOPPING, InstanceState.STOPPED])
def test_the_failovers_answer_moves_no_instance_asked_to_stop_meanwhile(
    state: InstanceState,
) -> None:
    for decision in (MoveTo(KEY2), StayOn(), PauseUntil(NOW.wall + 60), NoCredential()):
        assert decide.follow(FRESH, worker(state), answer(decision), RULES, NOW) == Decided(FRESH)


def test_other_failures_retry_on_the_same_credential_then_give_up() -> None:
    record = FRESH
    event = failed(FailureKind.SERVER_ERROR, "500")
    for delay in RULES.retry_delays:
        decided = decide.turn_failed(record, worker(InstanceState.IDLE), event, RULES, NOW)
        assert decided.actions[-1] == Schedule(NOW.mono + delay, RetryDue(instance="worker-1"))
        assert kinds(decided.actions) == [IncidentKind.TURN_FAILED]
        record = decided.record
    last = decide.turn_failed(record, worker(InstanceState.IDLE), event, RULES, NOW)
    assert last.actions == (
        KeepPrompt("worker-1"),
        ForgetKept("worker-1"),
        RecordIncident(
            instance="worker-1",
            kind=IncidentKind.GAVE_UP,
            evidence=f"{len(RULES.retry_delays) + 1} failed turns",
            action="stop retrying",
        ),
    )
    assert decide.progressed(last.record, worker()).record.failures == 0


def test_a_due_retry_resends_only_when_the_instance_can_take_a_prompt() -> None:
    due = RetryDue(instance="worker-1")
    assert watchdog.timer_due(FRESH, worker(InstanceState.IDLE), due, RULES, NOW).actions == (
        ResendPrompt("worker-1"),
    )
    assert watchdog.timer_due(FRESH, worker(InstanceState.WORKING), due, RULES, NOW).actions == ()


def answer(decision: object, moved: IncidentKind = IncidentKind.RATE_LIMITED) -> FailoverAnswered:
    return FailoverAnswered(instance="worker-1", decision=decision, evidence="429", moved=moved)  # type: ignore[arg-type]


def test_a_move_to_another_credential_replaces_the_live_process_on_its_exit() -> None:
    idle = worker(InstanceState.IDLE)
    moved = decide.follow(FRESH, idle, answer(MoveTo(KEY2)), RULES, NOW)
    assert kinds(moved.actions) == [IncidentKind.RATE_LIMITED]
    assert moved.actions[0].resumes_at == NOW.wall  # type: ignore[union-attr]
    assert moved.actions[1:] == (
        Terminate("worker-1"),
        Schedule(NOW.mono + RULES.exit_timeout, ExitDeadline(instance="worker-1", launch=1)),
    )
    assert moved.record.replacing == Replacement(KEY2, resume=True)
    overdue = watchdog.timer_due(
        moved.record, idle, ExitDeadline(instance="worker-1", launch=1), RULES, NOW
    )
    assert overdue.actions[-1] == Launch(instance="worker-1", credential=KEY2, resume=True)
    assert overdue.record.replacing is None
    replaced = watchdog.timer_due(
        overdue.record, worker(launch=2), ExitDeadline(instance="worker-1", launch=1), RULES, NOW
    )
    assert replaced.actions == ()


def test_stay_resends_unless_the_input_box_may_hold_the_old_prompt() -> None:
    idle = worker(InstanceState.IDLE)
    assert decide.follow(FRESH, idle, answer(StayOn()), RULES, NOW).actions == (
        ResendPrompt("worker-1"),
    )
    stale = decide.follow(RecoveryRecord(stale_input=True), idle, answer(StayOn()), RULES, NOW)
    assert Terminate("worker-1") in stale.actions


def test_every_credential_resting_pauses_until_the_earliest_reset() -> None:
    paused = decide.follow(
        FRESH, worker(InstanceState.IDLE), answer(PauseUntil(NOW.wall + 90)), RULES, NOW
    )
    assert paused.record.paused
    assert kinds(paused.actions) == [IncidentKind.CREDENTIALS_EXHAUSTED]
    assert paused.actions[0].resumes_at == NOW.wall + 90  # type: ignore[union-attr]
    assert paused.actions[1] == Schedule(NOW.mono + 90, CredentialDue(instance="worker-1"))
    again = watchdog.timer_due(
        paused.record, worker(InstanceState.IDLE), CredentialDue(instance="worker-1"), RULES, NOW
    )
    assert not again.record.paused
    assert again.actions == (FailOver(instance="worker-1", cause=None, evidence="pause ended"),)
    soon = decide.follow(
        FRESH, worker(InstanceState.IDLE), answer(PauseUntil(NOW.wall - 5)), RULES, NOW
    )
    assert soon.actions[1] == Schedule(NOW.mono + 1.0, CredentialDue(instance="worker-1"))


def test_no_credential_left_stops_the_instance_and_sends_nothing_again() -> None:
    decided = decide.follow(FRESH, worker(InstanceState.IDLE), answer(NoCredential()), RULES, NOW)
    assert decided.actions[:2] == (ForgetKept("worker-1"), EndAssignment("worker-1"))
    assert kinds(decided.actions) == [IncidentKind.GAVE_UP]
    assert decided.actions[-1] == StopInstance("worker-1")
    assert decided.record.stopped


def test_an_instance_stopped_for_good_is_never_launched_again() -> None:
    stopped = RecoveryRecord(stopped=True, replacing=Replacement(KEY2, resume=True))
    gone = worker(InstanceState.STOPPED)
    assert decide.replace(stopped, gone) == Decided(attrs.evolve(stopped, replacing=None))
    overdue = ExitDeadline(instance="worker-1", launch=1)
    assert Launch not in map(type, watchdog.timer_due(stopped, gone, overdue, RULES, NOW).actions)
    due = RestartDue(instance="worker-1", launch=1)
    assert Launch not in map(type, watchdog.timer_due(stopped, gone, due, RULES, NOW).actions)


@pytest.mark.parametrize(
    ("status", "kind", "budget"),
    [
        (CredentialStatus.COOLING, FailureKind.RATE_LIMIT, False),
        (CredentialStatus.SPENT, FailureKind.BILLING_ERROR, True),
        (CredentialStatus.INVALID, FailureKind.AUTHENTICATION_FAILED, False),
    ],
)
def test_an_idle_instance_on_an_unusable_credential_moves_before_any_prompt(
    status: CredentialStatus, kind: FailureKind, budget: bool
) -> None:
    until = NOW.wall + 60 if status is CredentialStatus.COOLING else None
    standing = CredentialState(name="k1", kind=CredentialKind.API_KEY, status=status, until=until)
    idle = worker(InstanceState.IDLE)
    decided = decide.credential_unusable(FRESH, idle, standing, NOW)
    (ask,) = decided.actions
    assert isinstance(ask, FailOver)
    assert ask.moved is IncidentKind.CREDENTIAL_UNAVAILABLE
    assert isinstance(ask.cause, CredentialFailure)
    assert (ask.cause.kind, ask.cause.budget, ask.cause.reset_at) == (kind, budget, until)
    for busy in (RecoveryRecord(paused=True), RecoveryRecord(replacing=Replacement(None, True))):
        assert decide.credential_unusable(busy, idle, standing, NOW).actions == ()


# -- deliveries -----------------------------------------------------------------------------


def test_an_undelivered_prompt_gets_enter_again_then_is_reported() -> None:
    prompted = worker(InstanceState.PROMPTED)
    first = DeliveryDeadline(instance="worker-1", prompt_number=1)
    decided = watchdog.timer_due(FRESH, prompted, first, RULES, NOW)
    assert decided.actions == (
        Press("worker-1", "Enter"),
        Schedule(NOW.mono + RULES.delivery_nudges[1], attrs.evolve(first, nudge=1)),
    )
    last = attrs.evolve(first, nudge=len(RULES.delivery_nudges) - 1)
    decided = watchdog.timer_due(FRESH, prompted, last, RULES, NOW)
    assert decided.actions[-1] == ReadScreen(instance="worker-1", purpose=NotDelivered())
    seen = ScreenRead(instance="worker-1", purpose=NotDelivered(), text="", error="no pane")
    assert kinds(watchdog.screen_read(FRESH, prompted, seen, RULES, NOW).actions) == [
        IncidentKind.PROMPT_NOT_DELIVERED
    ]
    later_prompt = attrs.evolve(prompted, prompts_sent=2)
    assert watchdog.timer_due(FRESH, later_prompt, first, RULES, NOW).actions == ()


# -- quiet, stuck and the screen ------------------------------------------------------------


def test_quiet_is_watched_only_while_working_and_only_since_the_last_event() -> None:
    working = decide.event_arrived(FRESH, worker(), RULES, NOW)
    assert working.record.activity == 1
    assert working.actions == (
        Schedule(NOW.mono + RULES.look_after, QuietDeadline(instance="worker-1", mark=1)),
    )
    assert decide.event_arrived(FRESH, worker(InstanceState.IDLE), RULES, NOW).actions == ()
    later = decide.event_arrived(working.record, worker(), RULES, NOW).record
    stale = watchdog.timer_due(
        later, worker(), QuietDeadline(instance="worker-1", mark=1), RULES, NOW
    )
    assert stale.actions == ()
    due = watchdog.timer_due(
        later, worker(), QuietDeadline(instance="worker-1", mark=2), RULES, NOW
    )
    assert due.actions == (ReadScreen(instance="worker-1", purpose=Quiet()),)


SPINNER = "✻ Thinking… (12s · ↓ {n} tokens · esc to interrupt)\n"


def quiet_then_probe(record: RecoveryRecord, screen: str, size: int) -> ProgressProbe:
    seen = ScreenRead(instance="worker-1", purpose=Quiet(), text=screen, transcript_bytes=size)
    decided = watchdog.screen_read(record, worker(), seen, RULES, NOW)
    schedule = decided.actions[-1]
    assert isinstance(schedule, Schedule)
    assert schedule.at == NOW.mono + RULES.probe_after
    assert isinstance(schedule.timer, ProgressProbe)
    return schedule.timer


def probe(
    record: RecoveryRecord, timer: ProgressProbe, screen: str, size: int, at: float
) -> tuple[object, ...]:
    seen = ScreenRead(instance="worker-1", purpose=Probe(timer), text=screen, transcript_bytes=size)
    return watchdog.screen_read(record, worker(), seen, RULES, Now(at, NOW.wall)).actions


def test_a_slow_stream_moves_the_spinner_and_is_never_stuck() -> None:
    record = RecoveryRecord(activity=4, active_at=NOW.mono - 8)
    timer = quiet_then_probe(record, SPINNER.format(n=57), 1000)
    assert timer.progress == (1000, 57)
    assert timer.since == record.active_at
    far = NOW.mono + RULES.quiet_after * 10
    actions = probe(record, timer, SPINNER.format(n=60), 1000, far)
    assert not kinds(actions)
    assert actions[-1].timer.since == far  # type: ignore[union-attr]


def test_a_hang_is_stuck_after_quiet_after_and_restarted_with_its_prompt() -> None:
    record = RecoveryRecord(activity=4, active_at=NOW.mono)
    timer = quiet_then_probe(record, SPINNER.format(n=57), 1000)
    early = probe(record, timer, SPINNER.format(n=57), 1000, timer.since + RULES.quiet_after - 1)
    assert not kinds(early)
    actions = probe(record, timer, SPINNER.format(n=57), 1000, timer.since + RULES.quiet_after)
    assert kinds(actions) == [IncidentKind.STUCK]
    assert actions[0] == KeepPrompt("worker-1")
    assert Terminate("worker-1") in actions
    running = probe(attrs.evolve(record, tool_running=True), timer, SPINNER.format(n=57), 1000, 1e6)
    assert not kinds(running)  # a tool runs: its own timeout


def test_a_limit_on_screen_presses_escape_and_becomes_the_stopfailure_it_will_be() -> None:
    screen = "  ⎿  API Error (429 rate_limit_error) · retrying in 30 seconds… (attempt 3/10)\n"
    seen = ScreenRead(instance="worker-1", purpose=Quiet(), text=screen)
    decided = watchdog.screen_read(FRESH, worker(launch=2), seen, RULES, NOW)
    assert decided.record.stale_input
    press, observe = decided.actions
    assert press == Press("worker-1", "Escape")
    assert isinstance(observe, ObserveFailure)
    assert (observe.event.error, observe.event.launch) == (FailureKind.RATE_LIMIT, 2)


def test_a_dialog_waits_for_a_person_and_is_looked_at_again_later() -> None:
    screen = "Do you want to use this API key?\n❯ 1. Yes\n"
    seen = ScreenRead(instance="worker-1", purpose=Quiet(), text=screen)
    decided = watchdog.screen_read(RecoveryRecord(activity=3), worker(), seen, RULES, NOW)
    assert kinds(decided.actions) == [IncidentKind.WAITING_FOR_PERSON]
    assert decided.actions[-1] == Schedule(
        NOW.mono + RULES.quiet_after, QuietDeadline(instance="worker-1", mark=3)
    )


def test_a_success_completes_a_move_and_clears_the_running_tool() -> None:
    decided = decide.progressed(RecoveryRecord(failures=2, tool_running=True), worker())
    assert decided.actions == (Recovered("worker-1"),)
    assert (decided.record.failures, decided.record.tool_running) == (0, False)


# -- the executor: a crash re-sends the prompt in flight ---------------------------------------


def executor_without_git(ctx: RunContext, root: Path) -> Executor:
    """The loop's executor for ``ctx``, with no worktrees and an origin watch never run."""
    reader = OriginReader(repo=GitRepo(path=root), run_branch="main", workers=(), branches=())
    return Executor(
        ctx=ctx,
        failover=Failover(rotator=ctx.rotator, plugins=ctx.plugins, clock=ctx.clock),
        watch=OriginWatch(reader=reader, clock=ctx.clock),
        worktrees={},
    )


async def started(
    tmp_path: Path,
) -> tuple[Instance, RecordingRuntime, RunContext, Recovery, ManualClock]:
    """worker-1 launched on a recording runtime, with the run's context and its executor."""
    instance, runtime, _ = make(tmp_path)
    clock = ManualClock()
    rotator = AuthRotator(pool=(instance.credential,), clock=clock)
    plugins = PluginHost(load_entry_points=False)
    ctx = RunContext(
        rules=RULES,
        instances={"worker-1": instance},
        plugins=plugins,
        journal=Journal(tmp_path / "journal.jsonl", clock),
        clock=clock,
        rotator=rotator,
    )
    recovery = Recovery(ctx=ctx, executor=executor_without_git(ctx, tmp_path))
    await instance.start()
    await recovery.launched("worker-1")
    return instance, runtime, ctx, recovery, clock


@pytest.mark.anyio
async def test_the_prompt_in_flight_is_typed_again_after_a_crash(tmp_path: Path) -> None:
    instance, runtime, ctx, recovery, _ = await started(tmp_path)
    instance.observe(
        SessionStarted(instance="worker-1", at=0, session_id=SID, source="startup", launch=1)
    )
    task = Assignment(instance="worker-1", prompt="do task 1", kind=AssignmentKind.WORK)
    await recovery.executor.send(task)
    instance.observe(
        PromptSubmitted(instance="worker-1", at=0, session_id=SID, prompt="do task 1", launch=1)
    )
    assert instance.state is InstanceState.WORKING

    death = PaneDied(
        instance="worker-1", at=0, exit_status=1, signal=None, pid=instance.pid or 0, launch=1
    )
    instance.observe(death)
    await recovery.exited(instance, death, before=InstanceState.WORKING)
    assert instance.launch == 2  # restarted at once, on its conversation
    assert ctx.progress.kept == {"worker-1": task}
    assert [i.kind for i in ctx.progress.incidents] == [IncidentKind.INSTANCE_DIED]

    instance.observe(
        SessionStarted(instance="worker-1", at=0, session_id=SID, source="resume", launch=2)
    )
    await recovery.executor.send_kept(instance)  # what the loop does on SessionStart
    assert runtime.typed == ["do task 1", "do task 1"]
    assert ctx.progress.in_flight == {"worker-1": task}
    assert ctx.progress.kept == {}
    ctx.journal.close()


@pytest.mark.anyio
async def test_a_quiet_turn_whose_spinner_moves_is_probed_again_and_never_stuck(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance, runtime, ctx, recovery, clock = await started(tmp_path)
    for event in (
        SessionStarted(instance="worker-1", at=0, session_id=SID, source="startup", launch=1),
        PromptSubmitted(instance="worker-1", at=0, session_id=SID, prompt="p", launch=1),
    ):
        instance.observe(event)
        await recovery.active(instance)
    screens = iter([SPINNER.format(n=n) for n in (57, 80, 95, 95, 95, 95, 95, 95, 95, 95)])

    async def capture(name: str) -> str:
        return next(screens)

    runtime.capture = capture  # type: ignore[method-assign]
    caplog.set_level("INFO", logger="claude_orchestra.executor")
    for _ in range(12):
        if ctx.progress.incidents:
            break
        due = ctx.timers.next_due()
        assert due is not None
        clock.advance(due - clock.now())
        for timer in ctx.timers.pop_due(clock.now()):
            await recovery.on_timer(timer)
    notes = [r.getMessage() for r in caplog.records]
    assert "worker-1: quiet; the screen says busy" in notes
    assert sum("quiet but progressing" in n for n in notes) == 2  # 57 -> 80 -> 95
    kinds_seen = [i.kind for i in ctx.progress.incidents]
    assert kinds_seen == [IncidentKind.STUCK]  # 95 for quiet_after: stuck at last
    ctx.journal.close()
