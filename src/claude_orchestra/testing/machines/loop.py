"""The whole loop against a model: :class:`LoopMachine`.

The real :class:`~claude_orchestra.coordinator.Coordinator` (with its
:class:`~claude_orchestra.recovery.Recovery`, :class:`~claude_orchestra.review.WorkReview`,
:class:`~claude_orchestra.spending.Spending` and the built-in ``queue`` scheduler and
``manager`` merger) runs one manager and two workers on a recording runtime, with a
:class:`~claude_orchestra._clock.ManualClock`: no tmux, no git, no Claude Code. The machine
plays everything outside the loop, in any order: the instances' hook events (on their
current launch), exits, the clock (which fires due timers), and origin, whose read requests
it answers itself with :class:`~claude_orchestra.git.origin_watch.OriginRead` values (commits on
a worker's branch or none, the task file published or not, branches merged by the manager,
fetches that fail). Each step is what :meth:`Coordinator.run` does with one wake-up: apply
the event, enforce the budgets, fire the due timers, settle.

The model keeps only what the invariants need, checked after every step:

1. *Done only on evidence*: every task the run counts as completed or done was handed to a
   worker that then made commits which an origin read showed.
2. *No prompt to a busy instance or on an unusable credential*: the runtime records, at each
   typed prompt, the instance's state and whether the rotator let its credential be used.
3. *Prompt loops are bounded*: the prompts typed to a worker for one task since its
   branch last showed new commits are at most ``1 + idle_retries``, and to the manager for
   one plan, merge or replan since origin last changed at most what the ``manager``
   plugin allows (``MAX_PLAN_REQUESTS`` and its kin), plus the events that may call for a
   resend (a failed turn, an exit, a session start, time passing).
4. *The run always ends*: once the machine stops sending events, the loop reaches one of
   complete, stalled, time limit or budget, within a bounded number of wake-ups and never
   past the deadline.
5. *No commit left only in the workspace*: every push origin refused is in the run's
   record by the preserved ref that holds its tip.
6. *No replacement abandoned*: a run that ends stalled or on a reached limit (not a spent
   run, manager or whole fleet) has launched again every instance it asked to exit for a
   replacement.
7. *Budgets hold*: responses are metered as the broker reports them (``Metered``); once the
   run's tokens reach its budget the run has ended, and no prompt is typed to an instance
   stopped for its own budget (a spent credential is covered by 2).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import anyio.from_thread
from hypothesis import event as tally
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from claude_orchestra._clock import ManualClock
from claude_orchestra.broker.meter import Metered, Served
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.events import (
    Event,
    FailureKind,
    PaneDied,
    PromptSubmitted,
    SessionEnded,
    SessionStarted,
    ToolUsed,
    TurnFailed,
    TurnStopped,
)
from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.git.origin_watch import OriginRead, PushResult
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.outcomes import Outcome
from claude_orchestra.testing.machines.loop_model import LoopModel
from claude_orchestra.testing.machines.loop_world import (
    BUDGET,
    FAILURES,
    INSTANCES,
    SESSION,
    TASK_FILE,
    TASKS,
    WORKERS,
    Hook,
    RecordingRuntime,
    build_loop,
)

QUIET_WAKE_UPS = 1000
"""Wake-ups the loop gets to end the run once nothing happens any more."""
ENDINGS = frozenset({Outcome.COMPLETE, Outcome.STALLED, Outcome.TIME_LIMIT, Outcome.BUDGET})


class LoopMachine(RuleBasedStateMachine):
    """Hook events, exits, time, origin's answers against the whole loop.

    Invariants: done only on evidence; no prompt to a busy instance, on an unusable
    credential or past an instance's budget; bounded prompts per piece of work; every
    refused push preserved; a spent run budget ends the run; the run always ends.
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="loop-machine-"))
        self.portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self.portal = self.portal_cm.__enter__()
        self.clock = ManualClock()
        self.runtime = RecordingRuntime()
        self.coordinator = build_loop(self.root, self.clock, self.runtime)
        self.ctx = self.coordinator.ctx
        self.runtime.ctx = self.ctx
        self.outcome: Outcome | None = None
        # origin as the machine plays it
        self.published = False
        self.unmerged: dict[str, list[str]] = {w: [] for w in WORKERS}
        self.serial = itertools.count(1)
        self.model = LoopModel(tasks=TASKS)
        self.portal.call(self._start)

    async def _start(self) -> None:
        await self.coordinator.launch_all(trusted=[])  # no task group: launched at once

    def teardown(self) -> None:
        try:
            if self.running():
                self.nothing_happens_any_more()
        finally:
            self.close()

    def close(self) -> None:
        tally(f"tasks completed: {len(self.ctx.progress.completed_tasks)}")
        tally(f"tasks done: {len(self.ctx.progress.tasks_done)}")
        tally(f"prompts typed: {min(len(self.runtime.typed), 5)}+")
        for crossing in self.coordinator.spending.crossings:
            if crossing.reached:
                tally(f"budget reached: {crossing.scope.value}")
        self.ctx.journal.close()
        self.portal_cm.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- driving the loop as Coordinator.run does -----------------------------------------

    async def _wake(self, event: Event | None) -> None:
        """One turn of the loop: the event (if any), the due timers, then settle."""
        if self.clock.now() >= self.ctx.rules.deadline:
            self.outcome = Outcome.TIME_LIMIT
            return
        if event is not None:
            await self.coordinator._apply(event)
            await self.coordinator.spending.enforce()
        for timer in self.ctx.timers.pop_due(self.clock.now()):
            await self.coordinator.recovery.on_timer(timer)
        self.outcome = await self.coordinator._settle()

    def wake(self, event: Event | None) -> None:
        self.portal.call(self._wake, event)
        if self.outcome is not None:
            note(f"the run ended: {self.outcome.value}")
            tally(f"outcome: {self.outcome.value}")

    def hook(self, name: str, event: Event) -> None:
        instance = self.ctx.instances[name]
        note(f"{name} ({instance.state.value}, launch {instance.launch}): {event!r}")
        self.wake(event)

    def common(self, name: str) -> Hook:
        """The fields every hook event of ``name``'s current launch carries."""
        launch = self.ctx.instances[name].launch
        return Hook(instance=name, at=self.clock.now(), session_id=SESSION, launch=launch)

    def running(self) -> bool:
        return self.outcome is None

    def nothing_happens_any_more(self) -> None:
        """No more events: answer origin, let time pass to each next timer; the run ends."""
        for _ in range(QUIET_WAKE_UPS):
            if self.coordinator.executor.watch.waiting:
                self.origin_answers(fetch_fails=False)
            else:
                due = self.ctx.timers.next_due()
                wake = self.ctx.rules.deadline if due is None else min(due, self.ctx.rules.deadline)
                self.clock.advance(max(0.0, wake - self.clock.now()))
                self.wake(None)
            if self.outcome is not None:
                break
        assert self.outcome in ENDINGS, f"no ending after {QUIET_WAKE_UPS} quiet wake-ups"
        assert self.clock.now() <= self.ctx.rules.deadline
        self.check_the_model()

    def check_the_model(self) -> None:
        self.done_only_on_evidence()
        self.prompts_only_when_taken_and_usable()
        self.prompt_loops_are_bounded()

    # -- hook events and exits ------------------------------------------------------------

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), source=st.sampled_from(["startup", "resume"]))
    def session_started(self, name: str, source: str) -> None:
        self.model.provoked(name)
        self.hook(name, SessionStarted(source=source, **self.common(name)))

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES))
    def prompt_submitted(self, name: str) -> None:
        self.hook(name, PromptSubmitted(prompt="p", **self.common(name)))

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), failed=st.booleans())
    def tool_used(self, name: str, failed: bool) -> None:
        event = ToolUsed(tool_name="Bash", failed=failed, **self.common(name))
        self.hook(name, event)

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES))
    def turn_stopped(self, name: str) -> None:
        self.hook(name, TurnStopped(last_message="done", **self.common(name)))

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), kind=st.sampled_from(FAILURES))
    def turn_failed(self, name: str, kind: FailureKind) -> None:
        self.model.provoked(name)
        event = TurnFailed(error=kind, detail=f"{kind.value}", **self.common(name))
        self.hook(name, event)

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), reason=st.sampled_from(["other", "logout"]))
    def session_ended(self, name: str, reason: str) -> None:
        self.model.provoked(name)
        self.hook(name, SessionEnded(reason=reason, **self.common(name)))

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), status=st.sampled_from([0, 1]))
    def pane_died(self, name: str, status: int) -> None:
        self.model.provoked(name)
        instance = self.ctx.instances[name]
        died = PaneDied(
            instance=name,
            at=self.clock.now(),
            exit_status=status,
            signal=None,
            pid=instance.pid or 0,
            launch=instance.launch,
        )
        self.hook(name, died)

    @precondition(running)
    @rule()
    def everyone_plays_along(self) -> None:
        """One step of a run where nothing goes wrong: each instance does what a
        well-behaved one does next, then origin answers."""
        for name in INSTANCES:
            if self.running():
                self.plays_along(name)
        if self.running() and self.coordinator.executor.watch.waiting:
            self.origin_answers(fetch_fails=False)

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES))
    def plays_along(self, name: str) -> None:
        """What a well-behaved instance does next: start, take the prompt, do the work
        (a worker commits; the manager writes the task file or merges), stop."""
        instance = self.ctx.instances[name]
        match instance.state:
            case InstanceState.STARTING:
                self.session_started(name, "startup")
            case InstanceState.PROMPTED:
                self.prompt_submitted(name)
            case InstanceState.WORKING:
                if name in WORKERS:
                    self.worker_commits(name)
                elif not self.published:
                    self.manager_publishes_the_task_file()
                else:
                    for worker in WORKERS:
                        self.manager_merges(worker)
                self.turn_stopped(name)
            case _:
                note(f"{name} is {instance.state.value}: nothing to play")

    @precondition(running)
    @rule(name=st.sampled_from(INSTANCES), tokens=st.sampled_from([500, 6_000, 21_000]))
    def responds(self, name: str, tokens: int) -> None:
        """A response of ``tokens`` output tokens to ``name`` is metered (as the broker
        reports one), charged to its credential now."""
        instance = self.ctx.instances[name]
        served = Served(
            instance=name,
            credential=instance.credential.name,
            status=200,
            usage=Usage(output_tokens=tokens),
            message_id=f"msg_{next(self.serial)}",
            model="claude-sonnet-4-5",
        )
        self.hook(name, Metered(instance=name, at=self.clock.now(), served=served))

    # -- time -----------------------------------------------------------------------------

    @precondition(running)
    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0, 31.0, 120.0, 600.0]))
    def time_passes(self, seconds: float) -> None:
        for name in INSTANCES:
            self.model.provoked(name)
        self.clock.advance(seconds)
        note(f"{seconds} s pass (now {self.clock.now()})")
        self.wake(None)

    # -- origin ---------------------------------------------------------------------------

    @precondition(running)
    @rule(worker=st.sampled_from(WORKERS))
    def worker_commits(self, worker: str) -> None:
        """The worker commits and pushes work for the task it holds (a worker holding none
        commits nothing: it only works when prompted)."""
        held = self.ctx.progress.in_flight.get(worker)
        if held is None or held.task_key is None:
            note(f"{worker} holds no task: no commit")
            return
        sha = f"c{next(self.serial)}"
        self.unmerged[worker].append(sha)
        self.model.committed(sha, held.task_key)
        note(f"{worker} commits {sha} for task {held.task_key}")

    @precondition(lambda self: self.running() and not self.published)
    @rule()
    def manager_publishes_the_task_file(self) -> None:
        self.published = True
        note("the manager pushes the task file")

    @precondition(running)
    @rule(worker=st.sampled_from(WORKERS))
    def manager_merges(self, worker: str) -> None:
        note(f"the manager merges {worker}: {self.unmerged[worker]}")
        self.unmerged[worker] = []

    @precondition(lambda self: self.running() and self.coordinator.executor.watch.waiting)
    @rule(fetch_fails=st.booleans(), refused=st.booleans())
    def origin_answers(self, fetch_fails: bool, refused: bool = False) -> None:
        """Origin answers the waiting read requests: the round's pushes (all refused, their
        tips preserved, or none), then the fetch (failed, or what origin holds)."""
        requests = self.coordinator.executor.watch.take()
        answers = tuple(r.instance for r in requests)
        pushes = {
            r.instance: self.push_result(r.worktree.branch, refused) for r in requests if r.worktree
        }
        facts = None
        if not fetch_fails:
            facts = OriginFacts(
                task_lists={},
                unmerged={b: tuple(c) for b, c in self.unmerged.items() if c},
                task_file=TASK_FILE if self.published else None,
            )
            self.model.saw_commits(facts)
        read = OriginRead(
            instance="",
            at=self.clock.now(),
            facts=facts,
            error="fetch failed" if fetch_fails else None,
            answers=answers,
            pushes=pushes,
        )
        note(f"origin answers {answers}: {facts}")
        self.wake(read)

    def push_result(self, branch: str, refused: bool) -> PushResult:
        if not refused:
            return PushResult(branch=branch)
        preserved = f"refs/orchestra/preserved/{branch}-{next(self.serial)}"
        self.model.preserved.add(preserved)
        return PushResult(branch=branch, refused="non-fast-forward", preserved=preserved)

    # -- the end --------------------------------------------------------------------------

    @precondition(lambda self: not self.running())
    @rule()
    def the_run_is_over(self) -> None:
        """Nothing is applied after the end (Hypothesis needs a rule to take)."""
        note(f"over: {self.outcome}")

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def done_only_on_evidence(self) -> None:
        self.model.check_done_only_on_evidence(self.ctx.progress)

    @invariant()
    def prompts_only_when_taken_and_usable(self) -> None:
        self.model.check_new_prompts(self.runtime.typed)

    @invariant()
    def prompt_loops_are_bounded(self) -> None:
        self.model.check_prompts_bounded(self.ctx.rules.idle_retries)

    @invariant()
    def every_refused_push_is_preserved_in_the_record(self) -> None:
        self.model.check_refused_pushes_kept(self.ctx.progress)

    @invariant()
    def a_spent_run_budget_ends_the_run(self) -> None:
        spent = self.coordinator.spending.ledger.spend().tokens
        if BUDGET.tokens is not None and spent >= BUDGET.tokens:
            assert self.outcome is not None, f"{spent} tokens spent and the run goes on"

    @invariant()
    def no_replacement_is_abandoned(self) -> None:
        """A run that ends for want of anything to do (stalled, or a limit reached) has
        started every process it asked to replace: one asked to exit for a new launch
        on another credential is not left stopped."""
        spent = self.coordinator.spending.run_spent  # the run's, the manager's or every worker's
        if self.outcome in {Outcome.STALLED, Outcome.BUDGET} and not spent:
            owed = [
                n for n, i in self.ctx.instances.items() if self.coordinator.recovery.replacing(i)
            ]
            assert not owed, f"the run ended {self.outcome.value} while replacing {owed}"

    @invariant()
    def an_ending_is_one_of_the_four(self) -> None:
        assert self.outcome is None or self.outcome in ENDINGS
