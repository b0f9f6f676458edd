"""A run killed with SIGKILL and taken up with `run --resume`: no commit lost, nothing redone.

The kill points are drawn from a fixed seed, so a failure replays exactly; the phases the
issue names (planning, work, merging) are covered by their own kill points.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.ledger import ApiRequest
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import WORKER_ACTIONS, Target, cli, environment, is_action, open_target

SEED = 20261124


def kill_when(
    target: Target, run: subprocess.Popen[str], seen: Callable[[ApiRequest], bool]
) -> None:
    """SIGKILL the orchestrator once the fake API receives a request matching ``seen``."""
    target.fake.wait_for_request(seen, timeout=180)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)


def resume(target: Target) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claude_orchestra",
            "run",
            "--resume",
            "--workspace",
            str(target.workspace),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def git(target: Target, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(target.workspace / "repo"), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def lost_commits(target: Target) -> set[str]:
    """Commits any worker ever made (every ref and reflog of the clone and its worktrees)
    that origin does not hold."""
    made = {
        line.split(" ", 1)[0]
        for line in git(target, "log", "--all", "--reflog", "--format=%H %an").splitlines()
        if "(claude-orchestra)" in line and line.split(" ", 1)[1].startswith("worker-")
    }
    assert made
    on_origin = set(target.git("rev-list", "--all").split())
    return made - on_origin


def assert_finished_once(
    target: Target, result: subprocess.CompletedProcess[str] | tuple[str, str], code: int
) -> None:
    assert code == 0, result[1][-3000:] if isinstance(result, tuple) else result.stderr
    report = target.report()
    assert report["outcome"] == "complete"
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    assert lost_commits(target) == set()
    # all the work is on main (a task cut off by a kill may share the next task's commit)
    files = target.git("ls-tree", "-r", "--name-only", "main").split()
    assert {"greet.py", "farewell.py", "shout.py", "docs/usage.md"} <= set(files)
    # nothing redone: each task's commit is on main once, each worker commit merged once
    subjects = target.git("log", "main", "--no-merges", "--format=%s").splitlines()
    work = [s for s in subjects if s.startswith("worker-")]
    assert len(work) == len(set(work)), Counter(work).most_common(3)
    merged = [c for m in report["merges"] for c in m["commits"]]
    assert len(merged) == len(set(merged))
    target.assert_nothing_left_running()


def is_worker(r: ApiRequest) -> bool:
    return is_action(r, *WORKER_ACTIONS)


def is_merge(r: ApiRequest) -> bool:
    return is_action(r, "merge")


def wait_for_phase(target: Target, phase: str) -> None:
    """Return once the run is in ``phase``."""
    fake = target.fake
    if phase == "work":
        fake.wait_for_request(is_worker, timeout=180)
        return
    merge = fake.wait_for_request(is_merge, timeout=180)
    if phase == "merged":  # the manager's next request: its tool has merged and pushed
        fake.wait_for_request(lambda r: r.cwd == merge.cwd and r.number > merge.number)


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param("work", id="while workers work"),
        pytest.param("merge", id="while the manager merges"),
        pytest.param("merged", id="after a merge was pushed"),
    ],
)
def test_a_run_killed_mid_phase_resumes_to_the_end(target: Target, phase: str) -> None:
    run = target.start()
    wait_for_phase(target, phase)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert cli("status", "--workspace", str(target.workspace)).stdout.startswith("Run not running")
    resumed = resume(target)
    out, err = resumed.communicate(timeout=300)
    assert_finished_once(target, (out, err), resumed.returncode)
    journal = target.state("journal.jsonl").read_text().splitlines()
    (entry,) = [json.loads(line) for line in journal if '"type": "RunResumed"' in line]
    assert set(entry["sessions"]) == {"manager", "worker-1", "worker-2"}
    # the instances went on with their own conversations
    after = [r for r in target.fake.requests if r.at >= entry["recorded"] and r.session_id]
    before = {r.session_id for r in target.fake.requests if r.at < entry["recorded"]}
    assert {r.session_id for r in after} & before


def test_chaos_kills_at_random_points_lose_no_commit_and_redo_nothing(target: Target) -> None:
    rng = random.Random(SEED)  # noqa: S311 (reproducible kill points, not secrets)
    run = target.start()
    for _ in range(2):
        point = len(target.fake.requests) + rng.randint(3, 9)
        kill_when(target, run, lambda r, point=point: r.number >= point)
        run = resume(target)
    out, err = run.communicate(timeout=300)
    assert_finished_once(target, (out, err), run.returncode)
    journal = target.state("journal.jsonl").read_text()
    assert journal.count('"type": "RunResumed"') == 2


QUEUE_TASKS = """# Tasks

- [ ] Create `greet.py` with a function that greets a person by name {#greet}
- [ ] Create `farewell.py` with a function that says goodbye
- [ ] Create `shout.py` with a function that upper-cases a greeting
- [ ] Create `docs/usage.md` explaining how to use `greet.py` {after: greet}
"""


def second_task_of_a_worker() -> Callable[[ApiRequest], bool]:
    """Matches the first request of a worker's second task: its first one was merged."""
    first: dict[str, str] = {}

    def seen(r: ApiRequest) -> bool:
        tag = parse_prompt_tag(r.last_user_text or "")
        if tag is None or tag.get("action") != "task" or r.cwd is None:
            return False
        return first.setdefault(r.cwd, str(tag["task"])) != tag["task"]

    return seen


def test_a_queue_run_killed_after_a_merge_resumes_and_redoes_no_task(tmp_path: Path) -> None:
    with open_target(
        tmp_path, files={"TASKS.md": QUEUE_TASKS}, scheduler="queue", merger="queue"
    ) as target:
        run = target.start()
        kill_when(target, run, second_task_of_a_worker())
        resumed = resume(target)
        _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]
    report = target.report()
    assert [i["name"] for i in report["instances"]] == ["worker-1", "worker-2"]
    assert {t["state"] for t in report["taskFile"]} == {"done"}
    assert (report["totals"]["tasks"], report["totals"]["tasksDone"]) == (4, 4)
    assert lost_commits(target) == set()
    subjects = target.git("log", "main", "--no-merges", "--format=%s").splitlines()
    work = [s for s in subjects if s.startswith("worker-")]
    assert len(work) == len(set(work)), Counter(work).most_common(3)
    tasks = [s.split(": ", 1)[1] for s in work if ": " in s]
    assert len(tasks) == len(set(tasks))  # no task done twice, by the same or another worker
    merged = [k for m in report["merges"] for k in m["tasks"]]
    assert sorted(merged) == sorted(t["key"] for t in report["taskFile"])
    target.assert_nothing_left_running()
