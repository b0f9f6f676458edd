"""Where a run keeps things: one folder, laid out the same way every time.

```
<workspace>/
  repo/                     the main clone (the manager works here, on the run branch)
  worktrees/worker-N/       one git worktree per worker, on branch worker-N
  integration/              the queue merger's own worktree (detached), when it is used
  .orchestra/               never inside a git tree, so nothing here can be committed
    run.json                what cleanup and status need: tmux socket, hook port, pid
    tmux.conf               the private tmux server's config
    instances/<name>/       each instance's CLAUDE_CONFIG_DIR and --settings file (the
                            instance may write here)
    instances/.host/<name>/ what only the orchestrator and its relays read about an
                            instance: its launch environment, its current hook token
    journal.jsonl           the append-only record of the run
    status.json             the live status (``claude-orchestra status``)
    report.json             the outcome
    logs/                   JSON-lines logs
```
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, final

import anyio
import attrs

from claude_orchestra.git import checkout as gitcheckout
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.git.worktree_files import copy_worktree_files
from claude_orchestra.runtimes.claude_home import ClaudeHome
from claude_orchestra.workers import worker_branch, worker_name


def _resolved(path: Path | str) -> Path:
    return Path(path).expanduser().resolve()


@final
@attrs.frozen
class Workspace:
    """The paths of one run's workspace folder."""

    root: Path = attrs.field(converter=_resolved)

    @property
    def repo(self) -> Path:
        """The main clone."""
        return self.root / "repo"

    def worktree(self, worker: int) -> Path:
        """Worker ``worker``'s worktree."""
        return self.root / "worktrees" / worker_name(worker)

    @property
    def state(self) -> Path:
        """The orchestrator's own folder (``.orchestra``)."""
        return self.root / ".orchestra"

    def home(self, instance: str) -> ClaudeHome:
        """An instance's private Claude Code config dir."""
        return ClaudeHome(
            path=self.instances / instance / "config", host_dir=self.host_dir / instance
        )

    @property
    def instances(self) -> Path:
        """The folder of every instance's private home."""
        return self.state / "instances"

    @property
    def host_dir(self) -> Path:
        """What only the orchestrator and its relays read about each instance (its launch
        environment, its current hook token): inside :attr:`instances`, which the sandbox
        hides, and outside every instance's home."""
        return self.instances / ".host"

    @property
    def tmux_config(self) -> Path:
        """The private tmux server's config."""
        return self.state / "tmux.conf"

    @property
    def run_file(self) -> Path:
        """``run.json``: what cleanup and status need to find the run's processes."""
        return self.state / "run.json"

    @property
    def journal(self) -> Path:
        """The append-only journal."""
        return self.state / "journal.jsonl"

    @property
    def integration(self) -> Path:
        """The queue merger's worktree."""
        return self.root / "integration"

    @property
    def git_credentials(self) -> Path:
        """The user and password of an http(s) repository URL (mode 0600), for git's
        ``store`` helper; never in the clone's config."""
        return self.state / "git-credentials"

    @property
    def status(self) -> Path:
        """``status.json``: the live status, rewritten as the run changes (at most twice a
        second)."""
        return self.state / "status.json"

    @property
    def report(self) -> Path:
        """``report.json``."""
        return self.state / "report.json"

    @property
    def logs(self) -> Path:
        """JSON-lines logs."""
        return self.state / "logs"

    def made_checkout(self, path: Path) -> bool:
        """Whether ``path`` is where a run puts a worker's or the merge queue's worktree."""
        path = Path(os.path.abspath(path))
        return path == self.integration or path.parent == self.root / "worktrees"

    def prepare(self) -> None:
        """Create the state folders (private to the user)."""
        for folder in (self.state, self.instances, self.host_dir, self.logs):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def checkouts(self) -> tuple[Path, ...]:
        """The folders a new run clones into: the clone and the worktrees' folder."""
        return (self.repo, self.root / "worktrees")

    def discard_checkouts(self, made: Iterable[Path]) -> None:
        """Remove the checkout folders in ``made`` (those of :attr:`checkouts` that a run
        has just made, before any instance worked in them): a run that cannot start leaves
        the workspace as it found it, and never removes a folder it did not make."""
        for folder in made:
            if folder in self.checkouts:
                shutil.rmtree(folder, ignore_errors=True)

    def write_run_file(self, facts: dict[str, Any]) -> None:
        """Record ``run.json``."""
        self.run_file.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")

    def read_run_file(self) -> dict[str, Any] | None:
        """``run.json``'s facts, or ``None`` when no run used this workspace."""
        try:
            facts = json.loads(self.run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return facts if isinstance(facts, dict) else None


def local_origin(repository: str) -> Path | None:
    """The folder ``repository`` names, when it is on this machine (a path or ``file://``)."""
    if "://" in repository and not repository.startswith("file://"):
        return None
    if re.match(r"^[\w.-]+@[\w.-]+:", repository):
        return None  # scp-like ssh: user@host:path
    path = Path(repository.removeprefix("file://")).expanduser()
    return path.resolve() if path.exists() else None


def local_checkout(repository: str) -> Path | None:
    """The working tree ``repository`` names, when it is a local checkout (not bare)."""
    if "://" in repository and not repository.startswith("file://"):
        return None
    path = Path(repository.removeprefix("file://")).expanduser()
    return path if (path / ".git").exists() else None


async def prepare_checkouts(
    workspace: Workspace,
    *,
    repository: str,
    branch: str,
    workers: int,
    depth: int | None = None,
) -> tuple[GitRepo, dict[int, Worktree]]:
    """Clone ``repository``, add a worktree per worker, copy the untracked files they need.

    ``.env``, ``.env.local`` and the paths listed in ``.worktreeinclude`` are copied (never
    linked) into every worktree, and into the clone too, from the user's own checkout when
    ``repository`` is one (they are usually git-ignored, so a clone lacks them), else from
    the clone.

    Raises:
        GitError: the clone or a worktree could not be made.
    """
    repo = await GitRepo.clone(
        repository,
        workspace.repo,
        branch=branch,
        depth=depth,
        credentials_file=workspace.git_credentials,
    )
    source = local_checkout(repository) or workspace.repo
    targets = [workspace.repo] if source != workspace.repo else []
    worktrees = {}
    for n in range(1, workers + 1):
        worktrees[n] = await repo.add_worktree(
            workspace.worktree(n), branch=worker_branch(n), base=branch
        )
        targets.append(workspace.worktree(n))
    copied: set[str] = set()
    for target in targets:
        files = await anyio.to_thread.run_sync(copy_worktree_files, source, target)
        copied.update(str(f) for f in files)
    # The copies hold secrets (.env): no worker's `git add -A` may ever commit them.
    await repo.locked(functools.partial(gitcheckout.exclude_locally, repo.checkout, sorted(copied)))
    return repo, worktrees
