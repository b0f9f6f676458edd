"""Configuration values: ``orchestrator.json`` and a run's whole config, compatible with
the original TypeScript tool.

A config folder holds ``orchestrator.json`` (required) and ``api-keys.json`` (optional);
:mod:`claude_orchestra.config_load` reads them. The same classes are built directly from
Python (validators, in :mod:`claude_orchestra.config_checks`, live on the fields)::

    config = RunConfig(
        config_dir=Path("."),
        orchestrator=OrchestraConfig(repository_url="git@github.com:me/app.git"),
        credentials=(),
    )
"""

from __future__ import annotations

from pathlib import Path
from typing import final

import attrs

from claude_orchestra import config_checks as check
from claude_orchestra.auth.credentials import Credential
from claude_orchestra.auth.rotator import AuthMode
from claude_orchestra.config_checks import SCP_LIKE
from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.costs.transcripts import Price
from claude_orchestra.errors import ConfigError
from claude_orchestra.git.strings import redact
from claude_orchestra.notifications import NotifyConfig
from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.taskfile import TASK_FILE

#: Folders a workspace may never be, nor be inside: the system's own.
SYSTEM_DIRS = tuple(
    Path(p)
    for p in (
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
        "/run", "/sbin", "/sys", "/usr",
    )
)  # fmt: skip
#: Folders a workspace may be inside of, but never be: they hold what is not the run's.
SHARED_DIRS = tuple(
    Path(p)
    for p in ("/", "/home", "/root", "/var", "/tmp", "/opt", "/srv", "/mnt", "/media")  # noqa: S108
)


@final
@attrs.frozen(kw_only=True)
class OrchestraConfig:
    """``orchestrator.json``: the original tool's keys and ours (camelCase in the file)."""

    repository_url: str = attrs.field(validator=check.repository_url)
    """The target repository: https, ssh, ``file://`` or a local path."""
    branch: str = attrs.field(default="main", validator=check.branch)
    """The run branch: workers start from it, merges land on it."""
    worker_count: int = attrs.field(default=2, validator=check.between(1, 20))
    claude_configs: str | list[str] | None = None
    """Accepted for compatibility with the original tool; unused."""
    hook_server_port: int = attrs.field(default=3000, validator=check.between(0, 65535))
    """The hook app's port on 127.0.0.1; 0 picks a free one."""
    max_run_duration_minutes: float = attrs.field(default=120, validator=check.positive)
    clone_depth: int | None = attrs.field(default=None, validator=check.at_least(1))
    """Shallow clone depth (original tool's key)."""
    health_check_interval_ms: int | None = attrs.field(default=None, validator=check.at_least(1))
    """Accepted for compatibility; unused (we react to events, we do not poll)."""
    rate_limit_check_interval_ms: int | None = attrs.field(
        default=None, validator=check.at_least(1)
    )
    """Accepted for compatibility; unused (limits arrive as StopFailure events)."""
    stuck_threshold_ms: int | None = attrs.field(default=None, validator=check.at_least(1000))
    """Milliseconds a working instance may show no progress before it is restarted on its
    conversation (default 30000; the original tool's was 120000)."""
    max_tool_uses_per_instance: int | None = attrs.field(default=None, validator=check.at_least(1))
    """Accepted for compatibility; unused."""
    max_total_tool_uses: int | None = attrs.field(default=None, validator=check.at_least(1))
    """Accepted for compatibility; unused."""
    workspace_dir: str | None = attrs.field(default=None, validator=check.workspace_dir)
    """Where the run keeps its clone, worktrees and ``.orchestra``; default
    ``<config folder>/workspace``; relative to the config folder."""
    auth_mode: AuthMode = AuthMode.OAUTH
    model: str | None = None
    """``--model`` for every instance (default: Claude Code's own)."""
    claude_command: str | None = None
    """The claude executable (default: the project-local install, else ``claude``)."""
    scheduler: str = attrs.field(default="manager", validator=check.name)
    """``manager`` (the original tool's task lists) or ``queue`` (the task file), or a
    plugin's strategy."""
    merger: str = attrs.field(default="manager", validator=check.name)
    """``manager`` (the manager merges) or ``queue`` (the orchestrator's merge queue), or a
    plugin's strategy."""
    runtime: str = attrs.field(default="local", validator=check.name)
    """Where instances run: ``local`` (tmux), ``sandbox`` (tmux + bubblewrap),
    ``container`` (tmux + Docker or Podman), ``remote`` (workers on other hosts over SSH),
    or a plugin's runtime."""
    remote_hosts: tuple[RemoteHost, ...] = ()
    """With ``"runtime": "remote"``: the hosts the workers run on, each with its
    ``workers`` (they add up to ``workerCount``); see the remote hosts how-to."""
    container_engine: str | None = attrs.field(default=None, validator=check.engine)
    """With ``"runtime": "container"``: ``docker`` or ``podman`` (default: whichever is
    installed, docker first)."""
    container_image: str = attrs.field(default="claude-orchestra:latest", validator=check.image)
    """With ``"runtime": "container"``: the image holding Claude Code
    (``docker/Dockerfile``)."""
    task_file: str = attrs.field(default=TASK_FILE, validator=check.repo_path)
    """With ``"scheduler": "queue"``: the task file on the run branch, relative to the
    repository root."""
    api_timeout_ms: int | None = attrs.field(default=None, validator=check.at_least(1000))
    """``API_TIMEOUT_MS`` for every instance."""
    max_retries: int = attrs.field(default=0, validator=check.between(0, 15))
    """``CLAUDE_CODE_MAX_RETRIES``: low, so limits surface in seconds."""
    instance_nice: int = attrs.field(default=10, validator=check.between(0, 19))
    """The ``nice`` value every instance runs at on this machine (0: the orchestrator's
    own priority). Claude Code's processes take all the CPU a fleet is given; a lower
    priority keeps the orchestrator, its git and the hook app answering at once, however
    many instances are busy (see ``docs/how-to/fleet-size.md``)."""
    rate_limit_cooldown_seconds: float = attrs.field(default=300, validator=check.positive)
    """How long a rate-limited credential rests when the limit names no reset time."""
    broker: bool = False
    """Run every instance through the credential broker (:mod:`claude_orchestra.broker`):
    instances hold a token of the run instead of a credential, and a rate limit moves a
    request to the next credential with no restart. Off by default (see
    ``docs/explanation/broker.md``)."""
    broker_near_limit: float | None = attrs.field(default=None, validator=check.fraction)
    """With ``"broker": true``: move new requests off a credential whose answers report
    this share of a limit used (``0.9``); ``null``: only after a 429."""
    merge_test_command: str | None = None
    """With ``"merger": "queue"``: a shell command run on each merged result before it is
    pushed (``make test``, ``pytest -q``); a failure sends the branch back to its worker."""
    merge_test_timeout_seconds: float = attrs.field(default=600, validator=check.positive)
    idle_retries: int = attrs.field(default=1, validator=check.between(0, 10))
    """Follow-up prompts for a worker that stopped without committing, before its task is
    handed back to the manager."""
    budget: BudgetConfig = attrs.field(factory=BudgetConfig)
    """Spending limits for the run, each instance and each credential (none by default)."""
    prices: dict[str, Price] = attrs.field(factory=dict)
    """USD per million tokens by model, over the built-in table."""
    notify: NotifyConfig = attrs.field(factory=NotifyConfig)
    """Where to tell a person about limits, budgets, stalls and the run's end (#15)."""
    dashboard: bool = False
    """Serve the web dashboard on the hook server (127.0.0.1), behind a per-run token;
    ``run`` prints its URL (``run --dashboard`` turns it on for one run)."""


