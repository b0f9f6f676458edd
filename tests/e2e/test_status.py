"""`claude-orchestra status` on a live run, a finished one and one whose process was killed."""

from __future__ import annotations

import json
import os
import signal

from claude_orchestra.testing.faults import Fault

from .conftest import Target, cli


def status(target: Target) -> dict[str, object]:
    result = cli("status", "--workspace", str(target.workspace), "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_status_shows_a_live_run_with_evidence_then_its_outcome(target: Target) -> None:
    target.fake.inject("*", Fault.slow(delay=0.3), times=8)  # live while status is asked
    run = target.start()
    target.fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)
    live = status(target)
    assert live["run"] == "running"
    instances = {i["name"]: i for i in live["instances"]}  # type: ignore[attr-defined]
    assert set(instances) == {"manager", "worker-1", "worker-2"}
    assert all(i["lastEvent"] and i["lastEventAt"] for i in instances.values())
    assert any(instances[w]["state"] in {"prompted", "working"} for w in ("worker-1", "worker-2"))
    assert instances["manager"]["costUsd"] > 0  # it planned: its spend is counted already
    text = cli("status", "--workspace", str(target.workspace))
    assert text.stdout.startswith("Run running")
    assert "worker-1" in text.stdout
    assert "credential fake-api" in text.stdout

    _, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-3000:]
    ended = status(target)
    assert ended["run"] == "ended: complete"
    assert ended["tasks"] == {"total": 4, "done": 4}
    report = target.report()
    assert ended["spending"]["total"] == report["spending"]["total"]  # type: ignore[index]


def test_a_killed_orchestrator_shows_as_not_running_and_cleanup_ends_its_instances(
    target: Target,
) -> None:
    target.fake.inject("*", Fault.slow(delay=0.3))
    run = target.start()
    target.fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert status(target)["run"] == "not running (no outcome)"
    result = cli("cleanup", "--workspace", str(target.workspace))
    assert result.returncode in (0, 1), result.stderr  # 1: a worktree with unpushed work stays
    target.assert_nothing_left_running()


def test_status_of_a_folder_without_a_run_is_one_line_and_exit_2(target: Target) -> None:
    result = cli("status", "--workspace", str(target.workspace))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "holds no run status" in result.stderr
