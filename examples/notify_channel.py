"""A notification channel of your own: the same moments as the built-in ``notify`` plugin
(a credential limited, a budget warning or limit, an instance given up or waiting for a
person, the run's end), sent where you like. This one appends each notification's one line
of text to ``$ORCHESTRA_NOTIFY_FILE`` (default ``orchestra-notifications.txt``), for a
status bar or ``tail -f``; swap :func:`send` for a desktop notification or a chat message.

``for_incident``, ``for_budget`` and ``for_summary`` decide which hook calls are such
moments (``None`` otherwise) and build values with nothing secret in them. Hooks must not
block: :func:`send` runs in a thread.

Register it for every run through the ``claude_orchestra`` entry-point group::

    [project.entry-points.claude_orchestra]
    notify-file = "notify_channel"

or for one run: ``Orchestrator(config, plugins=[notify_channel])``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from claude_orchestra import (
    BudgetCrossing,
    Incident,
    Notification,
    RunSummary,
    for_budget,
    for_incident,
    for_summary,
    hookimpl,
)


def send(notification: Notification | None) -> threading.Thread | None:
    """Append ``notification``'s text from a thread (nothing for ``None``)."""
    if notification is None:
        return None
    path = Path(os.environ.get("ORCHESTRA_NOTIFY_FILE", "orchestra-notifications.txt"))

    def append() -> None:
        with path.open("a", encoding="utf-8") as out:
            out.write(f"{notification.moment.value}: {notification.text}\n")

    thread = threading.Thread(target=append, name="notify-file")
    thread.start()
    return thread


@hookimpl
def orchestra_incident(incident: Incident) -> None:
    """A credential limited, an instance given up or waiting for a person."""
    send(for_incident(incident))


@hookimpl
def orchestra_budget(crossing: BudgetCrossing) -> None:
    """A budget warning or a reached limit."""
    send(for_budget(crossing))


@hookimpl
def orchestra_run_finished(summary: RunSummary) -> None:
    """The run ended or stalled."""
    send(for_summary(summary))
