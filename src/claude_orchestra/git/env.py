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
- **Refused**: what a ``-c`` cannot undo is checked before each operation by
  :mod:`claude_orchestra.git.config` (an allowlist of keys).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, final

import attrs

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
        the folder (:func:`claude_orchestra.git.checkout.add_worktree` checks it did)."""
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
