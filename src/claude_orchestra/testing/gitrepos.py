"""Real git repositories for tests: a bare ``origin``, commits, and a clean-checkout check.

Plain ``git`` run by the tests themselves (never the library's adapter), so a test and the
code it checks do not share a bug. Run them with an isolated git config (see
``tests/integration/git/test_worktree.py``'s ``isolated_git`` fixture).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from claude_orchestra.git.repo import GitRepo


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; return stdout stripped (fails the test on error)."""
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(cwd: Path, name: str, text: str, message: str | None = None) -> str:
    """Write ``name`` in ``cwd``, commit it and return the new commit id."""
    (cwd / name).parent.mkdir(parents=True, exist_ok=True)
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", message or f"write {name}")
    return git(cwd, "rev-parse", "HEAD")


def make_origin(root: Path) -> Path:
    """A bare ``origin`` with one commit on ``main`` (README.md and shared.txt)."""
    bare = root / "origin.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = root / "seed"
    git(root, "init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("hello\n")
    (seed / "shared.txt").write_text("base\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", str(bare), "main:main")
    shutil.rmtree(seed)
    return bare


def is_clean(path: Path) -> bool:
    """No change to tracked files and no merge in progress."""
    merging = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "MERGE_HEAD"],
        cwd=path,
        capture_output=True,
        check=False,
    )
    clean = not git(path, "status", "--porcelain", "--untracked-files=no")
    return clean and merging.returncode != 0


async def advance_main(repo: GitRepo, name: str, text: str) -> str:
    """Commit on ``main`` in the main clone, on top of origin's main, and push it."""
    await repo.fetch()
    git(repo.path, "merge", "-q", "--ff-only", "origin/main")  # like a manager's pull
    sha = commit(repo.path, name, text)
    await repo.push("main", "main")
    return sha
