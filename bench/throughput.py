"""Throughput: tasks merged per minute by worker count, for three strategy pairs.

    .venv/bin/python bench/throughput.py [--workers 1,2,4,8] [--tasks 8] [--rounds 1]

Each run is a real orchestration (real Claude Code in tmux, the fake API) of ``--tasks``
independent tasks, with (scheduler/merger) ``manager/manager`` (the original tool's
protocol), ``manager/queue`` (the manager plans, the merge queue merges) and
``queue/queue`` (the task file is handed out by the orchestrator, the merge queue merges:
no manager at all).

- tasks merged per minute: the tasks on the run branch at the end over the wall time from
  the first API request to the last merge; speed-up against the same strategy's 1-worker
  run (goal: at least 0.8 x N up to 4 workers on this 2-core machine);
- queue merger: seconds from a worker's ``Stop`` to its work pushed on the run branch
  (goal: 2 s plus the test command's own time; no test command here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _cpu import CpuSampler
from _results import stamp, write_results
from claude_orchestra.journal import read_journal
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin, write_config_folder

KEY = "sk-ant-bench-" + "6" * 32


def _tasks(count: int) -> list[str]:
    return [f"Create `module_{n}.py` with a function that returns {n}" for n in range(count)]


STRATEGIES = ("manager/manager", "manager/queue", "queue/queue")


def _run(folder: Path, workers: int, strategy: str, tasks: int) -> dict[str, float]:
    scheduler, merger = strategy.split("/")
    task_file = "".join(f"- [ ] {task}\n" for task in _tasks(tasks))
    origin = create_origin(folder, tasks=_tasks(tasks), extra_files={"TASKS.md": task_file})
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            folder / "config",
            origin=origin,
            base_url=fake.base_url,
            key=KEY,
            workspace=folder / "workspace",
        )
        settings = json.loads((config / "orchestrator.json").read_text())
        settings.update(workerCount=workers, scheduler=scheduler, merger=merger, authMode="oauth")
        (config / "orchestrator.json").write_text(json.dumps(settings))
        home = folder / "home"
        home.mkdir()
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "claude_orchestra", "-q", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(home)},
        )
        sampler = CpuSampler(folder, process.pid)
        _, err = process.communicate(timeout=1800)
        cpu = sampler.stop()
        wall = time.monotonic() - started
        first_request = min(r.at for r in fake.requests)
    if process.returncode != 0:
        raise RuntimeError(f"{strategy} x{workers} ended {process.returncode}: {err[-1500:]}")
    state = folder / "workspace" / ".orchestra"
    report = json.loads((state / "report.json").read_text())
    last_merge = max(m["at"] for m in report["merges"])
    minutes = (last_merge - first_request) / 60
    result = {
        "tasks_done": float(report["totals"]["tasksDone"]),
        "minutes": minutes,
        "tasks_per_minute": report["totals"]["tasksDone"] / minutes,
        "cores_busy": sum(cpu.values()) / wall,
        **{f"cpu_{kind}_s": seconds for kind, seconds in cpu.items()},
    }
    if merger == "queue":
        result["stop_to_pushed_s"] = _stop_to_pushed(state / "journal.jsonl")
    return result


def _stop_to_pushed(journal: Path) -> float:
    """Median seconds from a worker's Stop to its MergeFinished(merged), on the wall clock."""
    stopped: dict[str, float] = {}
    delays = []
    for entry in read_journal(journal):
        if entry["type"] == "TurnStopped" and str(entry["instance"]).startswith("worker-"):
            stopped[entry["instance"]] = entry["recorded"]
        elif entry["type"] == "MergeFinished" and entry["outcome"] == "merged":
            delays.append(entry["recorded"] - stopped[entry["instance"]])
    return statistics.median(delays)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        s: {n: [] for n in counts} for s in STRATEGIES
    }
    for _ in range(args.rounds):
        for workers in counts:
            for strategy in STRATEGIES:  # alternated, same conditions
                with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
                    runs[strategy][workers].append(
                        _run(Path(folder), workers, strategy, args.tasks)
                    )

    def median(strategy: str, workers: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[strategy][workers])

    table = [
        f"Throughput, {args.tasks} tasks, {args.rounds} round(s), medians; tasks/min "
        "(speed-up over the same strategies with the fewest workers).",
        "",
        "| workers | " + " | ".join(STRATEGIES) + " | queue merger: Stop → pushed |",
        "|---|---|---|---|---|",
    ]
    speedups: dict[str, dict[int, float]] = {s: {} for s in STRATEGIES}
    for workers in counts:
        cells = []
        for strategy in STRATEGIES:
            rate = median(strategy, workers, "tasks_per_minute")
            speedups[strategy][workers] = rate / median(strategy, counts[0], "tasks_per_minute")
            cells.append(f"{rate:.1f} ({speedups[strategy][workers]:.2f}x)")
        pushed = median("queue/queue", workers, "stop_to_pushed_s")
        table.append(f"| {workers} | {' | '.join(cells)} | {pushed:.1f} s |")
    table += ["", "CPU during the queue/queue runs (cores busy; CPU seconds by process kind):", ""]
    for workers in counts:
        run = runs["queue/queue"][workers][0]
        split = ", ".join(
            f"{k.removeprefix('cpu_').removesuffix('_s')} {v:.0f} s"
            for k, v in sorted(run.items())
            if k.startswith("cpu_")
        )
        table.append(f"- {workers} worker(s): {run['cores_busy']:.2f} cores busy; {split}")
    goals = {
        f"queue/queue speed-up >= 0.8 x N at N={n}": speedups["queue/queue"][n]
        >= 0.8 * n / counts[0]
        for n in counts
        if n <= 4
    }
    goals["queue merger Stop -> pushed <= 2 s"] = all(
        median(s, n, "stop_to_pushed_s") <= 2 for s in STRATEGIES[1:] for n in counts
    )
    table += [
        "",
        "Goals: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in goals.items()),
    ]
    result: dict[str, Any] = {**stamp(), "runs": runs, "speedups": speedups, "goals": goals}
    write_results("throughput", result, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
