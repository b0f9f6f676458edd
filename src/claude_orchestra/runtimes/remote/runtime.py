"""The ``remote`` runtime: the manager in this machine's tmux, the workers on other hosts.

On each host (:class:`~claude_orchestra.runtimes.remote.hosts.RemoteHost`), under
``<workdir>/<run id>``: the run's own tmux server (``tmux -L <run id>``), a clone of origin
(``repo``) and a worktree per worker placed there (``worktrees/worker-N``), the relay
(``relay.py``, standard library only) and each instance's home (``.orchestra/instances``),
copied from the one the orchestrator seeded here with every path and loopback URL
translated (:mod:`.translate`). Claude Code is the host's ``claudeCommand``, checked at the
pinned version before the first launch.

What reaches a host and how:

- hook events and a loopback API: reverse port forwards on the host's ``127.0.0.1``
  (:class:`~claude_orchestra.runtimes.remote.link.HostLink`);
- origin: its URL, with a loopback one forwarded the same way; a user and password in it
  are stripped and handed to git through the environment (a credential helper reading
  variables), never stored;
- the launch environment (credential, hook token): written over the SSH channel into a
  named pipe the relay reads and deletes, so it is never on the host's disk; a Claude
  login that exists only as a file is refused unless the host allows ``credentialsOnDisk``.

Evidence is read from origin as for every runtime: workers push their branches
themselves, and :meth:`RemoteRuntime.close` pushes (or preserves) whatever a host still
holds before removing its run folder, once every process of the run there has ended
(:mod:`.ending`).
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import final

import anyio
from anyio.abc import TaskStatus

from claude_orchestra.auth.credentials import Secret
from claude_orchestra.errors import PrerequisiteError, RemoteError
from claude_orchestra.events import Event, PaneDied
from claude_orchestra.intake import relay as _relay
from claude_orchestra.pins import CLAUDE_CODE_VERSION
from claude_orchestra.runtimes.base import CarriedSessions, RuntimeContext, RuntimeNotice
from claude_orchestra.runtimes.claude_home import HOOK_TOKEN_ENV, LaunchSpec
from claude_orchestra.runtimes.gate import CommandResult
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote.adoption import (
    Launched,
    Spool,
    describe,
    parse_panes,
    unheard_deaths,
)
from claude_orchestra.runtimes.remote.carried import Carry, carries
from claude_orchestra.runtimes.remote.closing import Closing, close_folder
from claude_orchestra.runtimes.remote.homes import home_files
from claude_orchestra.runtimes.remote.hosts import RemoteHost, placement, reachable_from_a_host
from claude_orchestra.runtimes.remote.link import HostLink
from claude_orchestra.runtimes.remote.replay import replay
from claude_orchestra.runtimes.remote.translate import (
    PathMap,
    git_login,
    hook_url,
    launch_number,
    loopback_ports,
    remote_launch,
    rewrite_urls,
    settings_text,
    state_text,
)
from claude_orchestra.runtimes.tmux import TmuxServer
from claude_orchestra.runtimes.typed_text import plain_text
from claude_orchestra.workspace import Workspace

logger = logging.getLogger(__name__)


@final
class _Host:
    """What the runtime knows about one host: its link and, once prepared, its run folder."""

    def __init__(self, spec: RemoteHost) -> None:
        self.spec = spec
        self.link = HostLink(spec)
        self.root: PurePosixPath | None = None
        self.lock = anyio.Lock()


@final
class RemoteRuntime:
    """Workers on remote hosts over SSH, the manager in this machine's tmux."""

    def __init__(
        self, *, local: TmuxServer, context: RuntimeContext, exit_grace: float = 10.0
    ) -> None:
        """``exit_grace``: how long a host's processes may take to end after the hang-up
        before they are killed (when the run folder is removed)."""
        self._local = local
        self._exit_grace = exit_grace
        self._socket = context.socket_name
        self._workspace = PurePosixPath(context.workspace)
        self._layout = Workspace(context.workspace)
        self._repository = context.repository
        self._branch = context.branch
        self._hosts = {h.name: _Host(h) for h in context.remote_hosts}
        self._placed = {name: h.name for name, h in placement(context.remote_hosts).items()}
        self._launched: dict[str, Launched] = {}
        """Instance -> its current launch on its host (to tell a death after a drop)."""

    # -- the run's connections ------------------------------------------------------------

    async def prepare(self) -> None:
        """Connect to every host before anything is cloned.

        Raises:
            PrerequisiteError: a host cannot be reached or refuses the login.
        """
        for host in self._hosts.values():
            try:
                await host.link.open()
            except RemoteError as exc:
                raise PrerequisiteError(
                    "ssh", f"{exc.host}: cannot connect to {host.spec.address}: {exc.reason}"
                ) from exc

    async def serve(
        self, deliver: Callable[[Event], Awaitable[None]], *, task_status: TaskStatus[None]
    ) -> None:
        """Connect to every host, then keep each connection up and report drops and
        returns as :class:`RuntimeNotice` events for the instances placed there."""
        async with anyio.create_task_group() as tg:
            for host in self._hosts.values():
                await tg.start(host.link.maintain, self._notifier(host, deliver))
            task_status.started()

    def _notifier(
        self, host: _Host, deliver: Callable[[Event], Awaitable[None]]
    ) -> Callable[[str, str], Awaitable[None]]:
        names = [n for n, h in self._placed.items() if h == host.spec.name]

        async def notify(what: str, evidence: str) -> None:
            action = "the instances keep running in the host's tmux; reconnecting with back-off"
            deaths: dict[str, Launched] = {}
            if what == "back":
                try:
                    panes = parse_panes(await host.link.run(sh.windows(self._socket)))
                except RemoteError as exc:
                    panes = {}
                    evidence += f" (its windows could not be listed: {exc.reason})"
                deaths = unheard_deaths(panes, self._launched, names)
                action = f"re-adopted, not restarted: {describe(panes, names)}"
                sent = 0
                if host.root is not None:  # else nothing was launched there
                    sent = await replay(
                        host.link,
                        python=host.spec.python,
                        relay=host.root / "relay.py",
                        launched=self._launched,
                        names=names,
                    )
                if sent:
                    action += f"; {sent} hook event(s) sent while it was down delivered"
            for name in names:
                await deliver(
                    RuntimeNotice(
                        instance=name, at=anyio.current_time(), evidence=evidence, action=action
                    )
                )
            for name, known in deaths.items():  # its exit report was lost with the link
                await deliver(
                    PaneDied(
                        instance=name,
                        at=anyio.current_time(),
                        exit_status=None,
                        signal=None,
                        pid=known.pid,
                        launch=known.launch,
                    )
                )

        return notify

    # -- preparing a host -----------------------------------------------------------------

    async def _prepared(self, host: _Host) -> PurePosixPath:
        """The host's run folder, made (with the relay, the tmux config and the clone) and
        Claude Code checked, once."""
        async with host.lock:
            if host.root is not None:
                return host.root
            link, spec = host.link, host.spec
            await link.open()
            home = PurePosixPath((await link.run('printf %s "$HOME"')).strip())
            root = home / spec.workdir / self._socket
            version = await link.run(f"{sh.q(spec.claude_command)} --version", check=False)
            if not version.startswith(CLAUDE_CODE_VERSION):
                raise PrerequisiteError(
                    "claude",
                    f"{spec.name}: {spec.claude_command} is "
                    f"{version.strip()[:60] or 'missing'}, not the pinned {CLAUDE_CODE_VERSION}",
                )
            await link.run(f"mkdir -p -m 700 {sh.q(root)}")
            relay = await anyio.Path(_relay.__file__).read_text(encoding="utf-8")
            await link.run(sh.write_file(root / "relay.py"), stdin=relay)
            await link.run(sh.write_file(root / "tmux.conf"), stdin=sh.tmux_config())
            await self._git(host, sh.clone(await self._origin(host), root / "repo", self._branch))
            host.root = root
            return root

    async def _origin(self, host: _Host) -> str:
        if self._repository is None or not reachable_from_a_host(self._repository):
            raise PrerequisiteError(
                "remote",
                f"{host.spec.name}: the repository must be a URL the host can reach (https, "
                f"ssh, or http on 127.0.0.1, forwarded), not {self._repository!r}",
            )
        bare, _, _ = git_login(self._repository)
        ports = {p: await host.link.forward(p) for p in loopback_ports([bare])}
        return rewrite_urls(bare, ports)

    async def _git(self, host: _Host, command: str) -> str:
        """A git command on the host, with origin's login (if any) on standard input."""
        _, user, password = git_login(self._repository or "")
        if password is None:
            return await host.link.run(command)
        return await host.link.run(sh.with_git_login(command), stdin=f"{user}\n{password}\n")

    def _git_env(self) -> dict[str, str]:
        _, user, password = git_login(self._repository or "")
        if password is None:
            return {}
        return {sh.GIT_USER_ENV: user or "", sh.GIT_PASSWORD_ENV: password}

    # -- launching ------------------------------------------------------------------------

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        """Start ``spec`` in a window ``name``: here, or on the instance's host."""
        host = self._remote(name)
        if host is None:
            return await self._local.launch(name, spec)
        return await self._start(host, name, spec, respawn=False)

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        """Replace the process in ``name``'s pane (on its host)."""
        host = self._remote(name)
        if host is None:
            return await self._local.respawn(name, spec)
        return await self._start(host, name, spec, respawn=True)

    async def _start(self, host: _Host, name: str, spec: LaunchSpec, *, respawn: bool) -> int:
        root = await self._prepared(host)
        link, remote = host.link, host.spec
        paths = PathMap(local=self._workspace, remote=root)
        cwd = paths.path(PurePosixPath(spec.cwd))
        await self._git(host, sh.worktree(root / "repo", cwd, name, self._branch))
        files = await anyio.to_thread.run_sync(home_files, spec, host.spec)
        texts = [*spec.env.values(), *spec.supervisor, *files.values()]
        ports = {p: await link.forward(p) for p in loopback_ports(texts)}
        relay = [remote.python, "-I", "-S", str(root / "relay.py")]
        number = launch_number(spec)
        spooled = root / ".orchestra" / "spool" / f"{name}-{number}"
        spool = None
        for local_path, text in files.items():
            target = paths.path(local_path)
            sent = text
            if target.name == "orchestra-settings.json":
                quoted = shlex.join(relay)
                sent = settings_text(text, paths=paths, ports=ports, relay=quoted, spool=spooled)
                url, token = hook_url(text, ports), spec.env.get(HOOK_TOKEN_ENV)
                if url and token:
                    spool = Spool(folder=spooled, url=url, token=Secret(token))
            elif target.name == ".claude.json":
                sent = state_text(text, paths=paths)
            await link.run(sh.write_file(target), stdin=sent)
        launch = remote_launch(
            spec,
            paths=paths,
            ports=ports,
            claude=remote.claude_command,
            relay=relay,
            fifo=root / ".orchestra" / "fifo" / name,
            extra_env=self._git_env(),
        )
        await link.run(sh.make_fifo(launch.fifo))
        if respawn:
            started = sh.respawn(self._socket, name, launch.cwd, launch.command)
        else:
            started = sh.new_window(
                self._socket, root / "tmux.conf", name, launch.cwd, launch.command
            )
        printed = (await link.run(started)).split()
        if not printed or not printed[-1].isdigit():
            raise RemoteError(remote.name, "new-window", f"no pane pid in {printed[-3:]!r}")
        pid = int(printed[-1])
        self._launched[name] = Launched(launch=number, pid=pid, spool=spool)
        # The relay waits on the pipe: the environment goes over the channel, not to disk.
        await link.run(sh.write_fifo(launch.fifo), stdin=json.dumps(dict(launch.env)))
        logger.info(
            "launched %s on %s (pid %d) with env %s",
            name,
            remote.name,
            pid,
            ", ".join(spec.env_names()),
            extra={"instance": name, "host": remote.name},
        )
        return pid

    def _remote(self, name: str) -> _Host | None:
        placed = self._placed.get(name)
        return None if placed is None else self._hosts[placed]

    # -- driving the panes ----------------------------------------------------------------

    async def type_text(self, name: str, text: str) -> None:
        """Paste ``text`` exactly (it goes on standard input), then Enter."""
        host = self._remote(name)
        if host is None:
            return await self._local.type_text(name, text)
        await host.link.run(sh.paste(self._socket, name), stdin=plain_text(text))

    async def send_keys(self, name: str, *keys: str) -> None:
        """Press keys (tmux key names)."""
        host = self._remote(name)
        if host is None:
            return await self._local.send_keys(name, *keys)
        await host.link.run(sh.tmux(self._socket, "send-keys", "-t", sh.target(name), *keys))

    async def capture(self, name: str) -> str:
        """The pane's visible text, read over SSH for a remote instance."""
        host = self._remote(name)
        if host is None:
            return await self._local.capture(name)
        return await host.link.run(
            sh.tmux(self._socket, "capture-pane", "-p", "-t", sh.target(name))
        )

    async def terminate(self, name: str) -> None:
        """SIGTERM to the pane's process."""
        host = self._remote(name)
        if host is None:
            return await self._local.terminate(name)
        await host.link.run(sh.terminate(self._socket, name))

    async def kill(self, name: str) -> None:
        """Close the window."""
        host = self._remote(name)
        if host is None:
            return await self._local.kill(name)
        await host.link.run(
            f"{sh.tmux(self._socket, 'kill-window', '-t', sh.target(name))} 2>/dev/null || true"
        )

    async def run_command(self, argv: Sequence[str], *, cwd: Path) -> CommandResult:
        """The merge gate runs here, in the orchestrator's integration checkout."""
        return await self._local.run_command(argv, cwd=cwd)

    # -- the end --------------------------------------------------------------------------

    async def close(self) -> None:
        """End the local tmux server, then on every host: end the run's tmux server and
        wait for its processes, push (or preserve) every worker branch, and remove the run
        folder when nothing is left only there and no process of the run still runs. Used
        by ``cleanup`` too, so a killed run's hosts are reached."""
        await self._close({}, successor=None)

    async def hand_over(self, sessions: Mapping[str, str], *, successor: str) -> CarriedSessions:
        """:meth:`close` a killed run, handing each host's checkouts and its workers'
        sessions (instance -> id) over to the run whose tmux socket is ``successor``, once
        the killed run's processes there have ended: its clone and worktrees move into the
        new run folder as they are, and each session is copied into the home the new run
        gives its worker (:mod:`.carrying`). A host that cannot be reached loses its
        workers' sessions; its workers start from origin's branches in new ones."""
        return await self._close(sessions, successor=successor)

    async def _close(
        self, sessions: Mapping[str, str], *, successor: str | None
    ) -> CarriedSessions:
        await self._local.close()
        carried: set[str] = set()
        lost: dict[str, str] = {}
        for host in self._hosts.values():
            placed = {n: s for n, s in sessions.items() if self._placed.get(n) == host.spec.name}
            mine = tuple(carries(self._layout, placed))
            try:
                handed = await self._close_host(host, mine, successor)
            except (RemoteError, PrerequisiteError) as exc:
                logger.warning("%s: not cleaned: %s", host.spec.name, exc)
                lost.update({c.instance: f"{host.spec.name}: {exc}" for c in mine})
                continue
            finally:
                await host.link.close()
            carried.update(handed.carried)
            lost.update(handed.lost)
        return CarriedSessions(carried=frozenset(carried), lost=lost)

    async def _close_host(
        self, host: _Host, sessions: tuple[Carry, ...], successor: str | None
    ) -> CarriedSessions:
        link = host.link
        await link.open()
        workdir = PurePosixPath((await link.run('printf %s "$HOME"')).strip()) / host.spec.workdir
        root = host.root or workdir / self._socket

        async def push() -> str:
            url = await self._origin(host)  # this connection's forward to a loopback origin
            return await self._git(host, sh.push_all(root / "repo", root / "worktrees", url))

        new = None if successor is None else workdir / successor
        closing = Closing(
            root=root, socket=self._socket, grace=self._exit_grace, successor=new, sessions=sessions
        )
        return await close_folder(link, closing, push=push)
