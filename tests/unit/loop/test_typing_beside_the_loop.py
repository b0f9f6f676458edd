"""The executor types prompts beside the loop (:class:`~claude_orchestra.keyboard.Keyboard`):
it returns at once, and whatever else it does to the same pane waits for the typing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from claude_orchestra.events import Event, SessionStarted
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.actions import Press
from claude_orchestra.values import Assignment, AssignmentKind

from ..test_instance_hostile import SID
from .test_recovery import started

pytestmark = pytest.mark.anyio


async def test_a_prompt_is_sent_without_waiting_and_a_key_waits_for_it(tmp_path: Path) -> None:
    instance, runtime, ctx, recovery, _ = await started(tmp_path)
    instance.observe(
        SessionStarted(instance="worker-1", at=0, session_id=SID, source="startup", launch=1)
    )
    release = anyio.Event()
    done: list[str] = []

    async def type_text(name: str, text: str) -> None:
        await release.wait()  # tmux slow to fork under load
        done.append(f"typed {text}")

    async def send_keys(name: str, *keys: str) -> None:
        done.append(f"pressed {'+'.join(keys)}")

    runtime.type_text = type_text  # type: ignore[method-assign]
    runtime.send_keys = send_keys  # type: ignore[method-assign]
    executor = recovery.executor

    async def deliver(event: Event) -> None:
        raise AssertionError(event)

    async with anyio.create_task_group() as tg:
        executor.keyboard.run_in(tg, deliver)
        task = Assignment(instance="worker-1", prompt="do task 1", kind=AssignmentKind.WORK)
        with anyio.fail_after(5):
            await executor.send(task)  # back at once: nothing typed yet
        assert done == []
        assert instance.state is InstanceState.PROMPTED
        assert ctx.progress.in_flight == {"worker-1": task}

        async def press() -> None:
            await executor.perform(Press(instance="worker-1", key="Enter"))

        tg.start_soon(press)
        await anyio.wait_all_tasks_blocked()
        assert done == []  # the key waits for the prompt being typed
        release.set()
        with anyio.fail_after(5):
            await executor.keyboard.typed("worker-1")
    assert done == ["typed do task 1", "pressed Enter"]
    ctx.journal.close()
