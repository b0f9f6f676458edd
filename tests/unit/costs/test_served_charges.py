"""What the broker served is journaled as it is charged, and a resumed run's ledger
starts from it: a remote worker's transcripts stay on its host, so the journal is the only
record here of what it spent before the run was killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.broker.meter import Metered, Served
from claude_orchestra.costs.ledger import CostLedger
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.resume import read_previous_run
from claude_orchestra.testing.machines.loop_world import RecordingRuntime, build_loop
from claude_orchestra.workspace import Workspace

pytestmark = pytest.mark.anyio


def served(instance: str, message_id: str, usage: Usage, credential: str = "k1") -> Metered:
    response = Served(
        instance=instance,
        credential=credential,
        status=200,
        usage=usage,
        message_id=message_id,
        model="claude-sonnet-4-5",
    )
    return Metered(instance=instance, at=1.0, served=response)


async def test_a_resumed_ledger_counts_what_the_killed_runs_broker_served_once(
    tmp_path: Path,
) -> None:
    coordinator = build_loop(tmp_path / "killed", ManualClock(), RecordingRuntime())
    spending = coordinator.spending
    spending.metered(served("worker-1", "msg_1", Usage(input_tokens=10, output_tokens=200)))
    spending.metered(served("worker-2", "msg_2", Usage(output_tokens=30), credential="k3"))
    spending.metered(served("worker-1", "msg_1", Usage(output_tokens=200)))  # counted once
    coordinator.ctx.journal.close()

    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    workspace.repo.mkdir(parents=True)
    workspace.write_run_file({"pid": 2**22 + 12345})  # not alive
    workspace.journal.write_text((tmp_path / "killed" / "journal.jsonl").read_text())
    previous = read_previous_run(workspace)

    assert [c.message_id for c in previous.charges] == ["msg_1", "msg_2"]
    resumed = CostLedger(prices={})
    assert resumed.replay(previous.charges).tokens == 240
    for dimension in ("instance", "credential", "role", "task"):
        assert resumed.spend_by(dimension) == spending.ledger.spend_by(dimension)
    # the same responses met again (a transcript, the broker) add nothing
    assert resumed.replay(previous.charges).tokens == 0
    assert (
        resumed.served(
            "msg_2",
            "claude-sonnet-4-5",
            Usage(output_tokens=30),
            attribution=(previous.charges[1].attribution),
        ).tokens
        == 0
    )
