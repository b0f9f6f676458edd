"""After which events an instance's transcripts are read, pure.

Reading them costs the loop a trip to a thread (the instance writes them: they are read
beside the loop, never on it), and at 16 workers on 2 cores that trip is most of an
event's wait. The transcripts are read after an event that can follow a new response of
the instance's, or after which whom it works for may change; not after the others, whose
responses (if Claude Code wrote one late) the next read finds, charged to the same work:

- ``PreToolUse``: a response asked for a tool (and a sub-agent's tools fire it too);
- ``Stop`` and ``StopFailure``: the turn's last response, and the assignment or the
  credential may move next;
- ``SessionEnd``, a dead pane, a ``Notification``: whatever is left before the process
  goes or waits;
- ``SessionStart`` but at start-up: a compaction asked the model for a summary;
- a merge's result: the worker's last response often lands in the transcript after its
  ``Stop``, and its next assignment may be sent next.

Not read after: ``PostToolUse`` (a tool ran; the response that asked for it was read at
``PreToolUse``), ``UserPromptSubmit`` (the prompt was just typed; its assignment was set
when it was sent) and a first ``SessionStart`` (no transcript yet). What they would find
is found by the next read, charged to the same assignment and credential; the budgets
are checked one event later at most.
"""

from __future__ import annotations

from claude_orchestra.events import Event, PromptSubmitted, SessionStarted, ToolUsed


def reads_transcripts(event: Event) -> bool:
    """Whether ``event`` is followed by a read of its instance's transcripts."""
    match event:
        case ToolUsed() | PromptSubmitted():
            return False
        case SessionStarted(source="startup"):
            return False
        case _:
            return True
