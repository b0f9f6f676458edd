"""tmux, the runtime instances live in: one private server per run, one window per instance.

:class:`TmuxServer` is the ``local`` runtime (:class:`~claude_orchestra.runtimes.base.Runtime`),
built on libtmux; its blocking calls run in threads. The server starts from a generated config
file that keeps dead panes (``remain-on-exit``), reports each death through the
``pane-died`` hook to the hook app, and removes inherited credential variables from the
global environment, so no instance sees a secret it was not given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar, final

import anyio
import attrs
import libtmux
from libtmux import exc as tmux_exc

from claude_orchestra.errors import TmuxError
from claude_orchestra.runtimes.claude_home import (
    SCRUBBED_ENV,
    LaunchSpec,
    relay_command,
    write_launch_env,
)
from claude_orchestra.runtimes.gate import CommandResult, run_local
from claude_orchestra.runtimes.typed_text import plain_text

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
SESSION = "orchestra"
"""The one tmux session of a run's server; its windows are named after the instances."""


def _target(name: str) -> str:
    """The tmux target of instance ``name``'s window, by exact names (no lookup needed)."""
    return f"={SESSION}:={name}"


def _environment(env: Mapping[str, str]) -> list[str]:
    """``-e NAME=VALUE`` for each variable (what is left once secrets went to a file)."""
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


_limiter = anyio.CapacityLimiter(4)


def tmux_config(
    *, base_url: str, key_file: Callable[[str], Path], relay_log: Path | None = None
) -> str:
    """The server's config file: kept dead panes, the pane-died relay, a scrubbed env.

    The relay reports to the hook app at ``base_url`` with the current launch and token of
    the window's instance, read from ``key_file(<instance>)``
    (:meth:`~claude_orchestra.intake.keys.HookKeys.key_file`). Its complaints (it never fails
    its caller) go to ``relay_log`` when given.
    """
    relay = relay_command(
        "pane-died",
        base_url,
        "#{window_name}",
        str(key_file("#{window_name}")),
        "#{pane_dead_status}",
        "#{pane_dead_signal}",
        "#{pane_pid}",
    )
    command = shlex.join(relay)
    if relay_log is not None:
        command += f" 2>>{shlex.quote(str(relay_log))}"
    command = command.replace('"', '\\"')
    lines = [
        "set -g remain-on-exit on",
        "set -g focus-events on",
        "set -g history-limit 10000",
        f'set-hook -g pane-died "run-shell -b \\"{command}\\""',
        *(f"set-environment -gu {name}" for name in SCRUBBED_ENV),
    ]
    return "\n".join(lines) + "\n"


