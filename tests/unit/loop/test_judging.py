"""Judging a worker's turn (:func:`claude_orchestra.loop.judging.judge_worker_turn`), pure:
a turn is finished only on commits the run branch lacks; a Stop without commits is never
finished (#20): it is asked again, then given up."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.loop.judging import (
    AskAgain,
    DoneBefore,
    Finished,
    GiveUp,
    HandBack,
    NotJudged,
    WorkerTurn,
    judge_worker_turn,
)
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.tasklists import parse_task_list
from claude_orchestra.values import Assignment, AssignmentKind

TASK = "Write `a.py`"
WORK = Assignment(
    instance="worker-1",
    prompt='Do it.\n<!-- orchestra {"action": "work", "worker": 1} -->',
    kind=AssignmentKind.WORK,
    task=TASK,
)


def turn(**facts: object) -> WorkerTurn:
    defaults: dict[str, object] = {
        "instance": "worker-1",
        "branch": "worker-1",
        "assignment": WORK,
        "commits": (),
    }
    return WorkerTurn(**{**defaults, **facts})  # type: ignore[arg-type]


def own_list(*, ticked: bool) -> object:
    return parse_task_list(
        f"# Worker 1 Task List\n## Completed\n- [{'x' if ticked else ' '}] {TASK}\n"
    )


def test_new_commits_finish_the_turn() -> None:
    assert judge_worker_turn(turn(commits=("c1", "c2")), idle_retries=1) == Finished(("c1", "c2"))


def test_commits_an_earlier_turn_finished_are_no_evidence_for_this_one() -> None:
    # worker-1 finished c1 for its last task; its branch waits to be merged when it is
    # handed the next one and stops without committing: asked again, never finished
    waiting = judge_worker_turn(turn(commits=("c1",), credited=("c1",)), idle_retries=1)
    assert isinstance(waiting, AskAgain)
    unasked = turn(assignment=None, commits=("c1",), credited=("c1",))
    assert judge_worker_turn(unasked, idle_retries=1) == NotJudged()
    # one new commit beside them: finished, and the branch goes over with all of them
    more = turn(commits=("c1", "c2"), credited=("c1",))
    assert judge_worker_turn(more, idle_retries=1) == Finished(("c1", "c2"))


@given(
    commits=st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True),
    credited=st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True),
)
def test_a_turn_is_finished_exactly_when_it_shows_a_commit_not_credited_before(
    commits: list[str], credited: list[str]
) -> None:
    verdict = judge_worker_turn(
        turn(commits=tuple(commits), credited=tuple(credited)), idle_retries=1
    )
    assert isinstance(verdict, Finished) == bool(set(commits) - set(credited))


@given(
    leftovers=st.lists(st.text(min_size=1, max_size=8), max_size=3),
    tries=st.integers(0, 5),
    idle_retries=st.integers(0, 3),
    task_key=st.none() | st.just("t1"),
)
def test_a_stop_without_commits_is_never_finished(
    leftovers: list[str], tries: int, idle_retries: int, task_key: str | None
) -> None:
    work = Assignment(
        instance="worker-1",
        prompt=WORK.prompt,
        kind=AssignmentKind.WORK,
        task=TASK,
        task_key=task_key,
    )
    verdict = judge_worker_turn(
        turn(assignment=work, leftovers=tuple(leftovers), tries=tries), idle_retries=idle_retries
    )
    assert isinstance(verdict, AskAgain if tries < idle_retries else GiveUp)


def test_the_follow_up_repeats_the_task_with_its_tag_and_then_the_task_is_handed_back() -> None:
    first = judge_worker_turn(turn(), idle_retries=1)
    assert isinstance(first, AskAgain)
    assert first.prompt.startswith("You stopped before finishing.")
    assert parse_prompt_tag(first.prompt) == {"action": "work", "worker": 1}
    assert first.evidence == f"stopped without new commits on worker-1: {TASK}"
    last = judge_worker_turn(turn(tries=1), idle_retries=1)
    assert last == GiveUp(
        task=TASK,
        task_key=None,
        evidence=f"stopped 2 times without commits on worker-1: {TASK}",
        action="hand the task back to the manager",
    )


def test_uncommitted_files_get_a_commit_prompt_naming_them() -> None:
    verdict = judge_worker_turn(turn(leftovers=("a.py",)), idle_retries=1)
    assert isinstance(verdict, AskAgain)
    assert verdict.action == "ask it to commit them"
    assert parse_prompt_tag(verdict.prompt)["files"] == ["a.py"]


def test_a_task_file_task_is_given_up_not_handed_to_a_manager() -> None:
    work = Assignment(
        instance="worker-1", prompt="p", kind=AssignmentKind.WORK, task=TASK, task_key="t1"
    )
    verdict = judge_worker_turn(turn(assignment=work, tries=1), idle_retries=1)
    assert isinstance(verdict, GiveUp)
    assert verdict.task_key == "t1"
    assert verdict.action == "give the task up; the worker goes on with others"


def test_a_task_ticked_on_its_own_branch_was_done_before_the_turn_was_judged() -> None:
    assert judge_worker_turn(turn(own_list=own_list(ticked=True)), idle_retries=1) == DoneBefore()
    assert isinstance(
        judge_worker_turn(turn(own_list=own_list(ticked=False)), idle_retries=1), AskAgain
    )


def test_the_refused_commits_again_and_nothing_new_go_back_to_the_manager() -> None:
    verdict = judge_worker_turn(turn(commits=("c1",), refused=("c1",)), idle_retries=1)
    assert verdict == HandBack(
        task=TASK, evidence="worker-1: nothing new since the merge queue refused it"
    )
    fixed = judge_worker_turn(turn(commits=("c1", "c2"), refused=("c1",)), idle_retries=1)
    assert fixed == Finished(("c1", "c2"))


@pytest.mark.parametrize(
    "assignment", [None, Assignment(instance="worker-1", prompt="p", kind=AssignmentKind.OTHER)]
)
def test_a_turn_that_was_not_a_task_is_not_judged(assignment: Assignment | None) -> None:
    assert judge_worker_turn(turn(assignment=assignment), idle_retries=1) == NotJudged()


def test_refused_work_of_a_fix_nobody_named_a_task_is_handed_back_by_its_branch() -> None:
    fix = Assignment(instance="worker-1", prompt="fix it", kind=AssignmentKind.WORK, task=None)
    verdict = judge_worker_turn(
        turn(assignment=fix, commits=("c1",), refused=("c1",)), idle_retries=1
    )
    assert verdict == HandBack(
        task="the refused work on worker-1",
        evidence="worker-1: nothing new since the merge queue refused it",
    )


def test_the_commit_prompt_names_the_branch_to_push_the_task_and_the_files() -> None:
    verdict = judge_worker_turn(
        turn(branch="run-7/worker-1", leftovers=("a.py", "b/c.py")), idle_retries=1
    )
    assert isinstance(verdict, AskAgain)
    assert (verdict.evidence, verdict.action) == (
        "stopped with uncommitted changes on run-7/worker-1: a.py, b/c.py",
        "ask it to commit them",
    )
    assert "`git push origin HEAD:run-7/worker-1`" in verdict.prompt
    assert f"(your task: {TASK})" in verdict.prompt
    assert parse_prompt_tag(verdict.prompt) == {
        "action": "commit",
        "branch": "run-7/worker-1",
        "task": TASK,
        "files": ["a.py", "b/c.py"],
    }


def test_a_follow_up_says_what_it_does() -> None:
    verdict = judge_worker_turn(turn(), idle_retries=1)
    assert isinstance(verdict, AskAgain)
    assert verdict.action == "prompt again"
    untitled = Assignment(instance="worker-1", prompt="p", kind=AssignmentKind.WORK, task=None)
    bare = judge_worker_turn(turn(assignment=untitled), idle_retries=1)
    assert isinstance(bare, AskAgain)
    assert bare.evidence == "stopped without new commits on worker-1: the open task on worker-1"


@pytest.mark.parametrize(("count", "more"), [(20, False), (21, True)])
def test_a_commit_prompt_lists_twenty_files_and_says_when_there_are_more(
    count: int, more: bool
) -> None:
    files = tuple(f"f{n}.py" for n in range(count))
    verdict = judge_worker_turn(turn(leftovers=files), idle_retries=1)
    assert isinstance(verdict, AskAgain)
    first_line = verdict.prompt.splitlines()[0]
    assert "`f19.py`" in first_line
    assert "`f20.py`" not in first_line
    assert (
        first_line.endswith(
            " and more. An earlier turn was probably cut off before it could commit them."
        )
        is more
    )


def test_refused_commits_on_a_turn_nobody_asked_for_go_back_by_their_branch() -> None:
    verdict = judge_worker_turn(
        turn(assignment=None, commits=("c1",), refused=("c1",)), idle_retries=1
    )
    assert verdict == HandBack(
        task="the refused work on worker-1",
        evidence="worker-1: nothing new since the merge queue refused it",
    )


def test_a_task_given_up_without_its_text_hands_back_the_first_open_task_of_its_own_list() -> None:
    # "do your next task" names none: the manager is handed the task the worker's own list
    # shows open, never an empty string
    untitled = attrs.evolve(WORK, task=None)
    verdict = judge_worker_turn(
        turn(assignment=untitled, tries=1, own_list=own_list(ticked=False)), idle_retries=1
    )
    assert isinstance(verdict, GiveUp)
    assert verdict.task == TASK
    unknown = judge_worker_turn(turn(assignment=untitled, tries=1), idle_retries=1)
    assert isinstance(unknown, GiveUp)
    assert unknown.task == "the open task on worker-1"
