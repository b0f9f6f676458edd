"""The cost ledger's attribution and the budget watch's thresholds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.config_load import parse_orchestrator
from claude_orchestra.costs.budget import (
    BudgetConfig,
    BudgetCrossing,
    BudgetScope,
    BudgetWatch,
    Measure,
)
from claude_orchestra.costs.ledger import Attribution, CostLedger
from claude_orchestra.costs.transcripts import Price, Usage
from claude_orchestra.errors import ConfigError

PRICES = {"m": Price(input=1.0, output=10.0, cache_write=2.0, cache_read=0.5)}
WORKER = Attribution(instance="worker-1", role="worker", credential="key-1", task="a task")


def respond(folder: Path, message_id: str, *, input_tokens: int, model: str = "m") -> None:
    """Append one two-block response to a session file, as Claude Code writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    usage = {"input_tokens": input_tokens, "output_tokens": 0}
    line = {"type": "assistant", "message": {"id": message_id, "model": model, "usage": usage}}
    with (folder / "session.jsonl").open("a") as f:
        f.write((json.dumps(line) + "\n") * 2)


def test_new_usage_is_charged_to_the_attribution_at_the_time_of_the_read(tmp_path: Path) -> None:
    ledger = CostLedger(prices=PRICES)
    respond(tmp_path, "msg_1", input_tokens=1_000_000)
    first = ledger.read(tmp_path, WORKER)
    assert first.cost_usd == pytest.approx(1.0)
    respond(tmp_path, "msg_2", input_tokens=500_000)
    moved = Attribution(instance="worker-1", role="worker", credential="key-2", task="a task")
    ledger.read(tmp_path, moved)
    assert ledger.read(tmp_path, moved).tokens == 0  # nothing new, nothing charged
    by_credential = ledger.spend_by("credential")
    assert by_credential["key-1"].cost_usd == pytest.approx(1.0)
    assert by_credential["key-2"].cost_usd == pytest.approx(0.5)
    assert ledger.spend_by("instance")["worker-1"].tokens == 1_500_000
    assert ledger.spend_by("task")["a task"].tokens == 1_500_000
    assert ledger.responses_of(tmp_path) == 2


def test_a_response_the_broker_served_is_charged_once_whoever_tells_first(
    tmp_path: Path,
) -> None:
    ledger = CostLedger(prices=PRICES)
    usage = Usage(input_tokens=1_000_000)
    # the broker first (as the response ends), then the transcript holding it
    assert ledger.served("msg_1", "m", usage, WORKER).cost_usd == pytest.approx(1.0)
    respond(tmp_path, "msg_1", input_tokens=1_000_000)
    assert ledger.read(tmp_path, WORKER).tokens == 0
    # the transcript first, then a late broker record of the same response
    respond(tmp_path, "msg_2", input_tokens=500_000)
    assert ledger.read(tmp_path, WORKER).tokens == 500_000
    assert ledger.served("msg_2", "m", Usage(input_tokens=500_000), WORKER).tokens == 0
    assert ledger.spend().tokens == 1_500_000
    assert ledger.responses_of(tmp_path) == 2  # both are in this instance's transcripts


def test_a_response_only_the_broker_saw_is_charged_to_the_credential_that_answered() -> None:
    # a remote worker: its transcripts are on its host, the broker's record is all there is
    ledger = CostLedger(prices=PRICES)
    answered = Attribution(instance="worker-1", role="worker", credential="key-2", task="a task")
    ledger.served("msg_1", "m", Usage(output_tokens=100_000), answered)
    assert ledger.spend_of("credential", "key-2").cost_usd == pytest.approx(1.0)
    assert ledger.spend_of("instance", "worker-1").tokens == 100_000


def test_an_unpriced_model_counts_tokens_and_is_named(tmp_path: Path) -> None:
    ledger = CostLedger(prices=PRICES)
    respond(tmp_path, "msg_1", input_tokens=100, model="unknown")
    ledger.read(tmp_path, WORKER)
    spend = ledger.spend()
    assert (spend.tokens, spend.cost_usd, spend.unpriced) == (100, 0.0, frozenset({"unknown"}))


def test_each_threshold_is_reported_once_warnings_before_the_limit(tmp_path: Path) -> None:
    ledger = CostLedger(prices=PRICES)
    watch = BudgetWatch(BudgetConfig(usd=2.0, instance_tokens=1_500_000, warn_at=(0.5, 0.8)))
    respond(tmp_path, "msg_1", input_tokens=1_000_000)  # $1: half the run's USD
    ledger.read(tmp_path, WORKER)
    first = watch.check(ledger, now=1.0)
    assert [(c.scope, c.measure, c.fraction) for c in first] == [
        (BudgetScope.RUN, Measure.USD, 0.5),
        (BudgetScope.INSTANCE, Measure.TOKENS, 0.5),
    ]
    assert watch.check(ledger, now=2.0) == []
    respond(tmp_path, "msg_2", input_tokens=1_000_000)  # $2, 2M tokens: both limits reached
    ledger.read(tmp_path, WORKER)
    second = watch.check(ledger, now=3.0)
    assert [c.reached for c in second] == [False, False, True, True]
    assert {(c.scope, c.name) for c in second if c.reached} == {
        (BudgetScope.RUN, "run"),
        (BudgetScope.INSTANCE, "worker-1"),
    }
    assert second[-1].describe().startswith(("run: limit reached", "instance worker-1"))


