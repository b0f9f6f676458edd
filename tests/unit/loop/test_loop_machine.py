"""The whole loop against a model (:class:`~claude_orchestra.testing.machines.LoopMachine`):
random hook events, exits, time and origin's answers drive the real coordinator."""

from __future__ import annotations

from hypothesis import settings

from claude_orchestra.testing.machines import LoopMachine

TestLoopMachine = settings(max_examples=60, stateful_step_count=30, deadline=None)(
    LoopMachine
).TestCase
