"""What a killed run left behind, read back so ``run --resume`` can carry on.

A run that was killed (``kill -9``, a crash, a power cut) leaves its workspace: the clone
and worktrees with every commit the workers made, ``run.json`` (its process, tmux socket,
config folder and start), and the append-only ``journal.jsonl``. :func:`read_previous_run`
turns those into a :class:`PreviousRun`: each instance's last Claude Code session (to
``--resume`` it), the merges and incidents already recorded (so the report stays whole and
nothing is merged twice), and when the run started.

The rest of the reconciliation is done by the orchestrator with the same tools a normal run
uses: the old tmux server is ended (its instances had no hook server to talk to), every
worker branch is pushed, and origin — the run's source of truth — is read back for the task
lists and the branches still waiting to be merged. Nothing is redone that origin shows done.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

import attrs

from claude_orchestra._process import alive
from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.costs.ledger import Attribution, ServedCharge
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.errors import UsageError
from claude_orchestra.events import FailureKind
from claude_orchestra.journal import read_journal
from claude_orchestra.values import Delivery, Incident, IncidentKind, MergeRecord, TaskFinished
from claude_orchestra.workspace import Workspace


@final
@attrs.frozen(kw_only=True)
class Session:
    """An instance's last Claude Code session, as its hooks named it."""

    session_id: str
    transcript_path: str | None


