"""Orchestrator: wires a run together and owns its task group. No git, tmux or HTTP code.

``await Orchestrator(config).run()`` clones the target repository into the workspace,
creates a worktree per worker, starts the hook app, starts the manager and the workers as
real interactive Claude Code processes, hands the event stream to the
:class:`~claude_orchestra.coordinator.Coordinator` until the run ends, then stops every
instance, writes ``report.json`` and returns the :class:`~claude_orchestra.summary.RunSummary`.

The parts are built elsewhere: the runtime, the instances, the app and the loop in
:mod:`~claude_orchestra.run_wiring`, the checkouts in :mod:`~claude_orchestra.run_checkouts`,
a killed run taken up in :mod:`~claude_orchestra.run_resume`, the end in
:mod:`~claude_orchestra.run_end`. Which parts a run needs (the task file, the merge queue,
the manager) the scheduler and merger plugins say (``orchestra_strategy_needs``).
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

from claude_orchestra._clock import Clock, SystemClock
from claude_orchestra.auth.credentials import Secret
from claude_orchestra.auth.rotator import (
    AuthRotator,
    discover_oauth,
    order_pool,
)
from claude_orchestra.broker.upstream import unbrokerable
from claude_orchestra.config import RunConfig
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.defaults import notify
from claude_orchestra.errors import PrerequisiteError, TaskFileError, UsageError
from claude_orchestra.events import Event
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.strings import url_secrets
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.instance import Instance
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.journal import Journal
from claude_orchestra.outcomes import Outcome
from claude_orchestra.plugins import PluginHost
from claude_orchestra.prerequisites import check_tools, find_claude
from claude_orchestra.resume import PreviousRun, read_previous_run
from claude_orchestra.run_checkouts import left_checkouts, new_checkouts, read_task_file
from claude_orchestra.run_end import finish_run, shut_down
from claude_orchestra.run_resume import end_previous, take_up
from claude_orchestra.run_wiring import (
    build_app,
    build_broker,
    build_coordinator,
    build_instances,
    runtime_of,
)
from claude_orchestra.runtimes.attach import attach_hint
from claude_orchestra.runtimes.base import ReportingRuntime, Runtime
from claude_orchestra.runtimes.claude_home import HookEndpoint
from claude_orchestra.runtimes.tmux import tmux_config
from claude_orchestra.status import StatusBoard
from claude_orchestra.summary import RunSummary
from claude_orchestra.taskfile import TaskFile
from claude_orchestra.values import StrategyNeeds
from claude_orchestra.web import Dashboard
from claude_orchestra.web.access import DashboardAccess
from claude_orchestra.workers import worker_name
from claude_orchestra.workspace import Workspace

if TYPE_CHECKING:  # the broker's HTTP side is imported only when a run starts one
    from claude_orchestra.broker.service import Broker

logger = logging.getLogger(__name__)


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
            repo, worktrees, task_file, previous = await self._prepare_workspace(
                previous, socket_name
            )
        except BaseException:
            listening.close()
            raise
        if previous is not None and previous.started_at is not None:
            started = previous.started_at
        send, receive = anyio.create_memory_object_stream[Event](1024)
        manager = ["manager"] if self._needs_manager(task_file is not None) else []
        names = [*manager, *(worker_name(n) for n in range(1, settings.worker_count + 1))]
        app, dashboard = build_app(
            send.send,
            runtime,
            keys=self._hook_keys,
            clock=self._clock,
            access=self._dashboard_access,
            secrets=self.secrets,
            url_file=workspace.host_dir / "dashboard.url",
        )
        with send, receive, Journal(workspace.journal, self._clock, self.secrets) as journal:
            async with anyio.create_task_group() as tg:
                port = await tg.start(functools.partial(hookserver.serve, app, sock=listening))
                endpoint = HookEndpoint(base_url=f"http://127.0.0.1:{port}")
                await self._start_broker(tg, journal, send)
                self._write_run_files(endpoint, port, socket_name, started, repo)
                logger.info("see the instances: %s", attach_hint(workspace.root))
                instances = self._members = build_instances(
                    self.config,
                    names,
                    claude,
                    endpoint,
                    runtime,
                    keys=self._hook_keys,
                    rotator=self.rotator,
                    broker=self._broker,
                    clock=self._clock,
                )
                coordinator = build_coordinator(
                    self.config,
                    instances=instances,
                    repo=repo,
                    worktrees=worktrees,
                    journal=journal,
                    started=started,
                    runtime=runtime,
                    plugins=self.plugins,
                    clock=self._clock,
                    rotator=self.rotator,
                    broker=self._broker,
                    task_file=self._task_file,
                    with_merge_queue=self._merger_needs.merge_queue,
                    secrets=self.secrets,
                )
                coordinator.ctx.progress.task_file = task_file
                await self._start_services(tg, coordinator, runtime, send.send)
                self._open_dashboard(dashboard, port, coordinator.board)
                outcome = Outcome.FAILED
                try:
                    if previous is not None:
                        await take_up(previous, coordinator)
                    await coordinator.launch_all(trusted=[workspace.repo])
                    outcome = await coordinator.run(receive)
                except (KeyboardInterrupt, anyio.get_cancelled_exc_class()):
                    outcome = Outcome.INTERRUPTED
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        await shut_down(coordinator, receive, runtime, worktrees)
                        summary = finish_run(
                            coordinator,
                            outcome,
                            started,
                            config=self.config,
                            plugins=self.plugins,
                            rotator=self.rotator,
                            clock=self._clock,
                            broker=self._broker.as_json if self._broker else None,
                            secrets=self.secrets,
                        )
                    tg.cancel_scope.cancel()
        self.plugins.run_finished(summary)
        return summary

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

        self._broker = build_broker(
            self.config,
            rotator=self.rotator,
            clock=self._clock,
            journal=journal,
            events=events,
            select=lambda name, pool, failure: self.plugins.select_credential(
                self._members[name].snapshot(), pool, failure
            ),
            environ=self._environ,
        )
        await tg.start(self._broker.serve)

    def _previous_run(self) -> PreviousRun:
        """The killed run to take up; its limits hold here too, before any credential is
        handed out."""
        previous = read_previous_run(self.workspace)
        self.rotator.restore_limits(previous.limits)
        return previous

    async def _prepare_workspace(
        self, previous: PreviousRun | None, socket_name: str
    ) -> tuple[GitRepo, dict[int, Worktree], TaskFile | None, PreviousRun | None]:
        """The checkouts, the task file on the run branch (checked here), and the killed
        run taken up, its runtime ended first (its instances lost their hook server; their
        sessions carried to this run's tmux socket ``socket_name`` where they live
        elsewhere: the run returned says which could not be)."""
        self.workspace.prepare()
        made = [folder for folder in self.workspace.checkouts if not folder.exists()]
        if previous is not None and previous.tmux_socket:
            old = runtime_of(self.config, self.plugins, previous.tmux_socket)
            previous = await end_previous(previous, old, successor=socket_name)
        repo, worktrees = await self._checkouts(previous)
        try:
            return (
                repo,
                worktrees,
                await read_task_file(repo, self.config.orchestrator.branch, self._task_file),
                previous,
            )
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

    @functools.cached_property
    def _scheduler_needs(self) -> StrategyNeeds:
        """What the configured scheduler needs (asked of the plugins, once)."""
        return self.plugins.strategy_needs("scheduler", self.config.orchestrator.scheduler)

    @functools.cached_property
    def _merger_needs(self) -> StrategyNeeds:
        """What the configured merger needs (asked of the plugins, once)."""
        return self.plugins.strategy_needs("merger", self.config.orchestrator.merger)

    @property
    def _task_file(self) -> str | None:
        """The task file the run reads: only a scheduler that says it reads one has one."""
        settings = self.config.orchestrator
        return settings.task_file if self._scheduler_needs.task_file else None

    def _needs_manager(self, has_task_file: bool) -> bool:
        """A manager is started unless nothing needs one: a scheduler reading its task file
        (there on the run branch), and a merger that does not need the manager."""
        scheduler_without = self._scheduler_needs.task_file and has_task_file
        return not (scheduler_without and not self._merger_needs.manager)

    async def _checkouts(self, previous: PreviousRun | None) -> tuple[GitRepo, dict[int, Worktree]]:
        """A new clone and worktrees, or (``run --resume``) those a killed run left."""
        if previous is None:
            return await new_checkouts(self.config)
        return left_checkouts(self.config)
