"""``claude-orchestra watch --workspace DIR``: a live terminal view of a run.

Built on rich's ``Live`` (already the CLI's renderer, no new UI framework): the view is
redrawn when ``status.json`` changes (an inotify watch through ``watchfiles``, not a polling
loop), when a key is pressed, and once a second for the ages and the selected instance's
screen (``tmux capture-pane``, read-only). It only reads: the run does not know it is
watched, and a finished or killed run shows as it ended. Enter attaches this terminal to the
selected instance's tmux window (``C-b d`` comes back to the view).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import watchfiles
from rich.live import Live

from claude_orchestra import (
    OrchestraError,
    RunModel,
    RunTmux,
    UsageError,
    Workspace,
    read_run,
)
from claude_orchestra.cli._output import console, workspace_option
from claude_orchestra.cli._watch_view import view

_UP = {b"\x1b[A", b"\x1bOA", b"k"}
_DOWN = {b"\x1b[B", b"\x1bOB", b"j"}
_ATTACH = {b"\r", b"\n", b"a"}
_QUIT = {b"q", b"Q", b"\x03"}


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[list[Any]]:
    """Keys one at a time, unechoed; yields the terminal's mode from before."""
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield saved
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Watch:
    """The view's state: the run's model, the selection, the live display."""

    def __init__(self, workspace: Workspace, live: Live, run: RunModel, mode: list[Any]) -> None:
        self.mode = mode
        """The terminal's mode before the view (given back to tmux while attached)."""
        self.workspace = workspace
        self.live = live
        self.run = run
        self.selected = 0
        self.note = ""
        try:
            self.tmux: RunTmux | None = RunTmux.of(workspace.root)
        except UsageError:
            self.tmux = None

    def draw(self) -> None:
        names = [i.name for i in self.run.instances]
        self.selected = min(self.selected, max(0, len(names) - 1))
        screen = self.tmux.capture(names[self.selected]) if self.tmux and names else ""
        height = self.live.console.size.height
        shown = view(self.run, self.selected, screen, time.time(), height, note=self.note)
        self.live.update(shown, refresh=True)

    def reload(self) -> None:
        run = read_run(self.workspace.status)
        if run is not None:
            self.run = run
        self.draw()

    def key(self, data: bytes, fd: int) -> bool:
        """Handle a key; ``False`` to quit."""
        if data in _QUIT:
            return False
        self.note = ""
        if data in _UP:
            self.selected = max(0, self.selected - 1)
        elif data in _DOWN:
            self.selected = min(len(self.run.instances) - 1, self.selected + 1)
        elif data in _ATTACH and self.run.instances:
            self.attach(fd)
        self.draw()
        return True

    def attach(self, fd: int) -> None:
        name = self.run.instances[self.selected].name
        try:
            if self.tmux is None:
                raise UsageError("attach", "the workspace names no tmux server (run.json)")
            argv = self.tmux.attach_command(name, environ=os.environ, nested=True)
        except OrchestraError as exc:
            self.live.console.bell()
            self.note = f"cannot attach: {exc}"
            return
        self.live.stop()
        termios.tcsetattr(fd, termios.TCSADRAIN, self.mode)
        try:
            subprocess.run(argv, check=False)  # until the person detaches
        finally:
            tty.setcbreak(fd)
            self.live.start(refresh=True)


async def _main(workspace: Workspace, run: RunModel) -> None:
    fd = sys.stdin.fileno()
    keys: asyncio.Queue[bytes] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with _cbreak(fd) as mode, Live(console=console(), screen=True, auto_refresh=False) as live:
        watch = _Watch(workspace, live, run, mode)
        watch.draw()
        loop.add_reader(fd, lambda: keys.put_nowait(os.read(fd, 32)))

        async def follow_status() -> None:
            async for _ in watchfiles.awatch(
                workspace.state,
                watch_filter=lambda _, path: Path(path).name == workspace.status.name,
                stop_event=stop,
                step=50,
                debounce=400,
            ):
                watch.reload()

        async def tick() -> None:
            while True:  # ages and the screen preview move with time, not with events
                await asyncio.sleep(1)
                watch.draw()

        tasks = [asyncio.create_task(follow_status()), asyncio.create_task(tick())]
        try:
            while watch.key(await keys.get(), fd):
                pass
        finally:
            loop.remove_reader(fd)
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@click.command(
    "watch",
    short_help="A live view of a run: instances, progress, screens.",
    epilog="""\b
Examples:
  claude-orchestra watch --workspace ./config/workspace
\b
Keys: up/down (or j/k) select an instance, Enter (or a) attaches to its tmux
window (C-b d comes back), q quits.
""",
)
@workspace_option
def command(workspace: Path) -> int:
    """A live view of a run in this terminal: the run's progress (tasks, merges, incidents,
    spend against the budget, time left), one row per instance (role, state, task, last
    event and its age, credential and its cooldown, cost and burn rate, commits waiting to
    merge), and the selected instance's screen.

    It follows status.json as the run rewrites it and only reads, so it costs the run
    nothing; a finished or killed run shows as it ended. Exit 2 when the workspace holds no
    run status or this is not a terminal.
    """
    folder = Workspace(workspace)
    run = read_run(folder.status)
    if run is None:
        raise UsageError("--workspace", f"{folder.root} holds no run status (status.json)")
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise UsageError("watch", "needs a terminal; for scripts use `status --json`")
    asyncio.run(_main(folder, run))
    return 0
