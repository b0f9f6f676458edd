"""Scripted models for the fake Messages API: deterministic replies, decided per request.

A :class:`Script` sees one parsed :class:`~claude_orchestra.testing.messages.MessagesRequest`
and returns a :class:`~claude_orchestra.testing.messages.Reply`. Scripts are stateless: the
request holds the whole conversation, and :attr:`MessagesRequest.step` says how far the
current turn has gone.

:class:`EchoScript` answers simple tests; :class:`OrchestraScript` plays the manager and
the workers of the orchestra's protocol, reading the machine tag the orchestrator puts on
every prompt (:mod:`claude_orchestra.prompt_tag`) rather than the prose; its turns are in
:mod:`claude_orchestra.testing.protocol_turns`, the reply's building blocks in
:mod:`claude_orchestra.testing.replies` (both re-exported here).
"""

from __future__ import annotations

import re
from typing import Protocol, final

import attrs

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.messages import (
    Block,
    MessagesRequest,
    Reply,
    TextBlock,
    ToolUseBlock,
)
from claude_orchestra.testing.protocol_turns import (
    BROKEN,
    FETCH,
    UNWORKABLE,
    act,
    deliverable_content,
    deliverable_path,
    direction_tasks,
)
from claude_orchestra.testing.replies import (
    bash,
    failure_reply,
    first_line,
    text_reply,
    tool_reply,
    write,
)

__all__ = [
    "BROKEN",
    "FETCH",
    "UNWORKABLE",
    "Block",
    "EchoScript",
    "MessagesRequest",
    "OrchestraScript",
    "Reply",
    "Script",
    "TextBlock",
    "ToolUseBlock",
    "bash",
    "deliverable_content",
    "deliverable_path",
    "direction_tasks",
    "failure_reply",
    "first_line",
    "text_reply",
    "tool_reply",
    "write",
]

_RUN = re.compile(r"(?:^|\s)run:\s*(?P<command>[^\n]+)")


class Script(Protocol):
    """Decides the reply to one request, from that request alone."""

    def respond(self, request: MessagesRequest) -> Reply:
        """The reply to ``request``."""
        ...


@final
@attrs.frozen
class EchoScript:
    """Echoes the prompt; ``run: <command>`` makes it run the command with Bash first.

    Turn shapes: a prompt without ``run:`` gets ``echo: <prompt>``; a prompt with it gets a
    ``Bash`` tool use, then after the tool result ``done: <first line of output>``.
    """

    def respond(self, request: MessagesRequest) -> Reply:
        """The reply to ``request``."""
        prompt = request.last_user_text
        if prompt is None:
            return text_reply("Hello from the fake model.")
        failed = failure_reply(request.new_results)
        if failed is not None:
            return failed
        if request.new_results:
            return text_reply(f"done: {first_line(request.new_results[0].text)}")
        match = _RUN.search(prompt)
        if match and request.step == 0:
            return tool_reply(bash(match["command"].strip(), "Run the requested command"))
        return text_reply(f"echo: {first_line(prompt)}")


@final
@attrs.frozen
class OrchestraScript:
    """The manager and the workers of the orchestra protocol, driven by the prompt tag.

    Actions (``action`` in the tag) and their turns, one request per step:

    * ``plan`` (``workers``, ``run_branch``): read ``PROJECT_DIRECTION.md``; write one
      ``WORKER_<n>_TASK_LIST.md`` per worker, its bullets dealt round-robin; commit and
      push to the run branch; summarise.
    * ``work`` (``worker``, ``branch``, ``run_branch``): merge the run branch and read the
      list; write the deliverable and tick the task; commit and push the branch; report.
    * ``merge`` (``branches``, ``run_branch``): merge each branch and push; report.
    * ``fix`` (``branch``, ``run_branch``): merge the run branch keeping both sides of any
      conflict, drop lines holding :data:`BROKEN`, commit and push.
    * ``commit`` (``branch``, ``task``): commit whatever the worktree holds and push.
    * ``task`` (``branch``, ``run_branch``, ``task``): the ``queue`` scheduler's worker turn:
      merge the run branch; write the task's deliverable; commit and push; report.
    * ``plan_tasks`` (``file``, ``run_branch``): read ``PROJECT_DIRECTION.md``; write its
      bullets to ``file`` as a checklist; commit and push to the run branch; summarise.
    * ``replan`` (``handed_back``: worker number -> task, ``run_branch``): read those
      workers' lists; reword each handed-back task (drop :data:`UNWORKABLE`); commit, push.

    A task holding :data:`UNWORKABLE` is refused by a worker (a text reply, no commit), so
    tests can make a worker stop without finishing.

    An untagged prompt gets a polite text; a failed tool ends the turn with its error.
    """

    def respond(self, request: MessagesRequest) -> Reply:
        """The reply to ``request``."""
        prompt = request.prompt
        tag = parse_prompt_tag(prompt) if prompt else None
        if tag is None:
            return text_reply("Hello! I am the scripted model; send me a tagged prompt.")
        failed = failure_reply(request.new_results)
        if failed is not None:
            return failed
        try:
            return act(request, tag)
        except (KeyError, TypeError, ValueError) as exc:
            return text_reply(f"I cannot follow the prompt's tag {tag!r}: {exc!r}.")