@final
@attrs.define(eq=False)
class TmuxServer:
    """A private tmux server (``tmux -L <socket_name>``) holding a run's instances."""

    socket_name: str
    config_file: Path
    _server: libtmux.Server = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._server = libtmux.Server(
            socket_name=self.socket_name, config_file=str(self.config_file)
        )

    @classmethod
    def attach(cls, socket_name: str) -> TmuxServer:
        """A handle on an existing server (for cleanup and resume); starts nothing."""
        return cls(socket_name=socket_name, config_file=Path("/dev/null"))

    async def _run(self, op: str, fn: Callable[[], _T]) -> _T:
        def guarded() -> _T:
            # A tmux server inherits the signal mask of whoever starts it and keeps it. If
            # SIGCHLD is blocked there (some shells and CI runners block it), tmux never
            # reaps a pane's process, so the pane-died hook never fires. Start it clean.
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            try:
                return fn()
            except tmux_exc.LibTmuxException as exc:
                raise TmuxError(op, str(exc) or type(exc).__name__) from exc

        return await anyio.to_thread.run_sync(guarded, limiter=_limiter)

    def _pane_facts(self, name: str) -> tuple[bool, int]:
        """Whether ``name``'s pane is dead, and its process id: one ``list-panes``, which
        fails for a window that does not exist (``display-message`` would answer for
        another pane instead)."""
        result = self._server.cmd(
            "list-panes", "-t", _target(name), "-F", "#{pane_dead} #{pane_pid}"
        )
        if result.stderr or not result.stdout:
            raise TmuxError("list-panes", " ".join(result.stderr) or f"no window named {name!r}")
        dead, _, pid = result.stdout[0].partition(" ")
        if not pid.isdigit():
            raise TmuxError("list-panes", f"window {name!r} has no process")
        return dead == "1", int(pid)

    def _pid(self, name: str) -> int:
        return self._pane_facts(name)[1]

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        """Start ``spec`` in a new window ``name`` (the first one creates the session)."""
        command = shlex.join(spec.argv)

        def start() -> int:
            env = dict(write_launch_env(spec))  # secrets to a private file, not to tmux
            if self._server.has_session(SESSION):
                # One tmux command, which prints the new pane's process: at 16 instances
                # on a loaded machine each tmux command is a fork that waits for a core.
                args = ["new-window", "-d", "-P", "-F", "#{pane_pid}", "-t", f"={SESSION}:"]
                args += ["-n", name, "-c", str(spec.cwd), *_environment(env)]
                result = self._server.cmd(*args, command)
                if result.stderr or not result.stdout or not result.stdout[0].isdigit():
                    raise TmuxError("new-window", " ".join(result.stderr) or "no process")
                return int(result.stdout[0])
            # libtmux's: it also keeps a $TMUX of the user's own tmux from refusing it
            self._server.new_session(
                session_name=SESSION,
                window_name=name,
                start_directory=spec.cwd,
                window_command=command,
                environment=env,
                x=200,
                y=50,
            )
            return self._pid(name)

        pid = await self._run("new-window", start)
        logger.info("launched %s (pid %d) with env %s", name, pid, ", ".join(spec.env_names()))
        return pid

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        """``respawn-pane -k`` with the new command, cwd and environment."""

        def respawn() -> int:
            args = ["respawn-pane", "-k", "-t", _target(name), "-c", str(spec.cwd)]
            args += _environment(write_launch_env(spec))
            result = self._server.cmd(*args, shlex.join(spec.argv))
            if result.stderr:
                raise TmuxError("respawn-pane", " ".join(result.stderr))
            return self._pid(name)

        return await self._run("respawn-pane", respawn)

    async def type_text(self, name: str, text: str) -> None:
        """``set-buffer`` + ``paste-buffer -p`` (exact, multi-line) + Enter; control
        characters but newline and tab are replaced first (:func:`plain_text`)."""
        buffer = f"orchestra-{name}"
        target = _target(name)
        text = plain_text(text)

        def paste() -> None:
            # Two tmux calls, not four: the text alone (an argument ending in ";" would end
            # a tmux command), then the paste and the Enter as one command sequence.
            paste_and_enter = ["paste-buffer", "-p", "-d", "-b", buffer, "-t", target]
            paste_and_enter += [";", "send-keys", "-t", target, "Enter"]
            for args in (["set-buffer", "-b", buffer, "--", text], paste_and_enter):
                result = self._server.cmd(*args)
                if result.stderr:
                    raise TmuxError(args[0], " ".join(result.stderr))

        await self._run("paste-buffer", paste)

    async def send_keys(self, name: str, *keys: str) -> None:
        """``send-keys`` with tmux key names."""

        def send() -> None:
            result = self._server.cmd("send-keys", "-t", _target(name), *keys)
            if result.stderr:
                raise TmuxError("send-keys", " ".join(result.stderr))

        await self._run("send-keys", send)

    async def capture(self, name: str) -> str:
        """The visible text of ``name``'s pane."""

        def capture() -> str:
            result = self._server.cmd("capture-pane", "-p", "-t", _target(name))
            if result.stderr:
                raise TmuxError("capture-pane", " ".join(result.stderr))
            return "\n".join(result.stdout)

        return await self._run("capture-pane", capture)

    async def terminate(self, name: str) -> None:
        """SIGTERM to the pane's process; a no-op when it has already exited."""

        def terminate() -> None:
            dead, pid = self._pane_facts(name)
            if not dead:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

        await self._run("kill", terminate)

    async def window_names(self) -> list[str]:
        """The windows that exist (alive or with a dead pane)."""
        return await self._run(
            "list-windows",
            lambda: (
                [w.window_name or "" for w in self._server.windows]
                if self._server.is_alive()
                else []
            ),
        )

    async def kill(self, name: str) -> None:
        """``kill-window`` (a no-op when it is already gone)."""

        def kill() -> None:
            for window in self._server.windows:
                if window.window_name == name:
                    window.kill()

        await self._run("kill-window", kill)

    async def run_command(self, argv: Sequence[str], *, cwd: Path) -> CommandResult:
        """Run ``argv`` on the host (the ``local`` runtime trusts its instances), with a
        minimal environment and a fresh ``HOME``."""
        return await run_local(argv, cwd=cwd)

    async def close(self) -> None:
        """``kill-server`` and remove its socket file (a no-op when it is not running)."""

        def close() -> None:
            if self._server.is_alive():
                socket = self._server.cmd("display-message", "-p", "#{socket_path}").stdout
                self._server.kill()
                if socket:
                    Path(socket[0]).unlink(missing_ok=True)

        await self._run("kill-server", close)

    async def alive(self) -> bool:
        """The server is running."""
        return await self._run("has-session", self._server.is_alive)
