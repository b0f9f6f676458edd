"""``claude-orchestra status --workspace DIR [--json]``: what a run is doing, with evidence.

Reads ``.orchestra/status.json``, which the run rewrites after every event, and says
whether the run's process is still alive. For each instance: its state, the last event
and how long ago, the evidence of its last state change, its assignment and its cost; then
the credentials, the spend per credential, the burn rate and the time left to the budget.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from claude_orchestra._process import alive
from claude_orchestra.errors import UsageError
from claude_orchestra.status import read_status
from claude_orchestra.workspace import Workspace


def register(commands: Any) -> None:
    """Add the ``status`` sub-command."""
    parser = commands.add_parser("status", help="the live state of a run, with evidence")
    parser.add_argument("--workspace", type=Path, required=True, help="the run's workspace")
    parser.add_argument("--json", action="store_true", help="the whole status as JSON")
    parser.set_defaults(handler=handle)


def run_state(status: dict[str, Any]) -> str:
    """``running``, the outcome, or ``not running`` (the process died without an outcome)."""
    if status.get("outcome"):
        return f"ended: {status['outcome']}"
    return "running" if alive(status.get("pid")) else "not running (no outcome)"


def _ago(at: object, now: float) -> str:
    return f"{now - at:.0f} s ago" if isinstance(at, int | float) else "-"


def render(status: dict[str, Any], now: float) -> str:
    """The status for a person."""
    tasks = status.get("tasks", {})
    spending = status.get("spending", {})
    total = spending.get("total", {})
    rate = spending.get("rate", {})
    lines = [
        f"Run {run_state(status)} · updated {_ago(status.get('updatedAt'), now)} · "
        f"tasks {tasks.get('done', 0)}/{tasks.get('total', 0)} done",
        "",
        f"{'instance':<10} {'state':<13} {'last event':<26} {'credential':<12} "
        f"{'cost':>9}  assignment / evidence",
    ]
    for i in status.get("instances", []):
        event = f"{i.get('lastEvent') or '-'} {_ago(i.get('lastEventAt'), now)}"
        note = i.get("assignment") or i.get("evidence") or ""
        if i.get("stoppedForBudget"):
            note = "stopped: its budget is spent"
        lines.append(
            f"{i['name']:<10} {i['state']:<13} {event:<26} {i['credential']:<12} "
            f"${i.get('costUsd', 0):>8.4f}  {note[:60]}"
        )
    lines.append("")
    for c in status.get("credentials", []):
        spent = spending.get("byCredential", {}).get(c["name"], {}).get("costUsd", 0.0)
        until = (
            f" until {time.strftime('%H:%M:%S', time.localtime(c['until']))}"
            if c.get("until")
            else ""
        )
        lines.append(f"credential {c['name']:<12} {c['status']}{until} · ${spent:.4f}")
    left = rate.get("secondsToBudget")
    lines.append(
        f"Spent ${total.get('costUsd', 0.0):.4f} ({total.get('tokens', 0)} tokens) · "
        f"${rate.get('usdPerHour', 0.0):.2f}/h"
        + ("" if left is None else f" · budget spent in about {left / 60:.0f} min at this rate")
    )
    latency = status.get("loopLatency") or {}
    if latency.get("events"):
        lines.append(
            f"Loop: {latency['events']} events · latency p50 {latency['p50Ms']} ms, "
            f"p99 {latency['p99Ms']} ms"
        )
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    """Print the status; exit 2 when the workspace holds none."""
    workspace = Workspace(args.workspace)
    status = read_status(workspace.status)
    if status is None:
        raise UsageError("--workspace", f"{workspace.root} holds no run status (status.json)")
    if args.json:
        print(json.dumps({**status, "run": run_state(status)}, indent=2))
    else:
        print(render(status, time.time()))
    return 0
