"""The run's live status: ``.orchestra/status.json``, rewritten as the run changes.

A :class:`StatusBoard` is told about each event the loop applies and rewrites the file
atomically (write, then rename) at most every :data:`PUBLISH_INTERVAL` seconds (and at
the end), so ``claude-orchestra status`` — another process — always reads a whole
document, even while the run goes on or after it was killed. It holds, for
each instance, its state and the evidence behind it (the last event, when, the last state
change's evidence); the credentials' standing; what was spent so far, with the burn
rate, the projected time until the run's budget is spent and the spend over time; and the
latest merges and incidents as a timeline (what ``watch`` and the web dashboard show).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, final

import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Secret, redact_tree
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.costs.ledger import Spend
from claude_orchestra.instance import Instance
from claude_orchestra.journal import to_json
from claude_orchestra.latency import LoopLatency
from claude_orchestra.progress import RunProgress
from claude_orchestra.spending import Spending
from claude_orchestra.values import Incident, MergeRecord

STATUS_FILE = "status.json"
SCHEMA_VERSION = 1
"""``status.json``'s ``schemaVersion``: raised when a field changes meaning or goes away
(new fields do not raise it)."""
TIMELINE_LIMIT = 100
"""The latest merges and incidents ``status.json`` keeps (its ``timeline``)."""
HISTORY_LIMIT = 240
"""The most points of spend over time ``status.json`` keeps; past it, every other one goes."""
_DETAIL = 240
PUBLISH_INTERVAL = 0.5
"""The least time between two rewrites of ``status.json`` (seconds): with 16 workers the
loop applies several events a second, and a person, ``watch`` and the dashboard need no
more than this. Rewriting after every event took half the orchestrator's CPU there."""


def timeline(progress: RunProgress, limit: int = TIMELINE_LIMIT) -> list[dict[str, Any]]:
    """The run's merges and incidents, oldest first, the latest ``limit`` of them."""
    entries = [_merge_entry(m) for m in progress.merges]
    entries += [_incident_entry(i) for i in progress.incidents]
    entries.sort(key=lambda entry: float(entry["at"]))
    return entries[-limit:]


def _merge_entry(merge: MergeRecord) -> dict[str, Any]:
    commits = len(merge.commits)
    return {
        "at": merge.at,
        "kind": "merge",
        "instance": merge.branch,
        "summary": f"{merge.branch} merged by {merge.merged_by} "
        f"({commits} commit{'s' if commits != 1 else ''})",
        "detail": ", ".join(merge.tasks)[:_DETAIL],
    }


def _incident_entry(incident: Incident) -> dict[str, Any]:
    return {
        "at": incident.at,
        "kind": "incident",
        "instance": incident.instance,
        "summary": incident.kind.value.replace("_", " "),
        "detail": f"{incident.evidence} -> {incident.action}"[:_DETAIL],
    }


@final
@attrs.define(eq=False)
class CostHistory:
    """The run's spend over time: one ``[wall time, USD]`` point per change, thinned to at
    most :data:`HISTORY_LIMIT` points (every other one dropped when full)."""

    _points: list[tuple[float, float]] = attrs.field(init=False, factory=list)

    def note(self, at: float, usd: float) -> None:
        """Record the spend at ``at`` when it moved (the first point always)."""
        if self._points and self._points[-1][1] == usd:
            return
        if len(self._points) >= HISTORY_LIMIT:
            self._points = [*self._points[:-1:2], self._points[-1]]
        self._points.append((at, usd))

    def as_json(self) -> list[list[float]]:
        """The points, oldest first."""
        return [[at, round(usd, 6)] for at, usd in self._points]


def projection(
    spend: Spend, *, elapsed: float, usd: float | None, tokens: int | None
) -> dict[str, Any]:
    """Burn rate since the start and the seconds left until each run limit at that rate."""
    hours = max(elapsed, 1.0) / 3600
    usd_rate = spend.cost_usd / hours
    token_rate = spend.tokens / hours
    left: list[float] = []
    if usd is not None and usd_rate > 0:
        left.append(max(0.0, usd - spend.cost_usd) / usd_rate * 3600)
    if tokens is not None and token_rate > 0:
        left.append(max(0.0, tokens - spend.tokens) / token_rate * 3600)
    return {
        "usdPerHour": round(usd_rate, 6),
        "tokensPerHour": round(token_rate),
        "secondsToBudget": round(min(left)) if left else None,
    }


@final
@attrs.define
class Pacer:
    """When to rewrite a file that changes in bursts: at once after a quiet spell, else at
    most once every ``interval`` seconds, never leaving a change unwritten."""

    interval: float
    _written_at: float | None = attrs.field(init=False, default=None)
    _pending: bool = attrs.field(init=False, default=False)

    def changed(self, now: float) -> bool:
        """Note a change at ``now``; whether to write now."""
        self._pending = True
        due = self.next_due()
        return due is not None and now >= due

    def next_due(self) -> float | None:
        """When the pending change is due (``None``: nothing is pending)."""
        if not self._pending:
            return None
        return -math.inf if self._written_at is None else self._written_at + self.interval

    def done(self, now: float) -> None:
        """The file was written at ``now``."""
        self._written_at, self._pending = now, False


