"""Runtimes: where and how an instance's process runs.

A :class:`Runtime` starts an instance's process in a terminal the orchestrator can type
into and read (a tmux pane), signals it and ends it. The orchestrator gets its runtime from
the ``orchestra_runtime`` hook by the name ``runtime`` in ``orchestrator.json`` names, and
nothing else in it knows which runtime runs an instance.

Built-in (:mod:`claude_orchestra.defaults.runtimes`):

- ``local``: every instance in a window of the run's private tmux server
  (:class:`~claude_orchestra.runtimes.tmux.TmuxServer`);
- ``sandbox``: the same, with each instance's process inside a bubblewrap sandbox
  (:class:`~claude_orchestra.runtimes.sandbox.SandboxRuntime`);
- ``container``: the same, with each instance's process in its own Docker or Podman
  container (:class:`~claude_orchestra.runtimes.container.ContainerRuntime`);
- ``remote``: the manager here, the workers in a tmux server on other hosts over SSH
  (:class:`~claude_orchestra.runtimes.remote.runtime.RemoteRuntime`).

A runtime that has something to tell the loop (a connection to a host dropped or came
back) is a :class:`ReportingRuntime`: the orchestrator starts its :meth:`~ReportingRuntime.serve`
in the run's task group, and its :class:`RuntimeNotice` events go on the event stream like
any other, so the loop records them as incidents.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, final, runtime_checkable

import attrs
from anyio.abc import TaskStatus

from claude_orchestra.events import Event
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.gate import CommandResult, run_on_host
from claude_orchestra.runtimes.remote.hosts import RemoteHost


class Runtime(Protocol):
    """What the orchestrator needs from the place instances run in."""

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        """Start ``spec`` in a new window called ``name``; returns the process id."""
        ...

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        """Replace the (dead or live) process in ``name``'s pane; returns the new pid."""
        ...

    async def type_text(self, name: str, text: str) -> None:
        """Paste ``text`` into the pane exactly (bracketed paste), then press Enter."""
        ...

    async def send_keys(self, name: str, *keys: str) -> None:
        """Press keys (tmux key names such as ``Escape``, ``C-c``)."""
        ...

    async def capture(self, name: str) -> str:
        """The pane's visible text (the labelled fallback for states without a hook)."""
        ...

    async def terminate(self, name: str) -> None:
        """Send SIGTERM to the pane's process (it exits; the pane stays to report it)."""
        ...

    async def kill(self, name: str) -> None:
        """Close the window and end its process."""
        ...

    async def close(self) -> None:
        """End the runtime and everything in it."""
        ...

    async def run_command(self, argv: Sequence[str], *, cwd: Path) -> CommandResult:
        """Run ``argv``, a command whose code the instances wrote (the merge gate's test),
        in ``cwd`` the runtime's way: no credential, no ``ANTHROPIC_*``/``CLAUDE_*``
        variable, no hook token in its environment; where the runtime isolates instances,
        ``cwd`` is the only folder it may write. The caller sets the deadline
        (``anyio.fail_after``); cancelled, the command and all it started are killed."""
        ...


@final
@attrs.frozen(kw_only=True)
class RuntimeNotice(Event):
    """Trouble a runtime saw with an instance's place (a dropped connection), and what it
    does about it; the loop records it as an incident and changes no state."""

    evidence: str
    action: str


@runtime_checkable
class ReportingRuntime(Protocol):
    """A runtime that reports :class:`RuntimeNotice` events while the run lasts."""

    async def prepare(self) -> None:
        """Check what the runtime depends on (reach its hosts, say), as the run starts and
        before anything is cloned.

        Raises:
            PrerequisiteError: it cannot be reached or used (one line, exit 2).
        """
        ...

    async def serve(
        self, deliver: Callable[[Event], Awaitable[None]], *, task_status: TaskStatus[None]
    ) -> None:
        """Watch what the runtime depends on and ``deliver`` notices, until cancelled;
        ``task_status.started()`` once instances can be launched."""
        ...


