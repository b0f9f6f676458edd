"""What ``run --resume`` reads back from a killed run's journal about task-file tasks."""

from __future__ import annotations

import json
from pathlib import Path

from claude_orchestra.resume import read_previous_run
from claude_orchestra.values import TaskFinished
from claude_orchestra.workspace import Workspace


def killed_run(tmp_path: Path, entries: list[dict[str, object]]) -> Workspace:
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    workspace.repo.mkdir(parents=True)
    workspace.write_run_file({"pid": 2**22 + 12345, "tmuxSocket": "orchestra-x"})  # not alive
    lines = [json.dumps({"recorded": n, **e}) for n, e in enumerate(entries)]
    workspace.journal.write_text("\n".join(lines) + "\n")
    return workspace


def assignment(instance: str, key: str) -> dict[str, object]:
    return {"type": "Assignment", "instance": instance, "task_key": key, "kind": "work"}


def merge(branch: str, tasks: list[str]) -> dict[str, object]:
    return {"type": "MergeRecord", "branch": branch, "commits": ["m"], "at": 1.0, "tasks": tasks}


def finished(branch: str, task: str, commits: list[str]) -> dict[str, object]:
    return {"type": "TaskFinished", "branch": branch, "task": task, "commits": commits}


def test_done_finished_and_held_tasks_are_told_apart(tmp_path: Path) -> None:
    previous = read_previous_run(
        killed_run(
            tmp_path,
            [
                assignment("worker-1", "a"),
                finished("worker-1", "a", ["c1"]),
                merge("worker-1", ["a"]),  # a: done
                assignment("worker-1", "b"),
                finished("worker-1", "b", ["c2"]),  # b: finished, its merge not recorded
                assignment("worker-2", "c"),  # c: held, nothing recorded since
                assignment("worker-2", "d"),
                finished("worker-2", "d", ["c3"]),
            ],
        )
    )
    assert previous.tasks_done == {"a"}
    assert previous.finished_tasks == (
        TaskFinished(branch="worker-1", task="b", commits=("c2",)),
        TaskFinished(branch="worker-2", task="d", commits=("c3",)),
    )
    assert previous.held_tasks == {"worker-1": (), "worker-2": ("c",)}
