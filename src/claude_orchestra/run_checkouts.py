"""A run's git checkouts before it starts: a new clone with a worktree per worker, or the
ones a killed run left (``run --resume``), and the task file on the run branch."""

from __future__ import annotations

from claude_orchestra.config import RunConfig
from claude_orchestra.errors import GitError, PrerequisiteError, UsageError
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.session import tracking
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.taskfile import TaskFile, parse_task_file
from claude_orchestra.workers import worker_branch
from claude_orchestra.workspace import Workspace, prepare_checkouts


async def new_checkouts(config: RunConfig) -> tuple[GitRepo, dict[int, Worktree]]:
    """A new clone of the repository and a worktree per worker.

    Raises:
        PrerequisiteError: git failed (origin unreachable, no such branch).
    """
    settings = config.orchestrator
    try:
        return await prepare_checkouts(
            Workspace(config.workspace),
            repository=config.repository,
            branch=settings.branch,
            workers=settings.worker_count,
            depth=settings.clone_depth,
        )
    except GitError as exc:
        raise PrerequisiteError("git", str(exc)) from exc


def left_checkouts(config: RunConfig) -> tuple[GitRepo, dict[int, Worktree]]:
    """The clone and worktrees a killed run left in the workspace.

    Raises:
        UsageError: a worker's worktree is missing.
    """
    settings = config.orchestrator
    workspace = Workspace(config.workspace)
    # The origin URL the killed run cloned from (run.json is the orchestrator's, out of
    # every instance's reach): the clone's config must still name it.
    origin_url = (workspace.read_run_file() or {}).get("originUrl")
    repo = GitRepo.open(
        workspace.repo,
        credentials_file=workspace.git_credentials,
        origin_url=origin_url if isinstance(origin_url, str) else None,
    )
    worktrees = {}
    for n in range(1, settings.worker_count + 1):
        path = workspace.worktree(n)
        if not path.exists():
            raise UsageError(
                "--resume", f"{path} is missing; the run cannot be resumed with this config"
            )
        worktrees[n] = Worktree(repo=repo, path=path, branch=worker_branch(n), base=settings.branch)
    return repo, worktrees


async def read_task_file(repo: GitRepo, run_branch: str, task_file: str | None) -> TaskFile | None:
    """The task file on origin's run branch, if the run reads one and it is there.

    Raises:
        TaskFileError: the file is there but cannot be used (line and field named):
            the run stops before it starts.
    """
    if task_file is None:
        return None
    text = await repo.read_file(tracking(run_branch), task_file)
    return None if text is None else parse_task_file(text, path=task_file)
