"""Run an orchestration from Python, with plugins of your own, offline.

    .venv/bin/python examples/run_from_python.py [EMPTY_FOLDER]

It builds the configuration in Python (no JSON files), registers two plugins — an observer
that narrates the run and a credential selector that spreads load — and runs the real
Claude Code CLI against the built-in fake Anthropic API on a throwaway repository. At the
end it reads the run back the way ``status`` does (``read_run``).
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path

from claude_orchestra import (
    AuthMode,
    Credential,
    CredentialFailure,
    CredentialKind,
    Incident,
    InstanceView,
    MergeRecord,
    OrchestraConfig,
    Orchestrator,
    PoolView,
    RunConfig,
    RunSummary,
    Secret,
    StateChange,
    Workspace,
    hookimpl,
    read_run,
)
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin


class Narrator:
    """An observer: prints what happens. Observers never change the run."""

    @hookimpl
    def orchestra_instance_state_changed(self, instance: InstanceView, change: StateChange) -> None:
        print(f"  {instance.name:<9} {change.before.value} -> {change.after.value}")

    @hookimpl
    def orchestra_merged(self, merge: MergeRecord) -> None:
        print(f"  merged {merge.branch} ({len(merge.commits)} commit(s)) by {merge.merged_by}")

    @hookimpl
    def orchestra_incident(self, incident: Incident) -> None:
        print(f"  incident {incident.kind.value} on {incident.instance}: {incident.action}")

    @hookimpl
    def orchestra_run_finished(self, summary: RunSummary) -> None:
        print(f"  run {summary.outcome}: {summary.tasks_done}/{summary.tasks_total} tasks")


class LeastBusyCredential:
    """A decision plugin: after a limit, move to the available credential fewest share.

    Asked before the built-in rotation; answering ``None`` would let the built-in decide.
    """

    @hookimpl
    def orchestra_select_credential(
        self, instance: InstanceView, pool: PoolView, failure: CredentialFailure
    ) -> str | None:
        choices = [c for c in pool.available if c.name != failure.credential]
        if not choices:
            return None
        return min(choices, key=lambda c: len(c.holders)).name


def main(folder: Path) -> int:
    origin = create_origin(folder)
    keys = [f"sk-ant-example-{secrets.token_hex(12)}" for _ in range(2)]
    with FakeAnthropicAPI() as fake:
        credentials = []
        for number, key in enumerate(keys, start=1):
            fake.register(f"key-{number}", key)
            credentials.append(
                Credential(
                    name=f"key-{number}",
                    kind=CredentialKind.ENV,
                    env={"ANTHROPIC_API_KEY": Secret(key), "ANTHROPIC_BASE_URL": fake.base_url},
                )
            )
        config = RunConfig(
            config_dir=folder,
            orchestrator=OrchestraConfig(
                repository_url=str(origin),
                worker_count=2,
                hook_server_port=0,
                max_run_duration_minutes=10,
                auth_mode=AuthMode.API_KEYS_ONLY,
            ),
            credentials=tuple(credentials),
        )
        orchestrator = Orchestrator(
            config, plugins=[Narrator(), LeastBusyCredential()], load_entry_points=False
        )
        summary = orchestrator.run_sync()
    cost = "unpriced" if summary.total_cost_usd is None else f"${summary.total_cost_usd:.4f}"
    print(f"{summary.outcome}: {summary.merges} merges, {cost}, report at {summary.report_path}")
    # What `status` shows, read the way any other tool can: from the run's status.json.
    run = read_run(Workspace(config.workspace).status)
    if run is not None:
        print("status: " + " · ".join(run.headline(time.time())))
        for row in run.instances:
            print(f"  {row.name:<9} {row.state:<8} {row.evidence}")
    return summary.exit_code


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    sys.exit(main(target))
