"""One typed model of a run, read from ``status.json``: what ``status`` and ``watch`` show.

:func:`read_run` parses the document the run rewrites as it changes into a
:class:`RunModel` (missing fields, from an older run, take neutral defaults); both views
render that value (and so does the web dashboard), so they never disagree about a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, final

import attrs

from claude_orchestra._process import alive
from claude_orchestra.status import read_status


def _num(value: object, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default


def _opt(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@final
@attrs.frozen(kw_only=True)
class InstanceRow:
    """One instance as the run last published it."""

    name: str
    role: str
    state: str
    credential: str
    last_event: str | None
    last_event_at: float | None
    evidence: str | None
    assignment: str | None
    stopped_for_budget: bool
    cost_usd: float
    tokens: int
    awaiting_merge: int
    """Commits of its branch waiting to be merged."""

    def burn_rate(self, elapsed: float) -> float:
        """USD per hour over ``elapsed`` seconds of run."""
        return self.cost_usd / (max(elapsed, 1.0) / 3600)


@final
@attrs.frozen(kw_only=True)
class CredentialRow:
    """One credential's standing and what was spent on it."""

    name: str
    status: str
    until: float | None
    """The end of its cooldown, when it is cooling."""
    cost_usd: float

    def cooling(self, now: float) -> str | None:
        """``cooling 7 min`` while it cools down (``None``: it does not)."""
        return None if self.until is None else f"cooling {minutes(self.until - now)}"


@final
@attrs.frozen(kw_only=True)
class TimelineEntry:
    """A merge or an incident, as the run's timeline shows it."""

    at: float
    """When (wall clock)."""
    kind: str
    """``merge`` or ``incident``."""
    instance: str | None
    summary: str
    detail: str


def minutes(seconds: float) -> str:
    """A duration for people: ``42 s`` or ``7 min``."""
    seconds = max(0.0, seconds)
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


@final
@attrs.frozen(kw_only=True)
class RunModel:
    """A run as ``status.json`` describes it."""

    schema_version: int
    pid: int | None
    started_at: float
    updated_at: float
    outcome: str | None
    alive: bool
    """The run's process is still running."""
    tasks_done: int
    tasks_total: int
    merges: int
    incidents: int
    ends_at: float | None
    """When the time limit ends the run."""
    instances: tuple[InstanceRow, ...]
    credentials: tuple[CredentialRow, ...]
    cost_usd: float
    tokens: int
    usd_per_hour: float
    budget_usd: float | None
    seconds_to_budget: float | None
    timeline: tuple[TimelineEntry, ...] = ()
    """The latest merges and incidents, oldest first."""
    cost_history: tuple[tuple[float, float], ...] = ()
    """The run's spend over time: ``(wall time, USD)`` points, oldest first."""
    broker: BrokerTotals | None = None
    """What the credential broker served (``None``: the run has no broker)."""
    document: dict[str, Any] = attrs.field(repr=False, eq=False)
    """The whole document (``status --json`` prints it)."""

    @property
    def state(self) -> str:
        """``running``, ``ended: <outcome>``, or ``not running (no outcome)`` (killed)."""
        if self.outcome:
            return f"ended: {self.outcome}"
        return "running" if self.alive else "not running (no outcome)"

    @property
    def running(self) -> bool:
        """Still going: no outcome and the process lives."""
        return self.outcome is None and self.alive

    def headline(self, now: float) -> list[str]:
        """The run in a few phrases: state, tasks, merges, incidents, spend against the
        budget, time left (``watch``'s first line, the dashboard's header)."""
        spend = f"${self.cost_usd:.4f}"
        if self.budget_usd is not None:
            spend += f" of ${self.budget_usd:g}"
        parts = [
            f"Run {self.state}",
            f"tasks {self.tasks_done}/{self.tasks_total} done",
            f"{self.merges} merges",
            f"{self.incidents} incidents",
            f"spent {spend} (${self.usd_per_hour:.2f}/h)",
        ]
        if self.running and self.ends_at is not None:
            parts.append(f"time left {minutes(self.ends_at - now)}")
        if self.running and self.seconds_to_budget is not None:
            parts.append(f"budget spent in {minutes(self.seconds_to_budget)}")
        if self.broker is not None:
            parts.append(self.broker.phrase())
        return parts

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> RunModel:
        """The model of a decoded ``status.json``."""
        tasks = document.get("tasks") or {}
        spending = document.get("spending") or {}
        total = spending.get("total") or {}
        rate = spending.get("rate") or {}
        by_credential = spending.get("byCredential") or {}
        pid = document.get("pid")
        return cls(
            schema_version=int(document.get("schemaVersion") or 0),
            pid=pid if isinstance(pid, int) else None,
            started_at=_num(document.get("startedAt")),
            updated_at=_num(document.get("updatedAt")),
            outcome=_str(document.get("outcome")),
            alive=alive(pid),
            tasks_done=int(tasks.get("done") or 0),
            tasks_total=int(tasks.get("total") or 0),
            merges=int(document.get("merges") or 0),
            incidents=int(document.get("incidents") or 0),
            ends_at=_opt(document.get("endsAt")),
            instances=tuple(_instance(i) for i in document.get("instances") or ()),
            credentials=tuple(
                CredentialRow(
                    name=str(c.get("name")),
                    status=str(c.get("status")),
                    until=_opt(c.get("until")),
                    cost_usd=_num((by_credential.get(c.get("name")) or {}).get("costUsd")),
                )
                for c in spending_credentials(document)
            ),
            cost_usd=_num(total.get("costUsd")),
            tokens=int(total.get("tokens") or 0),
            usd_per_hour=_num(rate.get("usdPerHour")),
            budget_usd=_opt((spending.get("budget") or {}).get("usd")),
            seconds_to_budget=_opt(rate.get("secondsToBudget")),
            timeline=tuple(
                _entry(e) for e in document.get("timeline") or () if isinstance(e, dict)
            ),
            cost_history=tuple(
                (float(p[0]), float(p[1]))
                for p in spending.get("history") or ()
                if isinstance(p, list) and len(p) == 2 and all(_number(v) for v in p)
            ),
            broker=_broker(document.get("broker")),
            document=document,
        )


