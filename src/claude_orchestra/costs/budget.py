"""Budgets: limits on what the run, each instance and each credential may spend.

``orchestrator.json`` sets them under ``"budget"`` (USD and/or tokens). After every read
of the transcripts a :class:`BudgetWatch` compares the
:class:`~claude_orchestra.costs.ledger.CostLedger` with the limits and reports each
threshold the first time it is crossed, as a :class:`BudgetCrossing`: the warning fractions
(``warnAt``, default 0.8) and the limit itself (fraction 1). The loop acts on a reached
limit:

- **run**: the run ends gracefully (work pushed, report written), outcome ``budget``;
- **instance**: that instance is stopped gracefully and not restarted; its branch is pushed;
  a manager over its budget ends the run;
- **credential**: the credential is spent for this run; its holders move to the next
  credential with their conversation, like after a rate limit: an idle one at once, a
  working one when its turn ends (cutting a turn would lose the work in flight).

A limit is checked when a response is counted, so a run or an instance overshoots by at
most the responses in flight when it was reached; a credential by at most the rest of its
holders' current turns.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from typing import Any, final

import attrs

from claude_orchestra.costs.ledger import CostLedger, Dimension, Spend


def _positive_or_none(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value:g}")
    if value is not None and not value > 0:
        raise ValueError(f"must be greater than 0, got {value:g}")


def _sorted_fractions(values: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    return tuple(sorted(set(values)))


def _fractions(_: Any, attribute: attrs.Attribute[Any], value: tuple[float, ...]) -> None:
    for fraction in value:
        if not 0 < fraction < 1:
            raise ValueError(f"must hold fractions between 0 and 1 (exclusive), got {fraction:g}")


@final
@attrs.frozen(kw_only=True)
class BudgetConfig:
    """``orchestrator.json``'s ``budget`` object (camelCase in the file); unset means no limit."""

    usd: float | None = attrs.field(default=None, validator=_positive_or_none)
    """USD for the whole run."""
    tokens: int | None = attrs.field(default=None, validator=_positive_or_none)
    """Tokens (every kind) for the whole run."""
    instance_usd: float | None = attrs.field(default=None, validator=_positive_or_none)
    """USD for each instance."""
    instance_tokens: int | None = attrs.field(default=None, validator=_positive_or_none)
    credential_usd: float | None = attrs.field(default=None, validator=_positive_or_none)
    """USD for each credential (what was spent on it in this run)."""
    credential_tokens: int | None = attrs.field(default=None, validator=_positive_or_none)
    warn_at: tuple[float, ...] = attrs.field(
        default=(0.8,), converter=_sorted_fractions, validator=_fractions
    )
    """Fractions of a limit at which a warning is reported."""

    @property
    def is_set(self) -> bool:
        """Some limit is configured."""
        return any(
            v is not None
            for v in (
                self.usd,
                self.tokens,
                self.instance_usd,
                self.instance_tokens,
                self.credential_usd,
                self.credential_tokens,
            )
        )


class BudgetScope(enum.Enum):
    """What a limit applies to."""

    RUN = "run"
    INSTANCE = "instance"
    CREDENTIAL = "credential"


class Measure(enum.Enum):
    """What a limit counts."""

    USD = "usd"
    TOKENS = "tokens"


@final
@attrs.frozen(kw_only=True)
class BudgetCrossing:
    """A threshold of a limit crossed for the first time."""

    scope: BudgetScope
    name: str
    """The instance or credential (``run`` for the run)."""
    measure: Measure
    fraction: float
    """The threshold crossed: a warning fraction, or 1.0 for the limit itself."""
    spent: float
    limit: float
    at: float

    @property
    def reached(self) -> bool:
        """The limit itself, not a warning."""
        return self.fraction >= 1.0

    def describe(self) -> str:
        """One line for the log and the report."""
        unit = "$" if self.measure is Measure.USD else ""
        spent = f"{unit}{self.spent:.4f}" if self.measure is Measure.USD else f"{self.spent:.0f}"
        limit = f"{unit}{self.limit:g}"
        what = "limit reached" if self.reached else f"{self.fraction:.0%} of the limit"
        who = "run" if self.scope is BudgetScope.RUN else f"{self.scope.value} {self.name}"
        return f"{who}: {what}: {spent} of {limit} {self.measure.value}"


@final
@attrs.define(eq=False)
class BudgetWatch:
    """Reports each threshold of each configured limit once, when it is first crossed."""

    config: BudgetConfig
    _crossed: set[tuple[BudgetScope, str, Measure, float]] = attrs.field(init=False, factory=set)

    def check(self, ledger: CostLedger, *, now: float) -> list[BudgetCrossing]:
        """The thresholds newly crossed, limits last, in scope order run, instance, credential."""
        found: list[BudgetCrossing] = []
        for scope, name, measure, limit, spend in self._limits(ledger):
            spent = spend.cost_usd if measure is Measure.USD else float(spend.tokens)
            for fraction in (*self.config.warn_at, 1.0):
                key = (scope, name, measure, fraction)
                if spent >= fraction * limit and key not in self._crossed:
                    self._crossed.add(key)
                    found.append(
                        BudgetCrossing(
                            scope=scope,
                            name=name,
                            measure=measure,
                            fraction=fraction,
                            spent=spent,
                            limit=limit,
                            at=now,
                        )
                    )
        return sorted(found, key=lambda c: c.reached)

    def _limits(
        self, ledger: CostLedger
    ) -> Iterator[tuple[BudgetScope, str, Measure, float, Spend]]:
        c = self.config
        total = ledger.spend()
        for measure, limit in ((Measure.USD, c.usd), (Measure.TOKENS, c.tokens)):
            if limit is not None:
                yield BudgetScope.RUN, "run", measure, limit, total
        per: tuple[tuple[BudgetScope, Dimension, float | None, int | None], ...] = (
            (BudgetScope.INSTANCE, "instance", c.instance_usd, c.instance_tokens),
            (BudgetScope.CREDENTIAL, "credential", c.credential_usd, c.credential_tokens),
        )
        for scope, dimension, usd, tokens in per:
            if usd is None and tokens is None:
                continue
            for name, spend in sorted(ledger.spend_by(dimension).items()):
                if usd is not None:
                    yield scope, name, Measure.USD, usd, spend
                if tokens is not None:
                    yield scope, name, Measure.TOKENS, float(tokens), spend
