"""The whole loop against a model (:class:`~claude_orchestra.testing.machines.LoopMachine`):
random hook events, exits, time and origin's answers drive the real coordinator.

``LOOP_MACHINE_EXAMPLES`` and ``LOOP_MACHINE_STEPS`` search further than the suite's 60
examples of 30 steps (``make loop-machine-deep``: 400 of 40)."""

from __future__ import annotations

import os

from hypothesis import settings

from claude_orchestra.testing.machines import LoopMachine

EXAMPLES = int(os.environ.get("LOOP_MACHINE_EXAMPLES", "60"))
STEPS = int(os.environ.get("LOOP_MACHINE_STEPS", "30"))

TestLoopMachine = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None)(
    LoopMachine
).TestCase
