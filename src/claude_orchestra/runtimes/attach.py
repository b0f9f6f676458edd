"""Reaching a run's tmux server from outside: which command attaches a terminal to an
instance's window (or to the whole session), and what its windows are.

A run's instances live in a private tmux server (``tmux -L <socket>``, the socket named in
``run.json``), in one session whose windows are named after the instances. This module
finds the server from the workspace and builds the ``tmux`` command line; the CLI's
``attach`` execs it and ``watch`` runs it as a child, so both say the same things when the
run is gone or the name is wrong. With the ``remote`` runtime, a worker's window is in the
server of the same name on its host: the command goes through ``ssh`` (its key and known
hosts from the run's config).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import final

import attrs

from claude_orchestra.config_load import load_config
from claude_orchestra.errors import OrchestraError, UsageError
from claude_orchestra.runtimes.remote.hosts import placement, ssh_argv
from claude_orchestra.runtimes.tmux import SESSION
from claude_orchestra.workspace import Workspace


@final
@attrs.frozen(kw_only=True)
class RunTmux:
    """The tmux server of one run, found through its workspace's ``run.json``."""

    socket: str
    """The server's socket name (``tmux -L SOCKET``)."""
    remote: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Instance -> the ``ssh`` command reaching its host (``remote`` runtime's workers)."""

    @classmethod
    def of(cls, workspace: Path) -> RunTmux:
        """The run's server; :class:`~claude_orchestra.errors.UsageError` when the
        workspace names none."""
        facts = Workspace(workspace).read_run_file() or {}
        socket = facts.get("tmuxSocket")
        if not isinstance(socket, str) or not socket:
            raise UsageError(
                "--workspace", f"{workspace} holds no run (no tmux socket in run.json)"
            )
        return cls(socket=socket, remote=_remote_instances(facts.get("configDir")))

    def tmux(self, *args: str) -> list[str]:
        """``tmux -L SOCKET ARGS``."""
        return ["tmux", "-L", self.socket, *args]

    def _on(self, name: str | None, *args: str, tty: bool = False) -> list[str]:
        """``tmux ARGS`` where ``name``'s window is: here, or through ``ssh``."""
        ssh = self.remote.get(name or "")
        if ssh is None:
            return self.tmux(*args)
        prefix = [ssh[0], "-t", *ssh[1:]] if tty else list(ssh)
        return [*prefix, shlex.join(self.tmux(*args))]

    def windows(self) -> list[str]:
        """The names of the run's windows (empty when its server is not running); remote
        workers' are named without asking their hosts (attaching to one of a run that
        ended fails with tmux's own message there)."""
        listed = subprocess.run(
            self.tmux("list-windows", "-t", SESSION, "-F", "#{window_name}"),
            capture_output=True,
            text=True,
            check=False,
        )
        local = listed.stdout.split() if listed.returncode == 0 else []
        return [*local, *sorted(self.remote)]

    def capture(self, name: str) -> str:
        """The visible text of ``name``'s pane (empty when it cannot be read)."""
        captured = subprocess.run(
            self._on(name, "capture-pane", "-p", "-t", f"{SESSION}:{name}"),
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return captured.stdout if captured.returncode == 0 else ""

    def attach_command(
        self, name: str | None, *, environ: Mapping[str, str], nested: bool = False
    ) -> list[str]:
        """The command that shows ``name``'s window (or the session) in this terminal.

        Outside tmux: ``tmux -L SOCKET attach -t orchestra:NAME``. Inside a client of the
        run's own server: ``switch-client``. Inside another tmux: refused unless
        ``nested`` (then ``env -u TMUX ...``: a tmux inside tmux, detach with the prefix
        twice), because tmux cannot switch a client to another server.

        Raises:
            UsageError: the server is not running, no window is called ``name``, or this
                terminal is inside another tmux and ``nested`` is false.
        """
        windows = self.windows()
        if not windows:
            raise UsageError("attach", "the run's tmux server is not running (the run ended)")
        if name is not None and name not in windows:
            raise UsageError("NAME", f"no instance {name!r}; the run has {', '.join(windows)}")
        target = SESSION if name is None else f"{SESSION}:{name}"
        if name in self.remote:  # its host's terminal, not this machine's tmux
            return self._on(name, "attach-session", "-t", target, tty=True)
        inside = environ.get("TMUX", "")
        if inside:
            if Path(inside.split(",", 1)[0]).name == self.socket:
                return self.tmux("switch-client", "-t", target)
            if not nested:
                raise UsageError(
                    "attach",
                    "this terminal is inside tmux already; run it outside tmux, "
                    "or add --nested (then detach with the prefix key twice, C-b C-b d)",
                )
            return ["env", "-u", "TMUX", *self.tmux("attach-session", "-t", target)]
        return self.tmux("attach-session", "-t", target)


def _remote_instances(config_dir: object) -> dict[str, tuple[str, ...]]:
    """Instance -> ``ssh`` command of its host, from the run's config (none when it is
    unreadable or not the ``remote`` runtime's)."""
    if not isinstance(config_dir, str):
        return {}
    try:
        settings = load_config(config_dir).orchestrator
    except OrchestraError:
        return {}
    if settings.runtime != "remote":
        return {}
    return {name: tuple(ssh_argv(host)) for name, host in placement(settings.remote_hosts).items()}


def attach_hint(workspace: Path) -> str:
    """The command a person types to see the instances of the run in ``workspace``."""
    return f"claude-orchestra attach --workspace {workspace} [NAME]"