@given(st.lists(st.integers(min_value=1, max_value=400_000), min_size=1, max_size=20))
def test_a_limit_is_reached_exactly_when_the_spend_first_meets_it(steps: list[int]) -> None:
    ledger = CostLedger(prices=PRICES)
    watch = BudgetWatch(BudgetConfig(tokens=1_000_000, warn_at=()))
    reached_at = []
    total = 0
    with tempfile.TemporaryDirectory() as folder:
        for number, tokens in enumerate(steps):
            respond(Path(folder), f"msg_{number}", input_tokens=tokens)
            ledger.read(Path(folder), WORKER)
            total += tokens
            if any(c.reached for c in watch.check(ledger, now=number)):
                reached_at.append(total)
    running = [sum(steps[: i + 1]) for i in range(len(steps))]
    expected = next((t for t in running if t >= 1_000_000), None)
    assert reached_at == ([] if expected is None else [expected])


def test_the_budget_and_prices_are_read_from_orchestrator_json() -> None:
    config = parse_orchestrator(
        {
            "repositoryUrl": "/tmp/repo",
            "budget": {"usd": 5, "credentialUsd": 2.5, "warnAt": [0.9, 0.5]},
            "prices": {"m": {"input": 1, "output": 2, "cacheWrite": 3, "cacheRead": 0.1}},
        }
    )
    assert config.budget == BudgetConfig(usd=5.0, credential_usd=2.5, warn_at=(0.5, 0.9))
    assert config.prices["m"] == Price(input=1.0, output=2.0, cache_write=3.0, cache_read=0.1)


def test_bad_budget_fields_are_named_with_their_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_orchestrator(
            {
                "repositoryUrl": "/tmp/repo",
                "budget": {"usd": 0, "tokens": 1.5, "warnAt": [1.2], "perRun": 3},
                "prices": {"m": {"input": 1, "output": 2, "cacheWrite": 3}},
            },
            path="conf/orchestrator.json",
        )
    assert str(caught.value).splitlines() == [
        "conf/orchestrator.json: budget.perRun: unknown key",
        "conf/orchestrator.json: budget.usd: must be greater than 0, got 0",
        "conf/orchestrator.json: budget.tokens: must be an integer, got 1.5",
        "conf/orchestrator.json: budget.warnAt: must hold fractions between 0 and 1 "
        "(exclusive), got 1.2",
        "conf/orchestrator.json: prices.m.cacheRead: required",
    ]


def test_per_credential_and_usd_only_instance_limits_are_watched(tmp_path: Path) -> None:
    ledger = CostLedger(prices=PRICES)
    watch = BudgetWatch(BudgetConfig(instance_usd=0.5, credential_tokens=800_000, warn_at=()))
    respond(tmp_path, "msg_1", input_tokens=1_000_000)  # $1, 1M tokens on worker-1 / key-1
    ledger.read(tmp_path, WORKER)
    crossed = watch.check(ledger, now=7.5)
    assert [(c.scope, c.name, c.measure, c.limit, c.at) for c in crossed] == [
        (BudgetScope.INSTANCE, "worker-1", Measure.USD, 0.5, 7.5),
        (BudgetScope.CREDENTIAL, "key-1", Measure.TOKENS, 800_000.0, 7.5),
    ]
    assert all(c.reached for c in crossed)


def crossing(scope: BudgetScope, name: str, measure: Measure, *numbers: float) -> BudgetCrossing:
    fraction, spent, limit = numbers
    return BudgetCrossing(
        scope=scope, name=name, measure=measure, fraction=fraction, spent=spent, limit=limit, at=0
    )


@pytest.mark.parametrize(
    ("crossed", "line"),
    [
        (
            crossing(BudgetScope.RUN, "run", Measure.USD, 1.0, 2.5, 2.0),
            "run: limit reached: $2.5000 of $2 usd",
        ),
        (
            crossing(BudgetScope.CREDENTIAL, "key-1", Measure.TOKENS, 0.8, 1200.4, 1500.0),
            "credential key-1: 80% of the limit: 1200 of 1500 tokens",
        ),
        (
            crossing(BudgetScope.INSTANCE, "worker-2", Measure.USD, 0.5, 0.25, 0.5),
            "instance worker-2: 50% of the limit: $0.2500 of $0.5 usd",
        ),
    ],
)
def test_a_crossing_is_described_in_one_line_with_its_unit(
    crossed: BudgetCrossing, line: str
) -> None:
    assert crossed.describe() == line


def test_limits_may_be_small_and_warnings_lie_strictly_between_0_and_1() -> None:
    assert BudgetConfig(usd=0.25, warn_at=(0.01, 0.99)).warn_at == (0.01, 0.99)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="between 0 and 1"):
            BudgetConfig(usd=1.0, warn_at=(bad,))


def test_credential_limits_alone_are_watched(tmp_path: Path) -> None:
    ledger = CostLedger(prices=PRICES)
    watch = BudgetWatch(BudgetConfig(credential_usd=0.5, warn_at=()))
    respond(tmp_path, "msg_1", input_tokens=1_000_000)  # $1 on key-1
    ledger.read(tmp_path, WORKER)
    assert [(c.scope, c.name) for c in watch.check(ledger, now=1.0)] == [
        (BudgetScope.CREDENTIAL, "key-1")
    ]
