"""The one model of a run that `status` and `watch` render, from a status.json document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
from rich.console import Console

from claude_orchestra.cli._status import render
from claude_orchestra.cli._watch_view import preview, view
from claude_orchestra.runmodel import RunModel, read_run
from claude_orchestra.status import SCHEMA_VERSION

NOW = 1_000_000.0

DOCUMENT = {
    "schemaVersion": SCHEMA_VERSION,
    "pid": None,
    "startedAt": NOW - 3600,
    "updatedAt": NOW - 2,
    "outcome": None,
    "tasks": {"total": 4, "done": 1},
    "merges": 1,
    "incidents": 2,
    "endsAt": NOW + 1800,
    "instances": [
        {
            "name": "manager",
            "role": "manager",
            "state": "idle",
            "credential": "key-1",
            "lastEvent": "TurnStopped",
            "lastEventAt": NOW - 5,
            "evidence": "Stop",
            "assignment": None,
            "stoppedForBudget": False,
            "costUsd": 0.5,
            "tokens": 1000,
            "awaitingMerge": 0,
        },
        {
            "name": "worker-1",
            "role": "worker",
            "state": "working",
            "credential": "key-2",
            "lastEvent": "ToolUsed",
            "lastEventAt": NOW - 1,
            "evidence": None,
            "assignment": "Create greet.py",
            "stoppedForBudget": False,
            "costUsd": 1.0,
            "tokens": 2000,
            "awaitingMerge": 3,
        },
    ],
    "credentials": [
        {"name": "key-1", "status": "available", "until": None},
        {"name": "key-2", "status": "cooling", "until": NOW + 120},
    ],
    "spending": {
        "total": {"costUsd": 1.5, "tokens": 3000},
        "byCredential": {"key-1": {"costUsd": 0.5}, "key-2": {"costUsd": 1.0}},
        "rate": {"usdPerHour": 1.5, "tokensPerHour": 3000, "secondsToBudget": 7200},
        "budget": {"usd": 4.5},
    },
}


def text(renderable: object, height: int = 40, width: int = 200) -> str:
    console = Console(width=width, height=height, record=True, color_system=None)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def test_the_model_reads_every_field_and_a_killed_run_is_not_running(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text(json.dumps(DOCUMENT))
    run = read_run(path)
    assert run is not None
    assert run.state == "not running (no outcome)"  # no live pid and no outcome
    assert (run.tasks_done, run.tasks_total, run.merges, run.incidents) == (1, 4, 1, 2)
    assert [i.awaiting_merge for i in run.instances] == [0, 3]
    assert run.instances[1].burn_rate(3600) == 1.0
    assert run.credentials[1].until == NOW + 120
    assert run.budget_usd == 4.5
    assert read_run(tmp_path / "none.json") is None
    old = RunModel.from_document({"instances": [{"name": "worker-1"}]})  # an older run's file
    assert old.schema_version == 0
    assert old.instances[0].awaiting_merge == 0


def test_status_and_watch_render_the_same_model() -> None:
    run = RunModel.from_document({**DOCUMENT, "outcome": "complete"})
    status = text(render(run, NOW))
    assert status.startswith("Run ended: complete · updated 2 s ago · tasks 1/4 done")
    assert "credential key-2        cooling until" in status
    watched = text(view(run, 1, "❯ hello from worker-1\n", NOW, 40))
    assert watched.startswith(
        "Run ended: complete · tasks 1/4 done · 1 merges · 2 incidents · "
        "spent $1.5000 of $4.5 ($1.50/h)"
    )
    row = next(line for line in watched.splitlines() if "▶" in line)
    for cell in ("worker-1", "worker", "working", "Create greet.py", "ToolUsed 1 s ago"):
        assert cell in row
    assert "key-2 (cooling 2 min)" in row
    assert row.split()[-3:] == ["$1.0000", "1.00", "3"]  # cost, $/h, commits to merge
    assert "worker-1's screen" in watched
    narrow = text(view(run, 1, "", NOW, 30), width=110)  # a smaller terminal: the task gives way
    row = next(line for line in narrow.splitlines() if "▶" in line)
    for cell in ("worker-1", "worker", "working", "ToolUsed 1 s ago", "$1.0000", "1.00"):
        assert cell in row
    assert "hello from worker-1" in watched


def test_the_preview_drops_the_blank_runs_of_a_screen() -> None:
    assert preview("\n\n\n✶ Working… (2s)\n\n\n──\n❯ \n\n") == ["✶ Working… (2s)", "", "──", "❯"]
    assert preview("") == []


def test_a_running_run_shows_its_time_and_budget_left() -> None:
    run = RunModel.from_document(DOCUMENT)
    live = attrs.evolve(run, alive=True)
    assert "time left 30 min · budget spent in 120 min" in text(view(live, 0, "", NOW, 40))


def test_status_json_carries_the_schema_version_and_watch_needs_a_terminal(
    tmp_path: Path,
) -> None:
    state = tmp_path / "ws" / ".orchestra"
    state.mkdir(parents=True)
    older = {k: v for k, v in DOCUMENT.items() if k != "schemaVersion"}
    (state / "status.json").write_text(json.dumps(older))
    command = [sys.executable, "-m", "claude_orchestra"]
    printed = subprocess.run(
        [*command, "status", "--workspace", str(tmp_path / "ws"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(printed.stdout)["schemaVersion"] == 0  # a file without one: 0
    refused = subprocess.run(
        [*command, "watch", "--workspace", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 2
    assert "needs a terminal" in refused.stderr


def test_the_brokers_totals_reach_the_headline_and_a_run_without_one_says_nothing() -> None:
    broker = {
        "total": {
            "requests": 41,
            "errors": {"rate_limit": 2, "overloaded": 1},
            "rotations": 2,
            "firstByteP50": 0.412,
        }
    }
    run = RunModel.from_document({**DOCUMENT, "broker": broker})
    assert run.broker is not None
    assert run.headline(NOW)[-1] == "broker 41 requests, 2 moved, 3 errors, first byte 0.41 s"
    plain = RunModel.from_document({**DOCUMENT, "broker": None})
    assert plain.broker is None
    assert not any(p.startswith("broker") for p in plain.headline(NOW))
