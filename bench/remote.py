"""Remote workers (over SSH, on a second host on this machine) against local ones.

    sudo .venv/bin/python bench/remote.py [--workers 2] [--rounds 3]

Each round runs two real orchestrations back to back, alternated, same conditions:
``"runtime": "local"`` and ``"runtime": "remote"`` with every worker on a second host made
by :mod:`claude_orchestra.testing.ssh_host` (sshd in a network namespace over a veth pair:
root only). Both use the queue scheduler and merger, one small task per worker, and origin
over HTTP (:class:`~claude_orchestra.testing.git_http.GitHttpServer`), which the remote host
reaches through a reverse forward.

- launch -> ``SessionStart``: per worker, from the report's state history (goal: remote
  <= 1.2x local);
- ``Stop`` -> pushed: per worker, from its ``TurnStopped`` to its branch merged and pushed
  on the run branch (``MergeFinished`` merged), from the journal (goal: remote <= 1.5x).

Medians over every worker and round, with their range; the load average before each run is
recorded. The remote figures include what the local ones lack: copying the home, making the
worktree on the host, and the SSH round trips of every tmux command.

    sudo .venv/bin/python bench/remote.py --per-event --workers 20 [--rounds 1]

``--per-event``: the orchestrator's own CPU per event it applied, remote against local, the
fake answering like a model (:class:`~claude_orchestra.testing.latency.Latency`, as
``throughput.py --latency``) so that Claude Code mostly waits. The CPU is the orchestrator
process's own (user + system, every thread, not its children) from ``/proc/<pid>/stat``;
the events are the ones its loop applied (``report.json`` ``loopLatency.events``). The
remote runtime's SSH connections (asyncssh) run inside the orchestrator, so their
encryption and round trips are in its CPU; the local runtime's tmux commands are children
(their CPU is recorded apart). The load average is recorded before and after each run.
Results in ``remote-per-event.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _cpu import ProcessCpu, cpu_between
from _results import stamp, write_results
from _runs import start_run, stop_to_pushed, wait_run
from claude_orchestra.broker.meter import Metered
from claude_orchestra.events import Event
from claude_orchestra.git.origin_watch import OriginRead
from claude_orchestra.journal import read_journal
from claude_orchestra.runtimes.base import RuntimeNotice
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.git_http import GitHttpServer
from claude_orchestra.testing.latency import Latency
from claude_orchestra.testing.sample import create_origin, write_config_folder
from claude_orchestra.testing.ssh_host import HostAccess, SshHost, missing
from claude_orchestra.testing.tools import pinned_claude

KEY = "sk-ant-bench-" + "4" * 32
PASSWORD = "bench-git-password"  # the bench's own throw-away git server


def _tasks(workers: int) -> list[str]:
    return [f"Create `piece_{n}.py` with a function that returns {n}" for n in range(workers)]


def _remote_options(access: HostAccess, workers: int) -> dict[str, Any]:
    claude = pinned_claude()
    if claude is None:
        raise RuntimeError("the pinned Claude Code is not installed (make setup)")
    host = {
        "name": "second",
        "address": access.address,
        "user": access.user,
        "identityFile": str(access.identity_file),
        "knownHosts": str(access.known_hosts),
        "workers": workers,
        "workdir": str(access.workdir),
        "claudeCommand": str(claude),
        "python": "/usr/bin/python3",
    }
    return {"runtime": "remote", "remoteHosts": [host]}


def _run(
    folder: Path,
    workers: int,
    access: HostAccess | None,
    latency: Latency | None = None,
    minutes: float = 10,
) -> dict[str, Any]:
    tasks = _tasks(workers)
    served = folder / "served"
    task_file = "".join(f"- [ ] {task}\n" for task in tasks)
    create_origin(served, tasks=tasks, extra_files={"TASKS.md": task_file})
    load = os.getloadavg()
    runtime = "remote" if access else "local"
    with (
        GitHttpServer(served, user="x-access-token", password=PASSWORD) as server,
        FakeAnthropicAPI(latency=latency) as fake,
    ):
        fake.register("fake-api", KEY)
        options: dict[str, Any] = {"scheduler": "queue", "merger": "queue"}
        if access is not None:
            options.update(_remote_options(access, workers))
        config = write_config_folder(
            folder / "config",
            origin=served / "origin.git",
            base_url=fake.base_url,
            key=KEY,
            workspace=folder / "workspace",
            workers=workers,
            minutes=minutes,
            extra={**options, "repositoryUrl": server.url("origin.git", with_credentials=True)},
        )
        started = time.monotonic()
        process = start_run(config, folder / "home")
        cpu = ProcessCpu(process.pid)
        err = wait_run(process, minutes)
        own, children = cpu.stop()
        wall = time.monotonic() - started
    load_after = os.getloadavg()
    if process.returncode != 0:
        raise RuntimeError(f"{runtime} ended {process.returncode}: {err[-1500:]}")
    state = folder / "workspace" / ".orchestra"
    report = json.loads((state / "report.json").read_text())
    journal = list(read_journal(state / "journal.jsonl"))
    events = (report.get("loopLatency") or {}).get("events") or 0
    applied = [e["recorded"] for e in journal if e["type"] in _EVENT_TYPES]
    first, last = min(applied), max(applied)
    in_run = cpu_between(cpu.trace, first, last)
    return {
        "load_1min_before": load[0],
        "load_1min_after": load_after[0],
        "wall_s": wall,
        "orchestrator_cpu_s": own,
        "orchestrator_children_cpu_s": children,
        "events": events,
        "journal_lines": len(journal),
        "cpu_ms_per_event": own / events * 1000 if events else None,
        "events_s": last - first,
        "journal_events": len(applied),
        "in_run_cpu_s": in_run,
        "in_run_cpu_ms_per_event": in_run / len(applied) * 1000,
        "tasks_done": report["totals"]["tasksDone"],
        "incidents": report["totals"]["incidents"],
        "incident_kinds": [i["kind"] for i in report["incidents"]],
        "startups": _startups(report),
        "stop_to_pushed": stop_to_pushed(state / "journal.jsonl"),
    }


def _event_types() -> frozenset[str]:
    """The names of every kind of event the loop applies (the journal's ``type``)."""
    found: set[str] = set()
    kinds: list[type[Event]] = [Event, Metered, OriginRead, RuntimeNotice]  # not in events
    while kinds:
        kind = kinds.pop()
        found.add(kind.__name__)
        kinds.extend(kind.__subclasses__())
    return frozenset(found - {"Event", "HookEvent"})


_EVENT_TYPES = _event_types()


def _startups(report: dict[str, Any]) -> list[float]:
    """Per worker: launch (``starting``) to ``SessionStart`` (leaving ``starting``)."""
    startups = []
    for instance in report["instances"]:
        if not instance["name"].startswith("worker-"):
            continue
        history = instance["history"]
        launched = next(c["at"] for c in history if c["after"] == "starting")
        ready = next(c["at"] for c in history if c["before"] == "starting")
        startups.append(ready - launched)
    return startups


def _summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _per_event(host: SshHost, workers: int, rounds: int, seed: int, pause: float) -> None:
    """One run per runtime and round, alternated; the orchestrator's CPU per event."""
    latency = Latency(seed=seed)
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "remote": []}
    failures: list[str] = []
    every: list[tuple[str, dict[str, Any]]] = []
    load_start = os.getloadavg()
    for number in range(rounds):
        order = ("remote", "local") if number % 2 == 0 else ("local", "remote")
        for runtime in order:  # alternated between rounds
            if every or failures:
                time.sleep(pause)  # the last run's processes gone, its load decaying
            with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
                access = host.access if runtime == "remote" else None
                label = f"round {number + 1}/{rounds}, {runtime} x{workers}"
                try:
                    run = _run(Path(folder), workers, access, latency, minutes=20)
                except RuntimeError as exc:
                    failures.append(f"{label}: {exc}")
                    print(f"{label}: FAILED {exc}", file=sys.stderr, flush=True)
                    continue
            run["order"] = len(every)
            every.append((runtime, run))
            runs[runtime].append(run)
            print(
                f"{label}: {run['orchestrator_cpu_s']:.1f} s CPU, {run['events']} events, "
                f"{run['cpu_ms_per_event']:.2f} ms/event, {run['tasks_done']}/{workers} tasks, "
                f"load {run['load_1min_before']:.2f} -> {run['load_1min_after']:.2f}",
                file=sys.stderr,
                flush=True,
            )
    load_end = os.getloadavg()

    def median(runtime: str, key: str) -> float | None:
        values = [r[key] for r in runs[runtime] if r[key] is not None]
        return statistics.median(values) if values else None

    per_event = {runtime: median(runtime, "cpu_ms_per_event") for runtime in runs}
    remote, local = per_event["remote"], per_event["local"]
    ratio = remote / local if remote is not None and local else None
    loads = ", ".join(
        f"{runtime} {r['load_1min_before']:.1f} -> {r['load_1min_after']:.1f}"
        for runtime, r in every
    )
    table = [
        f"The orchestrator's own CPU per event it applied, {workers} remote workers (SSH, "
        f"second host on this machine) against {workers} local ones, one small task each, "
        f"queue scheduler and merger, the fake answering like a model (time to first token "
        f"{latency.first_token[0]:g}-{latency.first_token[1]:g} s, "
        f"{latency.tokens_per_second[0]:g}-{latency.tokens_per_second[1]:g} tokens/s, seed "
        f"{seed}); {rounds} round(s), medians. Load average (1 min) {load_start[0]:.2f} at "
        f"the start, {load_end[0]:.2f} at the end; before -> after each run, in the order "
        f"run ({pause:g} s apart): {loads}; {os.cpu_count()} CPUs.",
        "",
        "| runtime | orchestrator CPU | events applied | CPU per event | first → last event: "
        "CPU / events / per event | reaped children's CPU | wall | tasks done | incidents |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for runtime in ("local", "remote"):
        for run in runs[runtime]:
            table.append(
                f"| {runtime} (run {run['order'] + 1}) | {run['orchestrator_cpu_s']:.1f} s | "
                f"{run['events']} | "
                f"{run['cpu_ms_per_event']:.1f} ms | {run['in_run_cpu_s']:.1f} s / "
                f"{run['journal_events']} / {run['in_run_cpu_ms_per_event']:.1f} ms | "
                f"{run['orchestrator_children_cpu_s']:.1f} s | {run['wall_s']:.0f} s | "
                f"{run['tasks_done']}/{workers} | {run['incidents']} |"
            )
    in_run = {runtime: median(runtime, "in_run_cpu_ms_per_event") for runtime in runs}
    in_remote, in_local = in_run["remote"], in_run["local"]
    in_ratio = in_remote / in_local if in_remote is not None and in_local else None
    table += [
        "",
        "CPU per event, median: remote "
        + " / local ".join(
            f"{per_event[r]:.1f} ms (first → last {in_run[r]:.1f} ms)"
            if per_event[r] is not None and in_run[r] is not None
            else "no figure"
            for r in ("remote", "local")
        )
        + ". Ratio remote / local: "
        + (f"{ratio:.2f}x" if ratio is not None else "no figure")
        + " over the whole run; "
        + (f"{in_ratio:.2f}x" if in_ratio is not None else "no figure")
        + " from the first event to the last (start-up and shut-down left out). CPU is the "
        "orchestrator process's own (every thread, not its children) from /proc/<pid>/stat; "
        "events: the whole run's are report.json's loopLatency.events (applied by the "
        "loop), first → last the journal's event entries (the loop's and those applied "
        "while it stops its instances).",
    ]
    if failures:
        table.append("Runs that failed: " + "; ".join(f[:300] for f in failures))
    result: dict[str, Any] = {
        **stamp(),
        "workers": workers,
        "latency": {
            "first_token": latency.first_token,
            "tokens_per_second": latency.tokens_per_second,
            "seed": seed,
        },
        "load_average": {"start": load_start, "end": load_end},
        "runs": runs,
        "cpu_ms_per_event": per_event,
        "ratio": ratio,
        "in_run_cpu_ms_per_event": in_run,
        "in_run_ratio": in_ratio,
        "failures": failures,
    }
    write_results("remote-per-event", result, table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, help="rounds (3; --per-event: 1)")
    parser.add_argument("--per-event", action="store_true", help="the orchestrator's CPU per event")
    parser.add_argument("--seed", type=int, default=1, help="--per-event: the latency's seed")
    parser.add_argument("--pause", type=float, default=30, help="--per-event: seconds between runs")
    args = parser.parse_args()
    if problem := missing():
        print(f"no second host: {problem}", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="bench-remote-") as keys,
        SshHost(Path(keys) / "keys") as host,
    ):
        if args.per_event:
            _per_event(host, args.workers, args.rounds or 1, args.seed, args.pause)
            return 0
        _compare(host, args.workers, args.rounds or 3)
    return 0


