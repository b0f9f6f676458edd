"""`claude-orchestra status` on a live run, a finished one and one whose process was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from claude_orchestra.testing.faults import Fault

from .conftest import KEY, WORKER_ACTIONS, Target, cli, is_action


def where_the_key_shows(target: Target) -> list[str]:
    """Places a live run could leak the API key: tmux's session environment (a window
    without its own value inherits it) and global one, every process's command line, and
    the launch files the relays delete once read."""
    socket = json.loads(target.state("run.json").read_text())["tmuxSocket"]
    places = {
        "tmux session env": ["tmux", "-L", socket, "show-environment", "-t", "orchestra"],
        "tmux global env": ["tmux", "-L", socket, "show-environment", "-g"],
        "a command line": ["ps", "-eww", "-o", "args"],
    }
    seen = []
    for place, command in places.items():
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        if KEY in out or (place.startswith("tmux") and "ANTHROPIC_API_KEY=" in out):
            seen.append(place)
    leftovers = (target.workspace / ".orchestra" / "instances").glob("**/launch-env.json")
    return seen + [f"left file {path}" for path in leftovers]


def status(target: Target) -> dict[str, object]:
    result = cli("status", "--workspace", str(target.workspace), "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_status_shows_a_live_run_with_evidence_then_its_outcome(target: Target) -> None:
    """Also: while instances run, no key is on a command line or in tmux's environment."""
    target.fake.inject("*", Fault.slow(delay=0.3), times=8)  # live while status is asked
    run = target.start()
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    secrets_seen = where_the_key_shows(target)
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
    assert secrets_seen == []  # and every instance had its key: the run completed
    ended = status(target)
    assert ended["run"] == "ended: complete"
    assert ended["tasks"] == {"total": 4, "done": 4}
    report = target.report()
    assert ended["spending"]["total"] == report["spending"]["total"]  # type: ignore[index]


def test_a_killed_orchestrator_shows_as_not_running_and_cleanup_ends_its_instances(
    queued_target: Target,
) -> None:
    target = queued_target
    target.fake.inject("*", Fault.slow(delay=0.3))
    run = target.start()
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
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
