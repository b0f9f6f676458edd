"""What ``watch`` draws: a header with the run's progress, one row per instance, and the
selected instance's screen. Pure: a :class:`~claude_orchestra.runmodel.RunModel`, the
selection, the captured screen and the time in; a rich renderable out."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from claude_orchestra.cli._status import STATE_STYLES, ago
from claude_orchestra.runmodel import RunModel

KEYS = "↑/↓ or j/k select · Enter or a: attach to its pane (C-b d comes back) · q quit"


def _minutes(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def header(run: RunModel, now: float) -> Text:
    """Run state, tasks, merges, incidents, spend against the budget, time left."""
    spend = f"${run.cost_usd:.4f}"
    if run.budget_usd is not None:
        spend += f" of ${run.budget_usd:g}"
    parts = [
        f"Run {run.state}",
        f"tasks {run.tasks_done}/{run.tasks_total} done",
        f"{run.merges} merges",
        f"{run.incidents} incidents",
        f"spent {spend} (${run.usd_per_hour:.2f}/h)",
    ]
    if run.running and run.ends_at is not None:
        parts.append(f"time left {_minutes(run.ends_at - now)}")
    if run.running and run.seconds_to_budget is not None:
        parts.append(f"budget spent in {_minutes(run.seconds_to_budget)}")
    return Text(" · ".join(parts), style="bold")


def instances(run: RunModel, selected: int, now: float) -> Table:
    """One row per instance; the selected one highlighted."""
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    for name in ("", "instance", "role", "state", "task", "last event", "credential"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=50)
    for name in ("cost", "$/h", "to merge"):
        table.add_column(name, justify="right", no_wrap=True)
    cooling = {c.name: c.until for c in run.credentials if c.until}
    elapsed = now - run.started_at
    for index, i in enumerate(run.instances):
        until = cooling.get(i.credential)
        credential = i.credential + (f" (cooling {_minutes(until - now)})" if until else "")
        task = "stopped: its budget is spent" if i.stopped_for_budget else i.assignment or ""
        table.add_row(
            "▶" if index == selected else "",
            i.name,
            i.role,
            Text(i.state, style=STATE_STYLES.get(i.state, "yellow")),
            task,
            f"{i.last_event or '-'} {ago(i.last_event_at, now)}",
            credential,
            f"${i.cost_usd:.4f}",
            f"{i.burn_rate(elapsed):.2f}",
            str(i.awaiting_merge) if i.awaiting_merge else "",
            style="reverse" if index == selected else None,
        )
    return table


def view(run: RunModel, selected: int, screen: str, now: float, height: int) -> RenderableType:
    """The whole view for a terminal ``height`` rows tall."""
    name = run.instances[selected].name if run.instances else "-"
    rows = max(3, height - len(run.instances) - 8)
    lines = (
        screen.rstrip("\n").splitlines()[-rows:]
        if screen
        else ["(no screen: the run's tmux is gone)"]
    )
    return Group(
        header(run, now),
        Text(
            f"updated {ago(run.updated_at, now)} · {time.strftime('%H:%M:%S')}",
            style="dim",
        ),
        instances(run, selected, now),
        Panel(
            Text("\n".join(lines)), title=f"{name}'s screen", title_align="left", height=rows + 2
        ),
        Text(KEYS, style="dim"),
    )