def _compare(host: SshHost, workers: int, rounds: int) -> None:
    """Launch -> SessionStart and Stop -> pushed, remote against local."""
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "remote": []}
    for _ in range(rounds):
        for runtime, done in runs.items():  # alternated, same conditions
            with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
                access = host.access if runtime == "remote" else None
                done.append(_run(Path(folder), workers, access))
    figures = {
        runtime: {
            key: _summary([v for r in done for v in r[key]])
            for key in ("startups", "stop_to_pushed")
        }
        for runtime, done in runs.items()
    }
    ratios = {
        key: figures["remote"][key][0] / figures["local"][key][0]
        for key in ("startups", "stop_to_pushed")
    }
    loads = [r["load_1min_before"] for done in runs.values() for r in done]

    def cell(runtime: str, key: str) -> str:
        median, low, high = figures[runtime][key]
        return f"{median:.2f} s ({low:.2f}-{high:.2f})"

    table = [
        f"Remote workers (SSH, second host on this machine) against local ones: "
        f"{workers} workers, {rounds} round(s), medians over every worker "
        "(range). Load average (1 min) before the runs: "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs.",
        "",
        "| runtime | launch → SessionStart | Stop → pushed |",
        "|---|---|---|",
        f"| local | {cell('local', 'startups')} | {cell('local', 'stop_to_pushed')} |",
        f"| remote | {cell('remote', 'startups')} | {cell('remote', 'stop_to_pushed')} |",
        f"| ratio | {ratios['startups']:.2f}x | {ratios['stop_to_pushed']:.2f}x |",
        "",
        f"Goal: launch → SessionStart remote <= 1.2x local: "
        f"{'met' if ratios['startups'] <= 1.2 else 'NOT met'}; Stop → pushed <= 1.5x: "
        f"{'met' if ratios['stop_to_pushed'] <= 1.5 else 'NOT met'}.",
    ]
    result: dict[str, Any] = {**stamp(), "runs": runs, "figures": figures, "ratios": ratios}
    write_results("remote", result, table)


if __name__ == "__main__":
    sys.exit(main())
