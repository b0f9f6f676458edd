"""Orchestrator: wires a run together and owns its task group. No git, tmux or HTTP code.

``await Orchestrator(config).run()`` clones the target repository into the workspace,
creates a worktree per worker, starts the hook app, starts the manager and the workers as
real interactive Claude Code processes, hands the event stream to the
:class:`~claude_orchestra.coordinator.Coordinator` until the run ends, then stops every
instance, writes ``report.json`` and returns the :class:`~claude_orchestra.summary.RunSummary`.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, final

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream
from starlette.types import ASGIApp

from claude_orchestra import hookserver
from claude_orchestra._clock import Clock, SystemClock
from claude_orchestra.attach import attach_hint
from claude_orchestra.auth import (
    AuthRotator,
    CredentialFailure,
    PoolView,
    discover_oauth,
    order_pool,
)
from claude_orchestra.broker.meter import BrokerMeter, Metered, Served
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.broker.upstream import unbrokerable
from claude_orchestra.budget import BudgetWatch
from claude_orchestra.claude_home import HookEndpoint
from claude_orchestra.config import RunConfig
from claude_orchestra.config_load import describe
from claude_orchestra.context import RunContext
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.costs import CostLedger
from claude_orchestra.credentials import Secret
from claude_orchestra.defaults import notify
from claude_orchestra.defaults.manager import NAME as MANAGER
from claude_orchestra.defaults.queue import NAME as QUEUE
from claude_orchestra.errors import GitError, PrerequisiteError, TaskFileError, UsageError
from claude_orchestra.events import Event
from claude_orchestra.evidence import OriginReader
from claude_orchestra.failover import Failover
from claude_orchestra.gitrepo import GitRepo
from claude_orchestra.gitsession import tracking
from claude_orchestra.gitstrings import url_secrets
from claude_orchestra.hookapp import create_hook_app
from claude_orchestra.hookkeys import HookKeys
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.journal import Journal
from claude_orchestra.latency import LoopLatency
from claude_orchestra.mergequeue import MergeQueue
from claude_orchestra.origin_watch import OriginWatch
from claude_orchestra.plugins import PluginHost
from claude_orchestra.prerequisites import check_tools, find_claude
from claude_orchestra.recovery import Recovery
from claude_orchestra.report import (
    build_report,
    instance_usage,
    write_report,
)
from claude_orchestra.resume import PreviousRun, RunResumed, read_previous_run
from claude_orchestra.review import WorkReview
from claude_orchestra.rules import Outcome, RunRules
from claude_orchestra.runtime import ReportingRuntime, Runtime, RuntimeContext
from claude_orchestra.spending import Spending
from claude_orchestra.status import StatusBoard
from claude_orchestra.summary import RunSummary
from claude_orchestra.taskfile import TaskFile, parse_task_file
from claude_orchestra.tmux import tmux_config
from claude_orchestra.transcripts import DEFAULT_PRICES
from claude_orchestra.web import Dashboard
from claude_orchestra.web.access import DashboardAccess
from claude_orchestra.workers import worker_branch, worker_name
from claude_orchestra.workspace import Workspace, local_origin, prepare_checkouts
from claude_orchestra.worktree import Worktree

if TYPE_CHECKING:  # the broker's HTTP side is imported only when a run starts one
    from claude_orchestra.broker.service import Broker

logger = logging.getLogger(__name__)

_SHUTDOWN_GRACE = 15.0


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


@final
class Orchestrator:
    """Runs one orchestration: a manager and workers on one repository."""

    def __init__(
        self,
        config: RunConfig,
        *,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        blocked_plugins: Iterable[str] = (),
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        on_dashboard: Callable[[str], None] | None = None,
    ) -> None:
        """Prepare a run; nothing starts until :meth:`run`.

        Args:
            config: the loaded (or Python-built) configuration.
            plugins: extra plugin objects or modules, asked before the built-ins.
            load_entry_points: also load plugins installed under the ``claude_orchestra``
                entry-point group.
            blocked_plugins: plugin names not to load.
            clock: the clock (tests pass a fake one).
            environ: the environment to discover the Claude login in (default: this
                process's).
            on_dashboard: with ``"dashboard": true``, called with the dashboard's URL (it
                carries the run's dashboard token: show it to the person, never log it)
                once the server listens.
        """
        self.config = config
        self.workspace = Workspace(config.workspace)
        self._environ = dict(os.environ if environ is None else environ)
        self._clock = clock or SystemClock()
        self.plugins = PluginHost(
            plugins, load_entry_points=load_entry_points, blocked=blocked_plugins
        )
        notify.install(self.plugins.manager, config.orchestrator.notify)
        oauth = discover_oauth(self._environ, Path.home())
        settings = config.orchestrator
        self.rotator = AuthRotator(
            pool=order_pool(settings.auth_mode, config.credentials, oauth),
            clock=self._clock,
            spread=settings.auth_mode.value != "oauth",
            default_cooldown=settings.rate_limit_cooldown_seconds,
        )
        self._hook_keys = HookKeys(folder=self.workspace.host_dir)
        self._dashboard_access = DashboardAccess() if settings.dashboard else None
        self._on_dashboard = on_dashboard
        self._broker: Broker | None = None
        self._members: dict[str, Instance] = {}
        if settings.broker:
            for credential in self.rotator.view().credentials:
                if reason := unbrokerable(self.rotator.get(credential.name)):
                    raise PrerequisiteError("broker", f"credential {credential.name}: {reason}")

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret this run holds now (for log redaction; hook and broker tokens are
        issued as instances launch, so ask again)."""
        in_url = tuple(Secret(s) for s in url_secrets(self.config.repository))
        dashboard = () if self._dashboard_access is None else (self._dashboard_access.token,)
        tokens = self._broker.secrets() if self._broker else ()
        return (*self.rotator.secrets(), *self._hook_keys.secrets(), *tokens, *in_url, *dashboard)

    def run_sync(self, *, resume: bool = False) -> RunSummary:
        """:meth:`run` from synchronous code."""
        return anyio.run(functools.partial(self.run, resume=resume))

    async def run(self, *, resume: bool = False) -> RunSummary:
        """Run to the end; see the module docstring.

        With ``resume``, take up a run whose process was killed, in the same workspace
        (see :mod:`claude_orchestra.resume`): its instances are restarted on their
        conversations, every worker branch is pushed, origin is read back, and the run
        carries on from there.
        """
        settings = self.config.orchestrator
        claude = find_claude(settings.claude_command, self._environ)
        check_tools()
        started = self._clock.wall()
        workspace = self.workspace
        previous = self._previous_run() if resume else None
        if previous is None and workspace.repo.exists():
            raise UsageError(
                "workspaceDir",
                f"{workspace.root} holds an earlier run; resume it with `claude-orchestra run "
                f"--resume --workspace {workspace.root}`, or run `claude-orchestra cleanup "
                f"--workspace {workspace.root}`, or choose another workspace",
            )
        # The runtime and the port first: a missing tool or a busy port is reported before
        # anything is cloned.
        runtime, socket_name = await self._runtime()
        listening = hookserver.bind("127.0.0.1", settings.hook_server_port)
        try:
            repo, worktrees, task_file = await self._prepare_workspace(previous)
        except BaseException:
            listening.close()
            raise
        if previous is not None and previous.started_at is not None:
            started = previous.started_at
        send, receive = anyio.create_memory_object_stream[Event](1024)
        manager = ["manager"] if self._needs_manager(task_file is not None) else []
        names = [*manager, *(worker_name(n) for n in range(1, settings.worker_count + 1))]
        app, dashboard = self._app(send.send, runtime)
        with send, receive, Journal(workspace.journal, self._clock, self.secrets) as journal:
            async with anyio.create_task_group() as tg:
                port = await tg.start(functools.partial(hookserver.serve, app, sock=listening))
                endpoint = HookEndpoint(base_url=f"http://127.0.0.1:{port}")
                await self._start_broker(tg, journal, send)
                self._write_run_files(endpoint, port, socket_name, started, repo)
                logger.info("see the instances: %s", attach_hint(workspace.root))
                instances = self._instances(names, claude, endpoint, runtime)
                coordinator = self._coordinator(
                    instances, repo, worktrees, journal, started, runtime=runtime
                )
                coordinator.ctx.progress.task_file = task_file
                await self._start_services(tg, coordinator, runtime, send.send)
                self._open_dashboard(dashboard, port, coordinator.board)
                outcome = Outcome.FAILED
                try:
                    if previous is not None:
                        await self._take_up(previous, coordinator)
                    for instance in instances.values():
                        await instance.start(
                            trusted=[workspace.repo], resume=instance.session_id is not None
                        )
                    outcome = await coordinator.run(receive)
                except (KeyboardInterrupt, anyio.get_cancelled_exc_class()):
                    outcome = Outcome.INTERRUPTED
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(coordinator, receive, runtime, worktrees)
                        summary = self._finish(coordinator, outcome, started)
                    tg.cancel_scope.cancel()
        self.plugins.run_finished(summary)
        return summary

    def _app(
        self, deliver: Callable[[Event], Awaitable[None]], runtime: Runtime
    ) -> tuple[ASGIApp, Dashboard | None]:
        """The hook server's app: the hook app, behind the web dashboard when the config
        asks for one (:mod:`claude_orchestra.web`)."""
        hooks = create_hook_app(keys=self._hook_keys, deliver=deliver, clock=self._clock)
        if self._dashboard_access is None:
            return hooks, None
        dashboard = Dashboard(
            capture=runtime.capture,
            secrets=self.secrets,
            clock=self._clock,
            url_file=self.workspace.host_dir / "dashboard.url",
            access=self._dashboard_access,
        )
        return dashboard.app(hooks), dashboard

    def _open_dashboard(self, dashboard: Dashboard | None, port: int, board: StatusBoard) -> None:
        """Feed the dashboard every status the board publishes (it ends its streams after
        the one with the outcome) and hand its URL to ``on_dashboard``."""
        if dashboard is None:
            return
        board.watchers.append(dashboard.feed.publish)
        url = dashboard.started(port)
        if self._on_dashboard is not None:
            self._on_dashboard(url)

    async def _start_services(
        self,
        tg: TaskGroup,
        coordinator: Coordinator,
        runtime: Runtime,
        deliver: Callable[[Event], Awaitable[None]],
    ) -> None:
        """What works beside the loop and reports back as events: the origin watch, the
        merge queue, and a runtime that reports on its own connections (``remote``)."""
        coordinator.start_services(tg, deliver)
        if isinstance(runtime, ReportingRuntime):
            await tg.start(functools.partial(runtime.serve, deliver))

    def _write_run_files(
        self, endpoint: HookEndpoint, port: int, socket_name: str, started: float, repo: GitRepo
    ) -> None:
        """The tmux config and ``run.json`` (what ``status``, ``attach`` and ``cleanup`` read)."""
        self._write_tmux_config(endpoint)
        self.workspace.write_run_file(
            {
                "pid": os.getpid(),
                "hookPort": port,
                "tmuxSocket": socket_name,
                "branch": self.config.orchestrator.branch,
                "configDir": str(self.config.config_dir),
                "startedAt": started,
                "originUrl": repo.origin_url,
            }
        )

    async def _start_broker(
        self, tg: TaskGroup, journal: Journal, events: MemoryObjectSendStream[Event]
    ) -> None:
        """With ``"broker": true``, the run's credential broker, listening before any
        instance starts: the rotator's pool, the plugins' choice of the next credential,
        every failure and move journaled, every response served handed to the loop as a
        :class:`~claude_orchestra.broker.meter.Metered` event (the cost ledger charges it
        then)."""
        if not self.config.orchestrator.broker:
            return

        def metered(served: Served) -> None:
            event = Metered(instance=served.instance, at=self._clock.now(), served=served)
            try:
                events.send_nowait(event)
            except anyio.WouldBlock:  # the loop is far behind: the transcript counts it
                logger.warning("%s: a served response not metered (the loop is busy)", event)

        def select(name: str, pool: PoolView, failure: CredentialFailure) -> str | None:
            return self.plugins.select_credential(self._members[name].snapshot(), pool, failure)

        # Imported here: the broker's HTTP side (httpx, 20 MB) is for runs that start one.
        from claude_orchestra.broker.service import Broker  # noqa: PLC0415

        self._broker = Broker(
            RotatorPool(
                rotator=self.rotator,
                clock=self._clock,
                select=select,
                on_failure=journal.record,  # a resumed run rests what this one saw limited
                on_move=journal.record,
            ),
            clock=self._clock,
            meter=BrokerMeter(on_served=metered),
            near_limit=self.config.orchestrator.broker_near_limit,
            budget=self.config.orchestrator.budget,
            prices={**DEFAULT_PRICES, **self.config.orchestrator.prices},
        )
        await tg.start(self._broker.serve)

    def _previous_run(self) -> PreviousRun:
        """The killed run to take up; its limits hold here too, before any credential is
        handed out."""
        previous = read_previous_run(self.workspace)
        self.rotator.restore_limits(previous.limits)
        return previous

    def _coordinator(
        self,
        instances: dict[str, Instance],
        repo: GitRepo,
        worktrees: Mapping[int, Worktree],
        journal: Journal,
        started: float,
        *,
        runtime: Runtime,
    ) -> Coordinator:
        """The loop and its parts, wired for this run."""
        settings = self.config.orchestrator
        quiet = settings.stuck_threshold_ms / 1000 if settings.stuck_threshold_ms else 30.0
        ctx = RunContext(
            rules=RunRules(
                run_branch=settings.branch,
                scheduler=settings.scheduler,
                merger=settings.merger,
                worker_count=settings.worker_count,
                deadline=self._clock.now() + settings.max_run_duration_minutes * 60,
                quiet_after=quiet,
                look_after=min(8.0, quiet),
                probe_after=min(5.0, max(1.0, quiet / 4)),
                idle_retries=settings.idle_retries,
                task_file=self._task_file,
            ),
            instances=instances,
            plugins=self.plugins,
            journal=journal,
            clock=self._clock,
            rotator=self.rotator,
        )
        latency = LoopLatency()
        failover = Failover(rotator=self.rotator, plugins=self.plugins, clock=self._clock)
        recovery = Recovery(ctx=ctx, failover=failover)
        spending = Spending(
            ctx=ctx,
            ledger=CostLedger(prices={**DEFAULT_PRICES, **settings.prices}),
            watch=BudgetWatch(settings.budget),
            rotator=self.rotator,
            recovery=recovery,
        )
        return Coordinator(
            ctx=ctx,
            review=WorkReview(
                ctx=ctx,
                repo=repo,
                worktrees={worker_name(n): tree for n, tree in worktrees.items()},
                watch=OriginWatch(
                    reader=OriginReader(
                        repo=repo,
                        run_branch=settings.branch,
                        workers=tuple(range(1, settings.worker_count + 1)),
                        branches=tuple(tree.branch for tree in worktrees.values()),
                        task_file=self._task_file,
                    ),
                    clock=self._clock,
                ),
                merge_queue=MergeQueue(
                    repo=repo,
                    path=self.workspace.integration,
                    run_branch=settings.branch,
                    clock=self._clock,
                    test_command=settings.merge_test_command,
                    test_timeout=settings.merge_test_timeout_seconds,
                    runtime=runtime,
                )
                if settings.merger == QUEUE
                else None,
            ),
            recovery=recovery,
            spending=spending,
            board=StatusBoard(
                path=self.workspace.status,
                instances=instances,
                progress=ctx.progress,
                spending=spending,
                rotator=self.rotator,
                clock=self._clock,
                started_at=started,
                latency=latency,
                secrets=self.secrets,
                ends_at=self._clock.wall() + settings.max_run_duration_minutes * 60,
                broker=self._broker.as_json if self._broker else None,
            ),
            latency=latency,
        )

    async def _take_up(self, previous: PreviousRun, coordinator: Coordinator) -> None:
        """Carry on a killed run: its record, its sessions, origin's facts."""
        ctx = coordinator.ctx
        ctx.progress.merges.extend(previous.merges)
        ctx.progress.deliveries.extend(previous.deliveries)
        ctx.progress.incidents.extend(previous.incidents)
        ctx.progress.tasks_done.update(previous.tasks_done)
        for name, session in previous.sessions.items():
            if name in ctx.instances:
                ctx.instances[name].adopt(session.session_id, session.transcript_path)
        ctx.journal.record(
            RunResumed(
                previous_pid=previous.pid,
                sessions=tuple(sorted(previous.sessions)),
                merges_before=len(previous.merges),
            )
        )
        logger.info(
            "resuming the run of pid %s: %d merges so far, sessions of %s",
            previous.pid,
            len(previous.merges),
            ", ".join(sorted(previous.sessions)) or "none",
        )
        try:
            await coordinator.review.reconcile(
                previous.held_tasks,
                delivered=[c for d in previous.deliveries for c in d.commits],
                finished_tasks=previous.finished_tasks,
            )
        except GitError as exc:
            raise PrerequisiteError("git", str(exc)) from exc

    async def _prepare_workspace(
        self, previous: PreviousRun | None
    ) -> tuple[GitRepo, dict[int, Worktree], TaskFile | None]:
        """The checkouts, and the task file on the run branch (checked here)."""
        self.workspace.prepare()
        made = [folder for folder in self.workspace.checkouts if not folder.exists()]
        repo, worktrees = await self._checkouts(previous)
        try:
            return repo, worktrees, await self._read_task_file(repo)
        except TaskFileError:
            if previous is None:
                # Just made, nothing in them: rerun as is. Only what this run made goes.
                self.workspace.discard_checkouts(made)
            raise

    def _write_tmux_config(self, endpoint: HookEndpoint) -> None:
        """The config the run's tmux server starts from: dead panes reported to ``endpoint``."""
        workspace = self.workspace
        workspace.tmux_config.write_text(
            tmux_config(
                base_url=endpoint.base_url,
                key_file=self._hook_keys.key_file,
                relay_log=workspace.logs / "relay.log",
            )
        )

    async def _runtime(self) -> tuple[Runtime, str]:
        """The runtime the config names (asked of the plugins), and its tmux socket; a
        reporting runtime has checked what it depends on (its hosts, say)."""
        socket_name = f"orchestra-{secrets.token_hex(4)}"
        runtime = runtime_of(self.config, self.plugins, socket_name)
        if isinstance(runtime, ReportingRuntime):
            await runtime.prepare()
        return runtime, socket_name

    @property
    def _task_file(self) -> str | None:
        """The task file the run reads: only the ``queue`` scheduler has one."""
        settings = self.config.orchestrator
        return settings.task_file if settings.scheduler == QUEUE else None

    async def _read_task_file(self, repo: GitRepo) -> TaskFile | None:
        """The task file on origin's run branch, if the run reads one and it is there.

        Raises:
            TaskFileError: the file is there but cannot be used (line and field named):
                the run stops before it starts.
        """
        if self._task_file is None:
            return None
        ref = tracking(self.config.orchestrator.branch)
        text = await repo.read_file(ref, self._task_file)
        return None if text is None else parse_task_file(text, path=self._task_file)

    def _needs_manager(self, has_task_file: bool) -> bool:
        """A manager is started unless nothing needs one: the ``queue`` scheduler with its
        task file on the run branch, and a merger other than the manager."""
        settings = self.config.orchestrator
        return not (settings.scheduler == QUEUE and has_task_file and settings.merger != MANAGER)

    async def _checkouts(self, previous: PreviousRun | None) -> tuple[GitRepo, dict[int, Worktree]]:
        """A new clone and worktrees, or (``run --resume``) those a killed run left."""
        if previous is None:
            return await self._prepare_git()
        if previous.tmux_socket:  # its instances lost their hook server: end them
            await runtime_of(self.config, self.plugins, previous.tmux_socket).close()
        settings = self.config.orchestrator
        # The origin URL the killed run cloned from (run.json is the orchestrator's, out of
        # every instance's reach): the clone's config must still name it.
        origin_url = (self.workspace.read_run_file() or {}).get("originUrl")
        repo = GitRepo.open(
            self.workspace.repo,
            credentials_file=self.workspace.git_credentials,
            origin_url=origin_url if isinstance(origin_url, str) else None,
        )
        worktrees = {}
        for n in range(1, settings.worker_count + 1):
            path = self.workspace.worktree(n)
            if not path.exists():
                raise UsageError(
                    "--resume", f"{path} is missing; the run cannot be resumed with this config"
                )
            worktrees[n] = Worktree(
                repo=repo, path=path, branch=worker_branch(n), base=settings.branch
            )
        return repo, worktrees

    async def _prepare_git(self) -> tuple[GitRepo, dict[int, Worktree]]:
        settings = self.config.orchestrator
        try:
            return await prepare_checkouts(
                self.workspace,
                repository=self.config.repository,
                branch=settings.branch,
                workers=settings.worker_count,
                depth=settings.clone_depth,
            )
        except GitError as exc:
            raise PrerequisiteError("git", str(exc)) from exc

    def _instances(
        self, names: list[str], claude: str, endpoint: HookEndpoint, runtime: Runtime
    ) -> dict[str, Instance]:
        settings = self.config.orchestrator
        knobs = {"CLAUDE_CODE_MAX_RETRIES": str(settings.max_retries)}
        if settings.api_timeout_ms is not None:
            knobs["API_TIMEOUT_MS"] = str(settings.api_timeout_ms)
        launch = LaunchSettings(
            claude=(claude,),
            endpoint=endpoint,
            keys=self._hook_keys,
            model=settings.model,
            knobs=knobs,
            broker=self._broker,
        )
        credentials = self.rotator.assign_initial(names)
        instances = {}
        for name in names:
            worker = None if name == "manager" else int(name.split("-")[1])
            instances[name] = Instance(
                name,
                Role.MANAGER if worker is None else Role.WORKER,
                self.workspace.repo if worker is None else self.workspace.worktree(worker),
                self.workspace.home(name),
                worker=worker,
                backend=runtime,
                credential=credentials[name],
                settings=launch,
                clock=self._clock,
            )
        self._members = instances
        return instances

    async def _shutdown(
        self,
        coordinator: Coordinator,
        receive: anyio.abc.ObjectReceiveStream[Event],
        runtime: Runtime,
        worktrees: Mapping[int, Worktree],
    ) -> None:
        """Stop every instance, keep every worker's commits on origin, end the runtime."""
        with anyio.move_on_after(_SHUTDOWN_GRACE):
            for instance in coordinator.ctx.instances.values():
                await instance.stop()
            await coordinator.drain_until_stopped(receive, _SHUTDOWN_GRACE / 2)
            for instance in coordinator.ctx.instances.values():
                if instance.state.alive:  # /exit went unheard: end it the hard way
                    await runtime.terminate(instance.name)
            await coordinator.drain_until_stopped(receive, _SHUTDOWN_GRACE / 2)
        for n, worktree in worktrees.items():
            await coordinator.review.push(coordinator.ctx.instances[worker_name(n)], worktree)
        await runtime.close()

    def _finish(self, coordinator: Coordinator, outcome: Outcome, started: float) -> RunSummary:
        progress = coordinator.ctx.progress
        instances = list(coordinator.ctx.instances.values())
        spending = coordinator.spending
        for instance in instances:  # what was written after the last event
            spending.charge(instance)
        coordinator.board.publish(outcome.value)
        tasks_total, tasks_done = progress.task_counts()
        summary = RunSummary(
            outcome=outcome.value,
            exit_code=outcome.exit_code,
            run_branch=self.config.orchestrator.branch,
            started_at=started,
            ended_at=self._clock.wall(),
            tasks_total=tasks_total,
            tasks_done=tasks_done,
            merges=len(progress.merges),
            incidents=len(progress.incidents),
            usage=tuple(instance_usage(i, spending.ledger) for i in instances),
            by_credential=tuple(spending.ledger.spend_by("credential").items()),
            report_path=self.workspace.report,
        )
        write_report(
            self.workspace.report,
            build_report(
                summary=summary,
                progress=progress,
                instances=instances,
                config=describe(self.config),
                plugins=self.plugins.names(),
                rotations=coordinator.recovery.failover.rotations,
                pool=self.rotator.view(),
                spending=spending,
                loop_latency=coordinator.latency.as_json(),
                broker=self._broker.as_json() if self._broker else None,
            ),
            self.secrets(),
        )
        return summary
