"""Start-up overhead of the sandbox runtime against the local (tmux) runtime.

    .venv/bin/python bench/runtime_startup.py [--instances 8] [--rounds 3]

Each round runs two real orchestrations back to back, ``"runtime": "local"`` and
``"runtime": "sandbox"`` (alternated, same conditions): ``--instances`` workers, the queue
scheduler and merger, a task file of one small task. For every instance, the start-up is
the time from its launch to its ``SessionStart`` (from the report's state history). The
figure is the ratio of the medians, sandbox over local, over all instances and rounds.
Goal: at most 1.1x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _results import load, load_note, spread, stamp, write_results
from _runs import run_config
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin, write_config_folder

KEY = "sk-ant-bench-" + "5" * 32
TASK = "Create `hello.py` with a function that says hello"


def _startups(folder: Path, runtime: str, instances: int) -> list[float]:
    origin = create_origin(folder, tasks=[TASK], extra_files={"TASKS.md": f"- [ ] {TASK}\n"})
    with FakeAnthropicAPI() as fake:
        fake.register("fake-api", KEY)
        config = write_config_folder(
            folder / "config",
            origin=origin,
            base_url=fake.base_url,
            key=KEY,
            workspace=folder / "workspace",
            workers=instances,
            extra={"runtime": runtime, "scheduler": "queue", "merger": "queue"},
        )
        done = run_config(config, folder / "home")
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} ended {done.returncode}: {done.stderr[-1500:]}")
    report = json.loads((folder / "workspace" / ".orchestra" / "report.json").read_text())
    startups = []
    for instance in report["instances"]:
        history = instance["history"]
        launched = next(c["at"] for c in history if c["after"] == "starting")
        ready = next(c["at"] for c in history if c["before"] == "starting")
        startups.append(ready - launched)
    return startups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"local": [], "sandbox": []}
    before = load()
    for _ in range(args.rounds):
        for runtime in runs:
            with tempfile.TemporaryDirectory(prefix="bench-runtime-") as folder:
                runs[runtime] += _startups(Path(folder), runtime, args.instances)
    local = statistics.median(runs["local"])
    sandbox = statistics.median(runs["sandbox"])
    ratio = sandbox / local
    table = [
        f"Runtime start-up, {args.instances} instances, {args.rounds} round(s): launch to "
        f"SessionStart, median (range) over every instance; {load_note(before)}.",
        "",
        "| runtime | start-up | ratio |",
        "|---|---|---|",
        f"| local (tmux) | {spread(runs['local'], ' s', 2)} | 1.00x |",
        f"| sandbox (tmux + bubblewrap) | {spread(runs['sandbox'], ' s', 2)} | {ratio:.2f}x |",
        "",
        f"Goal: sandbox <= 1.1x local: {'met' if ratio <= 1.1 else 'NOT met'}",
    ]
    result: dict[str, Any] = {**stamp(), "startups": runs, "ratio": ratio}
    write_results("runtime_startup", result, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
