"""The run :class:`~claude_orchestra.testing.machines.loop.LoopMachine` drives: the real
loop's parts (coordinator, recovery, review, spending, status board) around a runtime that
launches nothing and records each typed prompt with what held at that moment.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict, final

import attrs

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.context import RunContext
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.costs.budget import BudgetConfig, BudgetWatch
from claude_orchestra.costs.ledger import CostLedger
from claude_orchestra.events import FailureKind
from claude_orchestra.executor import Executor
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.origin_watch import OriginWatch
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.journal import Journal
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost
from claude_orchestra.recovery import Recovery
from claude_orchestra.review import WorkReview
from claude_orchestra.rules import RunRules
from claude_orchestra.runtimes.claude_home import HookEndpoint, LaunchSpec
from claude_orchestra.runtimes.gate import CommandResult
from claude_orchestra.spending import Spending
from claude_orchestra.status import StatusBoard
from claude_orchestra.values import AssignmentKind
from claude_orchestra.workspace import Workspace

MANAGER = "manager"
WORKERS = ("worker-1", "worker-2")
INSTANCES = (MANAGER, *WORKERS)
RUN_LENGTH = 3600.0
"""Seconds from the start to the run's deadline."""
TASKS = {"Task a": "a", "Task b": "b", "Task c": "c"}
"""The task file's tasks: text -> key (``c`` waits for ``a``)."""
TASK_FILE = "- [ ] Task a {#a}\n- [ ] Task b {#b}\n- [ ] Task c {#c after: a}\n"
SESSION = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
"""The session id every hook event carries."""
FAILURES = (
    FailureKind.RATE_LIMIT,
    FailureKind.AUTHENTICATION_FAILED,
    FailureKind.OVERLOADED,
    FailureKind.SERVER_ERROR,
)
"""The failed turns the machine plays."""
BUDGET = BudgetConfig(tokens=50_000, instance_tokens=20_000, credential_tokens=30_000)
"""The run's budgets, in tokens: one large response or a few reach one."""


class Hook(TypedDict):
    """The fields every hook event of an instance's current launch carries."""

    instance: str
    at: float
    session_id: str
    launch: int


@final
@attrs.frozen
class Typed:
    """One prompt the runtime saw typed, with what held at that moment."""

    instance: str
    work: str
    """What the prompt is for: a task key, or the assignment's kind and branches."""
    kind: AssignmentKind | None
    state: InstanceState
    usable: bool
    retired: bool
    """The instance had been stopped for good for its budget."""


class RecordingRuntime:
    """Launches nothing; records each prompt with its instance's state and credential."""

    def __init__(self) -> None:
        self.ctx: RunContext | None = None
        self.typed: list[Typed] = []
        self.pids = itertools.count(100)

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        return next(self.pids)

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        return next(self.pids)

    async def type_text(self, name: str, text: str) -> None:
        if text == "/exit" or self.ctx is None:  # a stop, not a prompt
            return
        instance = self.ctx.instances[name]
        assignment = self.ctx.progress.record(name).assignment
        work, kind = "?", None
        if assignment is not None:
            work = assignment.task_key or f"{assignment.kind.value}:{sorted(assignment.branches)}"
            kind = assignment.kind
        usable = self.ctx.can_prompt(instance)
        retired = self.ctx.progress.record(name).retired
        # marked sent before it is typed: the state it was sent in is the one before that
        (*_, sent) = instance.history
        state = sent.before if sent.evidence == "prompt sent" else instance.state
        self.typed.append(Typed(name, work, kind, state, usable, retired))

    async def send_keys(self, name: str, *keys: str) -> None:
        pass

    async def capture(self, name: str) -> str:
        return ""

    async def terminate(self, name: str) -> None:
        pass

    async def kill(self, name: str) -> None:
        pass

    async def close(self) -> None:
        pass

    async def run_command(self, argv: Sequence[str], *, cwd: Path) -> CommandResult:
        raise NotImplementedError("the manager merges: no merge gate runs")


def api_key(name: str) -> Credential:
    return Credential(
        name=name, kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret(f"sk-{name}")}
    )


def build_loop(root: Path, clock: ManualClock, runtime: RecordingRuntime) -> Coordinator:
    """The run's parts around ``runtime``: one manager and two workers on three API keys,
    the ``queue`` scheduler with a task file, the ``manager`` merger, token budgets for the
    run, each instance and each credential (:data:`BUDGET`); its git is never run (the
    machine plays origin)."""
    workspace = Workspace(root / "ws")
    workspace.prepare()
    settings = LaunchSettings(
        claude=("claude",),
        endpoint=HookEndpoint(base_url="http://127.0.0.1:1"),
        keys=HookKeys(folder=workspace.host_dir),
    )
    pool = tuple(api_key(f"k{n}") for n in (1, 2, 3))
    instances = {
        name: Instance(
            name,
            Role.MANAGER if name == MANAGER else Role.WORKER,
            root,
            workspace.home(name),
            worker=None if name == MANAGER else int(name.removeprefix("worker-")),
            backend=runtime,
            credential=credential,
            settings=settings,
            clock=clock,
        )
        for name, credential in zip(INSTANCES, pool, strict=True)
    }
    rotator = AuthRotator(pool=pool, clock=clock)
    plugins = PluginHost(load_entry_points=False)
    rules = RunRules(
        run_branch="main",
        scheduler="queue",
        merger="manager",
        worker_count=len(WORKERS),
        deadline=clock.now() + RUN_LENGTH,
        task_file="TASKS.md",
    )
    ctx = RunContext(
        rules=rules,
        instances=instances,
        plugins=plugins,
        journal=Journal(root / "journal.jsonl", clock),
        clock=clock,
        rotator=rotator,
    )
    repo = GitRepo(path=root / "repo")  # never run: the machine plays origin
    trees = {w: Worktree(repo=repo, path=root / w, branch=w, base="main") for w in WORKERS}
    reader = OriginReader(repo=repo, run_branch="main", workers=(1, 2), branches=WORKERS)
    executor = Executor(
        ctx=ctx,
        failover=Failover(rotator=rotator, plugins=plugins, clock=clock),
        watch=OriginWatch(reader=reader, clock=clock),  # its rounds are never run
        worktrees=trees,
    )
    recovery = Recovery(ctx=ctx, executor=executor)
    spending = Spending(
        ctx=ctx,
        ledger=CostLedger(prices={}),
        watch=BudgetWatch(BUDGET),
        rotator=rotator,
        recovery=recovery,
    )
    return Coordinator(
        ctx=ctx,
        executor=executor,
        review=WorkReview(ctx=ctx, executor=executor),
        recovery=recovery,
        spending=spending,
        board=StatusBoard(
            path=workspace.status,
            instances=instances,
            progress=ctx.progress,
            spending=spending,
            rotator=rotator,
            clock=clock,
            started_at=clock.wall(),
        ),
    )
