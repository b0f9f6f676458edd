"""Prompts typed into the panes beside the loop, in order for each instance.

Typing a prompt is two tmux commands (the text into a buffer, then pasted with Enter): two
processes forked, a few milliseconds on a quiet machine, a tenth of a second and more when
Claude Code processes fill the cores, as 16 workers do on 2. The loop does not wait for
it. The instance is marked prompted at once (``PromptSent``) and :class:`Keyboard` types in
a task of its own; ``UserPromptSubmit`` confirms delivery, as before, and the delivery
deadline watches for it.

Each instance's typing runs in the order it was asked for, and whatever else the loop does
to that pane (a key pressed, the screen read, a stop, a restart) first waits for what is
being typed there (:meth:`Keyboard.typed`), so no text lands in a process it was not meant
for. A typing that fails is reported back as :class:`PromptNotTyped`, which the loop
records as an incident. Until :meth:`Keyboard.run_in` gives it a task group (the tests
that drive the loop's parts by hand), it types at once and the caller waits.
"""

from __future__ import annotations

from typing import final

import anyio
import attrs
from anyio.abc import TaskGroup

from claude_orchestra._clock import Clock
from claude_orchestra.errors import TmuxError
from claude_orchestra.events import Deliver, Event
from claude_orchestra.instance import Instance


@final
@attrs.frozen(kw_only=True)
class PromptNotTyped(Event):
    """tmux failed to type a prompt into the instance's pane (it was marked prompted)."""

    evidence: str


@final
@attrs.define(eq=False)
class Keyboard:
    """Types prompts into panes off the loop, one after another for each instance."""

    clock: Clock
    _tg: TaskGroup | None = attrs.field(init=False, default=None)
    _deliver: Deliver | None = attrs.field(init=False, default=None)
    _last: dict[str, anyio.Event] = attrs.field(init=False, factory=dict)
    """Per instance, set once the last typing asked of its pane is done."""

    def run_in(self, tg: TaskGroup, deliver: Deliver) -> None:
        """Type in tasks of ``tg`` from now on; failures go to ``deliver``."""
        self._tg, self._deliver = tg, deliver

    async def type(self, instance: Instance, text: str) -> None:
        """Type ``text`` and Enter into ``instance``'s pane, after what is being typed
        there already; returns at once when running in a task group.

        Raises:
            TmuxError: typed at once (no task group yet), and tmux failed.
        """
        if self._tg is None:
            await instance.type(text)
            return
        previous = self._last.get(instance.name)
        done = self._last[instance.name] = anyio.Event()
        self._tg.start_soon(self._type, instance, text, previous, done)

    async def typed(self, name: str) -> None:
        """Return once everything asked of instance ``name``'s pane so far is typed."""
        last = self._last.get(name)
        if last is not None:
            await last.wait()

    async def _type(
        self, instance: Instance, text: str, previous: anyio.Event | None, done: anyio.Event
    ) -> None:
        failure = None
        try:
            if previous is not None:
                await previous.wait()
            await instance.type(text)
        except TmuxError as exc:
            failure = str(exc)
        finally:
            done.set()  # before reporting: the loop may be waiting on it, not reading
        if failure is not None and self._deliver is not None:
            at = self.clock.now()
            await self._deliver(PromptNotTyped(instance=instance.name, at=at, evidence=failure))
