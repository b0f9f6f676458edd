"""``claude-orchestra status --workspace DIR [--json]``: what a run is doing, with evidence.

Reads ``.orchestra/status.json``, which the run rewrites as it changes (at most twice a
second), and says whether the run's process is still alive. For each instance: its state,
the last event and how long ago, the evidence of its last state change, its assignment and
its cost; then the credentials, the spend per credential, the burn rate and the time left
to the budget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from claude_orchestra import RunModel, UsageError, Workspace, read_run
from claude_orchestra.cli._output import print_json, show, workspace_option

STATE_STYLES = {"working": "green", "prompted": "green", "idle": "cyan", "stopped": "dim"}
"""The colour of each instance state (``watch`` uses the same)."""


def ago(at: float | None, now: float) -> str:
    """``12 s ago``, or ``-`` when there is no time."""
    return "-" if at is None else f"{now - at:.0f} s ago"


def _instances(run: RunModel, now: float) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("instance", "state", "last event", "credential"):
        table.add_column(name, no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("assignment / evidence", overflow="ellipsis", no_wrap=True, max_width=60)
    for i in run.instances:
        note = i.assignment or i.evidence or ""
        if i.stopped_for_budget:
            note = "stopped: its budget is spent"
        table.add_row(
            i.name,
            Text(i.state, style=STATE_STYLES.get(i.state, "yellow")),
            f"{i.last_event or '-'} {ago(i.last_event_at, now)}",
            i.credential,
            f"${i.cost_usd:.4f}",
            note,
        )
    return table


def render(run: RunModel, now: float) -> Group:
    """The status for a person: a headline, the instances' table, credentials, spend."""
    parts: list[Any] = [
        Text(
            f"Run {run.state} · updated {ago(run.updated_at, now)} · "
            f"tasks {run.tasks_done}/{run.tasks_total} done",
            style="bold",
        ),
        Text(""),
        _instances(run, now),
        Text(""),
    ]
    for c in run.credentials:
        until = f" until {time.strftime('%H:%M:%S', time.localtime(c.until))}" if c.until else ""
        parts.append(Text(f"credential {c.name:<12} {c.status}{until} · ${c.cost_usd:.4f}"))
    left = run.seconds_to_budget
    parts.append(
        Text(
            f"Spent ${run.cost_usd:.4f} ({run.tokens} tokens) · ${run.usd_per_hour:.2f}/h"
            + ("" if left is None else f" · budget spent in about {left / 60:.0f} min at this rate")
        )
    )
    latency = run.document.get("loopLatency") or {}
    if latency.get("events"):
        parts.append(
            Text(
                f"Loop: {latency['events']} events · latency p50 {latency['p50Ms']} ms, "
                f"p99 {latency['p99Ms']} ms"
            )
        )
    return Group(*parts)


@click.command(
    "status",
    short_help="The live state of a run, with evidence.",
    epilog="""\b
Examples:
  claude-orchestra status --workspace ./config/workspace
  watch -n 5 claude-orchestra status --workspace ./config/workspace
  claude-orchestra status --workspace ./config/workspace --json | jq .tasks
""",
)
@workspace_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The whole status as JSON (with `schemaVersion`, plus `run`).",
)
def command(workspace: Path, as_json: bool) -> int:
    """The live state of a run, with evidence: each instance, each credential, the spend.

    Exit 2 when the workspace holds no run status.
    """
    folder = Workspace(workspace)
    run = read_run(folder.status)
    if run is None:
        raise UsageError("--workspace", f"{folder.root} holds no run status (status.json)")
    if as_json:
        rest = {k: v for k, v in run.document.items() if k != "schemaVersion"}
        print_json({"schemaVersion": run.schema_version, **rest, "run": run.state})
    else:
        show(render(run, time.time()))
    return 0
