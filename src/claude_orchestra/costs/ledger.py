"""What each instance, credential, task and role has spent so far.

A :class:`CostLedger` keeps one :class:`~claude_orchestra.costs.transcripts.UsageLedger` per
instance (its config dir's ``projects/`` folder, sub-agents included) and is told to read
it whenever that instance sends a hook event — every API response ends in one (a tool use,
a Stop, a StopFailure), so the ledger follows the transcripts as they grow without polling.
Usage newly counted by a read is attributed to what the instance was doing then: its
credential and its assignment, as an :class:`Attribution`. Read before a rotation or the
end of a turn is applied, so a response is charged to the credential that served it::

    ledger = CostLedger(prices=DEFAULT_PRICES)
    ledger.read(projects_dir, Attribution(instance="worker-1", role="worker",
                                          credential="key-1", task="Add a README"))
    ledger.spend().cost_usd      # whole run
    ledger.spend_by("credential")  # {"key-1": Spend(...)}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, final

import attrs

from claude_orchestra.costs.transcripts import DEFAULT_PRICES, Price, Usage, UsageLedger

Dimension = Literal["instance", "role", "credential", "task"]


@final
@attrs.frozen(kw_only=True)
class Attribution:
    """Who spent a response: the instance, its role, its credential and its assignment."""

    instance: str
    role: str
    credential: str
    task: str | None = None
    """The task a worker was doing, or the manager's ``plan``/``merge``; ``None`` between
    assignments."""


@final
@attrs.frozen(kw_only=True)
class ServedCharge:
    """Journal entry: a response the broker served, charged as it ended. A resumed run
    charges it again from the journal (:meth:`CostLedger.replay`): a remote worker's
    transcripts are never read here, so this is the only record of what it spent."""

    message_id: str
    model: str
    usage: Usage
    attribution: Attribution


@final
@attrs.frozen(kw_only=True)
class Spend:
    """Tokens and USD; USD leaves out models without a price (listed in ``unpriced``)."""

    usage: Usage = attrs.field(factory=Usage)
    cost_usd: float = 0.0
    unpriced: frozenset[str] = frozenset()
    """Models used that have no price (their tokens count, their cost does not)."""

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            usage=self.usage + other.usage,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced=self.unpriced | other.unpriced,
        )

    @property
    def tokens(self) -> int:
        """Every kind of token."""
        return self.usage.total

    def as_json(self) -> dict[str, Any]:
        """As the report and ``status.json`` show it."""
        return {
            "usage": attrs.asdict(self.usage),
            "tokens": self.tokens,
            "costUsd": round(self.cost_usd, 6),
            "unpricedModels": sorted(self.unpriced),
        }


def price_usage(by_model: Mapping[str, Usage], prices: Mapping[str, Price]) -> Spend:
    """The spend of some usage per model at ``prices``."""
    spend = Spend()
    for model, usage in by_model.items():
        price = prices.get(model)
        spend += Spend(
            usage=usage,
            cost_usd=price.cost(usage) if price else 0.0,
            unpriced=frozenset() if price else frozenset({model}),
        )
    return spend


@final
@attrs.define(eq=False)
class CostLedger:
    """Spend per attribution, from every instance's transcripts, read as they grow."""

    prices: Mapping[str, Price] = DEFAULT_PRICES
    _readers: dict[Path, UsageLedger] = attrs.field(init=False, factory=dict)
    _spent: dict[Attribution, Spend] = attrs.field(init=False, factory=dict)
    _counted: set[str] = attrs.field(init=False, factory=set)
    """Every response id counted, from a transcript or the broker: each is charged once."""

    def read(self, projects_dir: Path, attribution: Attribution) -> Spend:
        """Read what an instance's transcripts gained since the last read; charge it.

        Returns the newly counted spend (``Spend()`` when nothing was new).
        """
        reader = self._readers.setdefault(projects_dir, UsageLedger(counted=self._counted))
        return self._charge(reader.read_tree(projects_dir), attribution)

    def served(self, message_id: str, model: str, usage: Usage, attribution: Attribution) -> Spend:
        """Charge a response the broker served, the moment it ended (once: a transcript
        holding the same response later adds nothing).

        Returns the newly counted spend (``Spend()`` when it was counted before).
        """
        if message_id in self._counted:
            return Spend()
        self._counted.add(message_id)
        return self._charge({model: usage}, attribution)

    def replay(self, charges: Iterable[ServedCharge]) -> Spend:
        """Charge what a killed run's broker served (from its journal), each response
        once: what this run's transcripts or broker count again adds nothing."""
        total = Spend()
        for charge in charges:
            total += self.served(charge.message_id, charge.model, charge.usage, charge.attribution)
        return total

    def _charge(self, by_model: Mapping[str, Usage], attribution: Attribution) -> Spend:
        new = price_usage(by_model, self.prices)
        if new.usage.total or new.unpriced:
            self._spent[attribution] = self._spent.get(attribution, Spend()) + new
        return new

    def spend(self) -> Spend:
        """The whole run's spend."""
        return sum(self._spent.values(), Spend())

    def spend_by(self, dimension: Dimension) -> dict[str, Spend]:
        """Spend grouped by instance, role, credential or task (``None`` tasks as ``-``)."""
        grouped: dict[str, Spend] = {}
        for attribution, spend in self._spent.items():
            key = getattr(attribution, dimension) or "-"
            grouped[key] = grouped.get(key, Spend()) + spend
        return grouped

    def spend_of(self, dimension: Dimension, name: str) -> Spend:
        """One instance's (credential's, ...) spend."""
        return self.spend_by(dimension).get(name, Spend())

    def responses(self) -> int:
        """Distinct responses counted over every instance."""
        return sum(r.responses for r in self._readers.values())

    def responses_of(self, projects_dir: Path) -> int:
        """Distinct responses counted in one instance's transcripts."""
        reader = self._readers.get(projects_dir)
        return reader.responses if reader else 0