@final
@attrs.frozen(kw_only=True)
class BrokerTotals:
    """The credential broker's totals (``status.json``'s ``broker.total``)."""

    requests: int
    errors: int
    moves: int
    """Requests sent again on another credential, the instance none the wiser."""
    first_byte_p50: float | None

    def phrase(self) -> str:
        """One phrase for the headline."""
        text = f"broker {self.requests} requests, {self.moves} moved, {self.errors} errors"
        if self.first_byte_p50 is not None:
            text += f", first byte {self.first_byte_p50:.2f} s"
        return text


def _broker(section: object) -> BrokerTotals | None:
    if not isinstance(section, dict) or not isinstance(section.get("total"), dict):
        return None
    total = section["total"]
    errors = total.get("errors")
    return BrokerTotals(
        requests=int(total.get("requests") or 0),
        errors=int(sum(v for v in errors.values() if _number(v)))
        if isinstance(errors, dict)
        else 0,
        moves=int(total.get("rotations") or 0),
        first_byte_p50=_opt(total.get("firstByteP50")),
    )


def spending_credentials(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's credentials (a list of objects)."""
    found = document.get("credentials") or []
    return [c for c in found if isinstance(c, dict)]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _entry(e: dict[str, Any]) -> TimelineEntry:
    return TimelineEntry(
        at=_num(e.get("at")),
        kind=str(e.get("kind") or ""),
        instance=_str(e.get("instance")),
        summary=str(e.get("summary") or ""),
        detail=str(e.get("detail") or ""),
    )


def _instance(i: dict[str, Any]) -> InstanceRow:
    return InstanceRow(
        name=str(i.get("name")),
        role=str(i.get("role") or ""),
        state=str(i.get("state") or ""),
        credential=str(i.get("credential") or ""),
        last_event=_str(i.get("lastEvent")),
        last_event_at=_opt(i.get("lastEventAt")),
        evidence=_str(i.get("evidence")),
        assignment=_str(i.get("assignment")),
        stopped_for_budget=bool(i.get("stoppedForBudget")),
        cost_usd=_num(i.get("costUsd")),
        tokens=int(i.get("tokens") or 0),
        awaiting_merge=int(i.get("awaitingMerge") or 0),
    )


def read_run(path: Path) -> RunModel | None:
    """The model of the ``status.json`` at ``path``, or ``None`` when there is none."""
    document = read_status(path)
    return None if document is None else RunModel.from_document(document)
