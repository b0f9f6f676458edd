"""Hard budgets at the broker: no request starts past a limit.

The transcript ledger (:mod:`claude_orchestra.costs.budget`) notices a limit after a response is
written, so every request in flight overshoots it. The broker knows each response's usage
the moment its stream ends; :class:`Spent` keeps the sums (tokens, and USD where the model
has a price) for the run, each instance and each credential, and :func:`admit` says,
before a request goes out, whether it may: a run's or an instance's spent budget refuses
it (:class:`Refuse`, answered in the API's own error shape), a credential's spent budget
retires that credential (:class:`Retire`) and the request tries the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.costs.transcripts import Price, Usage


@final
@attrs.frozen
class Allow:
    """The request may go out."""


@final
@attrs.frozen(kw_only=True)
class Refuse:
    """The run's or the instance's budget is spent: answer the instance with an error."""

    reason: str


@final
@attrs.frozen(kw_only=True)
class Retire:
    """The credential's budget is spent: never send on it again in this run."""

    reason: str


@final
@attrs.frozen
class Tab:
    """Tokens and USD spent by one run, instance or credential."""

    tokens: int = 0
    usd: float = 0.0

    def plus(self, usage: Usage, price: Price | None) -> Tab:
        """This tab with ``usage`` added (priced when its model has a price)."""
        return Tab(self.tokens + usage.total, self.usd + (price.cost(usage) if price else 0.0))


def _over(tab: Tab, usd: float | None, tokens: int | None) -> str | None:
    if tokens is not None and tab.tokens >= tokens:
        return f"{tab.tokens} of {tokens} tokens"
    if usd is not None and tab.usd >= usd:
        return f"${tab.usd:.4f} of ${usd:.4f}"
    return None


@final
@attrs.define(eq=False)
class Spent:
    """What went through the broker, summed as each response ends."""

    prices: Mapping[str, Price] = attrs.field(factory=dict)
    run: Tab = attrs.field(init=False, factory=Tab)
    _instances: dict[str, Tab] = attrs.field(init=False, factory=dict)
    _credentials: dict[str, Tab] = attrs.field(init=False, factory=dict)

    def add(self, instance: str, credential: str, model: str | None, usage: Usage) -> None:
        """Count a response's ``usage``."""
        price = self.prices.get(model) if model else None
        self.run = self.run.plus(usage, price)
        self._instances[instance] = self.instance(instance).plus(usage, price)
        self._credentials[credential] = self.credential(credential).plus(usage, price)

    def instance(self, name: str) -> Tab:
        """What ``name`` spent."""
        return self._instances.get(name, Tab())

    def credential(self, name: str) -> Tab:
        """What was spent on ``name``."""
        return self._credentials.get(name, Tab())


def admit(
    budget: BudgetConfig, spent: Spent, instance: str, credential: str
) -> Allow | Refuse | Retire:
    """Whether a request of ``instance`` may go out on ``credential`` now."""
    if reason := _over(spent.run, budget.usd, budget.tokens):
        return Refuse(reason=f"the run's budget is spent ({reason})")
    if reason := _over(spent.instance(instance), budget.instance_usd, budget.instance_tokens):
        return Refuse(reason=f"{instance}'s budget is spent ({reason})")
    if reason := _over(
        spent.credential(credential), budget.credential_usd, budget.credential_tokens
    ):
        return Retire(reason=f"credential {credential}'s budget is spent ({reason})")
    return Allow()
