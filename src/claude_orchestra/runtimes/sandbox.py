"""The ``sandbox`` runtime: each instance's process inside a bubblewrap sandbox.

Instances run with ``--dangerously-skip-permissions``: whatever their Bash tool runs, runs.
In the sandbox (``bwrap``, from Debian's ``bubblewrap`` package) an instance sees:

- the whole filesystem **read-only**;
- **writable**: its own worktree (the manager: the clone), its own home (config dir,
  settings, a private ``TMPDIR``), the git metadata its commits need (its worktree's git
  dir, and the shared ``objects``, ``refs`` and ``logs``), and the origin when it is a
  folder on this machine (a push writes there). Which git metadata is fixed by the
  workspace's layout (:func:`git_mounts`), never read from ``<worktree>/.git``;
- **read-only inside those**: a worker's ``.git`` file and its git dir's ``commondir`` and
  ``gitdir`` (so it cannot point itself, or the orchestrator's git, elsewhere); the
  clone's ``.git/config``, ``.git/hooks`` and the workers' git dirs (the manager's);
- **not at all**: every other instance's home (config dirs, copied OAuth logins),
  ``api-keys.json``, and the user's own ``~/.claude``;
- a private pid namespace (no other instance's process, nor its environment, in
  ``/proc``) that dies with the pane's process.

The network is shared, so the hook app and the API on loopback stay reachable. The pane's
supervisor (the relay that reports the process's exit) runs outside; only the instance's
own command is wrapped. What the sandbox does not do: limit the network, CPU or memory, or
hide the other worktrees from reading; see ``docs/how-to/sandbox.md``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import final

import attrs

from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.git.env import Checkout
from claude_orchestra.runtimes.base import Runtime, RuntimeContext, WrappingRuntime
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.gate import minimal_environment
from claude_orchestra.workspace import Workspace


@final
@attrs.frozen(kw_only=True)
class GitMounts:
    """What an instance's git needs besides its worktree, fixed from the workspace's layout
    when the orchestrator made the checkouts; never read from ``<worktree>/.git``."""

    writable: tuple[Path, ...] = ()
    """Folders its commits write: a worker's own git dir and the shared ``objects``,
    ``refs`` and ``logs``; the manager's clone holds its ``.git`` (bound again over
    itself, so it cannot be renamed away)."""
    read_only: tuple[Path, ...] = ()
    """Files and folders inside those that no instance may change: a worker's ``.git``
    file and its git dir's ``commondir`` and ``gitdir``; the clone's ``config``, ``hooks``
    and the workers' git dirs (``worktrees``)."""


def git_mounts(clone: Path, cwd: Path) -> GitMounts:
    """The git mounts of an instance working in ``cwd``: the clone at ``clone`` (the
    manager) or one of its linked worktrees (a worker, or nothing when ``cwd`` is neither)."""
    common = clone / ".git"
    if cwd == clone:
        return GitMounts(
            writable=(common,),
            read_only=(common / "config", common / "hooks", common / "worktrees"),
        )
    private = Checkout.clone(clone).linked(cwd).git_dir
    if not private.is_dir():
        return GitMounts()
    shared = tuple(common / p for p in ("objects", "refs", "logs") if (common / p).exists())
    return GitMounts(
        writable=(private, *shared),
        read_only=(cwd / ".git", private / "commondir", private / "gitdir"),
    )


