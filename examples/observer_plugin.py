"""An observer plugin: every event, state change, merge, incident and budget warning as a
JSON line.

Install it for every run through the ``claude_orchestra`` entry-point group, in your
package's ``pyproject.toml``::

    [project.entry-points.claude_orchestra]
    jsonl-log = "observer_plugin"

or register it for one run: ``Orchestrator(config, plugins=[observer_plugin])``. The file
it writes is ``$ORCHESTRA_EVENTS_FILE`` (default ``orchestra-events.jsonl``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs

from claude_orchestra import (
    BudgetCrossing,
    Incident,
    InstanceView,
    MergeRecord,
    RunSummary,
    StateChange,
    hookimpl,
)
from claude_orchestra.events import Event


def _write(record: str, **fields: Any) -> None:
    path = Path(os.environ.get("ORCHESTRA_EVENTS_FILE", "orchestra-events.jsonl"))
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"record": record, **fields}, default=str) + "\n")


@hookimpl
def orchestra_hook_event(event: Event) -> None:
    """Every hook event and pane death, after the core applied it."""
    _write("event", type=type(event).__name__, instance=event.instance)


@hookimpl
def orchestra_instance_state_changed(instance: InstanceView, change: StateChange) -> None:
    """Every state change with its evidence."""
    _write(
        "state",
        instance=instance.name,
        before=change.before.value,
        after=change.after.value,
        evidence=change.evidence,
    )


@hookimpl
def orchestra_merged(merge: MergeRecord) -> None:
    """A worker branch reached the run branch on origin."""
    _write("merge", **attrs.asdict(merge))


@hookimpl
def orchestra_incident(incident: Incident) -> None:
    """Something went wrong, and what the core did about it."""
    _write("incident", kind=incident.kind.value, instance=incident.instance, action=incident.action)


@hookimpl
def orchestra_budget(crossing: BudgetCrossing) -> None:
    """A budget warning or a reached limit (the core already acted on a limit)."""
    _write("budget", text=crossing.describe(), reached=crossing.reached)


@hookimpl
def orchestra_run_finished(summary: RunSummary) -> None:
    """The run ended; the report is written."""
    _write("finished", outcome=summary.outcome, report=str(summary.report_path))
