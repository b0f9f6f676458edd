"""The run's instances started beside the loop, one after another.

Starting an instance is its home seeded (files written in a thread) and a tmux window
opened: tens of milliseconds each on a quiet machine, and far more once the first Claude
Code processes boot and fill the cores. When every instance was started before the loop
ran, the first ``SessionStart`` events waited for the last launch: at 16 workers on 2
cores, the 12 slowest events of a run were start-up ``SessionStart`` events that waited
0.1 to 1.4 s (a traced run, ``docs/how-to/fleet-size.md``).

So the loop's first act marks every instance launching (its state and start deadline, at
once; :meth:`~claude_orchestra.instance.Instance.launching`) and :class:`Launcher` starts
the processes in a task of its own, in order, one at a time (the ``remote`` runtime
prepares a host and forwards ports in a launch, which is not safe to run twice at once).
Anything else done to a pane first waits for its launch (:meth:`Launcher.launched`). A
launch that fails comes back as :class:`LaunchFailed`, and the loop raises its error, as
it came when instances were started before the loop: the run ends, its instances
stopped. Until :meth:`Launcher.run_in` gives it a task group, it starts at once and the
caller waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import final

import anyio
import attrs
from anyio.abc import TaskGroup

from claude_orchestra._clock import Clock
from claude_orchestra.events import Deliver, Event
from claude_orchestra.instance import Instance


@final
@attrs.frozen(kw_only=True)
class LaunchFailed(Event):
    """Starting an instance's process failed beside the loop."""

    error: Exception = attrs.field(eq=False, repr=False)
    """What the launch raised (the loop raises it)."""


@final
@attrs.define(eq=False)
class Launcher:
    """Starts instances' first processes off the loop, one after another."""

    clock: Clock
    _tg: TaskGroup | None = attrs.field(init=False, default=None)
    _deliver: Deliver | None = attrs.field(init=False, default=None)
    _last: anyio.Event | None = attrs.field(init=False, default=None)
    """Set once the launch asked last is over."""
    _done: dict[str, anyio.Event] = attrs.field(init=False, factory=dict)
    """Per instance, set once its launch is over (started or failed)."""
    _failed: bool = attrs.field(init=False, default=False)

    def run_in(self, tg: TaskGroup, deliver: Deliver) -> None:
        """Launch in tasks of ``tg`` from now on; failures go to ``deliver``."""
        self._tg, self._deliver = tg, deliver

    async def launch(self, instance: Instance, *, trusted: Sequence[Path], resume: bool) -> None:
        """Start the process ``instance`` was marked :meth:`~Instance.launching` for, after
        every launch asked before it; returns at once when running in a task group.

        Raises:
            Exception: started at once (no task group yet), whatever the launch raised.
        """
        if self._tg is None:
            await instance.launch_process(trusted=trusted, resume=resume)
            return
        previous, done = self._last, anyio.Event()
        self._last = self._done[instance.name] = done
        self._tg.start_soon(self._launch, instance, trusted, resume, previous, done)

    async def launched(self, name: str) -> None:
        """Return once instance ``name``'s launch is over (at once if none was asked)."""
        done = self._done.get(name)
        if done is not None:
            await done.wait()

    async def _launch(
        self,
        instance: Instance,
        trusted: Sequence[Path],
        resume: bool,
        previous: anyio.Event | None,
        done: anyio.Event,
    ) -> None:
        failure: Exception | None = None
        try:
            if previous is not None:
                await previous.wait()
            if not self._failed:  # after a failure the run is ending: start nothing more
                await instance.launch_process(trusted=trusted, resume=resume)
        except Exception as exc:
            failure = exc
            self._failed = True
        finally:
            done.set()  # before reporting: the loop may be waiting on it, not reading
        if failure is not None and self._deliver is not None:
            at = self.clock.now()
            await self._deliver(LaunchFailed(instance=instance.name, at=at, error=failure))