@final
@attrs.frozen(kw_only=True)
class SandboxPolicy:
    """What every instance of a run may see and write; turns a command into a sandboxed one."""

    bwrap: str = "bwrap"
    hidden_dirs: tuple[Path, ...] = ()
    """Replaced by an empty directory (every instance's home, ``~/.claude``)."""
    hidden_files: tuple[Path, ...] = ()
    """Replaced by an empty file (``api-keys.json``)."""
    readable: tuple[Path, ...] = ()
    """Shown again, read-only, inside a hidden dir (the hook secret's file)."""
    writable: tuple[Path, ...] = ()
    """Writable for every instance (a local origin)."""
    clone: Path | None = None
    """The run's main clone: where every instance's git metadata is (``None``: none)."""
    state_dir: Path | None = None
    """The orchestrator's own folder (``.orchestra``: hook secret, git credentials,
    journal), hidden from a gate command (:meth:`wrap_command`)."""

    @classmethod
    def for_run(cls, context: RuntimeContext, *, bwrap: str | None = None) -> SandboxPolicy:
        """The policy for a run.

        Raises:
            PrerequisiteError: ``bwrap`` is not installed.
        """
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise PrerequisiteError(
                "bwrap", "the sandbox runtime needs bubblewrap (apt-get install bubblewrap)"
            )
        user_claude = Path.home() / ".claude"
        keys = context.config_dir / "api-keys.json"
        return cls(
            bwrap=found,
            hidden_dirs=(
                context.instances_dir,
                *((user_claude,) if user_claude.is_dir() else ()),
            ),
            hidden_files=(keys,) if keys.exists() else (),
            writable=(context.local_origin,) if context.local_origin else (),
            clone=Workspace(context.workspace).repo,
            state_dir=Workspace(context.workspace).state,
        )

    def wrap(self, spec: LaunchSpec) -> LaunchSpec:
        """``spec`` with its command run inside the sandbox (and a private ``TMPDIR``)."""
        home = spec.config_dir.parent  # config dir, settings file and tmp of this instance
        tmp = home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = [
            self.bwrap,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-pid",
            "--die-with-parent",
        ]  # fmt: skip
        # Order matters, bwrap applies each in turn: what the instance may write first,
        # then what stays read-only inside it, then the hiding (so no writable bind can
        # show a hidden folder again), then its own home and the files shown again.
        git = git_mounts(self.clone, spec.cwd) if self.clone else GitMounts()
        for path in (spec.cwd, *git.writable, *self.writable):
            args += ["--bind", str(path), str(path)]
        for path in git.read_only:
            args += ["--ro-bind-try", str(path), str(path)]
        for folder in self.hidden_dirs:
            args += ["--tmpfs", str(folder)]
        for file in self.hidden_files:
            args += ["--ro-bind", "/dev/null", str(file)]
        args += ["--bind", str(home), str(home)]
        for path in self.readable:
            args += ["--ro-bind-try", str(path), str(path)]
        args += ["--chdir", str(spec.cwd), "--", *spec.command]
        return attrs.evolve(spec, command=tuple(args), env={**spec.env, "TMPDIR": str(tmp)})

    def wrap_command(
        self, argv: Sequence[str], cwd: Path, scratch: Path
    ) -> tuple[list[str], dict[str, str]]:
        """``argv`` in a sandbox where only ``cwd`` and ``scratch`` are writable, the
        orchestrator's folder and every secret hidden, with a minimal environment."""
        args = [
            self.bwrap,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-pid",
            "--die-with-parent",
            "--new-session",
            "--bind", str(cwd), str(cwd),
            "--ro-bind-try", str(cwd / ".git"), str(cwd / ".git"),
        ]  # fmt: skip
        for folder in (*self.hidden_dirs, *((self.state_dir,) if self.state_dir else ())):
            args += ["--tmpfs", str(folder)]
        for file in self.hidden_files:
            args += ["--ro-bind", "/dev/null", str(file)]
        args += ["--bind", str(scratch), str(scratch), "--chdir", str(cwd), "--", *argv]
        return args, minimal_environment(scratch, scratch)


@final
class SandboxRuntime(WrappingRuntime):
    """A runtime that starts every command inside the sandbox, in another runtime's panes."""

    def __init__(self, inner: Runtime, policy: SandboxPolicy) -> None:
        super().__init__(inner)
        self.policy = policy

    def wrap(self, spec: LaunchSpec, name: str) -> LaunchSpec:
        """The command inside the sandbox (the sandbox dies with the pane's process)."""
        return self.policy.wrap(spec)

    def wrap_command(
        self, argv: Sequence[str], cwd: Path, scratch: Path
    ) -> tuple[list[str], dict[str, str]]:
        """The gate command in its own sandbox (see :meth:`SandboxPolicy.wrap_command`)."""
        return self.policy.wrap_command(argv, cwd, scratch)
