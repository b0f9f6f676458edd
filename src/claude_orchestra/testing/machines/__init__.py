"""Hypothesis state machines shipped with the library, for our tests and plugin authors'.

- :class:`LifecycleMachine` drives :func:`claude_orchestra.lifecycle.advance` with any
  order of hook events and checks it against a naive model.
- :class:`NoCommitLost` makes random commits, syncs, merges, pushes, preserves and
  removals on real git: every commit stays reachable from origin or a local branch.
- :class:`MergeQueueMachine` submits clean, conflicting and test-breaking branches to the
  merge queue on real git: origin's run branch always passes its gate.

The git machines run ``git`` with the environment's config: run them with an isolated one
(``GIT_CONFIG_GLOBAL``, ``GIT_CONFIG_NOSYSTEM``, a fixed identity).
"""

from claude_orchestra.testing.machines.git import NoCommitLost
from claude_orchestra.testing.machines.lifecycle import LifecycleMachine
from claude_orchestra.testing.machines.merge_queue import MergeQueueMachine

__all__ = ["LifecycleMachine", "MergeQueueMachine", "NoCommitLost"]
