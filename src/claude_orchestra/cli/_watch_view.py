"""What ``watch`` draws: a header with the run's progress, one row per instance, and the
selected instance's screen. Pure: a :class:`~claude_orchestra.runmodel.RunModel`, the
selection, the captured screen and the time in; a rich renderable out."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from claude_orchestra import RunModel
from claude_orchestra.cli._status import STATE_STYLES, ago

KEYS = "↑/↓ or j/k select · Enter or a: attach to its pane (C-b d comes back) · q quit"


def header(run: RunModel, now: float) -> Text:
    """Run state, tasks, merges, incidents, spend against the budget, time left."""
    return Text(" · ".join(run.headline(now)), style="bold")


def instances(run: RunModel, selected: int, now: float) -> Table:
    """One row per instance; the selected one highlighted."""
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    # Names, states and money keep their width; the task and the credential give way.
    widths = {"": 1, "instance": 9, "role": 7, "state": 8, "task": 10, "last event": 18}
    for name, width in {**widths, "credential": 8}.items():
        table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=width, max_width=50)
    table.columns[4].ratio = 1  # the task takes what is left
    for name in ("cost", "$/h", "to merge"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name) + 1)
    credentials = {c.name: c for c in run.credentials}
    elapsed = (now if run.running else run.updated_at) - run.started_at  # an ended run's rate
    for index, i in enumerate(run.instances):
        row = credentials.get(i.credential)
        cooling = row.cooling(now) if row is not None else None
        credential = i.credential + (f" ({cooling})" if cooling else "")
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


def preview(screen: str) -> list[str]:
    """The screen's lines without the blank runs a full-screen UI leaves (one kept)."""
    kept: list[str] = []
    for line in screen.splitlines():
        blank = not line.strip()
        if blank and (not kept or not kept[-1].strip()):
            continue
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def view(
    run: RunModel, selected: int, screen: str, now: float, height: int, *, note: str = ""
) -> RenderableType:
    """The whole view for a terminal ``height`` rows tall (``note``: a line for the person,
    such as why attaching failed)."""
    name = run.instances[selected].name if run.instances else "-"
    rows = max(3, height - len(run.instances) - 8)
    lines = preview(screen)[-rows:] or ["(no screen: the run's tmux is gone)"]
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
        Text(note, style="red") if note else Text(KEYS, style="dim"),
    )
