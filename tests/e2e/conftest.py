"""A target repository, the fake API and a config folder, ready for `claude-orchestra run`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.fake_api import ApiRequest, FakeAnthropicAPI
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS, create_origin, write_config_folder

KEY = "sk-ant-e2e-" + "7" * 32

HOME = Path(tempfile.mkdtemp(prefix="orchestra-e2e-home-"))
"""A home of their own for the runs under test: Claude Code's Bash tool sources the user's
shell start-up files, and a user's (a pyenv rehash lock left by a killed shell, say) must
not decide whether a test passes."""

WORKER_ACTIONS = ("work", "task")
"""A worker's prompt for a task: the manager protocol's, the queue's."""
MANAGER_ACTIONS = ("plan", "plan_tasks", "merge", "replan")
"""Every prompt the manager gets."""


def is_action(request: ApiRequest, *actions: str, **facts: object) -> bool:
    """Whether what was just typed in ``request`` is a prompt whose machine tag has one of
    ``actions`` (and every fact in ``facts``, such as ``worker=2``).

    Phases are found by the tag, never by the prose: a rewording then cannot turn a filter
    into an empty one that makes ``== []`` pass. A follow-up prompt repeats its original's
    tag, so it counts as the original's action.
    """
    tag = parse_prompt_tag(request.last_user_text or "")
    if tag is None or tag.get("action") not in actions:
        return False
    return all(tag.get(key) == value for key, value in facts.items())


def environment() -> dict[str, str]:
    """This process's environment with :data:`HOME` as the home."""
    return {**os.environ, "HOME": str(HOME)}


