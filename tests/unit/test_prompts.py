"""What the model is told: every prompt's prose, and the prose agreeing with its tag.

The scripted model reads only the machine tag at the end of each prompt, so nothing in a
run notices what the prose says. Here:

- a golden (syrupy) snapshot of every prompt, whole: any change to the wording shows up as
  a diff in ``__snapshots__/test_prompts.ambr`` to review, and is accepted with
  ``pytest tests/unit/test_prompts.py --snapshot-update``;
- a check, per prompt, that the prose states the facts its tag carries (task, branch, run
  branch, files) and each of its "what not to do" sentences, present and not inverted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from syrupy.assertion import SnapshotAssertion

from claude_orchestra.defaults import manager, queue
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.worker_prompts import commit_prompt, fix_prompt, follow_up_prompt
from claude_orchestra.progress import RunProgress
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.taskfile import QueueTask
from claude_orchestra.values import RunView

RUN_BRANCH = "orchestra-run"
TASK = "Add `greet(name)` to greet.py, with a test"


def _view(name: str) -> InstanceView:
    worker = None if name == "manager" else int(name.split("-")[1])
    return InstanceView(
        name=name,
        role=Role.MANAGER if worker is None else Role.WORKER,
        worker=worker,
        state=InstanceState.IDLE,
        credential="k1",
        session_id=None,
        cwd=Path("/w"),
        last_event_at=None,
        prompts_sent=0,
    )


def _run(**changes: Any) -> RunView:
    progress = RunProgress(run_branch=RUN_BRANCH)
    views = [_view(n) for n in ("manager", "worker-1", "worker-2", "worker-3")]
    run = progress.view(scheduler="manager", merger="manager", worker_count=3, instances=views)
    return attrs.evolve(run, **changes)


def _merge_event(outcome: MergeOutcome, files: tuple[str, ...] = ()) -> MergeFinished:
    return MergeFinished(
        instance="worker-2", at=0.0, branch="worker-2", commits=("abc1234",), outcome=outcome,
        files=files,
    )  # fmt: skip


PROMPTS: dict[str, Callable[[], str]] = {
    "plan": lambda: manager.plan_prompt(_run()),
    "work": lambda: manager.work_prompt(_run(), 2, TASK),
    "merge": lambda: manager.merge_prompt(_run(), ["worker-1", "worker-3"]),
    "replan": lambda: manager.replan_prompt(
        _run(handed_back={"worker-1": TASK, "worker-3": "Write `docs/usage.md`"})
    ),
    "task": lambda: queue.task_prompt(
        _run(task_file_name="TASKS.md"),
        1,
        QueueTask(key="greet", text=TASK, detail="Keep it under twenty lines."),
    ),
    "plan_tasks": lambda: queue.plan_tasks_prompt(_run(task_file_name="plans/TASKS.md")),
    "fix_conflict": lambda: fix_prompt(
        RUN_BRANCH,
        _merge_event(MergeOutcome.CONFLICT, ("shared.py", "docs/a.md")),
        "conflicts in shared.py, docs/a.md",
    ),
    "fix_test_failed": lambda: fix_prompt(
        RUN_BRANCH,
        _merge_event(MergeOutcome.TEST_FAILED),
        "the test command failed on the merged result: 1 failed",
    ),
    "commit": lambda: commit_prompt("worker-1", TASK, ["greet.py", "tests/test_greet.py"]),
    "commit_many_files": lambda: commit_prompt(
        "worker-1", None, [f"file_{n:02}.py" for n in range(25)]
    ),
    "follow_up": lambda: follow_up_prompt(manager.work_prompt(_run(), 1, TASK)),
}
"""Every prompt the orchestrator sends, built with telling values."""


def split(prompt: str) -> tuple[str, dict[str, Any]]:
    """The prose (everything but the tag line) and the tag's facts."""
    lines = prompt.splitlines()
    tag = parse_prompt_tag(lines[-1])
    assert tag is not None, "the tag is the prompt's last line"
    prose = "\n".join(lines[:-1])
    assert parse_prompt_tag(prose) is None or "You stopped before finishing" in prose
    return prose, tag


def test_every_prompt_builder_is_covered() -> None:
    """A new prompt builder must join :data:`PROMPTS`: each tag action is here."""
    actions = {split(build())[1]["action"] for build in PROMPTS.values()}
    assert actions == {"plan", "work", "merge", "replan", "task", "plan_tasks", "fix", "commit"}


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_the_prose_is_as_reviewed(name: str, snapshot: SnapshotAssertion) -> None:
    assert PROMPTS[name]() == snapshot


# -- the prose states the tag's facts ------------------------------------------------------


CHECKED = {
    *("action", "branch", "run_branch", "task", "worker", "workers", "file", "branches"),
    *("handed_back", "files", "outcome"),
}
"""Tag keys whose value the prose is checked to state (below)."""

NOT_IN_PROSE = {
    ("task", "key"): "the task file's id, for the orchestrator's record; the text is told",
    ("replan", "workers"): "a hint for the scripted model; the prose points at the "
    "WORKER_<N>_TASK_LIST.md files that exist",
}
"""(action, tag key) -> why the prose need not state it."""

OUTCOMES = {"conflict": "conflicts in", "test_failed": "test command failed"}


