"""Prompts typed beside the loop (:mod:`claude_orchestra.keyboard`)."""

from __future__ import annotations

from typing import cast

import anyio
import attrs
import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.errors import TmuxError
from claude_orchestra.events import Event
from claude_orchestra.instance import Instance
from claude_orchestra.keyboard import Keyboard, PromptNotTyped

pytestmark = pytest.mark.anyio


@attrs.define
class Pane:
    """An instance's pane as the keyboard uses it: typing waits until ``release`` is set."""

    name: str
    typed: list[str] = attrs.field(factory=list)
    release: anyio.Event = attrs.field(factory=anyio.Event)
    fail: bool = False

    async def type(self, text: str) -> None:
        await self.release.wait()
        if self.fail:
            raise TmuxError("paste-buffer", "no such window")
        self.typed.append(text)

    def instance(self) -> Instance:
        return cast("Instance", self)


async def test_typing_returns_at_once_and_each_pane_types_in_order() -> None:
    keyboard, pane = Keyboard(ManualClock()), Pane("worker-1")
    delivered: list[Event] = []

    async def deliver(event: Event) -> None:
        delivered.append(event)

    async with anyio.create_task_group() as tg:
        keyboard.run_in(tg, deliver)
        with anyio.fail_after(5):  # returns although the pane has typed nothing yet
            await keyboard.type(pane.instance(), "first")
            await keyboard.type(pane.instance(), "second")
        assert pane.typed == []
        pane.release.set()
        with anyio.fail_after(5):
            await keyboard.typed("worker-1")
        assert pane.typed == ["first", "second"]
    assert delivered == []


async def test_what_waits_for_a_pane_waits_for_its_typing_only() -> None:
    keyboard, busy, other = Keyboard(ManualClock()), Pane("worker-1"), Pane("worker-2")
    other.release.set()

    async def deliver(event: Event) -> None:
        raise AssertionError(event)

    async with anyio.create_task_group() as tg:
        keyboard.run_in(tg, deliver)
        await keyboard.type(busy.instance(), "slow")
        await keyboard.type(other.instance(), "quick")
        with anyio.fail_after(5):
            await keyboard.typed("worker-2")  # not held up by worker-1's pane
            await keyboard.typed("manager")  # nothing asked of it: at once
        with anyio.move_on_after(0.05) as waited:
            await keyboard.typed("worker-1")
        assert waited.cancelled_caught  # still typing there
        busy.release.set()
        with anyio.fail_after(5):
            await keyboard.typed("worker-1")
        assert (busy.typed, other.typed) == (["slow"], ["quick"])


async def test_a_failed_typing_is_reported_to_the_loop_after_it_is_over() -> None:
    keyboard, pane = Keyboard(ManualClock(monotonic=7.0)), Pane("worker-1", fail=True)
    pane.release.set()
    send, receive = anyio.create_memory_object_stream[Event](0)  # nobody reads at first
    async with anyio.create_task_group() as tg, send, receive:
        keyboard.run_in(tg, send.send)
        await keyboard.type(pane.instance(), "lost")
        with anyio.fail_after(5):
            await keyboard.typed("worker-1")  # done, though its report waits to be read
            reported = await receive.receive()
    assert reported == PromptNotTyped(
        instance="worker-1", at=7.0, evidence="tmux paste-buffer: no such window"
    )


async def test_without_a_task_group_it_types_at_once_and_raises() -> None:
    keyboard, pane = Keyboard(ManualClock()), Pane("worker-1")
    pane.release.set()
    await keyboard.type(pane.instance(), "now")
    assert pane.typed == ["now"]
    pane.fail = True
    with pytest.raises(TmuxError):
        await keyboard.type(pane.instance(), "fails")
