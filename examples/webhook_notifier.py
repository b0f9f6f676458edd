"""Notify a webhook (Slack-style JSON ``{"text": ...}``) of incidents, budget warnings and
the end of a run.

Hooks run on the orchestrator's loop and must not block, so each POST is made from a
worker thread; a webhook that is down costs a log line, never the run. Point it at your
endpoint with ``$ORCHESTRA_WEBHOOK_URL`` and register it for every run through the
``claude_orchestra`` entry-point group::

    [project.entry-points.claude_orchestra]
    webhook = "webhook_notifier"

or for one run: ``Orchestrator(config, plugins=[webhook_notifier])``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request

from claude_orchestra import BudgetCrossing, Incident, RunSummary, hookimpl

logger = logging.getLogger(__name__)


def post(text: str) -> threading.Thread | None:
    """POST ``{"text": text}`` to ``$ORCHESTRA_WEBHOOK_URL`` from a thread (none if unset)."""
    url = os.environ.get("ORCHESTRA_WEBHOOK_URL")
    if not url:
        return None

    def send() -> None:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 (the user's own URL)
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
        except OSError as exc:
            logger.warning("webhook: %s", exc)

    thread = threading.Thread(target=send, name="webhook", daemon=True)
    thread.start()
    return thread


@hookimpl
def orchestra_incident(incident: Incident) -> None:
    """Something went wrong; say what and what the core did."""
    post(f"{incident.instance or 'run'}: {incident.kind.value}: {incident.action}")


@hookimpl
def orchestra_budget(crossing: BudgetCrossing) -> None:
    """A budget warning or a reached limit."""
    post(f"budget: {crossing.describe()}")


@hookimpl
def orchestra_run_finished(summary: RunSummary) -> None:
    """The run ended."""
    post(
        f"run {summary.outcome} (exit {summary.exit_code}): "
        f"{summary.tasks_done}/{summary.tasks_total} tasks, {summary.merges} merges"
    )
