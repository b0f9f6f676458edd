"""Instances started beside the loop (:mod:`claude_orchestra.launcher`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import anyio
import attrs
import pytest
from anyio import wait_all_tasks_blocked

from claude_orchestra._clock import ManualClock
from claude_orchestra.errors import TmuxError
from claude_orchestra.events import Event
from claude_orchestra.instance import Instance
from claude_orchestra.launcher import Launcher, LaunchFailed

pytestmark = pytest.mark.anyio


@attrs.define
class Process:
    """An instance as the launcher uses it: its launch waits until ``release`` is set."""

    name: str
    log: list[str]
    release: anyio.Event = attrs.field(factory=anyio.Event)
    fail: bool = False

    async def launch_process(self, *, trusted: Sequence[Path], resume: bool) -> None:
        self.log.append(f"{self.name} begins")
        await self.release.wait()
        if self.fail:
            raise TmuxError("new-window", "no server running")
        self.log.append(f"{self.name} started, resume={resume}, trusted={list(trusted)}")

    def instance(self) -> Instance:
        return cast("Instance", self)


async def refuse(event: Event) -> None:
    raise AssertionError(event)


async def test_launches_return_at_once_and_run_one_after_another_in_order() -> None:
    launcher, log = Launcher(ManualClock()), []
    first, second = Process("worker-1", log), Process("worker-2", log)
    second.release.set()  # ready at once, and still it waits for the first
    async with anyio.create_task_group() as tg:
        launcher.run_in(tg, refuse)
        with anyio.fail_after(5):  # returns although nothing has started yet
            await launcher.launch(first.instance(), trusted=[Path("/repo")], resume=False)
            await launcher.launch(second.instance(), trusted=[], resume=True)
        await wait_all_tasks_blocked()
        assert log == ["worker-1 begins"]
        first.release.set()
        with anyio.fail_after(5):
            await launcher.launched("worker-2")
    assert log == [
        "worker-1 begins",
        "worker-1 started, resume=False, trusted=[PosixPath('/repo')]",
        "worker-2 begins",
        "worker-2 started, resume=True, trusted=[]",
    ]


async def test_what_waits_for_a_launch_waits_for_its_own_only() -> None:
    launcher, log = Launcher(ManualClock()), []
    first, second = Process("worker-1", log), Process("worker-2", log)
    first.release.set()
    async with anyio.create_task_group() as tg:
        launcher.run_in(tg, refuse)
        await launcher.launch(first.instance(), trusted=[], resume=False)
        await launcher.launch(second.instance(), trusted=[], resume=False)
        with anyio.fail_after(5):
            await launcher.launched("worker-1")  # not held up by worker-2's launch
            await launcher.launched("manager")  # nothing asked for it: at once
        waiting = anyio.Event()

        async def wait_for_second() -> None:
            await launcher.launched("worker-2")
            waiting.set()

        tg.start_soon(wait_for_second)
        await wait_all_tasks_blocked()
        assert not waiting.is_set()  # worker-2 is still launching
        second.release.set()
        with anyio.fail_after(5):
            await waiting.wait()
    assert log[-1].startswith("worker-2 started")


async def test_a_failed_launch_is_reported_with_its_error_and_nothing_more_starts() -> None:
    launcher, log = Launcher(ManualClock(monotonic=7.0)), []
    broken, after = Process("worker-1", log, fail=True), Process("worker-2", log)
    broken.release.set()
    after.release.set()
    reported: list[Event] = []
    seen = anyio.Event()

    async def deliver(event: Event) -> None:
        reported.append(event)
        seen.set()

    async with anyio.create_task_group() as tg:
        launcher.run_in(tg, deliver)
        await launcher.launch(broken.instance(), trusted=[], resume=False)
        await launcher.launch(after.instance(), trusted=[], resume=False)
        with anyio.fail_after(5):
            await launcher.launched("worker-1")  # over, although it failed
            await launcher.launched("worker-2")  # over: never begun
            await seen.wait()
    (failed,) = reported
    assert isinstance(failed, LaunchFailed)
    assert (failed.instance, failed.at) == ("worker-1", 7.0)
    assert isinstance(failed.error, TmuxError)
    assert log == ["worker-1 begins"]


async def test_without_a_task_group_a_launch_runs_at_once_and_raises() -> None:
    launcher, log = Launcher(ManualClock()), []
    broken = Process("worker-1", log, fail=True)
    broken.release.set()
    with pytest.raises(TmuxError):
        await launcher.launch(broken.instance(), trusted=[], resume=False)
    assert log == ["worker-1 begins"]
