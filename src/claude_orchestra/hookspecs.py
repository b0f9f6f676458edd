"""Every ``orchestra_*`` hook a plugin can implement; the docstrings are the contract.

Plugins are ordinary modules or objects with functions marked ``@hookimpl`` and are found
through the ``claude_orchestra`` entry-point group (or registered in Python). Hooks run on
the orchestrator's event loop and must not block: decision hooks receive frozen views and
answer with frozen plans that the core carries out, so no plugin touches git or tmux.

Decision hooks are ``firstresult``: the first plugin answering something other than
``None`` wins. The built-in strategies are plugins registered ``trylast``, so any installed
plugin is asked before them, and each answers only when the config selects it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from claude_orchestra.auth.rotator import CredentialFailure, PoolView
from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.events import Event
from claude_orchestra.instance import InstanceView, StateChange
from claude_orchestra.runtimes.base import Runtime, RuntimeContext
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import (
    Assignment,
    Incident,
    MergePlan,
    MergeRecord,
    RunView,
    StrategyNeeds,
    WorkerFinished,
)

PROJECT = "claude_orchestra"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification (used in this module only)."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementation: ``@hookimpl def orchestra_schedule(run): ...``."""


@hookspec(firstresult=True)
def orchestra_schedule(run: RunView) -> Sequence[Assignment] | None:
    """Choose which prompts to send now, to which idle instances.

    Called after every event that changed the run (an instance became idle, a merge
    landed, the task lists changed). Return the assignments to make now (possibly none:
    an empty sequence means "nothing to do now", and stops other plugins from being
    asked), or ``None`` to let the next plugin decide. Only instances listed in
    ``run.idle`` can receive a prompt; an assignment to another is an error.

    Built-in: ``manager`` (config ``"scheduler": "manager"``): the manager plans into
    ``WORKER_<N>_TASK_LIST.md`` files, merges finished branches, and each worker is told
    to do the next open task of its list.
    """


@hookspec(firstresult=True)
def orchestra_merge(run: RunView, finished: WorkerFinished) -> MergePlan | None:
    """Decide how a worker's finished work reaches the run branch.

    Called when a worker stopped and its branch on origin holds commits the run branch
    lacks. Answer a :class:`~claude_orchestra.values.MergePlan`, or ``None`` to let the
    next plugin decide.

    Built-in: ``manager`` (config ``"merger": "manager"``) answers
    :class:`~claude_orchestra.values.MergeByManager`: the branch waits in
    ``run.awaiting_merge`` until the scheduler asks the manager to merge it. ``queue``
    (``"merger": "queue"``) answers :class:`~claude_orchestra.values.MergeByQueue`: the
    orchestrator merges it in its own worktree, runs ``mergeTestCommand``, and pushes only
    what passed; a conflict or a failure goes back to the worker.

    A plugin that sends the work elsewhere (a pull request) answers
    :class:`~claude_orchestra.values.MergeDelivered`: the branch is not merged, the run
    does not wait for it on the run branch, and its tasks count as done. The hook must not
    block: make network calls from a thread. See ``examples/pull_request_merger.py``.
    """


@hookspec(firstresult=True)
def orchestra_strategy_needs(kind: str, name: str) -> StrategyNeeds | None:
    """Say what the scheduler or merger called ``name`` needs the core to set up.

    Asked as the run starts, once with ``kind`` ``"scheduler"`` and config ``scheduler``,
    once with ``"merger"`` and config ``merger``. Answer a
    :class:`~claude_orchestra.values.StrategyNeeds`, or ``None`` when ``name`` is not yours.
    With no answer the strategy needs nothing: a scheduler then runs with the manager and
    no task file, a merger without the merge queue.

    Built-in: ``queue`` (a scheduler reading the task file; a merger using the merge queue)
    and ``manager`` (a merger needing the manager).
    """


@hookspec(firstresult=True)
def orchestra_select_credential(
    instance: InstanceView, pool: PoolView, failure: CredentialFailure
) -> str | None:
    """Choose the credential (by name) an instance moves to after ``failure``.

    ``pool`` lists every credential with its state (available, cooling until a time,
    invalid). Return the name of an available credential, or ``None`` to let the next
    plugin decide. When every plugin answers ``None`` the instance waits until a
    credential becomes available.

    Built-in: the original tool's rotation (the next available credential in pool order).
    """


@hookspec(firstresult=True)
def orchestra_runtime(name: str, context: RuntimeContext) -> Runtime | None:
    """Provide the runtime called ``name`` (config ``"runtime"``) for a run.

    Return an object implementing :class:`~claude_orchestra.runtimes.base.Runtime` (start,
    type into, read, signal and end each instance's process), or ``None`` when ``name`` is
    not yours. Called once, when the run starts; may raise
    :class:`~claude_orchestra.errors.PrerequisiteError` when a tool it needs is missing.

    Built-in: ``local`` (each instance in a window of the run's private tmux server) and
    ``sandbox`` (the same, each process inside a bubblewrap sandbox).
    """


@hookspec
def orchestra_hook_event(event: Event) -> None:
    """Observe every event the hook app received, after the core has applied it."""


@hookspec
def orchestra_instance_state_changed(instance: InstanceView, change: StateChange) -> None:
    """Observe an instance's state change and the evidence for it."""


@hookspec
def orchestra_merged(merge: MergeRecord) -> None:
    """Observe a worker branch that reached the run branch on origin."""


@hookspec
def orchestra_incident(incident: Incident) -> None:
    """Observe an incident: something went wrong and what the core did about it."""


@hookspec
def orchestra_budget(crossing: BudgetCrossing) -> None:
    """Observe a budget threshold crossed for the first time: a warning (``warnAt``) or a
    reached limit (``crossing.reached``), for the run, an instance or a credential.

    The core has already acted on a reached limit when this is called (the run ends, the
    instance is stopped, or the credential's holders move on)."""


@hookspec
def orchestra_run_finished(summary: RunSummary) -> None:
    """Observe the end of a run, with its outcome and totals (the report is written)."""
