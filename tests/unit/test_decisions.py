"""Decisions that breaks of the code slipped past every fast test (issue #20), tested
against today's classes with no Claude Code and no tmux: when a run is complete, when it
stalls, which session ``run --resume`` carries over, and a run budget reached being acted on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.context import RunContext
from claude_orchestra.costs.budget import BudgetConfig, BudgetScope, BudgetWatch
from claude_orchestra.costs.ledger import Attribution, CostLedger
from claude_orchestra.costs.transcripts import Price
from claude_orchestra.defaults.manager import MAX_REPLAN_REQUESTS
from claude_orchestra.journal import Journal
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import RunProgress
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.recovery import Recovery
from claude_orchestra.resume import read_previous_run
from claude_orchestra.rules import RunRules
from claude_orchestra.spending import Spending
from claude_orchestra.taskfile import parse_task_file
from claude_orchestra.tasklists import TaskList, parse_task_list
from claude_orchestra.values import Assignment, AssignmentKind, RunView
from claude_orchestra.workspace import Workspace

from .loop.test_recovery import executor_without_git
from .test_manager_protocol import view

VIEWS = [view("manager"), view("worker-1"), view("worker-2")]


def task_list(worker: int, open_tasks: list[str], done: list[str]) -> TaskList:
    """Worker ``worker``'s list with ``open_tasks`` (the first current) and ``done`` ticked."""
    return parse_task_list(
        "\n".join(
            [
                f"# Worker {worker} Task List",
                "## Current Task",
                *(f"- [ ] {t}" for t in open_tasks[:1]),
                "## Queue",
                *(f"- [ ] {t}" for t in open_tasks[1:]),
                "## Completed",
                *(f"- [x] {t}" for t in done),
            ]
        )
    )


def finished_progress() -> RunProgress:
    """A run with every task ticked, nothing running, nothing to merge: complete."""
    progress = RunProgress(run_branch="main")
    progress.task_lists = {
        1: task_list(1, [], done=["Write `a.py`"]),
        2: task_list(2, [], done=["Write `b.py`"]),
    }
    return progress


# -- completion -------------------------------------------------------------------------------


def test_a_run_with_every_task_ticked_and_nothing_running_is_complete() -> None:
    assert finished_progress().is_complete(VIEWS, branches_ahead=0)


def test_an_open_task_on_the_run_branch_keeps_the_run_open() -> None:
    progress = finished_progress()
    progress.task_lists[2] = task_list(2, ["Write `c.py`"], done=["Write `b.py`"])
    assert progress.open_tasks() == 1
    assert not progress.is_complete(VIEWS, branches_ahead=0)


def test_an_open_task_of_the_task_file_keeps_the_run_open() -> None:
    progress = RunProgress(run_branch="main")
    progress.task_file = parse_task_file("- [ ] one {#a}\n- [ ] two {#b}\n", path="TASKS.md")
    progress.tasks_done = {"a"}
    assert progress.open_tasks() == 1
    assert not progress.is_complete(VIEWS, branches_ahead=0)
    progress.tasks_done.add("b")
    assert progress.is_complete(VIEWS, branches_ahead=0)


def test_an_unplanned_run_is_not_complete() -> None:
    assert not RunProgress(run_branch="main").is_complete(VIEWS, branches_ahead=0)


ASSIGNMENT = Assignment(instance="worker-1", prompt="p", kind=AssignmentKind.WORK, task="t")


@pytest.mark.parametrize(
    "left",
    ["awaiting_merge", "in_flight", "judging", "branches_ahead", "working"],
)
def test_any_one_thing_left_keeps_the_run_open(left: str) -> None:
    progress = finished_progress()
    views = list(VIEWS)
    ahead = 0
    match left:
        case "awaiting_merge":
            progress.await_merge("worker-1", ("c1",))
        case "in_flight":
            progress.record_assignment(ASSIGNMENT)
        case "judging":
            progress.start_judging("worker-1", ASSIGNMENT)
        case "branches_ahead":
            ahead = 1
        case "working":
            views[1] = view("worker-1", InstanceState.WORKING)
    assert not progress.is_complete(views, branches_ahead=ahead)


# -- stalling ---------------------------------------------------------------------------------


def stalled_run(replans: int) -> RunView:
    """Worker 1 stopped on its task again and again: it is handed back to the manager."""
    progress = RunProgress(run_branch="main")
    progress.task_lists = {
        1: task_list(1, ["Write `hard.py`"], done=[]),
        2: task_list(2, [], done=["Write `b.py`"]),
    }
    progress.hand_back("worker-1", "Write `hard.py`")
    progress.replan_requests = replans
    return progress.view(scheduler="manager", merger="manager", worker_count=2, instances=VIEWS)


def test_a_handed_back_task_goes_to_the_manager_while_replans_are_left() -> None:
    host = PluginHost(load_entry_points=False)
    (replan,) = host.schedule(stalled_run(replans=MAX_REPLAN_REQUESTS - 1))
    assert (replan.instance, replan.kind) == ("manager", AssignmentKind.REPLAN)
    tag = parse_prompt_tag(replan.prompt)
    assert tag is not None
    assert tag["handed_back"] == {"1": "Write `hard.py`"}


