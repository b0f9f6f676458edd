"""The loop's first act marks every instance launching and starts their processes beside
it (:class:`~claude_orchestra.launcher.Launcher`): events are applied while launches are
still going, a pane is used only once launched, and a failed launch ends the loop with its
error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.coordinator import Coordinator
from claude_orchestra.errors import TmuxError
from claude_orchestra.events import Event, SessionStarted
from claude_orchestra.launcher import LaunchFailed
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.actions import Terminate
from claude_orchestra.runtimes.base import LaunchSpec
from claude_orchestra.testing.machines.loop_world import INSTANCES, RecordingRuntime, build_loop
from claude_orchestra.timers import StartDeadline

from ..test_instance_hostile import SID

pytestmark = pytest.mark.anyio


class SlowLaunches(RecordingRuntime):
    """Launches that wait for their instance's release (tmux slow under load); records
    what reached each pane."""

    def __init__(self) -> None:
        super().__init__()
        self.releases = {name: anyio.Event() for name in INSTANCES}
        self.done: list[str] = []
        self.broken: str | None = None

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        await self.releases[name].wait()
        if name == self.broken:
            raise TmuxError("new-window", "no server running")
        self.done.append(f"launched {name}")
        return await super().launch(name, spec)

    async def terminate(self, name: str) -> None:
        self.done.append(f"terminated {name}")


@pytest.fixture
async def loop(tmp_path: Path) -> AsyncIterator[tuple[Coordinator, SlowLaunches, list[Event]]]:
    runtime = SlowLaunches()
    coordinator = build_loop(tmp_path, ManualClock(), runtime)
    runtime.ctx = coordinator.ctx
    reported: list[Event] = []

    async def deliver(event: Event) -> None:
        reported.append(event)

    async with anyio.create_task_group() as tg:
        coordinator.executor.launcher.run_in(tg, deliver)
        yield coordinator, runtime, reported
        for release in runtime.releases.values():
            release.set()
    coordinator.ctx.journal.close()


async def test_the_loop_applies_events_while_later_instances_still_launch(
    loop: tuple[Coordinator, SlowLaunches, list[Event]],
) -> None:
    coordinator, runtime, _ = loop
    ctx = coordinator.ctx
    with anyio.fail_after(5):
        await coordinator.launch_all(trusted=[])  # back at once: nothing launched yet
    assert runtime.done == []
    assert {i.state for i in ctx.instances.values()} == {InstanceState.STARTING}
    deadlines = ctx.timers.pop_due(ctx.clock.now() + ctx.rules.start_timeout)
    assert deadlines == [StartDeadline(instance=name, launch=1) for name in INSTANCES]

    manager, first, second = INSTANCES
    runtime.releases[manager].set()
    with anyio.fail_after(5):
        await coordinator.executor.launcher.launched(manager)
    started = SessionStarted(instance=manager, at=0, session_id=SID, source="startup", launch=1)
    with anyio.fail_after(5):
        await coordinator._apply(started)  # applied while the workers wait to launch
    assert ctx.instances[manager].state is InstanceState.IDLE

    async def terminate_second() -> None:
        await coordinator.executor.perform(Terminate(instance=second))

    async with anyio.create_task_group() as tg:
        tg.start_soon(terminate_second)
        await anyio.wait_all_tasks_blocked()
        assert runtime.done == [f"launched {manager}"]  # the signal waits for the launch
        runtime.releases[second].set()  # ready, and still after the first worker
        await anyio.wait_all_tasks_blocked()
        assert runtime.done == [f"launched {manager}"]
        runtime.releases[first].set()
    assert runtime.done == [
        f"launched {manager}",
        f"launched {first}",
        f"launched {second}",
        f"terminated {second}",
    ]


async def test_a_failed_launch_ends_the_loop_with_its_error(
    loop: tuple[Coordinator, SlowLaunches, list[Event]],
) -> None:
    coordinator, runtime, reported = loop
    runtime.broken = INSTANCES[1]
    await coordinator.launch_all(trusted=[])
    for release in runtime.releases.values():
        release.set()
    with anyio.fail_after(5):
        for name in INSTANCES:
            await coordinator.executor.launcher.launched(name)
    (failed,) = reported
    assert isinstance(failed, LaunchFailed)
    assert failed.instance == INSTANCES[1]
    assert runtime.done == [f"launched {INSTANCES[0]}"]  # nothing after the failure
    with pytest.raises(TmuxError, match="no server running"):
        await coordinator._apply(failed)
