"""claude_orchestra: a team of real Claude Code instances on one git repository.

A manager plans and merges; workers each code in their own git worktree; all of them are
the real interactive ``claude`` CLI in tmux, coordinated by the events Claude Code's hooks
send to a small HTTP app::

    from claude_orchestra import Orchestrator, load_config

    summary = Orchestrator(load_config("config/")).run_sync()
    print(summary.outcome, summary.total_cost_usd)

Extend it with pluggy plugins (``@hookimpl``); see :mod:`claude_orchestra.hookspecs`.
"""

from __future__ import annotations

import os

# GitPython refuses to import without git on PATH; `claude-orchestra doctor` must still run
# there to say how to install it. Our own code reports a missing git (PrerequisiteError).
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from typing import TYPE_CHECKING, Any

from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret, redact
from claude_orchestra.auth.rotator import (
    AuthMode,
    AuthRotator,
    CredentialFailure,
    CredentialState,
    CredentialStatus,
    PoolView,
)
from claude_orchestra.cleanup import cleanup_workspace
from claude_orchestra.config import OrchestraConfig, RunConfig
from claude_orchestra.config_load import load_config
from claude_orchestra.costs.budget import BudgetConfig, BudgetCrossing, BudgetScope, Measure
from claude_orchestra.costs.ledger import Attribution, CostLedger, Spend
from claude_orchestra.errors import (
    ConfigError,
    GitError,
    HookPayloadError,
    InstanceError,
    InvalidTransition,
    MergeConflict,
    OrchestraError,
    PluginError,
    PrerequisiteError,
    RemoteError,
    TmuxError,
    UnmergedWorkError,
    UsageError,
)
from claude_orchestra.events import FailureKind
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree, WorktreeView
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.instance import Instance, InstanceView, Role, StateChange
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.notifications import (
    Moment,
    Notification,
    NotifyConfig,
    for_budget,
    for_incident,
    for_summary,
)
from claude_orchestra.orchestrator import Orchestrator
from claude_orchestra.outcomes import Outcome
from claude_orchestra.pins import CLAUDE_CODE_VERSION
from claude_orchestra.report import summary_text
from claude_orchestra.runmodel import (
    BrokerTotals,
    CredentialRow,
    InstanceRow,
    RunModel,
    TimelineEntry,
    read_run,
)
from claude_orchestra.runtimes.attach import RunTmux
from claude_orchestra.runtimes.base import (
    CarriedSessions,
    ReportingRuntime,
    Runtime,
    RuntimeContext,
    RuntimeNotice,
    SessionCarryingRuntime,
)
from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    Incident,
    IncidentKind,
    MergeByManager,
    MergeByQueue,
    MergeDelivered,
    MergePlan,
    MergeRecord,
    RunView,
    StrategyNeeds,
    WorkerFinished,
)
from claude_orchestra.workspace import Workspace

if TYPE_CHECKING:
    __version__: str

__all__ = [
    "CLAUDE_CODE_VERSION",
    "Assignment",
    "AssignmentKind",
    "Attribution",
    "AuthMode",
    "AuthRotator",
    "BrokerTotals",
    "BudgetConfig",
    "BudgetCrossing",
    "BudgetScope",
    "CarriedSessions",
    "ConfigError",
    "CostLedger",
    "Credential",
    "CredentialFailure",
    "CredentialKind",
    "CredentialRow",
    "CredentialState",
    "CredentialStatus",
    "FailureKind",
    "GitError",
    "GitRepo",
    "HookPayloadError",
    "Incident",
    "IncidentKind",
    "Instance",
    "InstanceError",
    "InstanceRow",
    "InstanceState",
    "InstanceView",
    "InvalidTransition",
    "Measure",
    "MergeByManager",
    "MergeByQueue",
    "MergeConflict",
    "MergeDelivered",
    "MergePlan",
    "MergeRecord",
    "Moment",
    "Notification",
    "NotifyConfig",
    "OrchestraConfig",
    "OrchestraError",
    "Orchestrator",
    "Outcome",
    "PluginError",
    "PoolView",
    "PrerequisiteError",
    "RemoteError",
    "RemoteHost",
    "ReportingRuntime",
    "Role",
    "RunConfig",
    "RunModel",
    "RunSummary",
    "RunTmux",
    "RunView",
    "Runtime",
    "RuntimeContext",
    "RuntimeNotice",
    "Secret",
    "SessionCarryingRuntime",
    "Spend",
    "StateChange",
    "StrategyNeeds",
    "TimelineEntry",
    "TmuxError",
    "UnmergedWorkError",
    "UsageError",
    "WorkerFinished",
    "Workspace",
    "Worktree",
    "WorktreeView",
    "cleanup_workspace",
    "for_budget",
    "for_incident",
    "for_summary",
    "hookimpl",
    "load_config",
    "read_run",
    "redact",
    "summary_text",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 (only when asked)

        return version("claude-orchestra")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
