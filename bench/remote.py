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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _results import stamp, write_results
from _runs import run_config, stop_to_pushed
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.git_http import GitHttpServer
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


def _run(folder: Path, workers: int, access: HostAccess | None) -> dict[str, Any]:
    tasks = _tasks(workers)
    served = folder / "served"
    task_file = "".join(f"- [ ] {task}\n" for task in tasks)
    create_origin(served, tasks=tasks, extra_files={"TASKS.md": task_file})
    load = os.getloadavg()
    with (
        GitHttpServer(served, user="x-access-token", password=PASSWORD) as server,
        FakeAnthropicAPI() as fake,
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
            extra={**options, "repositoryUrl": server.url("origin.git", with_credentials=True)},
        )
        done = run_config(config, folder / "home")
    runtime = "remote" if access else "local"
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} ended {done.returncode}: {done.stderr[-1500:]}")
    state = folder / "workspace" / ".orchestra"
    report = json.loads((state / "report.json").read_text())
    return {
        "load_1min_before": load[0],
        "startups": _startups(report),
        "stop_to_pushed": stop_to_pushed(state / "journal.jsonl"),
    }


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if problem := missing():
        print(f"no second host: {problem}", file=sys.stderr)
        return 2
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "remote": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-remote-") as keys,
        SshHost(Path(keys) / "keys") as host,
    ):
        for _ in range(args.rounds):
            for runtime, rounds in runs.items():  # alternated, same conditions
                with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
                    access = host.access if runtime == "remote" else None
                    rounds.append(_run(Path(folder), args.workers, access))
    figures = {
        runtime: {
            key: _summary([v for r in rounds for v in r[key]])
            for key in ("startups", "stop_to_pushed")
        }
        for runtime, rounds in runs.items()
    }
    ratios = {
        key: figures["remote"][key][0] / figures["local"][key][0]
        for key in ("startups", "stop_to_pushed")
    }
    loads = [r["load_1min_before"] for rounds in runs.values() for r in rounds]

    def cell(runtime: str, key: str) -> str:
        median, low, high = figures[runtime][key]
        return f"{median:.2f} s ({low:.2f}-{high:.2f})"

    table = [
        f"Remote workers (SSH, second host on this machine) against local ones: "
        f"{args.workers} workers, {args.rounds} round(s), medians over every worker "
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