def cli(
    *args: str, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``claude-orchestra ARGS`` as a subprocess (in ``env``, else :func:`environment`)."""
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment() if env is None else dict(env),
    )


@attrs.define
class Target:
    """One e2e run's pieces: a bare origin, a running fake API, a config folder."""

    origin: Path
    workspace: Path
    config: Path
    fake: FakeAnthropicAPI

    def run(self, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run to the end (in ``env``, else :func:`environment`)."""
        return cli("run", "--config", str(self.config), env=env)

    def start(self, *options: str) -> subprocess.Popen[str]:
        """Start a run (with ``run``'s ``options``) and return at once."""
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "claude_orchestra",
                "run",
                "--config",
                str(self.config),
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )

    def report(self) -> dict[str, Any]:
        """``report.json``."""
        report: dict[str, Any] = json.loads(self.state("report.json").read_text())
        return report

    def state(self, name: str) -> Path:
        """A file in the run's ``.orchestra`` folder."""
        return self.workspace / ".orchestra" / name

    def git(self, *args: str) -> str:
        """git on the origin."""
        return subprocess.run(
            ["git", "--git-dir", str(self.origin), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def assert_worker_commits_on_origin(self) -> None:
        """Every commit a worker made is reachable from a branch on origin."""
        for worker in (1, 2):
            tip = subprocess.run(
                ["git", "-C", str(self.workspace / "repo"), "rev-parse", f"worker-{worker}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            assert self.git("branch", "--all", "--contains", tip).strip(), f"worker-{worker}"

    def assert_nothing_left_running(self) -> None:
        """No tmux server, claude or relay of this run outlives it."""
        socket = json.loads(self.state("run.json").read_text())["tmuxSocket"]
        alive = subprocess.run(
            ["tmux", "-L", socket, "has-session"], capture_output=True, check=False
        )
        assert alive.returncode != 0
        processes = subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True, check=True
        ).stdout
        assert [line for line in processes.splitlines() if str(self.workspace) in line] == []
        assert _working_in(self.workspace) == []  # git with no path on its command line


def _working_in(folder: Path) -> list[str]:
    """The processes whose working directory is in ``folder`` (the origin watch's
    ``git cat-file``, say): ``pid: command``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if cwd == folder or folder in cwd.parents:
            found.append(f"{entry.name}: {command}")
    return found


@contextlib.contextmanager
def open_target(
    tmp_path: Path,
    *,
    tasks: Sequence[str] = DEFAULT_TASKS,
    files: Mapping[str, str] | None = None,
    workers: int = 2,
    **options: object,
) -> Iterator[Target]:
    """A target in ``tmp_path``: an origin whose direction lists ``tasks`` (and holds
    ``files``), a fake API serving key ``fake-api``, and a config folder with ``options``."""
    origin = create_origin(tmp_path, tasks=tasks, extra_files=files)
    workspace = tmp_path / "workspace"
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            tmp_path / "config",
            origin=origin,
            base_url=fake.base_url,
            key=KEY,
            workspace=workspace,
            workers=workers,
            extra=options,
        )
        yield Target(origin=origin, workspace=workspace, config=config, fake=fake)


@attrs.frozen
class WatchedRun:
    """A finished run of the manager protocol (two workers, :data:`DEFAULT_TASKS`) and what
    was seen of it while its workers worked."""

    target: Target
    returncode: int
    stdout: str
    stderr: str
    live_status: Mapping[str, Any]
    """``status --json`` while a worker was at work."""
    live_text: str
    """``status`` (the table) at the same moment."""
    secrets_seen: Sequence[str]
    """The places a live run could show its key that did (:func:`where_the_key_shows`)."""


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


def status_json(target: Target) -> dict[str, Any]:
    """``claude-orchestra status --json`` of the target's workspace."""
    result = cli("status", "--workspace", str(target.workspace), "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.fixture(scope="session")
def watched_run(
    tmp_path_factory: pytest.TempPathFactory, claude_binary: Path, tmux_binary: str
) -> Iterator[WatchedRun]:
    """One plain run of the manager protocol, shared by the tests that only look at it
    (its outcome, its status live and after, its ledger against ccusage): Claude Code's
    work is what the suite spends its time on, and these tests need the same run."""
    with open_target(tmp_path_factory.mktemp("watched")) as target:
        target.fake.inject("*", Fault.slow(delay=0.3), times=8)  # live while status is asked
        run = target.start()
        try:
            target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
            secrets_seen = where_the_key_shows(target)
            live_status = status_json(target)
            live_text = cli("status", "--workspace", str(target.workspace)).stdout
            stdout, stderr = run.communicate(timeout=240)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate(timeout=30)
        yield WatchedRun(
            target=target,
            returncode=run.returncode,
            stdout=stdout,
            stderr=stderr,
            live_status=live_status,
            live_text=live_text,
            secrets_seen=secrets_seen,
        )


@pytest.fixture
def target(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    """A target for ``claude-orchestra run``: origin, fake API (key ``fake-api``), config."""
    with open_target(tmp_path) as made:
        yield made


QUICK_TASKS = DEFAULT_TASKS[:2]
"""One task per worker: what a queued run needs to show a fault handled and the run ended.
Claude Code's own work is what the e2e suite spends its time on; a second round of tasks
would test nothing more."""


def task_list(tasks: Sequence[str]) -> str:
    """A ``TASKS.md`` listing ``tasks`` for the queue scheduler."""
    return "# Tasks\n\n" + "".join(f"- [ ] {task}\n" for task in tasks)


@contextlib.contextmanager
def open_queued_target(
    tmp_path: Path, *, tasks: Sequence[str] = QUICK_TASKS, **options: object
) -> Iterator[Target]:
    """A target with the queue scheduler and merger and a task file of ``tasks``."""
    with open_target(
        tmp_path,
        tasks=tasks,
        files={"TASKS.md": task_list(tasks)},
        scheduler="queue",
        merger="queue",
        **options,
    ) as made:
        yield made


@pytest.fixture
def queued_target(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    """Two workers with the queue scheduler and merger and one task each
    (:data:`QUICK_TASKS`): no manager, no planning or merging turns, so a run takes a
    fraction of the time. For tests of what does not depend on the manager's protocol
    (rotation, recovery, limits)."""
    with open_queued_target(tmp_path) as made:
        yield made
