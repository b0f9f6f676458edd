"""The moments a person is told about, as small JSON values with nothing secret in them.

A run notifies when a credential is limited (with the time its holder's work resumes), a
budget warning or limit is reached, an instance is given up or waits for a person, and the
run ends (``run_stalled`` when nothing is left that can run, ``run_finished`` otherwise).
The functions here turn the observer hooks' values into :class:`Notification` values (or
``None`` for what is not such a moment); the built-in ``notify`` plugin
(:mod:`claude_orchestra.defaults.notify`) sends them to the channels configured under
``notify`` in ``orchestrator.json``, and a plugin adding a channel of its own calls the same
functions from the same hooks.

A notification never carries an incident's evidence (it may quote a screen or an API
error), a prompt, a key or a token: only kinds, names, numbers and times.
"""

from __future__ import annotations

import enum
import re
from typing import Any, final

import attrs

from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.outcomes import Outcome
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import Incident, IncidentKind

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _webhook(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not _URL.match(value):
        raise ValueError(f"must be an http:// or https:// URL, got {value[:60]!r}")


def _command(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty")


@final
@attrs.frozen(kw_only=True)
class NotifyConfig:
    """``orchestrator.json``'s ``notify`` object: where notifications go (each optional)."""

    command: str | None = attrs.field(default=None, validator=_command)
    """A shell command run for each notification, the notification's JSON on its stdin."""
    webhook: str | None = attrs.field(default=None, validator=_webhook)
    """A URL each notification is POSTed to as JSON."""
    bell: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    """Ring the terminal bell of the run (``\\a`` on its stderr) for each notification."""

    @property
    def is_set(self) -> bool:
        """Some channel is configured."""
        return self.command is not None or self.webhook is not None or self.bell

    def described(self) -> dict[str, Any]:
        """For the report: the webhook's scheme and host only and the command's program
        only, since a webhook URL's path or a command's arguments often hold a token."""
        webhook = None
        if self.webhook is not None:
            scheme, rest = self.webhook.split("://", 1)
            webhook = f"{scheme}://{rest.split('/', 1)[0]}/..."
        command = None if self.command is None else self.command.split()[0] + " ..."
        return {"command": command, "webhook": webhook, "bell": self.bell}


class Moment(enum.Enum):
    """What a notification is about."""

    CREDENTIAL_LIMITED = "credential_limited"
    BUDGET_WARNING = "budget_warning"
    BUDGET_REACHED = "budget_reached"
    INSTANCE_GAVE_UP = "instance_gave_up"
    WAITING_FOR_PERSON = "waiting_for_person"
    RUN_STALLED = "run_stalled"
    RUN_FINISHED = "run_finished"


@final
@attrs.frozen(kw_only=True)
class Notification:
    """One moment to tell a person about: a kind, one line of text, and a few facts."""

    moment: Moment
    at: float
    """When it happened (wall clock, seconds since the epoch)."""
    text: str
    """One line for a person."""
    instance: str | None = None
    facts: tuple[tuple[str, str | int | float | None], ...] = ()
    """Further fields of the JSON value (camelCase names)."""

    def as_json(self) -> dict[str, Any]:
        """The JSON value channels send: ``kind``, ``at``, ``text``, ``instance``, facts."""
        return {
            "kind": self.moment.value,
            "at": self.at,
            "text": self.text,
            "instance": self.instance,
            **dict(self.facts),
        }


_LIMITED = {IncidentKind.RATE_LIMITED, IncidentKind.CREDENTIALS_EXHAUSTED}


def for_incident(incident: Incident) -> Notification | None:
    """A credential limit, an instance given up or waiting for a person; else ``None``."""
    who = incident.instance or "run"
    if incident.kind in _LIMITED:
        return Notification(
            moment=Moment.CREDENTIAL_LIMITED,
            at=incident.at,
            text=f"{who}: credential limited; {incident.action}",
            instance=incident.instance,
            facts=(("action", incident.action), ("resumesAt", incident.resumes_at)),
        )
    moments = {
        IncidentKind.GAVE_UP: Moment.INSTANCE_GAVE_UP,
        IncidentKind.WAITING_FOR_PERSON: Moment.WAITING_FOR_PERSON,
    }
    moment = moments.get(incident.kind)
    if moment is None:
        return None
    return Notification(
        moment=moment,
        at=incident.at,
        text=f"{who}: {incident.kind.value.replace('_', ' ')}; {incident.action}",
        instance=incident.instance,
        facts=(("action", incident.action),),
    )


def for_budget(crossing: BudgetCrossing) -> Notification:
    """A budget warning, or a limit reached."""
    return Notification(
        moment=Moment.BUDGET_REACHED if crossing.reached else Moment.BUDGET_WARNING,
        at=crossing.at,
        text=f"budget: {crossing.describe()}",
        facts=(
            ("scope", crossing.scope.value),
            ("name", crossing.name),
            ("measure", crossing.measure.value),
            ("spent", crossing.spent),
            ("limit", crossing.limit),
            ("fraction", crossing.fraction),
        ),
    )


def for_summary(summary: RunSummary) -> Notification:
    """The end of the run: ``run_stalled`` when it stalled, ``run_finished`` otherwise."""
    stalled = summary.outcome == Outcome.STALLED.value
    cost = summary.total_cost_usd
    return Notification(
        moment=Moment.RUN_STALLED if stalled else Moment.RUN_FINISHED,
        at=summary.ended_at,
        text=(
            f"run {summary.outcome} (exit {summary.exit_code}): "
            f"{summary.tasks_done}/{summary.tasks_total} tasks, {summary.merges} merges, "
            f"{summary.incidents} incidents" + ("" if cost is None else f", ${cost:.4f}")
        ),
        facts=(
            ("outcome", summary.outcome),
            ("exitCode", summary.exit_code),
            ("runBranch", summary.run_branch),
            ("tasksDone", summary.tasks_done),
            ("tasksTotal", summary.tasks_total),
            ("merges", summary.merges),
            ("incidents", summary.incidents),
            ("costUsd", cost),
            ("report", str(summary.report_path)),
        ),
    )
