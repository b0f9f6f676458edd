"""The built-in ``notify`` plugin, driven by hook calls: each moment once, to a local HTTP
server and a command, off the loop, with nothing secret in the value sent."""

from __future__ import annotations

import http.server
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_orchestra.config_load import parse_orchestrator
from claude_orchestra.costs.budget import BudgetCrossing, BudgetScope, Measure
from claude_orchestra.defaults import notify
from claude_orchestra.errors import ConfigError
from claude_orchestra.notifications import NotifyConfig
from claude_orchestra.plugins import PluginHost
from claude_orchestra.summary import RunSummary
from claude_orchestra.values import Incident, IncidentKind

SECRET_EVIDENCE = "API Error: 429 for sk-ant-api03-SECRET after the prompt 'You are worker 1'"


@pytest.fixture
def webhook() -> Iterator[tuple[str, queue.Queue[dict[str, object]]]]:
    """A webhook on 127.0.0.1 and the JSON values POSTed to it."""
    received: queue.Queue[dict[str, object]] = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            assert self.headers["Content-Type"] == "application/json"
            received.put(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def incident(kind: IncidentKind, *, resumes_at: float | None = None) -> Incident:
    return Incident(
        at=100.0,
        kind=kind,
        instance="worker-1",
        evidence=SECRET_EVIDENCE,
        action="pause 300 s until a credential resets",
        resumes_at=resumes_at,
    )


def summary(outcome: str, code: int) -> RunSummary:
    return RunSummary(
        outcome=outcome,
        exit_code=code,
        run_branch="main",
        started_at=1.0,
        ended_at=900.0,
        tasks_total=4,
        tasks_done=3,
        merges=2,
        incidents=1,
        usage=(),
        report_path=Path("/ws/.orchestra/report.json"),
    )


def drive(host: PluginHost) -> None:
    """One of each moment, and hooks that are no moment."""
    host.incident(incident(IncidentKind.RATE_LIMITED, resumes_at=100))
    host.incident(incident(IncidentKind.CREDENTIALS_EXHAUSTED, resumes_at=400))
    host.incident(incident(IncidentKind.TURN_FAILED))  # no moment
    host.incident(incident(IncidentKind.GAVE_UP))
    host.incident(incident(IncidentKind.WAITING_FOR_PERSON))
    for fraction in (0.8, 1.0):
        host.budget(
            BudgetCrossing(
                scope=BudgetScope.RUN,
                name="run",
                measure=Measure.USD,
                fraction=fraction,
                spent=4.0 * fraction / 0.8,
                limit=5.0,
                at=200.0,
            ),
        )
    host.run_finished(summary("stalled", 5))


EXPECTED = [
    ("credential_limited", 100),
    ("credential_limited", 400),
    ("instance_gave_up", None),
    ("waiting_for_person", None),
    ("budget_warning", None),
    ("budget_reached", None),
    ("run_stalled", None),
]


def test_each_moment_goes_once_to_the_webhook_and_the_command_with_nothing_secret(
    webhook: tuple[str, queue.Queue[dict[str, object]]], tmp_path: Path
) -> None:
    url, received = webhook
    out = tmp_path / "notified.jsonl"
    command = f"cat >> {out}; echo >> {out}"  # appends its stdin, one value a line
    host = PluginHost([], load_entry_points=False)
    notifier = notify.install(host.manager, NotifyConfig(command=command, webhook=url))
    assert notifier is not None
    drive(host)
    for thread in notifier.threads:
        thread.join(timeout=20)
    posted = [received.get(timeout=5) for _ in EXPECTED]
    assert received.empty()  # once per occurrence, and nothing for a failed turn
    run_lines = [json.loads(line) for line in out.read_text().splitlines()]
    for values in (posted, run_lines):
        assert [(v["kind"], v.get("resumesAt")) for v in values] == EXPECTED  # in order
        text = json.dumps(values)
        assert "sk-ant" not in text
        assert "You are worker" not in text
        assert "429" not in text  # the evidence never travels
    stalled = next(v for v in posted if v["kind"] == "run_stalled")
    assert stalled["outcome"] == "stalled"
    assert stalled["tasksDone"] == 3
    assert "run stalled (exit 5): 3/4 tasks" in str(stalled["text"])
    limited = [v for v in posted if v["kind"] == "credential_limited"]
    assert {v["instance"] for v in limited} == {"worker-1"}


def test_a_finished_run_is_run_finished_and_a_dead_webhook_costs_only_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "notified.jsonl"
    host = PluginHost([], load_entry_points=False)
    notifier = notify.install(
        host.manager, NotifyConfig(command=f"cat >> {out}", webhook="http://127.0.0.1:9/down")
    )
    assert notifier is not None
    host.run_finished(summary("complete", 0))
    for thread in notifier.threads:
        thread.join(timeout=20)
    assert json.loads(out.read_text())["kind"] == "run_finished"
    assert "notify webhook: run_finished" in caplog.text


def test_without_a_channel_or_when_blocked_it_is_not_registered() -> None:
    host = PluginHost([], load_entry_points=False)
    assert notify.install(host.manager, NotifyConfig()) is None
    blocked = PluginHost([], load_entry_points=False, blocked=[notify.NAME])
    assert notify.install(blocked.manager, NotifyConfig(bell=True)) is None
    assert notify.NAME not in blocked.names()


def test_the_notify_key_is_checked_and_the_report_hides_its_tokens() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_orchestrator(
            {"repositoryUrl": "x", "notify": {"webhook": "ftp://h/x", "bell": 1, "sms": "1"}}
        )
    assert list(caught.value.problems) == [
        "notify.sms: unknown key",
        "notify.webhook: must be an http:// or https:// URL, got 'ftp://h/x'",
        "notify.bell: must be true or false, got 1",
    ]
    config = NotifyConfig(webhook="https://hooks.example/T0/B0/SECRET", command="curl -H tok x")
    assert config.described() == {
        "command": "curl ...",
        "webhook": "https://hooks.example/...",
        "bell": False,
    }
