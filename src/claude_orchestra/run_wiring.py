"""The parts of one run, built from its config: the runtime, the instances, and the
:class:`~claude_orchestra.coordinator.Coordinator` with everything the loop drives (the run
context, recovery, spending, the work review with its origin watch and merge queue, the
status board). Building only: nothing here starts or awaits anything."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from starlette.types import ASGIApp

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Secret
from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.rotator import AuthRotator, CredentialFailure, PoolView
from claude_orchestra.broker.meter import BrokerMeter, Metered, Served
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.config import RunConfig
from claude_orchestra.context import RunContext
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.costs.budget import BudgetWatch
from claude_orchestra.costs.ledger import CostLedger
from claude_orchestra.costs.transcripts import DEFAULT_PRICES
from claude_orchestra.events import Event
from claude_orchestra.executor import Executor
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.merge_queue import MergeQueue
from claude_orchestra.git.origin_watch import OriginWatch
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.journal import Journal
from claude_orchestra.latency import LoopLatency
from claude_orchestra.plugins import PluginHost
from claude_orchestra.recovery import Recovery
from claude_orchestra.review import WorkReview
from claude_orchestra.rules import RunRules
from claude_orchestra.runtimes.base import Runtime, RuntimeContext
from claude_orchestra.runtimes.claude_home import HookEndpoint
from claude_orchestra.spending import Spending
from claude_orchestra.status import StatusBoard
from claude_orchestra.web import Dashboard
from claude_orchestra.web.access import DashboardAccess
from claude_orchestra.workers import worker_name
from claude_orchestra.workspace import Workspace, local_origin

if TYPE_CHECKING:  # the broker's HTTP side is imported only when a run starts one
    from claude_orchestra.broker.service import Broker

logger = logging.getLogger(__name__)


def runtime_of(config: RunConfig, plugins: PluginHost, socket_name: str) -> Runtime:
    """The runtime ``config`` names, from the plugins, for the run whose tmux socket is
    ``socket_name`` (a new run's, or a killed run's to end what it left).

    Raises:
        ConfigError: no plugin provides it.
        PrerequisiteError: a tool it needs is missing.
    """
    workspace = Workspace(config.workspace)
    settings = config.orchestrator
    context = RuntimeContext(
        socket_name=socket_name,
        tmux_config=workspace.tmux_config,
        workspace=workspace.root,
        instances_dir=workspace.instances,
        config_dir=config.config_dir,
        local_origin=local_origin(config.repository),
        container_engine=settings.container_engine,
        container_image=settings.container_image,
        repository=config.repository,
        branch=settings.branch,
        remote_hosts=settings.remote_hosts,
    )
    return plugins.runtime(settings.runtime, context)


def build_coordinator(
    config: RunConfig,
    *,
    instances: dict[str, Instance],
    repo: GitRepo,
    worktrees: Mapping[int, Worktree],
    journal: Journal,
    started: float,
    runtime: Runtime,
    plugins: PluginHost,
    clock: Clock,
    rotator: AuthRotator,
    broker: Broker | None,
    task_file: str | None,
    with_merge_queue: bool,
    secrets: Callable[[], tuple[Secret, ...]],
) -> Coordinator:
    """The loop and its parts, wired for this run.

    Args:
        task_file: the task file the scheduler reads, or ``None``.
        with_merge_queue: whether the merger uses the merge queue (it is built only then).
    """
    settings = config.orchestrator
    workspace = Workspace(config.workspace)
    quiet = settings.stuck_threshold_ms / 1000 if settings.stuck_threshold_ms else 30.0
    ctx = RunContext(
        rules=RunRules(
            run_branch=settings.branch,
            scheduler=settings.scheduler,
            merger=settings.merger,
            worker_count=settings.worker_count,
            deadline=clock.now() + settings.max_run_duration_minutes * 60,
            quiet_after=quiet,
            look_after=min(8.0, quiet),
            probe_after=min(5.0, max(1.0, quiet / 4)),
            idle_retries=settings.idle_retries,
            task_file=task_file,
        ),
        instances=instances,
        plugins=plugins,
        journal=journal,
        clock=clock,
        rotator=rotator,
    )
    latency = LoopLatency()
    executor = Executor(
        ctx=ctx,
        failover=Failover(rotator=rotator, plugins=plugins, clock=clock),
        watch=OriginWatch(
            reader=OriginReader(
                repo=repo,
                run_branch=settings.branch,
                workers=tuple(range(1, settings.worker_count + 1)),
                branches=tuple(tree.branch for tree in worktrees.values()),
                task_file=task_file,
            ),
            clock=clock,
        ),
        worktrees={worker_name(n): tree for n, tree in worktrees.items()},
        merge_queue=MergeQueue(
            repo=repo,
            path=workspace.integration,
            run_branch=settings.branch,
            clock=clock,
            test_command=settings.merge_test_command,
            test_timeout=settings.merge_test_timeout_seconds,
            runtime=runtime,
        )
        if with_merge_queue
        else None,
    )
    recovery = Recovery(ctx=ctx, executor=executor)
    spending = Spending(
        ctx=ctx,
        ledger=CostLedger(prices={**DEFAULT_PRICES, **settings.prices}),
        watch=BudgetWatch(settings.budget),
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
            started_at=started,
            latency=latency,
            secrets=secrets,
            ends_at=clock.wall() + settings.max_run_duration_minutes * 60,
            broker=broker.as_json if broker else None,
        ),
        latency=latency,
    )


def build_instances(
    config: RunConfig,
    names: list[str],
    claude: str,
    endpoint: HookEndpoint,
    runtime: Runtime,
    *,
    keys: HookKeys,
    rotator: AuthRotator,
    broker: Broker | None,
    clock: Clock,
) -> dict[str, Instance]:
    """The run's instances (``manager``, ``worker-N``), each with its first credential."""
    settings = config.orchestrator
    workspace = Workspace(config.workspace)
    knobs = {"CLAUDE_CODE_MAX_RETRIES": str(settings.max_retries)}
    if settings.api_timeout_ms is not None:
        knobs["API_TIMEOUT_MS"] = str(settings.api_timeout_ms)
    launch = LaunchSettings(
        claude=(claude,),
        endpoint=endpoint,
        keys=keys,
        model=settings.model,
        knobs=knobs,
        nice=settings.instance_nice,
        broker=broker,
    )
    credentials = rotator.assign_initial(names)
    instances = {}
    for name in names:
        worker = None if name == "manager" else int(name.split("-")[1])
        instances[name] = Instance(
            name,
            Role.MANAGER if worker is None else Role.WORKER,
            workspace.repo if worker is None else workspace.worktree(worker),
            workspace.home(name),
            worker=worker,
            backend=runtime,
            credential=credentials[name],
            settings=launch,
            clock=clock,
        )
    return instances