def _facts_in_prose(tag: Mapping[str, Any]) -> list[str]:
    """The phrases the prose must hold for what the tag says."""
    action = tag["action"]
    phrases: list[str] = []
    for key in ("branch", "run_branch", "task", "file"):
        if tag.get(key):
            phrases.append(str(tag[key]))
    if "worker" in tag:
        phrases += [f"You are worker {tag['worker']}.", f"origin/{tag['run_branch']}"]
    if "workers" in tag and (action, "workers") not in NOT_IN_PROSE:
        phrases.append(f"{tag['workers']} workers")
    phrases += [f"`origin/{branch}`" for branch in tag.get("branches", ())]
    phrases += [f"- worker {w}: {task}" for w, task in tag.get("handed_back", {}).items()]
    phrases += [path if action == "fix" else f"`{path}`" for path in tag.get("files", ())[:20]]
    if "outcome" in tag:
        phrases.append(OUTCOMES[tag["outcome"]])
    pushed = tag.get("branch") if action in {"work", "task", "fix", "commit"} else None
    phrases.append(f"git push origin HEAD:{pushed or tag['run_branch']}")
    return phrases


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_the_prose_states_every_fact_of_the_tag(name: str) -> None:
    prose, tag = split(PROMPTS[name]())
    unchecked = set(tag) - CHECKED - {k for a, k in NOT_IN_PROSE if a == tag["action"]}
    assert unchecked == set(), f"{name}: a new tag fact; check that the prose states it"
    missing = [phrase for phrase in _facts_in_prose(tag) if phrase not in prose]
    assert missing == [], f"{name}: the tag says it, the prose does not"


def test_the_work_prompt_names_the_workers_own_task_list() -> None:
    prose, tag = split(PROMPTS["work"]())
    assert f"WORKER_{tag['worker']}_TASK_LIST.md" in prose
    assert "WORKER_1_TASK_LIST.md" not in prose


def test_the_plan_prompt_names_every_workers_task_list() -> None:
    prose, tag = split(PROMPTS["plan"]())
    for worker in range(1, tag["workers"] + 1):
        assert f"WORKER_{worker}_TASK_LIST.md" in prose
    assert f"WORKER_{tag['workers'] + 1}_TASK_LIST.md" not in prose


def test_a_long_file_list_is_cut_in_the_prose_and_whole_in_the_tag() -> None:
    prose, tag = split(PROMPTS["commit_many_files"]())
    assert len(tag["files"]) == 25
    assert "`file_19.py`" in prose
    assert "file_20.py" not in prose
    assert "and more" in prose


def test_the_follow_up_carries_the_original_prompt_and_its_tag() -> None:
    original = manager.work_prompt(_run(), 1, TASK)
    follow_up = follow_up_prompt(original)
    assert follow_up.startswith("You stopped before finishing.")
    assert follow_up.endswith(original)
    assert parse_prompt_tag(follow_up) == parse_prompt_tag(original)


# -- what not to do --------------------------------------------------------------------------

DONTS: dict[str, tuple[str, ...]] = {
    "plan": ("Do not start on the tasks yourself.",),
    "work": ("Do only this one task.",),
    "merge": ("Do not force-push or rewrite history.",),
    "replan": ("Keep ticked items as they are.", "Do not do the tasks yourself."),
    "task": ("Do only this task, and leave TASKS.md as it is.",),
    "plan_tasks": ("Do not start on the tasks yourself.",),
    "fix_conflict": ("never just take one side",),
    "fix_test_failed": ("never just take one side",),
    "follow_up": ("Do only this one task.",),
}
"""Per prompt, the sentences that tell the model what not to do, word for word."""

FORCE = ("--force", "force-push", "force push", "push -f", "reset --hard", "rebase")
"""Asks for a history rewrite that no prompt may make (outside a "do not" sentence)."""


def what_not_to_do_problems(name: str, prompt: str) -> list[str]:
    """Each "what not to do" sentence of ``name`` missing from ``prompt``'s prose, and each
    ask for a force-push or a history rewrite in it."""
    prose, _ = split(prompt)
    problems = [f"missing: {s!r}" for s in DONTS.get(name, ()) if s not in prose]
    rest = prose
    for sentence in DONTS.get(name, ()):
        rest = rest.replace(sentence, "")
    problems += [f"asks for {f!r}" for f in FORCE if f in rest.lower()]
    return problems


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_each_what_not_to_do_sentence_is_there_and_nothing_contradicts_it(name: str) -> None:
    assert what_not_to_do_problems(name, PROMPTS[name]()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda p: p.replace("Do not force-push or rewrite history.", "Force-push if needed."),
        lambda p: p.replace(" Do not force-push or rewrite history.", ""),
        lambda p: p.replace("Do not force-push", "Do force-push"),
        lambda p: p.replace("git push origin", "git push --force origin"),
        lambda p: p.replace("git fetch origin", "git fetch origin, rebase onto it"),
    ],
)
def test_the_check_catches_the_merge_prompt_inverted_or_its_sentence_deleted(
    break_it: Callable[[str], str],
) -> None:
    """The check above fails on the breaks issue #20 names (its own mutation test)."""
    broken = break_it(PROMPTS["merge"]())
    assert broken != PROMPTS["merge"]()
    assert what_not_to_do_problems("merge", broken) != []


def test_the_last_well_formed_tag_counts_and_a_broken_one_is_skipped() -> None:
    """A follow-up quotes its original; text the model echoes may hold a broken tag."""
    first = '<!-- orchestra {"action": "work", "worker": 1} -->'
    broken = '<!-- orchestra {"action": "merge", oops} -->'
    last = '<!-- orchestra {"action": "fix", "branch": "worker-2"} -->'
    assert parse_prompt_tag(f"{first}\n{broken}") == {"action": "work", "worker": 1}
    assert parse_prompt_tag(f"{first}\n{broken}\n{last}") == {"action": "fix", "branch": "worker-2"}
    assert parse_prompt_tag('<!-- orchestra ["not", "an", "object"] -->') is None
    assert parse_prompt_tag("no tag at all") is None
