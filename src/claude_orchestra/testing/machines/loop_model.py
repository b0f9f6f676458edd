"""What :class:`~claude_orchestra.testing.machines.loop.LoopMachine` keeps of a run to check
the loop against: the commits origin showed and the work they were made for, the prompts
typed and what may have called for them, the pushes origin refused.

The machine tells the model what it played (a commit, an event that may call for a resend,
origin's answer) and asks it to check the loop's record after every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import attrs
from hypothesis import note

from claude_orchestra.defaults.manager import (
    MAX_MERGE_REQUESTS,
    MAX_PLAN_REQUESTS,
    MAX_REPLAN_REQUESTS,
)
from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.progress import RunProgress
from claude_orchestra.testing.machines.loop_world import MANAGER, Typed
from claude_orchestra.values import AssignmentKind


def allowed_asks(kind: AssignmentKind | None, idle_retries: int) -> int:
    """How often one piece of work may be asked for while nothing on origin changes: a
    worker's task once plus its follow-ups; the manager's plan, merge or replan as often
    as the ``manager`` plugin asks before it gives up."""
    match kind:
        case AssignmentKind.PLAN:
            return MAX_PLAN_REQUESTS
        case AssignmentKind.MERGE:
            return MAX_MERGE_REQUESTS
        case AssignmentKind.REPLAN:
            return MAX_REPLAN_REQUESTS
        case _:
            return 1 + idle_retries


@attrs.define
class LoopModel:
    """The facts the invariants need, kept as the machine plays the run."""

    tasks: Mapping[str, str]
    """The task file's tasks: text -> key."""
    commit_work: dict[str, str | None] = attrs.field(factory=dict)
    """Commit -> the task its worker held when it made it."""
    shown: set[str] = attrs.field(factory=set)
    """Commits an origin read showed the loop."""
    last_facts: tuple[object, str | None] = ({}, None)
    preserved: set[str] = attrs.field(factory=set)
    """Preserved refs origin answered refused pushes with."""
    checked_prompts: int = 0
    prompts: Counter[tuple[str, str, AssignmentKind | None]] = attrs.field(factory=Counter)
    """(instance, work, its kind) -> prompts typed since its branch last showed new
    commits."""
    provocations: Counter[str] = attrs.field(factory=Counter)
    """Instance -> events since its branch last showed new commits that may call for a
    resend (failed turns, exits, session starts, time passing)."""

    # -- what the machine played ----------------------------------------------------------

    def committed(self, sha: str, task: str | None) -> None:
        """A worker made commit ``sha`` for ``task`` (a task key)."""
        self.commit_work[sha] = task

    def provoked(self, name: str) -> None:
        """Something happened to ``name`` that may call for its prompt to be sent again."""
        self.provocations[name] += 1

    def saw_commits(self, facts: OriginFacts) -> None:
        """Keep the commits the loop was shown; progress on origin restarts prompt counts
        (a worker's on its new commits, the manager's on any change it made)."""
        if (facts.unmerged, facts.task_file) != self.last_facts:
            self.last_facts = (facts.unmerged, facts.task_file)
            self._progressed(MANAGER)
        for branch, commits in facts.unmerged.items():
            new = set(commits) - self.shown
            if new:
                self._progressed(branch)  # a worker's branch is named after it
            self.shown |= new

    def _progressed(self, name: str) -> None:
        for key in [k for k in self.prompts if k[0] == name]:
            del self.prompts[key]
        self.provocations[name] = 0

    # -- the checks -----------------------------------------------------------------------

    def check_done_only_on_evidence(self, progress: RunProgress) -> None:
        """Every task completed or done was made by commits an origin read showed."""
        evidenced = {self.commit_work[sha] for sha in self.shown}
        for instance, task in progress.completed_tasks:
            assert self.tasks[task] in evidenced, f"{instance} completed {task!r} without commits"
        for key in progress.tasks_done:
            assert key in evidenced, f"task {key!r} done without commits on origin"

    def check_new_prompts(self, typed: Sequence[Typed]) -> None:
        """Each prompt typed since the last check went to an instance that could take it,
        on a usable credential, not past its budget; count it."""
        for prompt in typed[self.checked_prompts :]:
            note(f"typed: {prompt}")
            assert prompt.state.accepts_prompt, f"prompt typed while busy: {prompt}"
            assert prompt.usable, f"prompt typed on an unusable credential: {prompt}"
            assert not prompt.retired, f"prompt typed to an instance past its budget: {prompt}"
            self.prompts[(prompt.instance, prompt.work, prompt.kind)] += 1
        self.checked_prompts = len(typed)

    def check_prompts_bounded(self, idle_retries: int) -> None:
        """No piece of work was prompted more than once plus its follow-ups plus what may
        have called for a resend."""
        for (name, work, kind), count in self.prompts.items():
            bound = allowed_asks(kind, idle_retries) + self.provocations[name]
            assert count <= bound, f"{name}: {count} prompts for {work} (bound {bound})"

    def check_refused_pushes_kept(self, progress: RunProgress) -> None:
        """Every refused push is in the run's record by its preserved ref."""
        assert set(progress.preserved) == self.preserved