@final
@attrs.frozen(kw_only=True)
class CarriedSessions:
    """What a killed run's runtime did with its instances' sessions for the resumed run."""

    carried: frozenset[str] = frozenset()
    """Instances whose session was carried to where they run now: resume it there."""
    lost: Mapping[str, str] = attrs.field(factory=dict)
    """Instance -> why its session could not be carried: it starts a new one."""


@runtime_checkable
class SessionCarryingRuntime(Protocol):
    """A runtime whose instances' conversations live where a resumed run's would not find
    them (the ``remote`` runtime: in the killed run's folder on each host)."""

    async def hand_over(self, sessions: Mapping[str, str], *, successor: str) -> CarriedSessions:
        """End what the killed run left, as :meth:`Runtime.close` does, after carrying
        each of ``sessions`` (instance -> session id) to where the run whose tmux socket is
        ``successor`` will launch that instance."""
        ...


class WrappingRuntime:
    """A runtime that runs every command its own way inside another runtime's panes: only
    :meth:`wrap` differs (the ``sandbox`` and ``container`` runtimes are two)."""

    def __init__(self, inner: Runtime) -> None:
        self.inner = inner

    def wrap(self, spec: LaunchSpec, name: str) -> LaunchSpec:
        """``spec`` as instance ``name``'s pane should run it."""
        raise NotImplementedError

    def wrap_command(
        self, argv: Sequence[str], cwd: Path, scratch: Path
    ) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run ``argv`` in ``cwd`` this runtime's
        way (for :meth:`run_command`), with ``scratch`` as its ``HOME`` and ``TMPDIR``."""
        raise NotImplementedError

    async def run_command(self, argv: Sequence[str], *, cwd: Path) -> CommandResult:
        """Run ``argv`` as :meth:`wrap_command` says; its scratch folder is removed after."""
        with tempfile.TemporaryDirectory(prefix="orchestra-gate-") as scratch:
            wrapped, env = self.wrap_command(argv, cwd, Path(scratch))
            return await run_on_host(wrapped, cwd=cwd, env=env)

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        """Start the wrapped command in a new window."""
        return await self.inner.launch(name, self.wrap(spec, name))

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        """Replace the pane's process with the wrapped command."""
        return await self.inner.respawn(name, self.wrap(spec, name))

    async def type_text(self, name: str, text: str) -> None:
        """Paste into the pane."""
        await self.inner.type_text(name, text)

    async def send_keys(self, name: str, *keys: str) -> None:
        """Press keys in the pane."""
        await self.inner.send_keys(name, *keys)

    async def capture(self, name: str) -> str:
        """The pane's text."""
        return await self.inner.capture(name)

    async def terminate(self, name: str) -> None:
        """SIGTERM the pane's process."""
        await self.inner.terminate(name)

    async def kill(self, name: str) -> None:
        """Close the window."""
        await self.inner.kill(name)

    async def close(self) -> None:
        """End everything."""
        await self.inner.close()


@final
@attrs.frozen(kw_only=True)
class RuntimeContext:
    """What a runtime plugin is told about the run it serves."""

    socket_name: str
    """The run's private tmux server (``tmux -L <socket_name>``)."""
    tmux_config: Path
    """The tmux config file the server starts from (pane-died reporting, scrubbed env)."""
    workspace: Path
    """The run's workspace: the clone (``repo``), ``worktrees``, ``.orchestra``."""
    instances_dir: Path
    """Where every instance's private home lives (``.orchestra/instances``)."""
    config_dir: Path
    """The config folder (``orchestrator.json``, ``api-keys.json``)."""
    local_origin: Path | None = None
    """The repository, when it is a folder on this machine: pushing writes into it."""
    container_engine: str | None = None
    """For the ``container`` runtime: ``docker`` or ``podman`` (``None``: whichever is
    installed, docker first)."""
    container_image: str = "claude-orchestra:latest"
    """For the ``container`` runtime: the image holding Claude Code."""
    repository: str | None = None
    """The repository's URL (the ``remote`` runtime clones it on each host)."""
    branch: str = "main"
    """The run branch (the ``remote`` runtime starts workers' branches from it)."""
    remote_hosts: tuple[RemoteHost, ...] = ()
    """For the ``remote`` runtime: the hosts and their workers."""
