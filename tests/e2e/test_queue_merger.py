"""The queue merger: the orchestrator merges, tests and pushes by itself."""

from __future__ import annotations

from pathlib import Path

from claude_orchestra.testing.sample import DEFAULT_TASKS
from claude_orchestra.testing.scripted import BROKEN

from .conftest import Target, is_action, open_queued_target
from .test_rotation import set_options

SYNTAX_CHECK = (
    "python3 -c 'import ast, pathlib; "
    '[ast.parse(p.read_text()) for p in pathlib.Path(".").rglob("*.py")]\''
)


def test_the_queue_merges_tested_work_and_the_manager_only_plans(target: Target) -> None:
    set_options(target, merger="queue", mergeTestCommand=SYNTAX_CHECK)
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert report["merges"]
    assert {m["merged_by"] for m in report["merges"]} == {"queue"}
    assert any(is_action(r, "plan") for r in target.fake.requests)  # the filter sees tags
    merge_prompts = [r for r in target.fake.requests if is_action(r, "merge")]
    assert merge_prompts == []  # no manager turn was spent on merging
    files = target.git("ls-tree", "-r", "--name-only", "main").split()
    assert {"greet.py", "farewell.py", "shout.py", "docs/usage.md"} <= set(files)
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    for worker in (1, 2):
        assert target.git("rev-list", "--count", f"main..worker-{worker}").strip() == "0"
    target.assert_nothing_left_running()


def test_a_merge_that_fails_the_test_command_never_lands(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    # the merge queue's gate, not the manager's protocol: no manager
    tasks = (DEFAULT_TASKS[0], DEFAULT_TASKS[3])  # greet.py, shout.py
    with open_queued_target(tmp_path, tasks=tasks, mergeTestCommand="! test -f shout.py") as target:
        result = target.run()
    assert result.returncode == 5, result.stderr[-3000:]  # the refused work stays open
    report = target.report()
    refused = [i for i in report["incidents"] if i["kind"] == "merge_refused"]
    assert refused
    assert all("test_failed" in i["evidence"] for i in refused)
    assert refused[0]["action"] == "not pushed; back to its worker"
    # never on the run branch, still on its worker's branch on origin
    assert "shout.py" not in target.git("ls-tree", "-r", "--name-only", "main").split()
    holder = refused[0]["instance"]
    assert "shout.py" in target.git("ls-tree", "-r", "--name-only", holder).split()
    # the worker was told why
    told = [r for r in target.fake.requests if is_action(r, "fix")]
    assert told
    assert "test command failed" in (told[0].last_user_text or "")
    target.assert_worker_commits_on_origin()
    target.assert_nothing_left_running()


def test_a_refused_merge_goes_back_is_fixed_by_its_worker_and_lands(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    tasks = [
        "Create `greet.py` with a function that greets a person by name",
        f"Create `shout.py` with a function that upper-cases a greeting ({BROKEN} for now)",
    ]
    gate = f"! grep -rq {BROKEN} --include='*.py' ."
    with open_queued_target(tmp_path, tasks=tasks, mergeTestCommand=gate) as target:
        result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    refused = [i for i in report["incidents"] if i["kind"] == "merge_refused"]
    assert len(refused) == 1
    assert "test_failed" in refused[0]["evidence"]
    # the worker's fix went through the gate: shout.py is on main, repaired
    shout = target.git("show", "main:shout.py")
    assert BROKEN not in shout
    assert "Fix: merge main, keep both sides" in target.git("log", "main", "--format=%s")
    assert report["totals"]["tasksDone"] == 2
    assert {m["merged_by"] for m in report["merges"]} == {"queue"}


def test_a_conflict_goes_back_and_the_worker_keeps_both_sides(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    tasks = [  # dealt one each: both workers write the same file
        "Create `shared.py` with a function that greets in English",
        "Create `shared.py` with a function that greets in French",
    ]
    with open_queued_target(tmp_path, tasks=tasks, mergeTestCommand=SYNTAX_CHECK) as target:
        result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    refused = [i for i in report["incidents"] if i["kind"] == "merge_refused"]
    assert len(refused) == 1
    assert "conflict" in refused[0]["evidence"]
    assert "shared.py" in refused[0]["evidence"]
    told = [r for r in target.fake.requests if is_action(r, "fix")]
    assert "conflicts in shared.py" in (told[0].last_user_text or "")
    shared = target.git("show", "main:shared.py")
    assert "in English" in shared
    assert "in French" in shared  # both sides kept, nothing taken "ours" or "theirs"
    assert report["totals"]["tasksDone"] == 2
