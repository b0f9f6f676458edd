"""Scheduling, pure: what the loop does with the scheduling plugins' answer.

Which work starts is the plugins' choice (``orchestra_schedule``, handed a frozen
:class:`~claude_orchestra.values.RunView` whose idle instances exclude those on a credential
that cannot take a request). What the loop decides around that answer is here:

- an idle instance whose credential is cooling down, invalid or spent moves to another
  credential before anything is typed (unless its budget retired it for good);
- of the plugins' assignments, each instance gets at most one per round, and none while a
  prompt kept for it waits to be sent again (that prompt goes first).

The coordinator asks :func:`schedule` and carries out the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import final

import attrs

from claude_orchestra.instance import InstanceView
from claude_orchestra.loop.record import InstanceRecord
from claude_orchestra.values import Assignment

_EMPTY = InstanceRecord()


@final
@attrs.frozen
class Scheduled:
    """The decision: who moves off its credential, what is sent, what is set aside."""

    move: tuple[str, ...] = ()
    """Idle instances on a credential that cannot take a request: move them first."""
    send: tuple[Assignment, ...] = ()
    """The plugins' assignments to send now, in their order."""
    set_aside: tuple[Assignment, ...] = ()
    """Assignments not sent this round (a second one for the same instance, or one for an
    instance whose kept prompt goes first); the plugins are asked again next round."""


def schedule(
    instances: Sequence[InstanceView],
    records: Mapping[str, InstanceRecord],
    assignments: Sequence[Assignment],
    *,
    usable: Callable[[str], bool],
) -> Scheduled:
    """What to do with the plugins' ``assignments`` (``usable``: whether a credential, by
    name, may take a request now)."""
    move = tuple(
        view.name
        for view in instances
        if view.state.accepts_prompt
        and not usable(view.credential)
        and not records.get(view.name, _EMPTY).retired
    )
    send: list[Assignment] = []
    set_aside: list[Assignment] = []
    for assignment in assignments:
        name = assignment.instance
        waiting = records.get(name, _EMPTY).kept is not None
        if waiting or any(a.instance == name for a in send):
            set_aside.append(assignment)
        else:
            send.append(assignment)
    return Scheduled(move=move, send=tuple(send), set_aside=tuple(set_aside))
