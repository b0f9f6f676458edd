"""The real Claude Code CLI (``-p``) against the fake Messages API.

Checks what the fake is for: Claude Code accepts its frames, runs the tools it asks for,
records exactly the usage it served, and reports its injected errors. The ``claude_binary``
fixture skips these tests when the pinned CLI is missing (and fails them under ``CI``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from claude_orchestra.costs.transcripts import Usage, UsageLedger
from claude_orchestra.prompt_tag import render_prompt_tag
from claude_orchestra.tasklists import parse_task_list
from claude_orchestra.testing.fake_api import FakeAnthropicAPI, Fault, FaultKind, Latency
from claude_orchestra.testing.scripted import EchoScript, OrchestraScript

pytestmark = pytest.mark.claude

KEY = "sk-ant-test-fake-api-0123456789abcdef"
RUN_TIMEOUT = 45.0


@attrs.frozen
class Run:
    returncode: int
    output: Mapping[str, Any]
    stderr: str


def claude_env(fake: FakeAnthropicAPI, config_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment (HOME kept) minus Claude/Anthropic settings, plus ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE", "API_TIMEOUT"))
    }
    return env | {
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": fake.base_url,
        "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "IS_SANDBOX": "1",
        **extra,
    }


def run_claude(
    claude: Path, prompt: str, *, cwd: Path, env: Mapping[str, str], bypass: bool = False
) -> Run:
    command = [str(claude), "-p", prompt, "--output-format", "json"]
    if bypass:
        command.append("--dangerously-skip-permissions")
    done = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.stdout, f"no output; stderr: {done.stderr}"
    return Run(returncode=done.returncode, output=json.loads(done.stdout), stderr=done.stderr)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def git_repo(path: Path) -> Path:
    git(path.parent, "init", "-q", str(path))
    git(path, "config", "user.name", "Tester")
    git(path, "config", "user.email", "tester@example.com")
    return path


@pytest.fixture
def fake() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(script=EchoScript()) as api:
        api.register("test-key", KEY)
        yield api


def test_a_prompt_is_answered_and_the_usage_matches(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    work = git_repo(tmp_path / "work")
    run = run_claude(claude_binary, "say hi", cwd=work, env=claude_env(fake, tmp_path / "cfg"))
    assert run.returncode == 0, run.stderr
    assert run.output["result"] == "echo: say hi"
    assert run.output["is_error"] is False
    [request] = fake.requests
    assert request.credential == "test-key"
    assert request.cwd == str(work)
    assert request.last_user_text == "say hi"
    assert Usage.from_api(run.output["usage"]) == fake.served_usage()
    assert fake.served_usage().cache_read_input_tokens > 0


def test_a_tool_round_trip_runs_bash_and_the_transcript_usage_matches(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    work = git_repo(tmp_path / "work")
    config = tmp_path / "cfg"
    prompt = "please run: echo made > made.txt && echo created it"
    run = run_claude(claude_binary, prompt, cwd=work, env=claude_env(fake, config), bypass=True)
    assert run.returncode == 0, run.stderr
    assert (work / "made.txt").read_text() == "made\n"
    assert run.output["result"] == "done: created it"
    assert [r.status for r in fake.requests] == [200, 200]
    ledger = UsageLedger()
    ledger.read_tree(config / "projects")
    assert ledger.responses == 2
    assert ledger.total == fake.served_usage()
    assert Usage.from_api(run.output["usage"]) == fake.served_usage()


def test_with_latency_claude_code_takes_the_split_stream_and_records_the_same_usage(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    # Short waits, but every reply streamed in many frames: the tool input arrives in
    # pieces, as from the real API, and must still run as one command.
    fake.latency = Latency(first_token=(0.1, 0.3), tokens_per_second=(200, 400), seed=1)
    work = git_repo(tmp_path / "work")
    config = tmp_path / "cfg"
    words = " ".join(f"piece-{n}" for n in range(20))
    prompt = f"please run: echo {words} > made.txt && echo streamed"
    run = run_claude(claude_binary, prompt, cwd=work, env=claude_env(fake, config), bypass=True)
    assert run.returncode == 0, run.stderr
    assert (work / "made.txt").read_text() == f"{words}\n"
    assert run.output["result"] == "done: streamed"
    assert [r.status for r in fake.requests] == [200, 200]
    ledger = UsageLedger()
    ledger.read_tree(config / "projects")
    assert ledger.responses == 2
    assert ledger.total == fake.served_usage()
    assert Usage.from_api(run.output["usage"]) == fake.served_usage()


def test_a_429_with_a_long_retry_after_is_reported_at_once(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    fake.inject("test-key", Fault.rate_limit(retry_after=3600))
    work = git_repo(tmp_path / "work")
    run = run_claude(claude_binary, "say hi", cwd=work, env=claude_env(fake, tmp_path / "cfg"))
    assert run.returncode == 1
    assert run.output["is_error"] is True
    assert run.output["api_error_status"] == 429
    assert run.output["result"].startswith("API Error: Request rejected (429)")
    assert [(r.status, r.fault) for r in fake.requests] == [(429, FaultKind.RATE_LIMIT)]
    assert fake.served_usage() == Usage()


def test_a_401_is_retried_then_reported(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    fake.inject("*", Fault.auth())
    work = git_repo(tmp_path / "work")
    env = claude_env(fake, tmp_path / "cfg", CLAUDE_CODE_MAX_RETRIES="1")
    run = run_claude(claude_binary, "say hi", cwd=work, env=env)
    assert run.returncode == 1
    assert run.output["api_error_status"] == 401
    assert run.output["result"] == "Invalid API key · Fix external API key"
    assert [r.status for r in fake.requests] == [401, 401]


def test_a_hang_ends_in_claude_codes_own_timeout(
    claude_binary: Path, fake: FakeAnthropicAPI, tmp_path: Path
) -> None:
    fake.inject("*", Fault.hang())
    work = git_repo(tmp_path / "work")
    env = claude_env(fake, tmp_path / "cfg", CLAUDE_CODE_MAX_RETRIES="0", API_TIMEOUT_MS="2000")
    started = time.monotonic()
    run = run_claude(claude_binary, "say hi", cwd=work, env=env)
    assert time.monotonic() - started < RUN_TIMEOUT
    assert run.returncode == 1
    assert run.output["result"].startswith("Request timed out.")
    [hung] = fake.requests
    assert hung.fault is FaultKind.HANG
    assert hung.status is None  # still held: the CLI gave up first


def test_the_orchestra_script_plans_works_and_merges_through_the_cli(
    claude_binary: Path, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "run", str(origin))
    manager = tmp_path / "manager"
    git(tmp_path, "clone", "-q", str(origin), str(manager))
    for key, value in (("user.name", "Tester"), ("user.email", "tester@example.com")):
        git(manager, "config", key, value)
    (manager / "PROJECT_DIRECTION.md").write_text(
        "# Direction\n\n- Create `greet.py` that prints a greeting\n"
    )
    git(manager, "add", "-A")
    git(manager, "commit", "-q", "-m", "init")
    git(manager, "push", "-q", "origin", "HEAD:run")
    worker = tmp_path / "worker-1"
    git(manager, "worktree", "add", "-q", "-b", "worker-1", str(worker))

    def ask(api: FakeAnthropicAPI, where: Path, facts: dict[str, Any], config: str) -> Run:
        prompt = "Prose for a real model.\n" + render_prompt_tag(facts)
        env = claude_env(api, tmp_path / config)
        run = run_claude(claude_binary, prompt, cwd=where, env=env, bypass=True)
        assert run.returncode == 0, run.stderr
        return run

    with FakeAnthropicAPI(script=OrchestraScript()) as api:
        api.register("test-key", KEY)
        plan = ask(api, manager, {"action": "plan", "workers": 1, "run_branch": "run"}, "cfg-m")
        assert plan.output["result"] == "Planned 1 tasks for 1 workers on run."
        work = {"action": "work", "worker": 1, "branch": "worker-1", "run_branch": "run"}
        done = ask(api, worker, work, "cfg-w")
        assert done.output["result"] == "Done: Create `greet.py` that prints a greeting"
        merge = {"action": "merge", "branches": ["worker-1"], "run_branch": "run"}
        ask(api, manager, merge, "cfg-m")
        served = api.served_usage()
        assert {r.cwd for r in api.requests} == {str(manager), str(worker)}

    assert "greet.py" in git(manager, "ls-tree", "-r", "--name-only", "origin/run").split()
    tasks = parse_task_list(git(manager, "show", "origin/run:WORKER_1_TASK_LIST.md"))
    assert tasks.finished
    ledger = UsageLedger()
    for config in ("cfg-m", "cfg-w"):
        ledger.read_tree(tmp_path / config / "projects")
    assert ledger.total == served
