"""The prompts a worker gets after its turn is judged: finish the task, commit what was
left, or fix a branch the merge queue could not land. Each ends with its machine tag."""

from __future__ import annotations

from collections.abc import Sequence

from claude_orchestra.events import MergeFinished
from claude_orchestra.prompt_tag import render_prompt_tag


def fix_prompt(run_branch: str, event: MergeFinished, why: str) -> str:
    """A worker's prompt when the merge queue could not land its branch."""
    return "\n".join(
        [
            f"Your branch `{event.branch}` could not be merged into `{run_branch}`: {why}.",
            f"Run `git fetch origin && git merge origin/{run_branch}` in your worktree, resolve "
            "every conflict so that both sides' work is kept (never just take one side), make "
            "the tests pass, commit, and push with "
            f"`git push origin HEAD:{event.branch}`.",
            render_prompt_tag(
                {
                    "action": "fix",
                    "branch": event.branch,
                    "run_branch": run_branch,
                    "outcome": event.outcome.value,
                    "files": list(event.files),
                }
            ),
        ]
    )


def commit_prompt(branch: str, task: str | None, files: Sequence[str]) -> str:
    """A worker's prompt when it stopped leaving uncommitted changes in its worktree."""
    shown = ", ".join(f"`{f}`" for f in files[:20]) + (" and more" if len(files) > 20 else "")
    return "\n".join(
        [
            f"Your worktree has changes that are not committed: {shown}. An earlier turn was "
            "probably cut off before it could commit them.",
            "Check them, finish what they were for"
            + (f" (your task: {task})" if task else "")
            + f", commit everything, and push with `git push origin HEAD:{branch}`.",
            render_prompt_tag(
                {"action": "commit", "branch": branch, "task": task or "", "files": list(files)}
            ),
        ]
    )


def follow_up_prompt(prompt: str) -> str:
    """A worker's prompt when it stopped without committing: ``prompt`` again (its tag
    included), after one line asking it to finish."""
    return (
        "You stopped before finishing. Finish the task, commit and push your branch "
        f"as asked.\n\n{prompt}"
    )
