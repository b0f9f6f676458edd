"""The configuration the orchestrator's own git runs with, and where it finds a checkout.

An instance can write its worktree, and in the ``sandbox`` and ``container`` runtimes also
its worktree's git dir, the shared objects, refs and logs (the manager: the whole clone,
``.git`` included). None of that may steer the git the orchestrator runs on the host:

- **Where**: a :class:`Checkout` names the work tree, the git dir and the common dir as the
  orchestrator made them; git gets them as ``GIT_WORK_TREE``, ``GIT_DIR`` and
  ``GIT_COMMON_DIR``, so ``<worktree>/.git`` and the git dir's ``commondir`` and ``gitdir``
  files are never read.
- **With what**: no system or global config (``GIT_CONFIG_NOSYSTEM``,
  ``GIT_CONFIG_GLOBAL=/dev/null``, ``GIT_ATTR_NOSYSTEM``), a minimal environment (no
  credential, no API key, no hook token), and ``-c`` overrides (:data:`OVERRIDES`) for every
  single-valued key that could run a program: hooks, fsmonitor, ssh command, pager, editor,
  askpass, credential helpers (reset; the orchestrator's own ``store`` helper is added back,
  its file path shell-quoted), signing, auto gc, submodule recursion, the ``ext`` protocol.
- **Refused**: what a ``-c`` cannot undo (``include.path``, ``includeIf``, ``filter.*``,
  ``merge.<driver>.driver``, ``diff.<driver>.textconv``, ``url.*.insteadOf``,
  ``core.gitProxy``, ``remote.*.uploadpack``, ...). Before each operation the config files
  the repository would read (``<common>/config``; the checkout's ``config.worktree`` when
  ``extensions.worktreeConfig`` is on) are read
  without following symlinks, capped, and parsed by git with includes off; any key outside
  :data:`ALLOWED_KEYS` (or a second origin URL, or one other than the clone's) makes the
  operation fail with :class:`UnsafeGitConfig` before git runs. An allowlist, not a
  denylist: git grows new keys that run programs, and the list of keys a fresh clone and
  the orchestrator write is short.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import shlex
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, final

import attrs

from claude_orchestra.errors import GitError

CONFIG_CAP: Final = 256 * 1024
"""The largest repository config the orchestrator reads (a fresh clone's is under 1 KiB)."""

OVERRIDES: Final[tuple[tuple[str, str], ...]] = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.sshCommand", "ssh"),
    ("core.pager", "cat"),
    ("core.editor", "true"),
    ("sequence.editor", "true"),
    ("core.askPass", ""),
    ("core.attributesFile", os.devnull),
    ("credential.helper", ""),  # an empty value drops every helper read so far
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("submodule.recurse", "false"),
    ("push.recurseSubmodules", "no"),
    ("protocol.ext.allow", "never"),
    ("core.alternateRefsCommand", "true"),  # (an alternate's refs: none)
)
"""``-c`` settings every host-side git command runs with (they win over any config file)."""

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

_PASSED_ON: Final = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
_FIXED_ENV: Final = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_TERMINAL_PROMPT": "0",  # git must never wait for a person
    "GCM_INTERACTIVE": "never",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_EDITOR": "true",
    "GIT_PAGER": "cat",
}


@final
class UnsafeGitConfig(GitError):
    """A config file the repository would read holds a key the orchestrator's git refuses
    to run with (it could run a program or send git elsewhere)."""


@final
@attrs.frozen(kw_only=True)
class Checkout:
    """Where git finds one checkout, fixed when the orchestrator made it.

    Passed to git as ``GIT_WORK_TREE``, ``GIT_DIR`` and ``GIT_COMMON_DIR``: nothing an
    instance writes (``<worktree>/.git``, ``commondir``, ``gitdir``) moves it.
    """

    work_tree: Path
    git_dir: Path
    """The checkout's own git dir (``HEAD``, ``index``)."""
    common_dir: Path
    """The repository's shared git dir (``config``, ``objects``, ``refs``)."""
    credentials_file: Path | None = None
    """The orchestrator's ``git credential-store`` file for an https origin, if any."""
    origin_url: str | None = None
    """Origin's URL as the orchestrator cloned it (no credentials); another one in the
    config is refused. ``None``: any one URL."""

    @classmethod
    def clone(
        cls, path: Path, *, credentials_file: Path | None = None, origin_url: str | None = None
    ) -> Checkout:
        """A clone at ``path`` (its git dir is ``path/.git``)."""
        git_dir = path / ".git"
        return cls(
            work_tree=path,
            git_dir=git_dir,
            common_dir=git_dir,
            credentials_file=credentials_file,
            origin_url=origin_url,
        )

    def linked(self, worktree: Path) -> Checkout:
        """The linked worktree at ``worktree`` of this clone: git names its git dir after
        the folder (:func:`claude_orchestra.gitops.add_worktree` checks it did)."""
        return attrs.evolve(
            self, work_tree=worktree, git_dir=self.common_dir / "worktrees" / worktree.name
        )

    def config_files(self, *, worktree_config: bool) -> tuple[Path, ...]:
        """The repository config files git reads for this checkout: the common ``config``,
        and with ``extensions.worktreeConfig`` on, the checkout's ``config.worktree``."""
        common = self.common_dir / "config"
        return (common, self.git_dir / "config.worktree") if worktree_config else (common,)

    def environment(self) -> dict[str, str]:
        """The whole environment host-side git runs with."""
        env = {k: v for k in _PASSED_ON if (v := os.environ.get(k)) is not None}
        return {
            **env,
            **_FIXED_ENV,
            "GIT_DIR": str(self.git_dir),
            "GIT_COMMON_DIR": str(self.common_dir),
            "GIT_WORK_TREE": str(self.work_tree),
        }

    def options(self) -> list[str]:
        """The ``-c`` options before every host-side git command."""
        args: list[str] = []
        for key, value in OVERRIDES:
            args += ["-c", f"{key}={value}"]
        helper = credential_helper(self.credentials_file)
        if helper is not None:
            args += ["-c", f"credential.helper={helper}"]
        return args


def credential_helper(credentials_file: Path | None) -> str | None:
    """The ``credential.helper`` value that reads ``credentials_file`` (shell-quoted: git
    runs a helper through the shell), or ``None`` for no file."""
    if credentials_file is None:
        return None
    return f"store --file={shlex.quote(str(credentials_file))}"


def clean_environment() -> dict[str, str]:
    """The environment of a git command outside any repository (``clone``)."""
    env = {k: v for k in _PASSED_ON if (v := os.environ.get(k)) is not None}
    return {**env, **_FIXED_ENV}


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None = None,
    stdin: bytes | None = None,
) -> tuple[int, str, str]:
    """Run ``args`` (a git command line); return its exit status, stdout and stderr.

    Git runs in its own process group; at ``timeout`` the whole group is killed and the
    status is -9 with a ``Timeout: ...`` line as stderr.
    """
    with subprocess.Popen(
        list(args),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return -9, "", f"Timeout: the command git did not complete in {timeout:g} secs"
        except BaseException:
            _kill_group(process)
            raise
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)


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
