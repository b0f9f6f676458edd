"""Blocking git operations inside the clone's checkouts: its worktrees (list, add,
remove), merging into a checkout, and reading a checkout's state.

Like :mod:`claude_orchestra.git.ops`, every function blocks and runs through a
:func:`~claude_orchestra.git.session.session`; nothing here moves a branch other than
forward, a failed merge ends in ``git merge --abort``, and a worktree holding commits
origin lacks is never removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import final

import attrs

from claude_orchestra.errors import GitError, MergeConflict, UnmergedWorkError
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.session import (
    IDENTITY,
    PRESERVED_PREFIX,
    REMOTE,
    Session,
    fetch_origin,
    session,
    tracking,
)
from claude_orchestra.git.strings import check_ref_name, reason_of


@final
@attrs.frozen(kw_only=True)
class WorktreeInfo:
    """One entry of ``git worktree list``: a checkout of the main clone's repository."""

    path: Path
    head: str | None
    """The commit checked out, or ``None`` before the first commit."""
    branch: str | None
    """The branch checked out (``worker-1``), or ``None`` for a detached HEAD."""
    is_main: bool
    """Whether this is the main clone itself rather than a linked worktree."""
    locked: bool = False
    prunable: bool = False
    """Git knows the worktree but its directory is gone."""


def list_worktrees(where: Checkout) -> list[WorktreeInfo]:
    """Every checkout of the repository at ``path``, the main clone first."""
    with session(where, "worktree list") as s:
        return _parse_worktrees(s.run("worktree", "list", "--porcelain"))


def _parse_worktrees(text: str) -> list[WorktreeInfo]:
    infos: list[WorktreeInfo] = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields or "bare" in fields:
            continue
        infos.append(
            WorktreeInfo(
                path=Path(fields["worktree"]),
                head=fields.get("HEAD"),
                branch=fields["branch"].removeprefix("refs/heads/") if "branch" in fields else None,
                is_main=not infos,
                locked="locked" in fields,
                prunable="prunable" in fields,
            )
        )
    return infos


def add_worktree(where: Checkout, worktree: Path, *, branch: str, base: str) -> None:
    """Check ``branch`` out in a new worktree at ``worktree``, creating it if needed.

    An existing local branch is reused as it is; else a branch origin already has
    (a resumed run on a fresh clone); else a new one at ``origin/<base>``. Nothing is
    reset. A worktree already at ``worktree`` on ``branch`` is left as it is.
    """
    check_ref_name(branch)
    check_ref_name(base)
    with session(where, f"worktree add {branch}") as s:
        # Forget worktrees whose directories are gone (a crashed run): no commit is lost,
        # their branches stay.
        s.run("worktree", "prune")
        for info in _parse_worktrees(s.run("worktree", "list", "--porcelain")):
            if info.path.resolve() == worktree.resolve():
                if info.branch == branch:
                    return
                on = f"branch {info.branch}" if info.branch else "a detached HEAD"
                raise GitError(worktree, s.op, f"already a worktree on {on}")
        if s.exists(f"refs/heads/{branch}"):
            s.run("worktree", "add", str(worktree), branch)
            _check_git_dir(where, worktree, s.op)
            return
        remote_branch = tracking(branch)
        start = remote_branch if s.exists(remote_branch) else tracking(base)
        if not s.exists(start):
            raise GitError(where.work_tree, s.op, f"origin has no branch {base!r} (fetch first?)")
        s.run("worktree", "add", "--no-track", "-b", branch, str(worktree), start)
        _check_git_dir(where, worktree, s.op)


def add_detached_worktree(where: Checkout, worktree: Path, ref: str) -> None:
    """A worktree at ``worktree`` on a detached ``ref`` (the merge queue's own); kept if there."""
    with session(where, f"worktree add --detach {ref}") as s:
        s.run("worktree", "prune")
        for info in _parse_worktrees(s.run("worktree", "list", "--porcelain")):
            if info.path.resolve() == worktree.resolve():
                return
        s.run("worktree", "add", "--detach", str(worktree), s.resolve(ref))
        _check_git_dir(where, worktree, s.op)


def _check_git_dir(where: Checkout, worktree: Path, op: str) -> None:
    """Git named the new worktree's git dir as :meth:`Checkout.linked` expects (read once,
    right after git wrote it; never again)."""
    expected = where.linked(worktree).git_dir
    written = (worktree / ".git").read_text(encoding="utf-8").strip().removeprefix("gitdir:")
    if Path(written.strip()) != expected:
        raise GitError(worktree, op, f"git put its git dir at {written.strip()}, not {expected}")


def checkout_detached(where: Checkout, ref: str) -> str:
    """Put the checkout ``where`` on a detached ``ref``; returns its commit.

    Refuses a checkout with changes to tracked files or a merge in progress, so nothing is
    ever thrown away; use it only in a worktree that holds no work of its own.
    """
    with session(where, f"checkout {ref}") as s:
        dirty = _tracked_changes(s)
        if dirty or _merge_in_progress(s):
            raise GitError(where.work_tree, s.op, "the checkout has changes: " + ", ".join(dirty))
        sha = s.resolve(ref)
        s.run("checkout", "--quiet", "--detach", sha)
        return sha


