"""`claude-orchestra run` as a user runs it: real Claude Code, real tmux and git, fake API."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from claude_orchestra.tasklists import parse_task_list
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import KEY, QUICK_TASKS, WORKER_ACTIONS, Target, WatchedRun, cli, is_action


def tree_text(folder: Path) -> str:
    """Everything readable under ``folder`` (to search it for secrets)."""
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_two_workers_finish_the_direction_and_leave_nothing_running(
    watched_run: WatchedRun,
) -> None:
    target = watched_run.target
    served = target.fake.served_usage()
    assert watched_run.returncode == 0, watched_run.stderr[-3000:]
    assert "Run complete" in watched_run.stdout

    # origin's run branch holds both workers' work and every list ticked
    files = target.git("ls-tree", "-r", "--name-only", "main").split()
    for name in ("greet.py", "farewell.py", "shout.py", "docs/usage.md"):
        assert name in files
    authors = set(target.git("log", "--format=%an", "main").split("\n"))
    assert {"worker-1 (claude-orchestra)", "worker-2 (claude-orchestra)"} <= authors
    tasks = []
    for worker in (1, 2):
        task_list = parse_task_list(target.git("show", f"main:WORKER_{worker}_TASK_LIST.md"))
        assert task_list.finished
        tasks += [item.text for item in task_list.items]
    assert sorted(tasks) == sorted(DEFAULT_TASKS)
    for worker in (1, 2):  # nothing on a worker branch is missing from main
        assert target.git("rev-list", "--count", f"main..worker-{worker}").strip() == "0"

    # the report's tokens are exactly what the fake API served
    report = target.report()
    assert report["outcome"] == "complete"
    assert report["exitCode"] == 0
    totals = report["totals"]["usage"]
    assert totals["input_tokens"] == served.input_tokens
    assert totals["output_tokens"] == served.output_tokens
    assert totals["cache_read_input_tokens"] == served.cache_read_input_tokens
    assert totals["cache_creation_input_tokens"] == served.cache_creation_input_tokens
    assert {i["name"]: i["finalState"] for i in report["instances"]} == {
        "manager": "stopped",
        "worker-1": "stopped",
        "worker-2": "stopped",
    }

    # nothing is left running: no tmux server, no claude, no hook port
    target.assert_nothing_left_running()
    port = json.loads(target.state("run.json").read_text())["hookPort"]
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), 1),
    ):
        pass

    # the key never reaches logs, report, journal, worktrees or origin's history
    assert KEY not in watched_run.stdout + watched_run.stderr
    assert KEY not in tree_text(target.state("logs"))
    assert KEY not in target.state("report.json").read_text()
    assert KEY not in target.state("journal.jsonl").read_text()
    assert KEY not in tree_text(target.workspace / "worktrees")
    assert KEY not in target.git("log", "-p", "--all")


def test_at_the_time_limit_the_run_stops_gracefully_with_exit_3(queued_target: Target) -> None:
    target = queued_target
    settings = json.loads((target.config / "orchestrator.json").read_text())
    settings["maxRunDurationMinutes"] = 0.25
    (target.config / "orchestrator.json").write_text(json.dumps(settings))
    run = target.start()
    # once a worker is at work, every later request hangs: the run cannot finish
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    target.fake.inject("*", Fault.hang())
    out, err = run.communicate(timeout=120)
    assert run.returncode == 3, err[-3000:]
    assert "Run time_limit" in out
    report = target.report()
    assert report["outcome"] == "time_limit"
    assert {i["finalState"] for i in report["instances"]} == {"stopped"}
    target.assert_worker_commits_on_origin()
    target.assert_nothing_left_running()


def test_a_rate_limited_key_moves_the_instance_to_the_next_key(queued_target: Target) -> None:
    target = queued_target
    second = "sk-ant-e2e-" + "8" * 32
    target.fake.register("second", second)
    keys = json.loads((target.config / "api-keys.json").read_text())
    keys.append({"name": "second", "env": {**keys[0]["env"], "ANTHROPIC_API_KEY": second}})
    (target.config / "api-keys.json").write_text(json.dumps(keys))
    # a retry-after Claude Code would wait out by itself (under a minute): with the shipped
    # maxRetries (0) the turn fails at once and the instance moves, without waiting
    target.fake.inject("fake-api", Fault.rate_limit(retry_after=30), times=1)
    result = target.run()
    requests = target.fake.requests
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    (incident,) = [i for i in report["incidents"] if i["kind"] == "rate_limited"]
    assert incident["action"] == "restart on second"
    limited = next(r for r in requests if r.status == 429)
    later = [r for r in requests if r.number > limited.number and r.cwd == limited.cwd]
    assert later
    assert {r.credential for r in later} == {"second"}
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)


def test_sigterm_stops_the_run_cleanly(queued_target: Target) -> None:
    target = queued_target
    target.fake.inject("*", Fault.slow(delay=0.5))  # keep the run busy while we stop it
    run = target.start()
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    run.terminate()
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err[-2000:]
    assert target.report()["outcome"] == "interrupted"
    target.assert_nothing_left_running()


def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text('{"repositoryUrl": "x", "workerCount": 0}')
    (config / "api-keys.json").write_text(f'[{{"name": "k", "primaryApiKey": 5, "x": "{KEY}"}}]')
    for command in ("validate", "run"):
        result = cli(command, "--config", str(config))
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"claude-orchestra: {config / 'orchestrator.json'}: workerCount: "
            "must be between 1 and 20, got 0"
        ]
    (config / "orchestrator.json").write_text('{"repositoryUrl": "x"}')
    result = cli("validate", "--config", str(config))
    assert result.returncode == 2
    assert KEY not in result.stderr
    assert result.stderr.splitlines() == [
        f"claude-orchestra: {config / 'api-keys.json'}: [0].x: unknown key",
        f"claude-orchestra: {config / 'api-keys.json'}: [0].primaryApiKey: "
        "must be a non-empty string",
    ]


def test_bad_arguments_are_one_line_and_exit_2() -> None:
    result = cli("run")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "--config" in result.stderr
    assert cli("frobnicate").returncode == 2


def test_a_missing_claude_is_a_prerequisite_error(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text(
        json.dumps({"repositoryUrl": str(tmp_path), "claudeCommand": "/nonexistent/claude"})
    )
    (config / "api-keys.json").write_text('[{"name": "k", "apiKey": "sk-ant-x"}]')
    result = cli("run", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr == "claude-orchestra: claude: not found: /nonexistent/claude\n"