def test_without_a_replan_left_nothing_is_scheduled_and_the_run_is_not_complete() -> None:
    """The stall rule's pure part: no prompt for anyone (the loop then ends the run
    ``stalled`` rather than spinning), and the open task keeps it from counting as done."""
    host = PluginHost(load_entry_points=False)
    run = stalled_run(replans=MAX_REPLAN_REQUESTS)
    assert host.schedule(run) == []
    progress = RunProgress(run_branch="main")
    progress.task_lists = dict(run.task_lists)
    assert not progress.is_complete(VIEWS, branches_ahead=0)


# -- resume: each instance's last session -----------------------------------------------------


def test_resume_carries_over_each_instances_last_session_not_its_first(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    workspace.repo.mkdir(parents=True)
    workspace.write_run_file({"pid": 2**22 + 12345, "tmuxSocket": "orchestra-x"})  # not alive
    events = [
        ("worker-1", "s-first", "/t/first.jsonl"),
        ("manager", "m-only", "/t/m.jsonl"),
        ("worker-1", "s-second", "/t/second.jsonl"),
        ("worker-2", "w2-first", None),
        ("worker-1", "", None),  # no session named: changes nothing
        ("worker-2", "w2-last", "/t/w2.jsonl"),
    ]
    lines = [
        json.dumps({"recorded": n, "type": "SessionStart", "instance": i, "session_id": s}
                   | ({"transcript_path": t} if t else {}))
        for n, (i, s, t) in enumerate(events)
    ]  # fmt: skip
    workspace.journal.write_text("\n".join(lines) + "\n")
    sessions = read_previous_run(workspace).sessions
    assert {name: s.session_id for name, s in sessions.items()} == {
        "worker-1": "s-second",
        "manager": "m-only",
        "worker-2": "w2-last",
    }
    assert sessions["worker-1"].transcript_path == "/t/second.jsonl"


# -- the run budget reached is acted on -------------------------------------------------------

PRICES = {"m": Price(input=1.0, output=10.0, cache_write=2.0, cache_read=0.5)}


def respond(folder: Path, message_id: str, *, input_tokens: int) -> None:
    """Append one response to a session file, as Claude Code writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    usage = {"input_tokens": input_tokens, "output_tokens": 0}
    line = {"type": "assistant", "message": {"id": message_id, "model": "m", "usage": usage}}
    with (folder / "session.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")


@contextlib.contextmanager
def spending(tmp_path: Path, budget: BudgetConfig) -> Iterator[Spending]:
    clock = ManualClock()
    key = Credential(name="k1", kind=CredentialKind.ENV, env={"ANTHROPIC_API_KEY": Secret("s")})
    rotator = AuthRotator(pool=(key,), clock=clock)
    plugins = PluginHost(load_entry_points=False)
    rules = RunRules(
        run_branch="main", scheduler="manager", merger="manager", worker_count=1, deadline=1e9
    )
    ctx = RunContext(
        rules=rules,
        instances={},
        plugins=plugins,
        journal=Journal(tmp_path / "journal.jsonl", clock),
        clock=clock,
        rotator=rotator,
    )
    try:
        yield Spending(
            ctx=ctx,
            ledger=CostLedger(prices=PRICES),
            watch=BudgetWatch(budget),
            rotator=rotator,
            recovery=Recovery(ctx=ctx, executor=executor_without_git(ctx, tmp_path)),
        )
    finally:
        ctx.journal.close()


WORKER = Attribution(instance="worker-1", role="worker", credential="k1", task="a task")


@pytest.mark.parametrize(
    ("budget", "tokens"),
    [(BudgetConfig(usd=1.0, warn_at=(0.5,)), 1_000_000), (BudgetConfig(tokens=500), 500)],
)
def test_the_run_budget_reached_ends_the_run_and_a_warning_does_not(
    tmp_path: Path, budget: BudgetConfig, tokens: int
) -> None:
    with spending(tmp_path, budget) as spend:
        run_to_the_limit(spend, tmp_path, tokens)
    recorded = (tmp_path / "journal.jsonl").read_text()
    assert "limit reached" in recorded or '"fraction": 1.0' in recorded


def run_to_the_limit(spend: Spending, tmp_path: Path, tokens: int) -> None:
    transcripts = tmp_path / "projects"

    async def read(message_id: str, input_tokens: int) -> None:
        respond(transcripts, message_id, input_tokens=input_tokens)
        spend.ledger.read(transcripts, WORKER)
        await spend.enforce()

    anyio.run(read, "msg_1", tokens // 2)
    assert not spend.run_spent  # half the limit: a warning at most
    assert all(not c.reached for c in spend.crossings)
    anyio.run(read, "msg_2", tokens - tokens // 2)
    assert spend.run_spent
    assert [c.scope for c in spend.crossings if c.reached] == [BudgetScope.RUN]
