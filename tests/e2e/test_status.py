"""`claude-orchestra status` on a live run, a finished one and one whose process was killed."""

from __future__ import annotations

import os
import signal

from claude_orchestra.testing.faults import Fault

from .conftest import WORKER_ACTIONS, Target, WatchedRun, cli, is_action, status_json


def test_status_shows_a_live_run_with_evidence_then_its_outcome(watched_run: WatchedRun) -> None:
    """Also: while instances run, no key is on a command line or in tmux's environment."""
    live = watched_run.live_status
    assert live["run"] == "running"
    instances = {i["name"]: i for i in live["instances"]}
    assert set(instances) == {"manager", "worker-1", "worker-2"}
    assert all(i["lastEvent"] and i["lastEventAt"] for i in instances.values())
    assert any(instances[w]["state"] in {"prompted", "working"} for w in ("worker-1", "worker-2"))
    assert instances["manager"]["costUsd"] > 0  # it planned: its spend is counted already
    assert watched_run.live_text.startswith("Run running")
    assert "worker-1" in watched_run.live_text
    assert "credential fake-api" in watched_run.live_text

    assert watched_run.returncode == 0, watched_run.stderr[-3000:]
    assert watched_run.secrets_seen == []  # and every instance had its key: the run completed
    target = watched_run.target
    ended = status_json(target)
    assert ended["run"] == "ended: complete"
    assert ended["tasks"] == {"total": 4, "done": 4}
    report = target.report()
    assert ended["spending"]["total"] == report["spending"]["total"]


def test_a_killed_orchestrator_shows_as_not_running_and_cleanup_ends_its_instances(
    queued_target: Target,
) -> None:
    target = queued_target
    target.fake.inject("*", Fault.slow(delay=0.3))
    run = target.start()
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert status_json(target)["run"] == "not running (no outcome)"
    result = cli("cleanup", "--workspace", str(target.workspace))
    assert result.returncode in (0, 1), result.stderr  # 1: a worktree with unpushed work stays
    target.assert_nothing_left_running()


def test_status_of_a_folder_without_a_run_is_one_line_and_exit_2(target: Target) -> None:
    result = cli("status", "--workspace", str(target.workspace))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "holds no run status" in result.stderr
