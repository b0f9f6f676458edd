"""``claude-orchestra status --workspace DIR [--json]``: what a run is doing, with evidence.

Reads ``.orchestra/status.json``, which the run rewrites after every event, and says
whether the run's process is still alive. For each instance: its state, the last event
and how long ago, the evidence of its last state change, its assignment and its cost; then
the credentials, the spend per credential, the burn rate and the time left to the budget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from claude_orchestra import UsageError
from claude_orchestra._process import alive
from claude_orchestra.cli._output import print_json, show
from claude_orchestra.status import read_status
from claude_orchestra.workspace import Workspace

_STATE_STYLES = {"working": "green", "prompted": "green", "idle": "cyan", "stopped": "dim"}


def run_state(status: dict[str, Any]) -> str:
    """``running``, the outcome, or ``not running`` (the process died without an outcome)."""
    if status.get("outcome"):
        return f"ended: {status['outcome']}"
    return "running" if alive(status.get("pid")) else "not running (no outcome)"


def _ago(at: object, now: float) -> str:
    return f"{now - at:.0f} s ago" if isinstance(at, int | float) else "-"


def _instances(status: dict[str, Any], now: float) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("instance", "state", "last event", "credential"):
        table.add_column(name, no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("assignment / evidence", overflow="ellipsis", no_wrap=True, max_width=60)
    for i in status.get("instances", []):
        note = i.get("assignment") or i.get("evidence") or ""
        if i.get("stoppedForBudget"):
            note = "stopped: its budget is spent"
        table.add_row(
            i["name"],
            Text(i["state"], style=_STATE_STYLES.get(i["state"], "yellow")),
            f"{i.get('lastEvent') or '-'} {_ago(i.get('lastEventAt'), now)}",
            i["credential"],
            f"${i.get('costUsd', 0):.4f}",
            note,
        )
    return table


def render(status: dict[str, Any], now: float) -> Group:
    """The status for a person: a headline, the instances' table, credentials, spend."""
    tasks = status.get("tasks", {})
    spending = status.get("spending", {})
    total = spending.get("total", {})
    rate = spending.get("rate", {})
    parts: list[Any] = [
        Text(
            f"Run {run_state(status)} · updated {_ago(status.get('updatedAt'), now)} · "
            f"tasks {tasks.get('done', 0)}/{tasks.get('total', 0)} done",
            style="bold",
        ),
        Text(""),
        _instances(status, now),
        Text(""),
    ]
    for c in status.get("credentials", []):
        spent = spending.get("byCredential", {}).get(c["name"], {}).get("costUsd", 0.0)
        until = (
            f" until {time.strftime('%H:%M:%S', time.localtime(c['until']))}"
            if c.get("until")
            else ""
        )
        parts.append(Text(f"credential {c['name']:<12} {c['status']}{until} · ${spent:.4f}"))
    left = rate.get("secondsToBudget")
    parts.append(
        Text(
            f"Spent ${total.get('costUsd', 0.0):.4f} ({total.get('tokens', 0)} tokens) · "
            f"${rate.get('usdPerHour', 0.0):.2f}/h"
            + ("" if left is None else f" · budget spent in about {left / 60:.0f} min at this rate")
        )
    )
    latency = status.get("loopLatency") or {}
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
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The run's workspace.",
)
@click.option("--json", "as_json", is_flag=True, help="The whole status as JSON (plus `run`).")
def command(workspace: Path, as_json: bool) -> int:
    """The live state of a run, with evidence: each instance, each credential, the spend.

    Exit 2 when the workspace holds no run status.
    """
    folder = Workspace(workspace)
    status = read_status(folder.status)
    if status is None:
        raise UsageError("--workspace", f"{folder.root} holds no run status (status.json)")
    if as_json:
        print_json({**status, "run": run_state(status)})
    else:
        show(render(status, time.time()))
    return 0
