"""The queue scheduler: the orchestrator hands out the task file's tasks by itself."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import MANAGER_ACTIONS, Target, cli, is_action, open_target

TASKS = """# Tasks

- [ ] Create `greet.py` with a function that greets a person by name {#greet}
- [ ] Create `farewell.py` with a function that says goodbye
- [ ] Create `shout.py` with a function that upper-cases a greeting
- [ ] Create `wave.py` with a function that waves
- [ ] Create `docs/usage.md` explaining how to use `greet.py` {#docs after: greet}
- [ ] Create `check_greet.py` that checks `greet.py` {after: greet}
"""
DEPENDENT = ("docs", "Create `check_greet.py` that checks `greet.py`")
RUNS_EVERY_FILE = "for f in $(git ls-files '*.py'); do python3 \"$f\" >/dev/null || exit 1; done"


def queue_target(
    tmp_path: Path, *, tasks_file: str | None, workers: int, **options: object
) -> Iterator[Target]:
    files = {"TASKS.md": tasks_file} if tasks_file is not None else None
    with open_target(tmp_path, files=files, workers=workers, **options) as target:
        yield target


@pytest.fixture
def three_workers(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    yield from queue_target(
        tmp_path,
        tasks_file=TASKS,
        workers=3,
        scheduler="queue",
        merger="queue",
        mergeTestCommand=RUNS_EVERY_FILE,
    )


def journal(target: Target) -> list[dict[str, object]]:
    lines = target.state("journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_three_workers_do_six_tasks_in_a_valid_order_with_no_manager(
    three_workers: Target, tmp_path: Path
) -> None:
    target = three_workers
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert [i["name"] for i in report["instances"]] == ["worker-1", "worker-2", "worker-3"]
    assert any(is_action(r, "task") for r in target.fake.requests)  # the filter sees tags
    assert not any(is_action(r, *MANAGER_ACTIONS) for r in target.fake.requests)
    states = {t["key"]: t["state"] for t in report["taskFile"]}
    assert set(states.values()) == {"done"}
    assert len(states) == 6
    assert (report["totals"]["tasks"], report["totals"]["tasksDone"]) == (6, 6)
    # each task merged once, by the queue; the dependents were handed out only after the
    # merge that brought `greet` onto the run branch
    merged = [key for m in report["merges"] for key in m["tasks"]]
    assert sorted(merged) == sorted(states)
    assert {m["merged_by"] for m in report["merges"]} == {"queue"}
    entries = journal(target)
    greet_landed = next(
        e["recorded"] for e in entries if e["type"] == "MergeRecord" and "greet" in e["tasks"]
    )
    handed = [e for e in entries if e["type"] == "Assignment" and e.get("task_key") in DEPENDENT]
    assert {e["task_key"] for e in handed} == set(DEPENDENT)
    assert all(e["recorded"] > greet_landed for e in handed)
    # the run branch holds all of it and passes its tests
    checkout = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(target.origin), str(checkout)], check=True)
    files = set(target.git("ls-tree", "-r", "--name-only", "main").split())
    assert {"greet.py", "farewell.py", "shout.py", "wave.py", "docs/usage.md"} <= files
    assert "check_greet.py" in files
    subprocess.run(["bash", "-c", RUNS_EVERY_FILE], cwd=checkout, check=True)
    assert target.git("show", "main:TASKS.md") == TASKS  # the file is never edited
    target.assert_nothing_left_running()


@pytest.fixture
def no_task_file(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    yield from queue_target(tmp_path, tasks_file=None, workers=2, scheduler="queue", merger="queue")


def test_without_a_task_file_the_manager_plans_it_once_then_the_queue_hands_out(
    no_task_file: Target,
) -> None:
    target = no_task_file
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    manager = [r for r in target.fake.requests if is_action(r, *MANAGER_ACTIONS)]
    assert len({r.session_id for r in manager}) == 1
    prompts = [e for e in journal(target) if e["type"] == "Assignment"]
    assert [e["kind"] for e in prompts if e["instance"] == "manager"] == ["plan"]
    assert "TASKS.md" in target.git("ls-tree", "--name-only", "main").split()
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    assert {m["merged_by"] for m in report["merges"]} == {"queue"}
    target.assert_nothing_left_running()


@pytest.fixture
def manager_merges(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    yield from queue_target(
        tmp_path, tasks_file=TASKS, workers=2, scheduler="queue", merger="manager"
    )


def test_queue_scheduling_with_the_manager_merging(manager_merges: Target) -> None:
    target = manager_merges
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    kinds = {e["kind"] for e in journal(target) if e["type"] == "Assignment"}
    assert kinds == {"work", "merge"}  # no planning: the task file is there
    assert {m["merged_by"] for m in report["merges"]} == {"manager"}
    assert (report["totals"]["tasks"], report["totals"]["tasksDone"]) == (6, 6)


@pytest.fixture
def bad_task_file(tmp_path: Path, claude_binary: Path, tmux_binary: str) -> Iterator[Target]:
    broken = TASKS.replace("{#docs after: greet}", "{#docs after: gret}")
    yield from queue_target(tmp_path, tasks_file=broken, workers=2, scheduler="queue")


def test_a_bad_task_file_stops_the_run_before_it_starts_with_one_line(
    bad_task_file: Target,
) -> None:
    target = bad_task_file
    result = cli("run", "--config", str(target.config))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("claude-orchestra:")]
    assert errors == ["claude-orchestra: TASKS.md: line 7: after: no task has the id 'gret'"]
    assert not target.fake.requests
    assert not (target.workspace / "repo").exists()  # fix the file and run again as is
