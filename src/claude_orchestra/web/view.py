"""What the page shows, as JSON: the run model in, plain values out. Pure.

The phrases are the ones ``watch`` prints (:meth:`RunModel.headline
<claude_orchestra.runmodel.RunModel.headline>`, the same money and rate formats); times go
out as wall-clock seconds with the server's ``now``, so the page counts ages itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_orchestra.runmodel import RunModel
from claude_orchestra.screen import read_screen


def page_state(run: RunModel, now: float) -> dict[str, Any]:
    """The page's data for ``run`` at wall time ``now``."""
    cooling = {c.name: c.until for c in run.credentials if c.until}
    elapsed = (now if run.running else run.updated_at) - run.started_at
    return {
        "now": now,
        "state": run.state,
        "running": run.running,
        "headline": run.headline(now),
        "startedAt": run.started_at,
        "updatedAt": run.updated_at,
        "instances": [
            {
                "name": i.name,
                "role": i.role,
                "state": i.state,
                "task": "stopped: its budget is spent"
                if i.stopped_for_budget
                else i.assignment or "",
                "lastEvent": i.last_event,
                "lastEventAt": i.last_event_at,
                "credential": i.credential,
                "coolingUntil": cooling.get(i.credential),
                "cost": f"${i.cost_usd:.4f}",
                "rate": f"{i.burn_rate(elapsed):.2f}",
                "toMerge": i.awaiting_merge,
            }
            for i in run.instances
        ],
        "timeline": [
            {
                "at": e.at,
                "kind": e.kind,
                "instance": e.instance,
                "summary": e.summary,
                "detail": e.detail,
            }
            for e in run.timeline
        ],
        "cost": {
            "points": [[at, usd] for at, usd in run.cost_history],
            "total": run.cost_usd,
            "budget": run.budget_usd,
        },
    }


def screens_state(screens: Mapping[str, str], now: float) -> dict[str, Any]:
    """Each instance's screen (trailing blank lines dropped) and what it shows, as
    :func:`~claude_orchestra.screen.read_screen` reads it (a labelled fallback, as ever)."""
    shown = {}
    for name, text in screens.items():
        reading = read_screen(text, now=now) if text.strip() else None
        shown[name] = {
            "text": text.rstrip(),
            "reading": None if reading is None else reading.state.value,
        }
    return {"screens": shown}