@final
@attrs.frozen(kw_only=True)
class PreviousRun:
    """A killed run's facts, from its workspace."""

    pid: int | None
    tmux_socket: str | None
    config_dir: Path | None
    started_at: float | None
    sessions: Mapping[str, Session]
    merges: tuple[MergeRecord, ...]
    incidents: tuple[Incident, ...]
    deliveries: tuple[Delivery, ...] = ()
    held_tasks: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Worker branch -> task-file tasks handed to its worker since its last merge or
    delivery, with no finished turn recorded: their work may be on the branch, unmerged."""
    finished_tasks: tuple[TaskFinished, ...] = ()
    """Task-file tasks whose turn ended with commits since their branch's last recorded
    merge or delivery."""
    limits: tuple[CredentialFailure, ...] = ()
    """Rate and usage limits the killed run met, oldest first: the resumed run's credentials
    keep cooling down until the same times."""
    charges: tuple[ServedCharge, ...] = ()
    """Responses the broker served and charged, oldest first: the resumed run's ledger
    and budgets start from them (a remote worker's transcripts are not read here)."""
    carried: frozenset[str] = frozenset()
    """Instances whose session the runtime carried to where they run now (another host):
    resumed there, not looked for here."""
    sessions_lost: Mapping[str, str] = attrs.field(factory=dict)
    """Instance -> why its session could not be carried to where it runs now: it starts
    a new one (not in :attr:`sessions`)."""

    @property
    def tasks_done(self) -> frozenset[str]:
        """Task-file tasks whose work reached the run branch or went elsewhere."""
        done = [k for m in self.merges for k in m.tasks]
        return frozenset([*done, *(k for d in self.deliveries for k in d.tasks)])


@final
@attrs.frozen(kw_only=True)
class RunResumed:
    """Journal entry: the run was taken up again after its process ended without an outcome."""

    previous_pid: int | None
    sessions: tuple[str, ...]
    """Instances whose conversation is resumed."""
    merges_before: int


def read_previous_run(workspace: Workspace) -> PreviousRun:
    """Read a killed run's workspace.

    Raises:
        UsageError: no run used this workspace, its process is still alive, or it ended
            (its report is written): there is nothing to resume.
    """
    facts = workspace.read_run_file()
    if facts is None or not workspace.repo.exists():
        raise UsageError("--workspace", f"{workspace.root} holds no run to resume")
    pid = facts.get("pid")
    if pid != os.getpid() and alive(pid):
        raise UsageError("--resume", f"the run is still alive (pid {pid}); stop it first")
    if workspace.report.exists():
        raise UsageError("--resume", f"the run ended (see {workspace.report}); nothing to resume")
    entries = list(read_journal(workspace.journal)) if workspace.journal.exists() else []
    config_dir = facts.get("configDir")
    started = facts.get("startedAt")
    socket = facts.get("tmuxSocket")
    held, finished = _task_record(entries)
    return PreviousRun(
        pid=pid if isinstance(pid, int) else None,
        tmux_socket=socket if isinstance(socket, str) else None,
        config_dir=Path(config_dir) if isinstance(config_dir, str) else None,
        started_at=float(started) if isinstance(started, int | float) else None,
        sessions=_sessions(entries),
        merges=tuple(_merge(e) for e in entries if e.get("type") == "MergeRecord"),
        incidents=tuple(_incident(e) for e in entries if e.get("type") == "Incident"),
        deliveries=tuple(_delivery(e) for e in entries if e.get("type") == "Delivery"),
        held_tasks=held,
        finished_tasks=finished,
        charges=tuple(_charge(e) for e in entries if e.get("type") == "ServedCharge"),
        limits=tuple(
            _limit(e)
            for e in entries
            if e.get("type") == "CredentialFailure" and e.get("kind") == "rate_limit"
        ),
    )


def _charge(entry: dict[str, Any]) -> ServedCharge:
    usage, by = entry.get("usage") or {}, entry.get("attribution") or {}
    task = by.get("task")
    return ServedCharge(
        message_id=str(entry["message_id"]),
        model=str(entry["model"]),
        usage=Usage.from_api(usage),  # journaled under the API's own field names
        attribution=Attribution(
            instance=str(by.get("instance", "")),
            role=str(by.get("role", "")),
            credential=str(by.get("credential", "")),
            task=task if isinstance(task, str) else None,
        ),
    )


def _limit(entry: dict[str, Any]) -> CredentialFailure:
    reset, at = entry.get("reset_at"), entry.get("at")
    return CredentialFailure(
        instance=str(entry.get("instance", "")),
        credential=str(entry.get("credential", "")),
        kind=FailureKind.RATE_LIMIT,
        detail=str(entry.get("detail", "")),
        at=float(at) if isinstance(at, int | float) else 0.0,
        reset_at=float(reset) if isinstance(reset, int | float) else None,
    )


def _sessions(entries: list[dict[str, Any]]) -> dict[str, Session]:
    """Each instance's session as its last hook event named it."""
    sessions: dict[str, Session] = {}
    for entry in entries:
        instance, session = entry.get("instance"), entry.get("session_id")
        if isinstance(instance, str) and isinstance(session, str) and session:
            path = entry.get("transcript_path")
            sessions[instance] = Session(
                session_id=session, transcript_path=path if isinstance(path, str) else None
            )
    return sessions


def _task_record(
    entries: list[dict[str, Any]],
) -> tuple[dict[str, tuple[str, ...]], tuple[TaskFinished, ...]]:
    """Per worker branch, since its last merge or delivery (the journal is in time order):
    the tasks given to its worker with no finished turn (held), and the finished turns."""
    held: dict[str, list[str]] = {}
    finished: dict[str, list[TaskFinished]] = {}
    for entry in entries:
        kind, branch = entry.get("type"), str(entry.get("branch"))
        if kind in {"MergeRecord", "Delivery"}:
            held.pop(branch, None)
            finished.pop(branch, None)
        elif kind == "TaskFinished":
            done = TaskFinished(
                branch=branch,
                task=str(entry["task"]),
                commits=tuple(str(c) for c in entry.get("commits", ())),
            )
            finished.setdefault(branch, []).append(done)
            if done.task in held.get(branch, []):
                held[branch].remove(done.task)
        elif kind == "Assignment" and isinstance(entry.get("task_key"), str):
            keys = held.setdefault(str(entry.get("instance")), [])  # worker-N is its branch
            if entry["task_key"] not in keys:
                keys.append(entry["task_key"])
    return (
        {b: tuple(keys) for b, keys in held.items()},
        tuple(f for items in finished.values() for f in items),
    )


def _merge(entry: dict[str, Any]) -> MergeRecord:
    return MergeRecord(
        branch=str(entry["branch"]),
        commits=tuple(entry.get("commits", ())),
        at=float(entry["at"]),
        merged_by=str(entry.get("merged_by", "")),
        tasks=tuple(str(k) for k in entry.get("tasks", ())),
    )


def _delivery(entry: dict[str, Any]) -> Delivery:
    return Delivery(
        branch=str(entry["branch"]),
        commits=tuple(entry.get("commits", ())),
        at=float(entry["at"]),
        where=str(entry.get("where", "")),
        tasks=tuple(str(k) for k in entry.get("tasks", ())),
    )


def _incident(entry: dict[str, Any]) -> Incident:
    return Incident(
        at=float(entry["at"]),
        kind=IncidentKind(entry["kind"]),
        instance=entry.get("instance"),
        evidence=str(entry.get("evidence", "")),
        action=str(entry.get("action", "")),
        resumes_at=entry.get("resumes_at"),
    )