def head(where: Checkout) -> str:
    """The commit checked out in ``where``."""
    with session(where, "rev-parse HEAD") as s:
        return s.resolve("HEAD")


def uncommitted(where: Checkout) -> list[str]:
    """Paths in ``where`` with changes not committed (tracked or untracked, not ignored)."""
    with session(where, "status") as s:
        out = s.run("status", "--porcelain", "--untracked-files=all", "-z")
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3 and entry[2] == " "})


def exclude_locally(where: Checkout, files: Sequence[str]) -> None:
    """Add ``files`` (repository-relative) to the clone's ``info/exclude``, shared by its
    worktrees, so no ``git add -A`` ever picks them up."""
    exclude = where.common_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    known = set(exclude.read_text(encoding="utf-8").splitlines()) if exclude.exists() else set()
    lines = [f"/{f}" for f in files if f"/{f}" not in known]
    if lines:
        with exclude.open("a", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in lines))


def _tracked_changes(s: Session) -> list[str]:
    out = s.run("status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in out.splitlines() if line.strip()]


def _unmerged_files(s: Session) -> list[str]:
    out = s.run("ls-files", "--unmerged", "-z")
    return sorted({entry.split("\t", 1)[1] for entry in out.split("\0") if "\t" in entry})


def _merge_in_progress(s: Session) -> bool:
    status, _, _ = s.try_run("rev-parse", "--verify", "--quiet", "MERGE_HEAD")
    return status == 0


def merge(
    where: Checkout,
    ref: str,
    *,
    branch: str | None = None,
    identity: tuple[str, str] = IDENTITY,
) -> None:
    """Merge ``ref`` into the branch checked out in ``where``.

    Args:
        where: The main clone or a worktree.
        ref: What to merge (``origin/main``, ``worker-1``).
        branch: If given, the branch that must be checked out in ``where``.
        identity: The merge commit's author and committer (name, email); the host's git
            reads no global config, so it is passed on the command line.

    Raises:
        GitError: The checkout has uncommitted changes to tracked files, a merge is
            already in progress, or git failed.
        MergeConflict: The merge stopped on conflicts; it was aborted.
    """
    op = f"merge {ref}"
    with session(where, op) as s:
        head_status, head, _ = s.try_run("symbolic-ref", "--quiet", "--short", "HEAD")
        if branch is not None and (head_status != 0 or head.strip() != branch):
            raise GitError(where.work_tree, op, f"branch {branch} is not checked out")
        if _merge_in_progress(s):
            raise GitError(where.work_tree, op, "a merge is already in progress")
        # Refusing a dirty checkout keeps `merge --abort` exact: git cannot always give
        # back uncommitted changes when it aborts.
        dirty = _tracked_changes(s)
        if dirty:
            raise GitError(
                where.work_tree, op, "uncommitted changes to tracked files: " + ", ".join(dirty)
            )
        s.resolve(ref)  # a clear error for a missing ref
        name, email = identity
        who = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        status, out, err = s.try_run("merge", "--no-edit", "--ff", "--no-verify", ref, env=who)
        if status == 0:
            return
        files = _unmerged_files(s)
        if files or _merge_in_progress(s):
            abort_status, _, abort_err = s.try_run("merge", "--abort")
            if abort_status != 0:
                reason = reason_of(abort_err)
                raise GitError(
                    where.work_tree, op, f"merge failed and merge --abort failed: {reason}"
                )
            if files:
                raise MergeConflict(where.work_tree, ref, files)
        raise s.error(err, out)


def remove_worktree(where: Checkout, worktree: Path, *, branch: str, timeout: float) -> None:
    """Remove the worktree at ``worktree`` unless that would lose work.

    Fetches first, so "on origin" means now. The branch itself is kept.

    Raises:
        UnmergedWorkError: The branch (or the worktree's HEAD) has commits that no
            origin branch and no preserved ref contains.
        GitError: Tracked files have uncommitted changes, or git failed.
    """
    op = "worktree remove"
    with session(where, op) as s:
        fetch_origin(s, timeout)
        known = [
            i.path.resolve() for i in _parse_worktrees(s.run("worktree", "list", "--porcelain"))
        ]
        if not worktree.exists():
            s.run("worktree", "prune")  # nothing on disk; the branch keeps its commits
            return
        if worktree.resolve() not in known[1:]:
            raise GitError(worktree, op, f"not a worktree of {where.work_tree}")
    with session(where.linked(worktree), op) as w:
        dirty = _tracked_changes(w)
        if dirty:
            raise GitError(
                worktree, op, "uncommitted changes to tracked files: " + ", ".join(dirty)
            )
        tips = ["HEAD"] + ([f"refs/heads/{branch}"] if w.exists(f"refs/heads/{branch}") else [])
        count = int(
            w.run(
                "rev-list",
                "--count",
                *tips,
                "--not",
                f"--remotes={REMOTE}",
                f"--glob={PRESERVED_PREFIX}*",
            )
        )
        if count:
            raise UnmergedWorkError(worktree, branch, count)
    with session(where, op) as s:
        # --force only because untracked files do not count as work; the checks above
        # made sure no commit and no tracked change is lost.
        s.run("worktree", "remove", "--force", str(worktree))
