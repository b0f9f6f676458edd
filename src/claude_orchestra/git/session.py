"""One operation's git in one checkout: the refs the orchestrator keeps, and the session
every blocking git operation runs through.

A :class:`Session` runs ``git`` as a subprocess in a
:class:`~claude_orchestra.git.env.Checkout`, with the configuration
:mod:`claude_orchestra.git.env` controls, after :mod:`claude_orchestra.git.config` checked
the repository's config. Its exit status and output are read rather than raised: a failure
becomes one :class:`~claude_orchestra.errors.GitError` whose reason is git's first
meaningful line, credentials removed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Final, final

from claude_orchestra.errors import GitError
from claude_orchestra.git import env as gitenv
from claude_orchestra.git.config import check_commondir, check_config
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.strings import check_rev, reason_of, url_secrets

REMOTE: Final = "origin"
"""The one remote the orchestra talks to."""

PRESERVED_PREFIX: Final = "refs/orchestra/preserved/"
"""Where tips are pinned before they could move other than forward.

The pins live on origin; the clone's refs of this name mirror origin's (a fetch prunes
them with the rest), so they are only ever written by :func:`preserve`.
"""

TRACKING: Final = "refs/orchestra/origin"
"""Where the orchestrator's own fetches put origin's branches.

Not ``refs/remotes/origin``: the instances fetch and push in worktrees that share the
clone's refs, and git updates a ref only if it still holds what it read first, so two
processes fetching into the same refs make one fail (``cannot lock ref``). The
orchestrator fetches after every turn; in a namespace of its own it never breaks an
instance's ``git fetch``, and an instance's fetch never changes what it reads.
"""


def tracking(branch: str) -> str:
    """The orchestrator's ref for origin's ``branch`` (as of its last fetch)."""
    return f"{TRACKING}/{branch}"


IDENTITY: Final = ("claude-orchestra", "orchestrator@claude-orchestra.invalid")
"""The author and committer of the merge commits the orchestrator makes itself."""

_FETCH_REFSPECS: Final = (
    f"+refs/heads/*:{TRACKING}/*",
    f"+{PRESERVED_PREFIX}*:{PRESERVED_PREFIX}*",
)


@final
class Session:
    """One operation's git, in one checkout, run without raising."""

    def __init__(self, checkout: Checkout, op: str) -> None:
        self.checkout = checkout
        self.path = checkout.work_tree
        self.op = op

    def try_run(
        self, *args: str, timeout: float | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Run ``git <args>``; return its exit status, stdout and stderr."""
        try:
            return gitenv.run(
                ["git", *self.checkout.options(), *args],
                cwd=self.path,
                env={**self.checkout.environment(), **(env or {})},
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            missing = "git executable not found" if exc.filename == "git" else "no such directory"
            raise GitError(self.path, self.op, missing) from None

    def run(self, *args: str, timeout: float | None = None) -> str:
        """Run ``git <args>`` and return stdout, or raise :class:`GitError` with git's reason."""
        status, out, err = self.try_run(*args, timeout=timeout)
        if status != 0:
            raise self.error(err, out)
        return out

    def error(self, stderr: str, stdout: str = "") -> GitError:
        """The :class:`GitError` for output git printed while failing."""
        return GitError(self.path, self.op, reason_of(stderr, stdout, self.secrets()))

    def exists(self, rev: str) -> bool:
        """Whether ``rev`` names a commit."""
        status, _, _ = self.try_run(
            "rev-parse", "--verify", "--quiet", f"{check_rev(rev)}^{{commit}}"
        )
        return status == 0

    def resolve(self, rev: str) -> str:
        """The commit id ``rev`` names, or :class:`GitError` if it names none."""
        status, out, _ = self.try_run(
            "rev-parse", "--verify", "--quiet", f"{check_rev(rev)}^{{commit}}"
        )
        if status != 0:
            raise GitError(self.path, self.op, f"unknown revision {rev!r}")
        return out.strip()

    def secrets(self) -> tuple[str, ...]:
        """What in origin's URL may be a credential (blanked out of every reason)."""
        _, url, _ = self.try_run("config", "--get", f"remote.{REMOTE}.url")
        return url_secrets(url.strip())


@contextlib.contextmanager
def session(where: Checkout, op: str) -> Iterator[Session]:
    """Git for one operation named ``op`` in the checkout ``where``.

    The git dir's ``commondir`` and the repository's config are checked first
    (:mod:`claude_orchestra.git.env`).

    Raises:
        GitError: the checkout's folder or git dir is missing.
        UnsafeGitConfig: a config file it would read holds a key the orchestrator refuses.
    """
    if not where.work_tree.is_dir():
        raise GitError(where.work_tree, op, "no such directory")
    if not where.git_dir.is_dir() or not where.common_dir.is_dir():
        raise GitError(where.work_tree, op, "not a git repository")
    check_commondir(where, op)
    check_config(where, op)
    yield Session(where, op)


_REF_RACE = ("cannot lock ref", ".lock': File exists")
"""What git says when another git process (a worker's own fetch or push in its worktree,
which shares the clone's refs) updated a ref at the same moment."""


def fetch_origin(s: Session, timeout: float, attempts: int = 4) -> None:
    """Fetch; a ref another git process moved meanwhile makes git give up on it, so the
    fetch is tried again (a back-off off the loop: this runs in a thread)."""
    for attempt in range(1, attempts + 1):
        status, out, err = s.try_run(
            "fetch", "--prune", "--quiet", REMOTE, *_FETCH_REFSPECS, timeout=timeout
        )
        if status == 0:
            return
        if attempt == attempts or not any(race in err for race in _REF_RACE):
            raise s.error(err, out)
        time.sleep(0.1 * attempt)