@final
@attrs.frozen(kw_only=True)
class RunConfig:
    """What a run needs: the config folder, ``orchestrator.json``, the credentials."""

    config_dir: Path = attrs.field(converter=Path)
    orchestrator: OrchestraConfig
    credentials: tuple[Credential, ...] = ()

    @property
    def workspace(self) -> Path:
        """The workspace folder, resolved against the config folder."""
        chosen = self.orchestrator.workspace_dir
        path = Path(chosen).expanduser() if chosen else Path("workspace")
        return (self.config_dir / path).resolve()

    @property
    def repository(self) -> str:
        """The repository URL, with a relative local path resolved against the config folder."""
        url = self.orchestrator.repository_url
        if "://" in url or SCP_LIKE.match(url):
            return url
        return str((self.config_dir / Path(url).expanduser()).resolve())

    @property
    def printable_repository(self) -> str:
        """``repositoryUrl`` as it may be printed: a user or token in it blanked out
        (``https://***@host/...``)."""
        return redact(self.orchestrator.repository_url)

    def with_workspace(self, workspace: Path) -> RunConfig:
        """A copy that uses ``workspace`` (the CLI's ``--workspace``).

        Raises:
            ConfigError: ``workspace`` is a folder no run may use (:func:`workspace_problem`).
        """
        settings = attrs.evolve(self.orchestrator, workspace_dir=str(workspace.resolve()))
        changed = attrs.evolve(self, orchestrator=settings)
        if reason := workspace_problem(changed.workspace, self.config_dir):
            raise ConfigError("--workspace", [f"{workspace}: {reason}"])
        return changed


def workspace_problem(workspace: Path, config_dir: Path) -> str | None:
    """Why ``workspace`` (resolved) must not hold a run, or ``None``: a run clones, writes
    and, on ``cleanup``, deletes there, so it may not be the root, a home or shared folder,
    a system folder or inside one, the config folder or a folder that holds it."""
    config_dir = config_dir.resolve()
    home = Path.home().resolve()
    reason: str | None = None
    if workspace in SHARED_DIRS or workspace == home or home.is_relative_to(workspace):
        reason = "is the root, a home folder or a shared system folder"
    elif any(workspace.is_relative_to(system) for system in SYSTEM_DIRS):
        reason = "is a system folder or inside one"
    elif config_dir.is_relative_to(workspace):
        reason = "is the config folder or holds it"
    return reason
