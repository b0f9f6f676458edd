"""Hypothesis state machines shipped with the library, for our tests and plugin authors'.

- :class:`LifecycleMachine` drives :func:`claude_orchestra.lifecycle.advance` with any
  order of hook events and checks it against a naive model.
- :class:`LoopMachine` drives the whole loop (the real coordinator, timers, scheduler and
  review on a recording runtime) with hook events, exits, time and origin's answers: a task
  is done only on evidence, no prompt reaches a busy instance or an unusable credential,
  prompt loops are bounded and the run always ends.
- :class:`NoCommitLost` makes random commits, syncs, merges, pushes, preserves and
  removals on real git: every commit stays reachable from origin or a local branch.
- :class:`MergeQueueMachine` submits clean, conflicting and test-breaking branches to the
  merge queue on real git: origin's run branch always passes its gate.

The git machines run ``git`` with the environment's config: run them with an isolated one
(``GIT_CONFIG_GLOBAL``, ``GIT_CONFIG_NOSYSTEM``, a fixed identity).
"""

from claude_orchestra.testing.machines.git import NoCommitLost
from claude_orchestra.testing.machines.lifecycle import LifecycleMachine
from claude_orchestra.testing.machines.loop import LoopMachine
from claude_orchestra.testing.machines.merge_queue import MergeQueueMachine

__all__ = ["LifecycleMachine", "LoopMachine", "MergeQueueMachine", "NoCommitLost"]
