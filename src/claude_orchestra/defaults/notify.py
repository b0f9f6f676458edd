"""Built-in plugin ``notify``: tells a person the moments they are needed or want to know.

Registered for a run when ``orchestrator.json`` has a ``notify`` object naming a channel
(``--disable-plugin claude_orchestra.defaults.notify`` leaves it out). It observes
``orchestra_incident``, ``orchestra_budget`` and ``orchestra_run_finished``, turns each
moment into a :class:`~claude_orchestra.notifications.Notification` and sends its JSON
value to every configured channel:

- ``command``: run with ``sh -c``, the JSON on its stdin (10 s at most);
- ``webhook``: POSTed as ``application/json`` (10 s at most);
- ``bell``: ``\\a`` on the run's stderr.

Hooks run on the loop and must not block: each notification is sent from a thread of its
own (which waits for the one before, so they go out in order, one at a time), so a slow or
failing channel costs a log line, never the run. The threads are not
daemons: the process waits (at most the channels' time-outs) for the last notification,
the run's end, to go out before it exits.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Sequence
from typing import final

import pluggy

from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.notifications import (
    Notification,
    NotifyConfig,
    for_budget,
    for_incident,
    for_summary,
)
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import Incident

logger = logging.getLogger(__name__)

NAME = "claude_orchestra.defaults.notify"
"""The plugin's name (for ``--disable-plugin``)."""

TIMEOUT = 10.0
"""Seconds a channel may take for one notification."""

Channel = Callable[[bytes], None]
"""Sends one notification's JSON (UTF-8); may block; raises ``OSError`` or
``subprocess.SubprocessError`` when it fails."""


def command_channel(command: str) -> Channel:
    """Run ``command`` with ``sh -c``, the notification on its stdin."""

    def send(body: bytes) -> None:
        done = subprocess.run(  # the user's own command, from their config
            ["/bin/sh", "-c", command],
            input=body,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise OSError(f"notify command exited {done.returncode}")

    return send


def webhook_channel(url: str) -> Channel:
    """POST the notification to ``url``."""

    def send(body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 (checked to be http(s) at load)
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT):  # noqa: S310
            pass

    return send


def bell_channel(body: bytes) -> None:
    """The terminal bell on stderr."""
    sys.stderr.write("\a")
    sys.stderr.flush()


def channels_of(config: NotifyConfig) -> list[tuple[str, Channel]]:
    """The configured channels, named for the log."""
    found: list[tuple[str, Channel]] = []
    if config.command is not None:
        found.append(("command", command_channel(config.command)))
    if config.webhook is not None:
        found.append(("webhook", webhook_channel(config.webhook)))
    if config.bell:
        found.append(("bell", bell_channel))
    return found


@final
class Notifier:
    """The ``notify`` plugin of one run: each moment, once, to every channel."""

    def __init__(self, channels: Sequence[tuple[str, Channel]]) -> None:
        """Send to ``channels`` (see :func:`channels_of`)."""
        self._channels = tuple(channels)
        self.threads: list[threading.Thread] = []
        """The sending threads started so far (tests join them)."""

    def notify(self, notification: Notification | None) -> None:
        """Send ``notification`` (nothing for ``None``) from a thread of its own."""
        if notification is None or not self._channels:
            return
        body = json.dumps(notification.as_json()).encode()
        before = self.threads[-1] if self.threads else None
        thread = threading.Thread(
            target=self._send, args=(notification, body, before), name="notify", daemon=False
        )
        self.threads.append(thread)
        thread.start()

    def _send(
        self, notification: Notification, body: bytes, before: threading.Thread | None
    ) -> None:
        if before is not None:  # in order, one at a time: a command never runs twice at once
            before.join()
        for name, channel in self._channels:
            try:
                channel(body)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("notify %s: %s: %s", name, notification.moment.value, exc)

    @hookimpl
    def orchestra_incident(self, incident: Incident) -> None:
        """A credential limited, an instance given up or waiting for a person."""
        self.notify(for_incident(incident))

    @hookimpl
    def orchestra_budget(self, crossing: BudgetCrossing) -> None:
        """A budget warning or a reached limit."""
        self.notify(for_budget(crossing))

    @hookimpl
    def orchestra_run_finished(self, summary: RunSummary) -> None:
        """The run ended (or stalled)."""
        self.notify(for_summary(summary))


def install(manager: pluggy.PluginManager, config: NotifyConfig) -> Notifier | None:
    """Register a :class:`Notifier` for ``config``'s channels (none when no channel is
    configured or the plugin is blocked)."""
    if not config.is_set or manager.is_blocked(NAME):
        return None
    notifier = Notifier(channels_of(config))
    manager.register(notifier, name=NAME)
    return notifier
