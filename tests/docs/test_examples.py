"""The examples run, and what they show is true."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import attrs
import pytest

from claude_orchestra import (
    BudgetCrossing,
    BudgetScope,
    Incident,
    IncidentKind,
    InstanceState,
    InstanceView,
    Measure,
    MergeDelivered,
    MergeRecord,
    Role,
    RunView,
    StateChange,
    WorkerFinished,
)
from claude_orchestra.config_load import load_orchestrator_json
from claude_orchestra.plugins import PluginHost

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_from_python_completes_with_its_plugins(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "run_from_python.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run complete: 4/4 tasks" in result.stdout  # the Narrator plugin spoke
    assert "merged worker-1" in result.stdout
    assert "status: Run ended: complete · tasks 4/4 done" in result.stdout  # read_run
    assert "  manager   stopped" in result.stdout
    report = json.loads((tmp_path / "workspace" / ".orchestra" / "report.json").read_text())
    assert report["outcome"] == "complete"
    assert "run_from_python.Narrator" not in report["plugins"]  # registered by object


def test_the_observer_plugin_matches_the_hookspecs_and_writes_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = load("observer_plugin")
    host = PluginHost([plugin], load_entry_points=False)  # pluggy validates the signatures
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("ORCHESTRA_EVENTS_FILE", str(events))
    view = InstanceView(
        name="worker-1",
        role=Role.WORKER,
        worker=1,
        state=InstanceState.IDLE,
        credential="k",
        session_id="s",
        cwd=tmp_path,
        last_event_at=None,
        prompts_sent=1,
    )
    change = StateChange(
        at=1.0, before=InstanceState.WORKING, after=InstanceState.IDLE, evidence="Stop"
    )
    host.state_changed(view, change)
    host.merged(
        MergeRecord(branch="worker-1", commits=("abc",), at=2.0, merged_by="manager"),
    )
    host.incident(
        Incident(
            at=3.0,
            kind=IncidentKind.TURN_FAILED,
            instance="worker-1",
            evidence="529",
            action="retry",
        ),
    )
    host.budget(
        BudgetCrossing(
            scope=BudgetScope.RUN,
            name="run",
            measure=Measure.USD,
            fraction=0.8,
            spent=4.1,
            limit=5.0,
            at=4.0,
        ),
    )
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [line["record"] for line in lines] == ["state", "merge", "incident", "budget"]
    assert lines[3] == {
        "record": "budget",
        "text": "run: 80% of the limit: $4.1000 of $5 usd",
        "reached": False,
    }
    assert lines[2]["kind"] == "turn_failed"
    assert lines[0]["evidence"] == "Stop"
    assert lines[1]["branch"] == "worker-1"


def test_the_example_config_is_valid() -> None:
    config = load_orchestrator_json(EXAMPLES / "config" / "orchestrator.json")
    assert config.worker_count == 2
    keys = json.loads((EXAMPLES / "config" / "api-keys.example.json").read_text())
    assert all("REPLACE-ME" in json.dumps(entry) for entry in keys)


def test_the_least_busy_plugin_spreads_instances() -> None:
    from claude_orchestra import (
        CredentialFailure,
        CredentialKind,
        CredentialState,
        CredentialStatus,
        FailureKind,
        PoolView,
    )

    plugin = load("least_busy_credential").LeastBusy()
    host = PluginHost([plugin], load_entry_points=False)

    def state(name: str, holders: tuple[str, ...], status: CredentialStatus) -> CredentialState:
        return CredentialState(
            name=name, kind=CredentialKind.API_KEY, status=status, holders=holders
        )

    pool = PoolView(
        credentials=(
            state("k1", ("manager", "worker-1"), CredentialStatus.COOLING),
            state("k2", ("worker-2",), CredentialStatus.AVAILABLE),
            state("k3", (), CredentialStatus.AVAILABLE),
        )
    )
    view = InstanceView(
        name="worker-1",
        role=Role.WORKER,
        worker=1,
        state=InstanceState.RATE_LIMITED,
        credential="k1",
        session_id="s",
        cwd=EXAMPLES,
        last_event_at=None,
        prompts_sent=1,
    )
    failure = CredentialFailure(
        instance="worker-1", credential="k1", kind=FailureKind.RATE_LIMIT, detail="429", at=0.0
    )
    assert host.select_credential(view, pool, failure) == "k3"  # the built-in would say k2


def test_the_webhook_notifier_posts_incidents_without_blocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import http.server
    import queue
    import threading

    received: queue.Queue[dict[str, str]] = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.put(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ORCHESTRA_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
        plugin = load("webhook_notifier")
        host = PluginHost([plugin], load_entry_points=False)  # signatures checked by pluggy
        incident = Incident(
            at=1.0, kind=IncidentKind.STUCK, instance="worker-2", evidence="e", action="restart"
        )
        host.incident(incident)
        assert received.get(timeout=10) == {"text": "worker-2: stuck: restart"}
    finally:
        server.shutdown()
        server.server_close()


def test_the_pull_request_merger_delivers_work_as_pull_requests_in_a_real_run(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "pull_request_merger.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run complete: 3/3 tasks delivered" in result.stdout
    opened = [line for line in result.stdout.splitlines() if line.startswith("pull request:")]
    assert opened  # one per worker branch that finished work, never two for one branch
    assert len(opened) == len(set(opened))
    report = json.loads((tmp_path / "workspace" / ".orchestra" / "report.json").read_text())
    assert report["merges"] == []
    assert sorted(k for d in report["deliveries"] for k in d["tasks"]) == sorted(
        ["greet", "Create `docs/usage.md` explaining `greet.py`", "Create `farewell.py` with a function that says goodbye"]
    )
    # nothing was merged: the run branch is as it started, the work is on the branches
    log = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "origin.git"), "log", "--format=%s", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert not any(line.startswith("worker-") for line in log.splitlines())


def test_the_pull_request_merger_posts_once_per_branch_with_its_token() -> None:
    example = load("pull_request_merger")
    forge = example.FakeForge()
    threading.Thread(target=forge.serve_forever, daemon=True).start()
    try:
        merger = example.PullRequestMerger(forge.url, "you/app", token="t0k")
        run = RunView(
            run_branch="main",
            scheduler="queue",
            merger="pull-request",
            worker_count=1,
            instances=(),
            idle=(),
            task_lists={},
            planned=True,
            plan_requests=0,
            awaiting_merge=(),
            merge_requests={},
        )
        finished = WorkerFinished(instance="worker-1", worker=1, branch="worker-1", commits=("c",))
        first = merger.orchestra_merge(run, finished)
        again = merger.orchestra_merge(run, finished)
        merger.wait()
        assert isinstance(first, MergeDelivered)
        assert isinstance(again, MergeDelivered)
        assert [(p["head"], p["base"]) for p in forge.pulls] == [("worker-1", "main")]
        assert forge.tokens == ["Bearer t0k"]
        other = attrs.evolve(run, merger="queue")
        assert merger.orchestra_merge(other, finished) is None
    finally:
        forge.shutdown()
        forge.server_close()


def test_the_notify_channel_writes_each_moment_and_skips_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "notifications.txt"
    monkeypatch.setenv("ORCHESTRA_NOTIFY_FILE", str(out))
    plugin = load("notify_channel")
    host = PluginHost([plugin], load_entry_points=False)  # signatures checked by pluggy
    for kind in (IncidentKind.STUCK, IncidentKind.GAVE_UP):  # no moment, then one
        host.incident(
            Incident(
                at=1.0, kind=kind, instance="worker-2", evidence="secret", action="stop it"
            ),
        )
    sent = plugin.send(None)
    assert sent is None
    for thread in threading.enumerate():
        if thread.name == "notify-file":
            thread.join(timeout=10)
    assert out.read_text() == "instance_gave_up: worker-2: gave up; stop it\n"
