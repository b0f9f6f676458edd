"""A run's outcome as values: what observers (``orchestra_run_finished``) and the CLI see.
Built by :mod:`claude_orchestra.report`."""

from __future__ import annotations

from pathlib import Path
from typing import final

import attrs

from claude_orchestra.costs.ledger import Spend
from claude_orchestra.costs.transcripts import Usage


@final
@attrs.frozen(kw_only=True)
class InstanceUsage:
    """One instance's tokens and cost."""

    instance: str
    usage: Usage
    responses: int
    cost_usd: float | None
    """``None`` when a model it used has no price."""


@final
@attrs.frozen(kw_only=True)
class RunSummary:
    """The outcome of a run, as observers and the CLI see it."""

    outcome: str
    exit_code: int
    run_branch: str
    started_at: float
    ended_at: float
    tasks_total: int
    tasks_done: int
    merges: int
    incidents: int
    usage: tuple[InstanceUsage, ...]
    report_path: Path
    by_credential: tuple[tuple[str, Spend], ...] = ()
    """What was spent on each credential, in pool order of first use."""

    @property
    def total_usage(self) -> Usage:
        """Tokens over every instance."""
        return sum((u.usage for u in self.usage), Usage())

    @property
    def total_cost_usd(self) -> float | None:
        """USD over every instance (``None`` if some usage is unpriced)."""
        costs = [u.cost_usd for u in self.usage]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
