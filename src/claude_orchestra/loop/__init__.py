"""The loop's decision core: what the orchestrator decides, as pure functions.

Each decision is a synchronous function of plain values — an instance's record, a frozen
view of the instance, the run's rules, the time — that returns the new record and the
actions to take (:mod:`~claude_orchestra.loop.actions`). No I/O, no awaits, no clock
reads: the callers (:class:`~claude_orchestra.recovery.Recovery` for recovery's and the
budgets' decisions, :class:`~claude_orchestra.review.WorkReview` for review's) pass the
time in, and the loop's one :class:`~claude_orchestra.executor.Executor` performs the
actions; their results (a launch done, a screen read, a plugin's answer) go back into the
decisions.

Everything the loop knows of one instance is one
:class:`~claude_orchestra.loop.record.InstanceRecord`, kept by the run's record
(:class:`~claude_orchestra.progress.RunProgress`); a decision takes the part it needs
(recovery's :class:`~claude_orchestra.loop.recovery.RecoveryRecord`, the follow-ups sent,
the budgets' marks) and its caller or the executor writes the new part back. No other
map by instance.

May import value modules only (events, timers, lifecycle, screen readings, progress and
credential values, task lists and the task file); never tmux, git, files or the plugin
host. One exception waits to be moved: review takes origin's facts as the value types the
git adapters define (``OriginRead``, ``PushResult``, ``OriginFacts``), so it imports their
modules, never calling them.
"""
