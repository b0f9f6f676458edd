"""`claude-orchestra run` as a user runs it: real Claude Code, real tmux and git, fake API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from claude_orchestra.tasklists import parse_task_list
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS, create_origin, write_config_folder

KEY = "sk-ant-e2e-" + "7" * 32


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(origin: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(origin), *args], capture_output=True, text=True, check=True
    ).stdout


def tree_text(folder: Path) -> str:
    """Everything readable under ``folder`` (to search it for secrets)."""
    chunks = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


def test_two_workers_finish_the_direction_and_leave_nothing_running(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    origin = create_origin(tmp_path)
    workspace = tmp_path / "workspace"
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            tmp_path / "config", origin=origin, base_url=fake.base_url, key=KEY, workspace=workspace
        )
        result = cli("run", "--config", str(config))
        served = fake.served_usage()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run complete" in result.stdout

    # origin's run branch holds both workers' work and every list ticked
    files = git(origin, "ls-tree", "-r", "--name-only", "main").split()
    for name in ("greet.py", "farewell.py", "shout.py", "docs/usage.md"):
        assert name in files
    authors = set(git(origin, "log", "--format=%an", "main").split("\n"))
    assert {"worker-1 (claude-orchestra)", "worker-2 (claude-orchestra)"} <= authors
    tasks = []
    for worker in (1, 2):
        text = git(origin, "show", f"main:WORKER_{worker}_TASK_LIST.md")
        task_list = parse_task_list(text)
        assert task_list.finished
        tasks += [item.text for item in task_list.items]
    assert sorted(tasks) == sorted(DEFAULT_TASKS)
    for worker in (1, 2):  # nothing on a worker branch is missing from main
        assert git(origin, "rev-list", "--count", f"main..worker-{worker}").strip() == "0"

    # the report's tokens are exactly what the fake API served
    report = json.loads((workspace / ".orchestra" / "report.json").read_text())
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
    run = json.loads((workspace / ".orchestra" / "run.json").read_text())
    alive = subprocess.run(
        ["tmux", "-L", run["tmuxSocket"], "has-session"], capture_output=True, check=False
    )
    assert alive.returncode != 0
    mine = str(workspace)
    leftovers = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout
    assert [line for line in leftovers.splitlines() if mine in line] == []
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", run["hookPort"]), 1),
    ):
        pass

    # the key never reaches logs, report, journal, worktrees or origin's history
    assert KEY not in result.stdout + result.stderr
    assert KEY not in tree_text(workspace / ".orchestra" / "logs")
    assert KEY not in (workspace / ".orchestra" / "report.json").read_text()
    assert KEY not in (workspace / ".orchestra" / "journal.jsonl").read_text()
    assert KEY not in tree_text(workspace / "worktrees")
    assert KEY not in git(origin, "log", "-p", "--all")


def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text('{"repositoryUrl": "x", "workerCount": 0}')
    (config / "api-keys.json").write_text(f'[{{"name": "k", "primaryApiKey": 5, "x": "{KEY}"}}]')
    for command in ("validate", "run"):
        result = cli(command, "--config", str(config))
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert lines == [
            f"claude-orchestra: {config / 'orchestrator.json'}: workerCount: "
            "must be between 1 and 20, got 0"
        ]
    (config / "orchestrator.json").write_text('{"repositoryUrl": "x"}')
    result = cli("validate", "--config", str(config))
    assert result.returncode == 2
    assert KEY not in result.stderr
    assert "Traceback" not in result.stderr
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


def test_at_the_time_limit_the_run_stops_gracefully_with_exit_3(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    origin = create_origin(tmp_path)
    workspace = tmp_path / "workspace"
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            tmp_path / "config",
            origin=origin,
            base_url=fake.base_url,
            key=KEY,
            workspace=workspace,
            minutes=0.25,
        )
        run = subprocess.Popen(
            [sys.executable, "-m", "claude_orchestra", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # once a worker is at work, every later request hangs: the run cannot finish
        fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)
        fake.inject("*", Fault.hang())
        out, err = run.communicate(timeout=120)
    assert run.returncode == 3, err[-3000:]
    assert "Run time_limit" in out
    report = json.loads((workspace / ".orchestra" / "report.json").read_text())
    assert report["outcome"] == "time_limit"
    # every commit a worker made is on origin
    for worker in (1, 2):
        local = subprocess.run(
            ["git", "-C", str(workspace / "repo"), "rev-parse", f"worker-{worker}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert git(origin, "branch", "--contains", local, "--all").strip() != ""
    assert {i["finalState"] for i in report["instances"]} <= {"stopped"}


def test_a_rate_limited_key_moves_the_instance_to_the_next_key(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    origin = create_origin(tmp_path)
    workspace = tmp_path / "workspace"
    second = "sk-ant-e2e-" + "8" * 32
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        fake.register("second", second)
        config = write_config_folder(
            tmp_path / "config", origin=origin, base_url=fake.base_url, key=KEY, workspace=workspace
        )
        keys = json.loads((config / "api-keys.json").read_text())
        keys.append({"name": "second", "env": {**keys[0]["env"], "ANTHROPIC_API_KEY": second}})
        (config / "api-keys.json").write_text(json.dumps(keys))
        fake.inject("fake-api", Fault.rate_limit(retry_after=3600), times=1)
        result = cli("run", "--config", str(config))
        requests = fake.requests
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((workspace / ".orchestra" / "report.json").read_text())
    (incident,) = [i for i in report["incidents"] if i["kind"] == "rate_limited"]
    assert incident["action"] == "restart on second"
    limited = next(r for r in requests if r.status == 429)
    later = [r for r in requests if r.number > limited.number and r.cwd == limited.cwd]
    assert later
    assert {r.credential for r in later} == {"second"}
    # the conversation went on in the same session, the failed prompt included
    assert later[0].session_id == limited.session_id
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)


def test_sigterm_stops_the_run_cleanly(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    origin = create_origin(tmp_path)
    workspace = tmp_path / "workspace"
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            tmp_path / "config", origin=origin, base_url=fake.base_url, key=KEY, workspace=workspace
        )
        fake.inject("*", Fault.slow(delay=0.5))  # keep the run busy while we stop it
        run = subprocess.Popen(
            [sys.executable, "-m", "claude_orchestra", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)
        run.terminate()
        _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err[-2000:]
    report = json.loads((workspace / ".orchestra" / "report.json").read_text())
    assert report["outcome"] == "interrupted"
    tmux = json.loads((workspace / ".orchestra" / "run.json").read_text())["tmuxSocket"]
    alive = subprocess.run(["tmux", "-L", tmux, "has-session"], capture_output=True, check=False)
    assert alive.returncode != 0
    leftovers = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout
    assert [line for line in leftovers.splitlines() if str(workspace) in line] == []
