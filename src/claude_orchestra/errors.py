"""The exception hierarchy.

Every error carries structured fields and builds its own message from them, so the CLI
can print one line (``file: field: reason``) and exit 2 without a traceback. Expected
outcomes of a run (a rate limit, a spent budget) are events, never exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import final


class OrchestraError(Exception):
    """Base of every error this package raises on purpose."""


@final
class ConfigError(OrchestraError):
    """A config file is missing, malformed or holds a bad value.

    Each problem reads ``<field>: <reason>``; the message prefixes each with the file,
    one line per problem. Problems never quote a secret's value.
    """

    def __init__(self, path: Path | str, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = tuple(problems) or ("invalid",)
        super().__init__("\n".join(f"{self.path}: {p}" for p in self.problems))


@final
class TaskFileError(OrchestraError):
    """The ``queue`` scheduler's task file holds something it cannot use."""

    def __init__(self, path: Path | str, line: int, field: str, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(f"{self.path}: line {line}: {field}: {reason}")


@final
class PrerequisiteError(OrchestraError):
    """A tool the run needs (claude, tmux, git) is missing or unusable."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = reason
        super().__init__(f"{tool}: {reason}")


@final
class UsageError(OrchestraError):
    """A command-line argument is wrong (exit code 2)."""

    def __init__(self, argument: str, reason: str) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"{argument}: {reason}")


@final
class PluginError(OrchestraError):
    """A plugin's hook raised or answered with something the core cannot use."""

    def __init__(self, plugin: str, hook: str, reason: str) -> None:
        self.plugin = plugin
        self.hook = hook
        self.reason = reason
        super().__init__(f"plugin {plugin}: {hook}: {reason}")


@final
class HookPayloadError(OrchestraError):
    """A hook request's body is not a payload we understand (HTTP 400)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class InstanceError(OrchestraError):
    """An instance could not be started, driven or stopped."""


@final
class InvalidTransition(InstanceError):
    """An action was requested that the instance's state does not allow."""

    def __init__(self, state: str, action: str) -> None:
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} an instance that is {state}")


class GitError(OrchestraError):
    """A git operation failed."""

    def __init__(self, path: Path | str, op: str, reason: str) -> None:
        self.path = Path(path)
        self.op = op
        self.reason = reason
        super().__init__(f"{self.path}: git {op}: {reason}")


@final
class MergeConflict(GitError):
    """A merge stopped on conflicts; it was aborted and nothing changed."""

    def __init__(self, path: Path | str, branch: str, files: Sequence[str]) -> None:
        self.branch = branch
        self.files = tuple(files)
        super().__init__(path, f"merge {branch}", "conflicts in " + ", ".join(self.files))


@final
class UnmergedWorkError(GitError):
    """Removing a worktree or branch would lose commits that exist nowhere else."""

    def __init__(self, path: Path | str, branch: str, commits: int) -> None:
        self.branch = branch
        self.commits = commits
        super().__init__(
            path,
            "remove",
            f"branch {branch} has {commits} commit(s) that are neither merged nor preserved",
        )


@final
class TmuxError(OrchestraError):
    """A tmux command failed."""

    def __init__(self, subcommand: str, reason: str) -> None:
        self.subcommand = subcommand
        self.reason = reason
        super().__init__(f"tmux {subcommand}: {reason}")


@final
class RemoteError(OrchestraError):
    """A command on a remote host failed, or the host could not be reached in time
    (the ``remote`` runtime)."""

    def __init__(self, host: str, op: str, reason: str) -> None:
        self.host = host
        self.op = op
        self.reason = reason
        super().__init__(f"{host}: {op}: {reason}")
