"""The repository config the orchestrator's git refuses to run with, checked before each
operation.

What a ``-c`` override cannot undo (``include.path``, ``includeIf``, ``filter.*``,
``merge.<driver>.driver``, ``diff.<driver>.textconv``, ``url.*.insteadOf``,
``core.gitProxy``, ``remote.*.uploadpack``, ...) is refused instead: before each operation
the config files the repository would read (``<common>/config``; the checkout's
``config.worktree`` when ``extensions.worktreeConfig`` is on) are read without following
symlinks, capped, and parsed by git with includes off; any key outside
:data:`ALLOWED_KEYS` (or a second origin URL, or one other than the clone's) makes the
operation fail with :class:`UnsafeGitConfig` before git runs. An allowlist, not a
denylist: git grows new keys that run programs, and the list of keys a fresh clone and the
orchestrator write is short. A linked worktree's ``commondir`` file is checked too.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final, final

from claude_orchestra.errors import GitError
from claude_orchestra.git.env import OVERRIDES, Checkout, clean_environment, run

CONFIG_CAP: Final = 256 * 1024
"""The largest repository config the orchestrator reads (a fresh clone's is under 1 KiB)."""

ALLOWED_KEYS: Final = (
    # What a fresh clone writes, and harmless settings a person or an agent may add.
    "core.repositoryformatversion",
    "core.filemode",
    "core.bare",
    "core.logallrefupdates",
    "core.ignorecase",
    "core.precomposeunicode",
    "core.symlinks",
    "core.autocrlf",
    "core.eol",
    "core.safecrlf",
    "core.quotepath",
    "core.abbrev",
    "core.checkstat",
    "core.trustctime",
    "core.whitespace",
    "core.commentchar",
    "core.sparsecheckout",
    "core.sparsecheckoutcone",
    "extensions.objectformat",
    "extensions.worktreeconfig",
    "remote.origin.url",
    "remote.origin.fetch",
    "remote.origin.tagopt",
    "remote.origin.prune",
    "branch.*.remote",
    "branch.*.merge",
    "branch.*.rebase",
    "branch.*.description",
    "user.name",
    "user.email",
    "author.name",
    "author.email",
    "committer.name",
    "committer.email",
    "init.defaultbranch",
    "push.default",
    "push.autosetupremote",
    "push.followtags",
    "pull.rebase",
    "pull.ff",
    "fetch.prune",
    "merge.conflictstyle",
    "merge.ff",
    "rerere.enabled",
    "rerere.autoupdate",
    "diff.renames",
    "diff.algorithm",
    "status.showuntrackedfiles",
    "advice.*",
    "color.*",
    "column.ui",
    "protocol.version",
    # Single-valued keys that could run a program: allowed in the file because OVERRIDES
    # replaces each of them on the command line.
    *(key.lower() for key, _ in OVERRIDES if key != "credential.helper"),
    "credential.helper",
)
"""Keys (``fnmatch`` patterns, lower case as ``git config --list`` prints them) a
repository config may hold for the orchestrator's git to run in it."""


@final
class UnsafeGitConfig(GitError):
    """A config file the repository would read holds a key the orchestrator's git refuses
    to run with (it could run a program or send git elsewhere)."""


def read_capped(path: Path, cap: int = CONFIG_CAP) -> bytes | None:
    """The bytes of the regular file at ``path`` (``None`` when there is none), read without
    following a symlink or blocking on a FIFO.

    Raises:
        UnsafeGitConfig: ``path`` is a symlink, not a regular file, or larger than ``cap``.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink
        raise UnsafeGitConfig(
            path, "read config", f"cannot be read safely ({exc.strerror})"
        ) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeGitConfig(path, "read config", "is not a regular file")
        data = f.read(cap + 1)
    if len(data) > cap:
        raise UnsafeGitConfig(path, "read config", f"is larger than {cap} bytes")
    return data


def config_entries(path: Path) -> list[tuple[str, str]]:
    """The ``(key, value)`` entries of the config file at ``path``, includes not followed.

    The file is read afresh every time; git parses each distinct content once
    (:func:`_parsed_config`), so checking before every operation spawns no process while
    the file stays as it was.

    Raises:
        UnsafeGitConfig: the file cannot be read safely or git cannot parse it.
    """
    data = read_capped(path)
    if data is None:
        return []
    try:
        return list(_parsed_config(data))
    except _Unparsable as exc:
        raise UnsafeGitConfig(path, "read config", exc.reason) from None


class _Unparsable(Exception):
    """Git could not parse a config file's content (raised, so it is never cached)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=64)
def _parsed_config(data: bytes) -> tuple[tuple[str, str], ...]:
    """Git's reading of a config file's content: its entries.

    Raises:
        _Unparsable: git refused it (or timed out): why.
    """
    status, out, err = run(
        ["git", "config", "--no-includes", "--file", "-", "--list", "-z"],
        cwd=Path("/"),
        env=clean_environment(),
        timeout=30,
        stdin=data,
    )
    if status != 0:
        reason = err.strip().splitlines()[-1:] or ["unreadable"]
        raise _Unparsable(reason[0].removeprefix("fatal: "))
    entries = []
    for item in out.split("\0"):
        if item:
            key, _, value = item.partition("\n")
            entries.append((key, value))
    return tuple(entries)


def config_problems(entries: Sequence[tuple[str, str]], origin_url: str | None) -> list[str]:
    """What in ``entries`` the orchestrator's git refuses to run with (empty: nothing)."""
    problems = [
        key
        for key, _ in entries
        if not any(fnmatch.fnmatchcase(key, pattern) for pattern in ALLOWED_KEYS)
    ]
    urls = [value for key, value in entries if key == "remote.origin.url"]
    if len(urls) > 1:
        problems.append("remote.origin.url (more than one)")
    elif urls and origin_url is not None and urls[0] != origin_url:
        problems.append("remote.origin.url (not the clone's origin)")
    return sorted(set(problems))


def check_commondir(checkout: Checkout, op: str) -> None:
    """Refuse a linked worktree whose git dir's ``commondir`` file names another repository.

    ``GIT_COMMON_DIR`` does not cover everything: git's ref store reads the ``commondir``
    file itself. The ``sandbox`` and ``container`` runtimes mount it read-only; this check
    catches it changed anyway (an instance of the ``local`` runtime).

    Raises:
        UnsafeGitConfig: the file is missing, unreadable or names another folder.
    """
    if checkout.git_dir == checkout.common_dir:
        return
    path = checkout.git_dir / "commondir"
    data = read_capped(path, cap=4096)
    named = Path(os.fsdecode((data or b"").strip()))
    if data is None or (checkout.git_dir / named).resolve() != checkout.common_dir.resolve():
        raise UnsafeGitConfig(path, op, f"does not name {checkout.common_dir}")


def check_config(checkout: Checkout, op: str) -> None:
    """Refuse to run git for ``checkout`` when a config file it would read is unsafe.

    Raises:
        UnsafeGitConfig: naming the file and the keys.
    """
    common = config_entries(checkout.common_dir / "config")
    on = {"true", "yes", "on", "1", ""}
    worktree_config = any(k == "extensions.worktreeconfig" and v.lower() in on for k, v in common)
    for path in checkout.config_files(worktree_config=worktree_config):
        entries = common if path == checkout.common_dir / "config" else config_entries(path)
        problems = config_problems(entries, checkout.origin_url)
        if problems:
            raise UnsafeGitConfig(
                path, op, "config holds keys the orchestrator refuses: " + ", ".join(problems)
            )