def build_broker(
    config: RunConfig,
    *,
    rotator: AuthRotator,
    clock: Clock,
    journal: Journal,
    events: MemoryObjectSendStream[Event],
    select: Callable[[str, PoolView, CredentialFailure], str | None],
    environ: Mapping[str, str],
) -> Broker:
    """The run's credential broker (``"broker": true``): the rotator's pool, ``select``
    (the plugins' choice of the next credential), every failure and move journaled, every
    response served handed to the loop as a :class:`~claude_orchestra.broker.meter.Metered`
    event (the cost ledger charges it then); a Claude login refreshed at the token endpoint
    ``environ`` names, if it names one.

    Raises:
        UsageError: ``CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL`` is neither https nor loopback http.
    """

    def metered(served: Served) -> None:
        event = Metered(instance=served.instance, at=clock.now(), served=served)
        try:
            events.send_nowait(event)
        except anyio.WouldBlock:  # the loop is far behind: the transcript counts it
            logger.warning("%s: a served response not metered (the loop is busy)", event)

    # Imported here: the broker's HTTP side (aiohttp, about 9 MB) is for runs that start one.
    from claude_orchestra.broker.login import token_url  # noqa: PLC0415
    from claude_orchestra.broker.service import Broker  # noqa: PLC0415

    return Broker(
        RotatorPool(
            rotator=rotator,
            clock=clock,
            select=select,
            on_failure=journal.record,  # a resumed run rests what this one saw limited
            on_move=journal.record,
        ),
        clock=clock,
        meter=BrokerMeter(on_served=metered),
        near_limit=config.orchestrator.broker_near_limit,
        budget=config.orchestrator.budget,
        prices={**DEFAULT_PRICES, **config.orchestrator.prices},
        token_url=token_url(environ),
    )


def build_app(
    deliver: Callable[[Event], Awaitable[None]],
    runtime: Runtime,
    *,
    keys: HookKeys,
    clock: Clock,
    access: DashboardAccess | None,
    secrets: Callable[[], tuple[Secret, ...]],
    url_file: Path,
) -> tuple[ASGIApp, Dashboard | None]:
    """The hook server's app: the hook app, behind the web dashboard when the config
    asks for one (``access``; :mod:`claude_orchestra.web`)."""
    hooks = create_hook_app(keys=keys, deliver=deliver, clock=clock)
    if access is None:
        return hooks, None
    dashboard = Dashboard(
        capture=runtime.capture,
        secrets=secrets,
        clock=clock,
        url_file=url_file,
        access=access,
    )
    return dashboard.app(hooks), dashboard
