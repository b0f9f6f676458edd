"""Rotation: how fast an instance is working again on the next credential after a limit.

    .venv/bin/python bench/rotation.py [--rounds 3]

Each round runs a real orchestration (2 workers, real Claude Code, the fake API) with two
keys; the first key answers its first request with a 429. Two scenarios: the 429 carries
``retry-after: 3600`` (Claude Code gives up at once) or ``retry-after: 1`` (it retries, as
many times as ``maxRetries`` allows: 2 by default). Measured from the fake's request log
and the run's journal, both on the wall clock of this one machine:

- 429 → recovered: from the first 429 the fake sends to the first successful request on
  the next credential (goal ≤ 30 s);
- StopFailure → first request: from the ``StopFailure`` event to the restarted instance's
  first request (goal ≤ 5 s);
- baseline, same runs: from an instance's launch to its first request.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _results import load, load_note, spread, stamp, write_results
from claude_orchestra import load_config
from claude_orchestra.journal import read_journal
from claude_orchestra.orchestrator import Orchestrator
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import create_origin, write_config_folder


def _round(folder: Path, retry_after: int) -> dict[str, float]:
    origin = create_origin(folder)
    first, second = (f"sk-ant-bench-{secrets.token_hex(12)}" for _ in range(2))
    with FakeAnthropicAPI() as fake:
        fake.register("first", first)
        fake.register("second", second)
        config = write_config_folder(
            folder / "config",
            origin=origin,
            base_url=fake.base_url,
            key=first,
            workspace=folder / "workspace",
        )
        keys = json.loads((config / "api-keys.json").read_text())
        keys[0]["name"] = "first"
        keys.append({"name": "second", "env": {**keys[0]["env"], "ANTHROPIC_API_KEY": second}})
        (config / "api-keys.json").write_text(json.dumps(keys))
        fake.inject("first", Fault.rate_limit(retry_after=retry_after), times=3)
        summary = Orchestrator(load_config(config), load_entry_points=False).run_sync()
        requests = fake.requests
    if summary.outcome != "complete":
        raise RuntimeError(f"the run ended {summary.outcome}")
    journal = list(read_journal(folder / "workspace" / ".orchestra" / "journal.jsonl"))
    failure = next(e for e in journal if e["type"] == "TurnFailed")
    cwd = next(r.cwd for r in requests if r.status == 429)
    limited = next(r for r in requests if r.status == 429)
    recovered = next(
        r for r in requests if r.credential == "second" and r.status == 200 and r.cwd == cwd
    )
    restarted = next(r for r in requests if r.cwd == cwd and r.at > failure["recorded"])
    report = json.loads(summary.report_path.read_text())
    first_launch = min(
        change["at"]
        for instance in report["instances"]
        for change in instance["history"]
        if change["evidence"] == "launched"
    )
    first_request = min(r.at for r in requests)
    return {
        "limit_to_recovered_s": recovered.at - limited.at,
        "stopfailure_to_request_s": restarted.at - failure["recorded"],
        "baseline_launch_to_request_s": first_request - first_launch,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scenarios = {"retry-after 3600": 3600, "retry-after 1 (maxRetries 2)": 1}
    raw: dict[str, list[dict[str, float]]] = {name: [] for name in scenarios}
    before = load()
    for _ in range(args.rounds):
        for name, retry_after in scenarios.items():
            with tempfile.TemporaryDirectory(prefix="bench-rotation-") as folder:
                raw[name].append(_round(Path(folder), retry_after))
    medians = {
        name: {metric: statistics.median(r[metric] for r in rows) for metric in rows[0]}
        for name, rows in raw.items()
    }
    result: dict[str, Any] = {
        **stamp(),
        "rounds": raw,
        "medians": medians,
        "goals": {
            name: {
                "429 -> recovered <= 30 s": m["limit_to_recovered_s"] <= 30,
                "StopFailure -> request <= 5 s": m["stopfailure_to_request_s"] <= 5,
            }
            for name, m in medians.items()
        },
    }

    def cell(name: str, metric: str) -> str:
        return spread([r[metric] for r in raw[name]], " s")

    lines = [
        f"Rotation, {result['date']}, {args.rounds} rounds per scenario, median (range); "
        f"{load_note(before)}.",
        "",
        "| scenario | 429 → recovered on next key | StopFailure → restarted's first request "
        "| baseline: launch → first request |",
        "|---|---|---|---|",
        *(
            f"| {name} | {cell(name, 'limit_to_recovered_s')} "
            f"| {cell(name, 'stopfailure_to_request_s')} "
            f"| {cell(name, 'baseline_launch_to_request_s')} |"
            for name in raw
        ),
        "",
        "Goals (medians): ≤ 30 s and ≤ 5 s: "
        + ("met" if all(all(g.values()) for g in result["goals"].values()) else "NOT met")
        + ".",
    ]
    write_results("rotation", result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
