"""The run report: ``report.json`` and the short summary printed at the end.

The report names credentials, never their values; tokens and cost come from each
instance's transcripts (see :mod:`claude_orchestra.costs.transcripts`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from claude_orchestra.auth.credentials import Secret, redact_tree
from claude_orchestra.auth.moves import Rotation
from claude_orchestra.auth.rotator import PoolView
from claude_orchestra.costs.ledger import CostLedger
from claude_orchestra.instance import Instance
from claude_orchestra.journal import to_json
from claude_orchestra.progress import RunProgress
from claude_orchestra.spending import Spending
from claude_orchestra.summary import InstanceUsage, RunSummary
from claude_orchestra.tasklists import TaskList


def instance_usage(instance: Instance, ledger: CostLedger) -> InstanceUsage:
    """An instance's tokens and cost as the run's ledger counted them."""
    spend = ledger.spend_of("instance", instance.name)
    return InstanceUsage(
        instance=instance.name,
        usage=spend.usage,
        responses=ledger.responses_of(instance.home.projects_dir),
        cost_usd=None if spend.unpriced else spend.cost_usd,
    )


def spending_report(spending: Spending) -> dict[str, Any]:
    """The report's ``spending`` section: totals by instance, role, credential and task, the
    budget and every threshold crossed."""
    ledger = spending.ledger
    return {
        "total": ledger.spend().as_json(),
        **{
            f"by{dimension.capitalize()}": {
                name: spend.as_json() for name, spend in sorted(ledger.spend_by(dimension).items())
            }
            for dimension in ("instance", "role", "credential", "task")
        },
        "budget": to_json(spending.watch.config),
        "crossings": [
            {**to_json(c), "reached": c.reached, "text": c.describe()} for c in spending.crossings
        ],
        "stoppedForBudget": sorted(spending.ctx.progress.retired),
    }


def _tasks(task_lists: Mapping[int, TaskList]) -> list[dict[str, Any]]:
    return [
        {"worker": worker, "task": item.text, "done": item.done}
        for worker, task_list in sorted(task_lists.items())
        for item in task_list.items
    ]


def build_report(
    *,
    summary: RunSummary,
    progress: RunProgress,
    instances: Sequence[Instance],
    config: Mapping[str, Any],
    plugins: Sequence[str],
    rotations: Sequence[Rotation] = (),
    pool: PoolView | None = None,
    spending: Spending | None = None,
    loop_latency: Mapping[str, Any] | None = None,
    broker: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document written to ``report.json`` (``broker``: what the credential
    broker served and every move it made, when the run had one)."""
    usage = {u.instance: u for u in summary.usage}
    return {
        "outcome": summary.outcome,
        "exitCode": summary.exit_code,
        "runBranch": summary.run_branch,
        "startedAt": summary.started_at,
        "endedAt": summary.ended_at,
        "durationSeconds": round(summary.ended_at - summary.started_at, 3),
        "config": dict(config),
        "plugins": list(plugins),
        "tasks": _tasks(progress.task_lists),
        "taskFile": [
            {"key": key, "task": text, "state": state}
            for key, text, state in progress.task_file_states()
        ],
        "completedAssignments": [{"instance": i, "task": t} for i, t in progress.completed_tasks],
        "merges": [to_json(m) for m in progress.merges],
        "deliveries": [to_json(d) for d in progress.deliveries],
        "awaitingMerge": {b: list(c) for b, c in progress.awaiting_merge.items()},
        "preservedRefs": list(progress.preserved),
        "incidents": [to_json(i) for i in progress.incidents],
        "rotations": [
            {**to_json(r), "seconds_to_recovery": r.seconds_to_recovery} for r in rotations
        ],
        "credentials": [to_json(c) for c in pool.credentials] if pool else [],
        "spending": spending_report(spending) if spending else None,
        "loopLatency": dict(loop_latency) if loop_latency is not None else None,
        "broker": dict(broker) if broker is not None else None,
        "instances": [
            {
                "name": i.name,
                "role": i.role.value,
                "worker": i.worker,
                "credential": i.credential.name,
                "finalState": i.state.value,
                "sessionId": i.session_id,
                "history": [to_json(c) for c in i.history],
                "usage": to_json(usage[i.name].usage) if i.name in usage else None,
                "responses": usage[i.name].responses if i.name in usage else 0,
                "costUsd": usage[i.name].cost_usd if i.name in usage else None,
            }
            for i in instances
        ],
        "totals": {
            "usage": to_json(summary.total_usage),
            "costUsd": summary.total_cost_usd,
            "tasks": summary.tasks_total,
            "tasksDone": summary.tasks_done,
            "merges": summary.merges,
            "incidents": summary.incidents,
        },
    }


def write_report(path: Path, report: Mapping[str, Any], secrets: Iterable[Secret] = ()) -> None:
    """Write ``report.json`` atomically, every string redacted of ``secrets``."""
    tmp = path.with_suffix(".tmp")
    document = redact_tree(json.loads(json.dumps(report, default=str)), secrets)
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def summary_text(summary: RunSummary) -> str:
    """A few lines for a person: outcome, tasks, merges, tokens and cost per instance."""
    lines = [
        f"Run {summary.outcome} (exit {summary.exit_code}) in "
        f"{summary.ended_at - summary.started_at:.0f} s on branch {summary.run_branch}",
        f"Tasks: {summary.tasks_done}/{summary.tasks_total} done · merges: {summary.merges} · "
        f"incidents: {summary.incidents}",
    ]
    for u in summary.usage:
        cost = "unpriced" if u.cost_usd is None else f"${u.cost_usd:.4f}"
        lines.append(
            f"  {u.instance:<10} {u.usage.input_tokens:>8} in  {u.usage.output_tokens:>7} out  "
            f"{u.usage.cache_read_input_tokens:>8} cache-read  "
            f"{u.usage.cache_creation_input_tokens:>7} cache-write  {cost}"
        )
    for name, spend in summary.by_credential:
        lines.append(f"  on {name:<12} {spend.tokens:>8} tokens  ${spend.cost_usd:.4f}")
    total = summary.total_cost_usd
    hours = max(summary.ended_at - summary.started_at, 1.0) / 3600
    lines.append(
        f"Total: {summary.total_usage.total} tokens, "
        + ("unpriced" if total is None else f"${total:.4f} (${total / hours:.2f}/h)")
    )
    lines.append(f"Report: {summary.report_path}")
    return "\n".join(lines)