@final
@attrs.define(eq=False)
class StatusBoard:
    """Keeps ``status.json`` true: the last event of each instance and the run's spend."""

    path: Path
    instances: Mapping[str, Instance]
    progress: RunProgress
    spending: Spending
    rotator: AuthRotator
    clock: Clock
    started_at: float
    latency: LoopLatency = attrs.field(factory=LoopLatency)
    """The loop's event latency (hook received -> applied)."""
    secrets: Callable[[], Iterable[Secret]] = tuple
    """The run's secrets now: redacted from every string of the file."""
    ends_at: float | None = None
    """When the run's time limit ends it (wall clock)."""
    watchers: list[Callable[[dict[str, Any]], None]] = attrs.field(factory=list)
    """Told each document as it is published, redacted (the web dashboard); called on the
    event loop, so they must not block."""
    _history: CostHistory = attrs.field(init=False, factory=CostHistory)
    broker: Callable[[], Mapping[str, Any]] | None = None
    """What the credential broker served so far (``None``: the run has no broker)."""
    _pacer: Pacer = attrs.field(init=False, factory=lambda: Pacer(PUBLISH_INTERVAL))

    def changed(self) -> None:
        """The run changed: rewrite the file now, or at :meth:`next_due` if it was
        rewritten less than :data:`PUBLISH_INTERVAL` ago."""
        if self._pacer.changed(self.clock.now()):
            self.publish()

    def next_due(self) -> float | None:
        """When a change not yet in the file is due to be written (``None``: none is)."""
        return self._pacer.next_due()

    def publish(self, outcome: str | None = None) -> None:
        """Rewrite the file now (``outcome`` once the run has ended)."""
        self._pacer.done(self.clock.now())
        self._history.note(self.clock.wall(), self.spending.ledger.spend().cost_usd)
        tmp = self.path.with_suffix(".tmp")
        document = redact_tree(self.document(outcome), self.secrets())
        # one line: json's C encoder (an indented dump runs the pure-Python one)
        tmp.write_text(json.dumps(document) + "\n", encoding="utf-8")
        tmp.replace(self.path)
        for watcher in self.watchers:
            watcher(document)

    def document(self, outcome: str | None = None) -> dict[str, Any]:
        """What ``status.json`` holds."""
        now = self.clock.wall()
        ledger = self.spending.ledger
        budget = self.spending.watch.config
        by_instance = ledger.spend_by("instance")
        total, done = self.progress.task_counts()
        return {
            "schemaVersion": SCHEMA_VERSION,
            "pid": os.getpid(),
            "startedAt": self.started_at,
            "updatedAt": now,
            "outcome": outcome,
            "tasks": {"total": total, "done": done},
            "merges": len(self.progress.merges),
            "incidents": len(self.progress.incidents),
            "timeline": timeline(self.progress),
            "endsAt": self.ends_at,
            "loopLatency": self.latency.as_json(),
            "broker": dict(self.broker()) if self.broker else None,
            "instances": [
                self._instance(instance, by_instance.get(name, Spend()))
                for name, instance in self.instances.items()
            ],
            "credentials": [to_json(c) for c in self.rotator.view().credentials],
            "spending": {
                "total": ledger.spend().as_json(),
                "byCredential": {
                    n: s.as_json() for n, s in sorted(ledger.spend_by("credential").items())
                },
                "rate": projection(
                    ledger.spend(),
                    elapsed=now - self.started_at,
                    usd=budget.usd,
                    tokens=budget.tokens,
                ),
                "budget": to_json(budget),
                "history": self._history.as_json(),
            },
        }

    def _instance(self, instance: Instance, spend: Spend) -> dict[str, Any]:
        record = self.progress.record(instance.name)
        last, assignment = record.last_event, record.assignment
        history = instance.history
        return {
            "name": instance.name,
            "role": instance.role.value,
            "state": instance.state.value,
            "credential": instance.credential.name,
            "lastEvent": None if last is None else last.kind.__name__,
            "lastEventAt": None if last is None else last.at,
            "evidence": history[-1].evidence if history else None,
            "assignment": None
            if assignment is None
            else (assignment.task or assignment.kind.value),
            "stoppedForBudget": record.retired,
            "costUsd": round(spend.cost_usd, 6),
            "tokens": spend.tokens,
            "awaitingMerge": len(self.progress.awaiting_merge.get(instance.name, ())),
        }


def read_status(path: Path) -> dict[str, Any] | None:
    """``status.json``, or ``None`` when the run never wrote one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
