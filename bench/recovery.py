"""Recovery: how fast a hung or killed instance is working again; what an idle run costs.

    .venv/bin/python bench/recovery.py [--rounds 3] [--idle-workers 8] [--idle-seconds 30]

Real orchestrations (real Claude Code in tmux, the fake API), the CLI as a subprocess:

- **hang**: with ``stuckThresholdMs`` = 10 s, once the workers are at work the next
  request never answers; measured from that request's arrival at the fake to the next
  successful request of the same instance (goal: within the threshold + 10 s);
- **kill -9**: a worker's ``claude`` process is killed with SIGKILL; measured from the kill
  to the next successful request of that instance;
- baseline, same runs: from an instance's launch to its first request;
- **idle**: ``--idle-workers`` workers wait for a plan that never comes (the manager's
  request hangs): the orchestrator's CPU (user + system, from ``/proc``) per wall second
  and its RSS over ``--idle-seconds``, next to a bare ``python -c "import
  claude_orchestra"`` process's RSS. Goals: CPU < 1 % of a core, RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import load, load_note, spread, stamp, write_results
from _runs import start_run
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.faults import Fault, FaultKind
from claude_orchestra.testing.ledger import ApiRequest
from claude_orchestra.testing.sample import create_origin, write_config_folder

KEY = "sk-ant-bench-" + "5" * 32
THRESHOLD_S = 10.0


def _start(folder: Path, fake: FakeAnthropicAPI, **options: object) -> subprocess.Popen[str]:
    origin = create_origin(folder)
    config = write_config_folder(
        folder / "config",
        origin=origin,
        base_url=fake.base_url,
        key=KEY,
        workspace=folder / "workspace",
    )
    settings = json.loads((config / "orchestrator.json").read_text())
    (config / "orchestrator.json").write_text(json.dumps({**settings, **options}))
    return start_run(config, folder / "home", stdout=subprocess.DEVNULL)


def _worker_request(r: ApiRequest) -> bool:
    return "You are worker" in (r.last_user_text or "")


def _next_success(fake: FakeAnthropicAPI, cwd: str | None, after: float) -> ApiRequest:
    return fake.wait_for_request(
        lambda r: r.cwd == cwd and r.at > after and r.status == 200, timeout=120
    )


def _launch_to_first_request(folder: Path, requests: tuple[ApiRequest, ...]) -> float:
    report = json.loads((folder / "workspace" / ".orchestra" / "report.json").read_text())
    launched: float = min(
        change["at"]
        for instance in report["instances"]
        for change in instance["history"]
        if change["evidence"] == "launched"
    )
    return float(min(r.at for r in requests) - launched)


def _hang_round(folder: Path) -> dict[str, float]:
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        run = _start(folder, fake, stuckThresholdMs=int(THRESHOLD_S * 1000))
        fake.wait_for_request(_worker_request, timeout=120)
        fake.inject("*", Fault.hang(), times=1)
        hung = fake.wait_for_request(lambda r: r.fault is FaultKind.HANG, timeout=120)
        working = _next_success(fake, hung.cwd, hung.at)
        _, err = run.communicate(timeout=300)
        if run.returncode != 0:
            raise RuntimeError(f"the run failed: {err[-2000:]}")
        return {
            "hang_to_working_s": working.at - hung.at,
            "baseline_launch_to_request_s": _launch_to_first_request(folder, fake.requests),
        }


def _claude_pid(folder: Path, name: str) -> int:
    """The pid of the ``claude`` process of instance ``name`` (child of its relay)."""
    marker = str(folder / "workspace" / ".orchestra" / "instances" / name)
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "/claude " in args and marker in args and "relay.py" not in args:
            return int(pid)
    raise RuntimeError(f"no claude process for {name}")


def _kill_round(folder: Path) -> dict[str, float]:
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        run = _start(folder, fake)
        seen = fake.wait_for_request(_worker_request, timeout=120)
        name = "worker-" + Path(seen.cwd or "").name.rsplit("-", 1)[-1]
        killed_at = time.time()
        os.kill(_claude_pid(folder, name), signal.SIGKILL)
        working = _next_success(fake, seen.cwd, killed_at)
        _, err = run.communicate(timeout=300)
        if run.returncode != 0:
            raise RuntimeError(f"the run failed: {err[-2000:]}")
        return {
            "kill_to_working_s": working.at - killed_at,
            "baseline_launch_to_request_s": _launch_to_first_request(folder, fake.requests),
        }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _idle(folder: Path, workers: int, seconds: float) -> dict[str, float]:
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        fake.inject("*", Fault.hang())  # the manager's plan never comes: workers stay idle
        run = _start(
            folder, fake, workerCount=workers, stuckThresholdMs=3_600_000, maxRunDurationMinutes=30
        )
        fake.wait_for_request(lambda r: True, timeout=180)
        status = folder / "workspace" / ".orchestra" / "status.json"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # a bench, not a test: wait for every SessionStart
            states = [i["state"] for i in json.loads(status.read_text())["instances"]]
            if states.count("idle") == workers:
                break
            time.sleep(0.5)
        cpu_before, wall_before = _cpu_seconds(run.pid), time.monotonic()
        time.sleep(seconds)
        cpu = (_cpu_seconds(run.pid) - cpu_before) / (time.monotonic() - wall_before)
        rss = _rss_mb(run.pid)
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=120)
    bare = subprocess.Popen(
        [sys.executable, "-c", "import claude_orchestra, time; time.sleep(5)"],
    )
    time.sleep(2)
    bare_rss = _rss_mb(bare.pid)
    bare.wait()
    return {"cpu_percent_of_a_core": cpu * 100, "rss_mb": rss, "baseline_import_rss_mb": bare_rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-workers", type=int, default=8)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    hang: list[dict[str, float]] = []
    kill: list[dict[str, float]] = []
    before = load()
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
            hang.append(_hang_round(Path(folder)))
        with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
            kill.append(_kill_round(Path(folder)))
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as folder:
        idle = _idle(Path(folder), args.idle_workers, args.idle_seconds)

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    result: dict[str, Any] = {
        **stamp(),
        "stuck_threshold_s": THRESHOLD_S,
        "hang": hang,
        "kill": kill,
        "idle": {**idle, "workers": args.idle_workers, "seconds": args.idle_seconds},
        "medians": {
            "hang_to_working_s": median(hang, "hang_to_working_s"),
            "kill_to_working_s": median(kill, "kill_to_working_s"),
            "baseline_launch_to_request_s": median(hang + kill, "baseline_launch_to_request_s"),
        },
    }
    m = result["medians"]
    result["goals"] = {
        f"hang recovered within {THRESHOLD_S:.0f} + 10 s": m["hang_to_working_s"]
        <= THRESHOLD_S + 10,
        "idle CPU < 1 % of a core": idle["cpu_percent_of_a_core"] < 1,
        "idle RSS < 150 MB": idle["rss_mb"] < 150,
    }

    def cell(rows: list[dict[str, float]], key: str) -> str:
        return spread([r[key] for r in rows], " s")

    lines = [
        f"Recovery, {result['date']}, {args.rounds} rounds, median (range); {load_note(before)}.",
        "",
        "| measure | result | baseline |",
        "|---|---|---|",
        f"| hang → working again (stuckThresholdMs {THRESHOLD_S:.0f} s) | "
        f"{cell(hang, 'hang_to_working_s')} | launch → first request "
        f"{cell(hang, 'baseline_launch_to_request_s')} |",
        f"| kill -9 of a worker's claude → working again | {cell(kill, 'kill_to_working_s')} | "
        f"launch → first request {cell(kill, 'baseline_launch_to_request_s')} |",
        f"| orchestrator CPU, {args.idle_workers} workers idle | "
        f"{idle['cpu_percent_of_a_core']:.2f} % of a core | — |",
        f"| orchestrator RSS, {args.idle_workers} workers idle | {idle['rss_mb']:.0f} MB | "
        f"bare `import claude_orchestra` {idle['baseline_import_rss_mb']:.0f} MB |",
        "",
        "Goals: "
        + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in result["goals"].items()),
    ]
    write_results("recovery", result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
