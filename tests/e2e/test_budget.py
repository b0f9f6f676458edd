"""Budgets enforced on a real run: the run's, and a credential's."""

from __future__ import annotations

import json

from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import Target
from .test_rotation import add_second_key, set_options


def recorded_message_ids(target: Target) -> set[str]:
    """The response ids in every instance's transcripts."""
    ids = set()
    for path in (target.workspace / ".orchestra" / "instances").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") == "assistant" and entry["message"].get("model") != "<synthetic>":
                ids.add(entry["message"]["id"])
    return ids


def assert_counted_exactly(target: Target, tokens: int, *, since: float) -> None:
    """The ledger counted every response the fake served, except those cut off after
    ``since``: a process stopped mid-turn never writes what it was receiving."""
    recorded = recorded_message_ids(target)
    served = [r for r in target.fake.requests if r.usage is not None]
    assert recorded <= {r.message_id for r in served}
    assert all(r.at >= since - 1 for r in served if r.message_id not in recorded)
    counted = sum((r.usage for r in served if r.message_id in recorded), Usage())
    assert tokens == counted.total


def test_a_run_budget_below_the_cost_ends_the_run_gracefully_at_the_budget(
    target: Target,
) -> None:
    # the whole sample run costs about $0.43 at the built-in prices
    set_options(target, budget={"usd": 0.2, "warnAt": [0.5]})
    result = target.run()
    assert result.returncode == 4, result.stderr[-3000:]
    assert "Run budget (exit 4)" in result.stdout
    report = target.report()
    assert report["outcome"] == "budget"
    spending = report["spending"]
    crossings = [(c["scope"], c["fraction"]) for c in spending["crossings"]]
    assert crossings == [("run", 0.5), ("run", 1.0)]  # warned first, then reached
    reached = spending["crossings"][-1]
    assert reached["spent"] >= 0.2
    # the run stopped at the budget: the rest of the sample was never started
    assert report["totals"]["tasksDone"] < len(DEFAULT_TASKS)
    assert spending["total"]["costUsd"] < 0.43
    assert_counted_exactly(target, spending["total"]["tokens"], since=reached["at"])
    assert {i["finalState"] for i in report["instances"]} == {"stopped"}
    target.assert_worker_commits_on_origin()
    target.assert_nothing_left_running()
    journal = target.state("journal.jsonl").read_text().splitlines()
    assert sum('"fraction"' in line for line in journal) == 2


def test_a_spent_credential_moves_its_holders_to_the_next_one(target: Target) -> None:
    add_second_key(target)
    # the run costs $0.43-0.50: the first key reaches $0.30, the rest fits on the second
    # everyone starts on the first key (no spreading), which is spent at $0.30
    set_options(target, authMode="oauth", budget={"credentialUsd": 0.3})
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    status = {c["name"]: c["status"] for c in report["credentials"]}
    assert status == {"fake-api": "spent", "second": "available"}
    assert report["rotations"]
    for rotation in report["rotations"]:
        assert (rotation["from_credential"], rotation["to_credential"]) == ("fake-api", "second")
        assert rotation["reason"] == "budget"
    by_credential = report["spending"]["byCredential"]
    assert by_credential["fake-api"]["costUsd"] >= 0.3
    assert by_credential["second"]["tokens"] > 0
    # a moved instance never used the spent key again
    moved_at = min(r["at"] for r in report["rotations"])
    for rotation in report["rotations"]:
        name = rotation["instance"]
        cwd = target.workspace / ("repo" if name == "manager" else f"worktrees/{name}")
        mine = [r for r in target.fake.requests if r.cwd == str(cwd)]
        first_on_second = min((r.number for r in mine if r.credential == "second"), default=0)
        if not first_on_second:
            continue  # the run ended before it needed the API again
        assert not [r for r in mine if r.credential == "fake-api" and r.number > first_on_second]
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    total = sum(c["tokens"] for c in by_credential.values())
    assert total == report["spending"]["total"]["tokens"]
    assert_counted_exactly(target, total, since=moved_at)
    assert json.dumps(report).count("sk-ant-") == 0


def test_an_instance_over_its_budget_is_stopped_for_good_and_the_managers_ends_the_run(
    target: Target,
) -> None:
    set_options(target, budget={"instanceUsd": 0.06})  # the manager spends ~$0.18 in a run
    result = target.run()
    assert result.returncode == 4, result.stderr[-3000:]
    report = target.report()
    spending = report["spending"]
    assert "manager" in spending["stoppedForBudget"]
    reached = [c for c in spending["crossings"] if c["reached"]]
    assert {c["scope"] for c in reached} == {"instance"}
    assert {c["name"] for c in reached} == set(spending["stoppedForBudget"])
    incidents = [i for i in report["incidents"] if i["kind"] == "budget_reached"]
    assert {i["instance"] for i in incidents} == set(spending["stoppedForBudget"])
    assert all(i["action"] == "stop it for good; its branch is pushed" for i in incidents)
    # a stopped instance was never restarted: one launch each
    for instance in report["instances"]:
        launches = [c for c in instance["history"] if c["evidence"] == "launched"]
        assert len(launches) == 1, instance["name"]
    target.assert_worker_commits_on_origin()
    target.assert_nothing_left_running()
