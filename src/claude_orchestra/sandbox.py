"""The ``sandbox`` runtime: each instance's process inside a bubblewrap sandbox.

Instances run with ``--dangerously-skip-permissions``: whatever their Bash tool runs, runs.
In the sandbox (``bwrap``, from Debian's ``bubblewrap`` package) an instance sees:

- the whole filesystem **read-only**;
- **writable**: its own worktree (the manager: the clone), its own home (config dir,
  settings, a private ``TMPDIR``), the git metadata its commits need (its worktree's git
  dir, and the shared ``objects``, ``refs`` and ``logs``), and the origin when it is a
  folder on this machine (a push writes there);
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

from claude_orchestra.claude_home import LaunchSpec
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.runtime import Runtime, RuntimeContext, WrappingRuntime


def worktree_git_dirs(worktree: Path) -> tuple[Path, ...]:
    """What a commit in ``worktree`` writes besides the worktree: for a linked worktree its
    private git dir and the shared ``objects``, ``refs`` and ``logs``; for a clone, nothing
    more (its ``.git`` is inside it)."""
    dot_git = worktree / ".git"
    if not dot_git.is_file():
        return ()
    text = dot_git.read_text(encoding="utf-8").strip()
    private = Path(text.removeprefix("gitdir:").strip())
    private = private if private.is_absolute() else (worktree / private).resolve()
    common_file = private / "commondir"
    common = private
    if common_file.is_file():
        named = Path(common_file.read_text(encoding="utf-8").strip())
        common = named if named.is_absolute() else (private / named).resolve()
    shared = tuple(common / p for p in ("objects", "refs", "logs") if (common / p).exists())
    return (private, *shared)


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
        for folder in self.hidden_dirs:
            args += ["--tmpfs", str(folder)]
        for file in self.hidden_files:
            args += ["--ro-bind", "/dev/null", str(file)]
        for path in self.readable:
            args += ["--ro-bind-try", str(path), str(path)]
        writable: Sequence[Path] = (spec.cwd, home, *worktree_git_dirs(spec.cwd), *self.writable)
        for path in writable:
            args += ["--bind", str(path), str(path)]
        args += ["--chdir", str(spec.cwd), "--", *spec.command]
        return attrs.evolve(spec, command=tuple(args), env={**spec.env, "TMPDIR": str(tmp)})


@final
class SandboxRuntime(WrappingRuntime):
    """A runtime that starts every command inside the sandbox, in another runtime's panes."""

    def __init__(self, inner: Runtime, policy: SandboxPolicy) -> None:
        super().__init__(inner)
        self.policy = policy

    def wrap(self, spec: LaunchSpec, name: str) -> LaunchSpec:
        """The command inside the sandbox (the sandbox dies with the pane's process)."""
        return self.policy.wrap(spec)
