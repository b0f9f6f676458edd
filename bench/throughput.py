"""Throughput: tasks merged per minute by worker count, instant replies or model-like latency.

    .venv/bin/python bench/throughput.py [--workers 1,2,4,8] [--tasks 8] [--rounds 3]
    .venv/bin/python bench/throughput.py --latency [--quick] [--rounds 3]

**Instant replies** (the first form, the CPU ceiling):

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

**Model-like latency** (``--latency``): the fake waits a seeded time to first token (1-3 s)
and streams each reply at 30-80 tokens/s (:class:`~claude_orchestra.testing.latency.Latency`),
so Claude Code mostly waits, as with a real model, and the figures measure the orchestrator.
``queue/queue`` only, ``--workers`` (default 1,2,4,8,16) with ``--per-worker`` (4) tasks
each, ``--rounds`` (3) rounds alternating the worker counts, then ``--rss-workers`` (20)
workers with 2 tasks each for the orchestrator's memory. Every figure is the median over
rounds with its range: tasks/min, speed-up over 1 worker (goal >= 0.8 x N), ``Stop`` ->
pushed on the run branch p50/p99 from the journal (goal <= 2 s at 16 workers), the loop's
event latency p50/p99 from ``report.json``'s ``loopLatency`` when the run writes it (goal
p99 <= 50 ms at 16), the orchestrator process's peak RSS (``VmHWM``; goal <= 100 MB at 20
workers). The load average is recorded before and after every run. ``--quick``: 1, 2, 4
workers, one round, no memory run, results in ``throughput-latency-quick.*``.
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

from _cpu import CpuSampler
from _results import spread, stamp, write_results
from _rss import PeakRss
from _runs import start_run, stop_to_pushed, wait_run
from claude_orchestra.testing.fake_api import ApiRequest, FakeAnthropicAPI
from claude_orchestra.testing.latency import Latency
from claude_orchestra.testing.sample import create_origin, write_config_folder

KEY = "sk-ant-bench-" + "6" * 32


def _tasks(count: int) -> list[str]:
    return [f"Create `module_{n}.py` with a function that returns {n}" for n in range(count)]


STRATEGIES = ("manager/manager", "manager/queue", "queue/queue")


def _run(
    folder: Path,
    workers: int,
    strategy: str,
    tasks: int,
    *,
    latency: Latency | None = None,
    minutes: float = 10,
    nice: int | None = None,
) -> dict[str, float]:
    scheduler, merger = strategy.split("/")
    task_file = "".join(f"- [ ] {task}\n" for task in _tasks(tasks))
    origin = create_origin(folder, tasks=_tasks(tasks), extra_files={"TASKS.md": task_file})
    load_before = os.getloadavg()
    with FakeAnthropicAPI(latency=latency) as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            folder / "config",
            origin=origin,
            base_url=fake.base_url,
            key=KEY,
            workspace=folder / "workspace",
            minutes=minutes,
        )
        settings = json.loads((config / "orchestrator.json").read_text())
        settings.update(workerCount=workers, scheduler=scheduler, merger=merger, authMode="oauth")
        if nice is not None:
            settings["instanceNice"] = nice
        (config / "orchestrator.json").write_text(json.dumps(settings))
        started = time.monotonic()
        process = start_run(config, folder / "home")
        sampler = CpuSampler(folder, process.pid)
        memory = PeakRss(process.pid)
        err = wait_run(process, minutes)
        rss = memory.stop()
        cpu = sampler.stop()
        wall = time.monotonic() - started
        first_request = min(r.at for r in fake.requests)
        served = [r for r in fake.requests if r.usage is not None]
    load_after = os.getloadavg()
    if process.returncode != 0:
        raise RuntimeError(f"{strategy} x{workers} ended {process.returncode}: {err[-1500:]}")
    state = folder / "workspace" / ".orchestra"
    report = json.loads((state / "report.json").read_text())
    last_merge = max(m["at"] for m in report["merges"])
    minutes_taken = (last_merge - first_request) / 60
    result = {
        "workers": float(workers),
        "tasks": float(tasks),
        "tasks_done": float(report["totals"]["tasksDone"]),
        "incidents": float(report["totals"]["incidents"]),
        "minutes": minutes_taken,
        "tasks_per_minute": report["totals"]["tasksDone"] / minutes_taken,
        "cores_busy": sum(cpu.values()) / wall,
        "load_1min_before": load_before[0],
        "load_1min_after": load_after[0],
        **rss,
        **{f"cpu_{kind}_s": seconds for kind, seconds in cpu.items()},
    }
    for incident in report["incidents"]:  # by kind, in the JSON results
        key = f"incident_{incident['kind']}"
        result[key] = result.get(key, 0.0) + 1
    done = max(1, report["totals"]["tasksDone"])
    result["requests_per_task"] = len(served) / done
    if latency is not None:
        model_s = _model_seconds(served, latency)
        result["model_s_per_task"] = model_s / done
        result["model_wait_share"] = model_s / (workers * minutes_taken * 60)
    return result | _journal_figures(report, state, merger)


def _model_seconds(served: list[ApiRequest], latency: Latency) -> float:
    """The model time the fake made Claude Code wait: first token plus output at the rate.

    Against the workers' time from first request to last merge, near 1 when the instances
    mostly wait, as with a real model (output counted as the usage does, so about).
    """
    total = 0.0
    for request in served:
        if request.usage is not None:
            pace = latency.pace(request.number)
            total += pace.first_token + request.usage.output_tokens / pace.tokens_per_second
    return total


def _journal_figures(report: dict[str, Any], state: Path, merger: str) -> dict[str, float]:
    """The loop's event latency (when the report has it) and the queue merger's delays."""
    figures: dict[str, float] = {}
    loop = report.get("loopLatency")
    if isinstance(loop, dict) and "p50Ms" in loop and "p99Ms" in loop:
        figures["loop_p50_ms"] = float(loop["p50Ms"])
        figures["loop_p99_ms"] = float(loop["p99Ms"])
    if merger == "queue":
        delays = stop_to_pushed(state / "journal.jsonl")
        figures["stop_to_pushed_s"] = statistics.median(delays)
        figures["stop_to_pushed_p99_s"] = _p99(delays)
    return figures


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _instant(args: argparse.Namespace) -> int:
    counts = [int(n) for n in (args.workers or "1,2,4,8").split(",")]
    args.rounds = args.rounds or 3
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

    loads = [r["load_1min_before"] for s in STRATEGIES for n in counts for r in runs[s][n]]
    table = [
        f"Throughput, {args.tasks} tasks, {args.rounds} round(s); tasks/min, median (range) "
        "(speed-up of the medians over the same strategies with the fewest workers).",
        f"Load average (1 min) before each run {min(loads):.2f}-{max(loads):.2f}; "
        f"{os.cpu_count()} CPUs.",
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
            rates = [r["tasks_per_minute"] for r in runs[strategy][workers]]
            cells.append(f"{spread(rates)} ({speedups[strategy][workers]:.2f}x)")
        pushed = [r["stop_to_pushed_s"] for r in runs["queue/queue"][workers]]
        table.append(f"| {workers} | {' | '.join(cells)} | {spread(pushed, ' s')} |")
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


STRATEGY = "queue/queue"

Rows = list[dict[str, float]]


def _values(rows: Rows, key: str) -> list[float]:
    return [r[key] for r in rows if key in r]


def _median(rows: Rows, key: str) -> float | None:
    found = _values(rows, key)
    return statistics.median(found) if found else None


class _Measured:
    """Every latency run so far, by worker count; the memory runs; the failures."""

    def __init__(self, counts: list[int], latency: Latency, nice: int | None) -> None:
        self.counts = counts
        self.latency = latency
        self.nice = nice
        self.runs: dict[int, Rows] = {n: [] for n in counts}
        self.memory: Rows = []
        self.failures: list[str] = []

    def attempt(self, workers: int, tasks: int, label: str) -> dict[str, float] | None:
        """One run; a failure (a timeout, a crash at 16 workers) is kept, not raised."""
        with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
            try:
                run = _run(
                    Path(folder),
                    workers,
                    STRATEGY,
                    tasks,
                    latency=self.latency,
                    minutes=60,
                    nice=self.nice,
                )
            except RuntimeError as exc:
                self.failures.append(f"{label}: {exc}")
                print(f"{label}: FAILED {exc}", file=sys.stderr, flush=True)
                return None
        print(
            f"{label}: {run['tasks_per_minute']:.1f} tasks/min, peak RSS "
            f"{run['peak_rss_mb']:.0f} MB, load {run['load_1min_before']:.2f} -> "
            f"{run['load_1min_after']:.2f}",
            file=sys.stderr,
            flush=True,
        )
        return run

    def speedups(self) -> dict[int, list[float]]:
        """Each run's tasks/min over the fewest workers' median."""
        base = _median(self.runs[self.counts[0]], "tasks_per_minute")
        return {
            n: [r / base for r in _values(self.runs[n], "tasks_per_minute")] if base else []
            for n in self.counts
        }

    def every(self) -> Rows:
        """The runs of every worker count (not the memory runs)."""
        return [r for n in self.counts for r in self.runs[n]]


def _row(label: str, rows: Rows, speedup: list[float]) -> str:
    loop = _values(rows, "loop_p50_ms")
    tasks = _median(rows, "tasks")
    cells = [
        label,
        "-" if tasks is None else f"{tasks:.0f}",
        spread(_values(rows, "tasks_per_minute")),
        spread(speedup, "x", 2),
        spread(_values(rows, "stop_to_pushed_s"), " s"),
        spread(_values(rows, "stop_to_pushed_p99_s"), " s"),
        spread(loop, " ms") if loop else "n/a",
        spread(_values(rows, "loop_p99_ms"), " ms") if loop else "n/a",
        spread(_values(rows, "peak_rss_mb"), " MB", 0),
        spread(_values(rows, "cores_busy"), "", 2),
        f"{sum(_values(rows, 'incidents')):.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _goals(measured: _Measured, rss_workers: int) -> dict[str, str]:
    """Each goal: met, NOT met, or no figure (no run, or the report lacks it)."""
    counts, runs, top = measured.counts, measured.runs, measured.counts[-1]
    speedups = measured.speedups()

    def verdict(value: float | None, limit: float, *, at_least: bool = False) -> str:
        if value is None:
            return "no figure"
        return "met" if (value >= limit if at_least else value <= limit) else "NOT met"

    goals = {
        f"speed-up >= 0.8 x N at N={n}": verdict(
            statistics.median(speedups[n]) if speedups[n] else None,
            0.8 * n / counts[0],
            at_least=True,
        )
        for n in counts[1:]
    }
    at_most = {
        f"Stop -> pushed p50 <= 2 s at {top}": (_median(runs[top], "stop_to_pushed_s"), 2.0),
        f"Stop -> pushed p99 <= 2 s at {top}": (_median(runs[top], "stop_to_pushed_p99_s"), 2.0),
        f"loop p99 <= 50 ms at {top}": (_median(runs[top], "loop_p99_ms"), 50.0),
    }
    if rss_workers:
        peak = max(_values(measured.memory, "peak_rss_mb"), default=None)
        at_most[f"orchestrator RSS <= 100 MB at {rss_workers}"] = (peak, 100.0)
    for name, (value, limit) in at_most.items():
        goals[name] = verdict(value, limit)
    return goals


def _latency_table(
    measured: _Measured, rss_workers: int, rounds: int, loads: tuple[float, float], minutes: float
) -> list[str]:
    latency, counts, runs = measured.latency, measured.counts, measured.runs
    before = [*_values(measured.every(), "load_1min_before")]
    before += _values(measured.memory, "load_1min_before")
    speedups = measured.speedups()
    table = [
        f"Throughput with model-like latency ({STRATEGY}; time to first token "
        f"{latency.first_token[0]:g}-{latency.first_token[1]:g} s, "
        f"{latency.tokens_per_second[0]:g}-{latency.tokens_per_second[1]:g} tokens/s, "
        f"seed {latency.seed}), instances at nice "
        f"{'10 (the default)' if measured.nice is None else measured.nice}, "
        f"{stamp()['date']}, {rounds} round(s): median (range).",
        f"Load average (1 min) at the start {loads[0]:.2f}, at the end {loads[1]:.2f}, "
        f"before each run {spread(before, '', 2)}; {os.cpu_count()} CPUs; "
        f"{minutes:.0f} min in all.",
        "",
        "| workers | tasks | tasks/min | speed-up | Stop → pushed p50 | p99 | loop p50 | "
        "loop p99 | orchestrator peak RSS | cores busy | incidents |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    table += [_row(str(n), runs[n], speedups[n]) for n in counts]
    if rss_workers:
        table.append(_row(f"{rss_workers} (memory)", measured.memory, []))
    every = measured.every()
    shares = ", ".join(
        f"{n}: {spread(_values(runs[n], 'model_wait_share'), '', 2)}" for n in counts
    )
    table += [
        "",
        f"Per task: {spread(_values(every, 'requests_per_task'))} API requests, "
        f"{spread(_values(every, 'model_s_per_task'), ' s')} of model time; share of the "
        f"workers' time spent waiting on the model: {shares}.",
        "",
        "Goals: " + "; ".join(f"{k}: {v}" for k, v in _goals(measured, rss_workers).items()),
    ]
    incomplete = [
        f"{int(r['workers'])}w: {r['tasks_done']:.0f}/{r['tasks']:.0f}"
        for r in [*every, *measured.memory]
        if r["tasks_done"] < r["tasks"]
    ]
    if incomplete:
        table.append("Runs that did not finish every task: " + ", ".join(incomplete))
    if measured.failures:
        table.append("Runs that failed: " + "; ".join(f[:300] for f in measured.failures))
    return table


def _latency(args: argparse.Namespace) -> int:
    if args.quick:
        counts, rounds, rss_workers = [1, 2, 4], 1, 0
    else:
        counts = [int(n) for n in (args.workers or "1,2,4,8,16").split(",")]
        rounds, rss_workers = args.rounds or 3, args.rss_workers
    measured = _Measured(counts, Latency(seed=args.seed), args.nice)
    load_start = os.getloadavg()
    started = time.monotonic()
    for round_number in range(rounds):
        # Alternate the order between rounds, so no count always runs on a fresher machine.
        for workers in counts if round_number % 2 == 0 else counts[::-1]:
            label = f"round {round_number + 1}/{rounds}, {workers} worker(s)"
            run = measured.attempt(workers, args.per_worker * workers, label)
            if run is not None:
                measured.runs[workers].append(run)
        if rss_workers:
            label = f"round {round_number + 1}/{rounds}, {rss_workers} worker(s), memory"
            run = measured.attempt(rss_workers, 2 * rss_workers, label)
            if run is not None:
                measured.memory.append(run)
    load_end = os.getloadavg()
    table = _latency_table(
        measured,
        rss_workers,
        rounds,
        (load_start[0], load_end[0]),
        (time.monotonic() - started) / 60,
    )
    result: dict[str, Any] = {
        **stamp(),
        "latency": {
            "first_token": measured.latency.first_token,
            "tokens_per_second": measured.latency.tokens_per_second,
            "seed": measured.latency.seed,
        },
        "load_average": {"start": load_start, "end": load_end},
        "runs": measured.runs,
        "memory_runs": measured.memory,
        "speedups": measured.speedups(),
        "goals": _goals(measured, rss_workers),
        "failures": measured.failures,
    }
    name = "throughput-latency-quick" if args.quick else "throughput-latency"
    if args.nice is not None:
        name += f"-nice{args.nice}"
    result["nice"] = args.nice
    write_results(name, result, table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", help="worker counts (instant 1,2,4,8; latency 1,2,4,8,16)")
    parser.add_argument("--tasks", type=int, default=8, help="instant: tasks per run")
    parser.add_argument("--rounds", type=int, help="rounds (3)")
    parser.add_argument("--latency", action="store_true", help="model-like replies")
    parser.add_argument("--per-worker", type=int, default=4, help="latency: tasks per worker")
    parser.add_argument(
        "--rss-workers", type=int, default=20, help="latency: workers of the memory run (0: none)"
    )
    parser.add_argument("--seed", type=int, default=1, help="latency: seed of the draws")
    parser.add_argument("--quick", action="store_true", help="latency: 1, 2, 4 workers, 1 round")
    parser.add_argument(
        "--nice", type=int, help="latency: the instances' instanceNice (default: the config's)"
    )
    args = parser.parse_args()
    return _latency(args) if args.latency else _instant(args)


if __name__ == "__main__":
    sys.exit(main())
