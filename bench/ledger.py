"""Ledger: transcript lines per second, and the reader's CPU while instances write.

    .venv/bin/python bench/ledger.py [--lines 500000] [--rounds 5] [--writers 8] [--seconds 20]

- **Ingest**: a transcript set shaped like Claude Code's (sessions and sub-agent files;
  about 60 % assistant lines, one per content block with the response's id and full
  usage, text and tool-use content of realistic size; the rest user, tool-result, system
  and attachment lines) read by :class:`~claude_orchestra.costs.transcripts.UsageLedger`, against
  a baseline measured in the same rounds: ``json.loads`` of every line of the same files.
  Rounds alternate; medians are reported. Goal: at least 100k lines/s.
- **Live**: ``--writers`` processes append responses (a few blocks every 0.5 to 2 s) to their
  own transcripts while this process reads the tree each time a writer says it wrote (as
  the orchestrator reads on each hook event); the reader's CPU seconds per wall second, and
  whether its totals equal what the writers wrote.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import load, load_note, spread, stamp, write_results
from claude_orchestra.costs.transcripts import Usage, UsageLedger

TEXT = "Reading the task list and the code around it before changing anything. " * 6


def _assistant(message_id: str, usage: dict[str, int], block: dict[str, Any]) -> str:
    return json.dumps(
        {
            "parentUuid": "0f4c8f0e-5d1b-4d6e-9a55-3f0b8c2a1d77",
            "isSidechain": False,
            "type": "assistant",
            "requestId": f"req_{message_id[4:]}",
            "sessionId": "6a1f0c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
            "timestamp": "2026-11-24T15:00:00.000Z",
            "message": {
                "id": message_id,
                "model": "claude-opus-5-5",
                "role": "assistant",
                "content": [block],
                "usage": usage,
            },
        }
    )


def _response(rng: random.Random, number: int) -> list[str]:
    usage = {
        "input_tokens": rng.randint(1, 5000),
        "output_tokens": rng.randint(1, 2000),
        "cache_creation_input_tokens": rng.randint(0, 3000),
        "cache_read_input_tokens": rng.randint(0, 90000),
    }
    message_id = f"msg_{number:024d}"
    blocks = [{"type": "text", "text": TEXT}] + [
        {
            "type": "tool_use",
            "id": f"toolu_{number}_{b}",
            "name": "Bash",
            "input": {"command": "git add -A && git commit -m 'work' && git push", "x": TEXT},
        }
        for b in range(rng.randint(0, 2))
    ]
    return [_assistant(message_id, usage, block) for block in blocks]


def _other(rng: random.Random) -> str:
    kind = rng.choice(["user", "tool_result", "system", "attachment"])
    if kind == "tool_result":
        content = [{"type": "tool_result", "tool_use_id": "toolu_1", "content": TEXT * 2}]
        return json.dumps({"type": "user", "message": {"role": "user", "content": content}})
    if kind == "user":
        return json.dumps({"type": "user", "message": {"role": "user", "content": TEXT}})
    return json.dumps({"type": kind, "subtype": "turn_duration", "content": TEXT[:80]})


def write_transcripts(root: Path, lines: int, seed: int = 7) -> tuple[int, Usage]:
    """About ``lines`` lines over 40 sessions and their sub-agents; (lines, distinct usage)."""
    rng = random.Random(seed)
    files = [root / f"p/s{n}.jsonl" for n in range(40)] + [
        root / f"p/s{n}/subagents/agent-{n}.jsonl" for n in range(0, 40, 4)
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
    handles = [path.open("w") for path in files]
    written, number, total = 0, 0, Usage()
    while written < lines:
        out = rng.choice(handles)
        if rng.random() < 0.6:
            block_lines = _response(rng, number)
            total += Usage.from_api(json.loads(block_lines[0])["message"]["usage"])
            number += 1
        else:
            block_lines = [_other(rng)]
        out.write("".join(line + "\n" for line in block_lines))
        written += len(block_lines)
    for handle in handles:
        handle.close()
    return written, total


def _baseline(root: Path) -> float:
    started = time.perf_counter()
    for path in sorted(root.rglob("*.jsonl")):
        with path.open("rb") as f:
            for line in f:
                json.loads(line)
    return time.perf_counter() - started


def _ledger(root: Path, expected: Usage) -> float:
    started = time.perf_counter()
    ledger = UsageLedger()
    ledger.read_tree(root)
    elapsed = time.perf_counter() - started
    if ledger.total != expected:
        raise AssertionError(f"ledger {ledger.total} != written {expected}")
    return elapsed


def _writer(path: str, responses: int, seed: int, queue: Any) -> None:
    rng = random.Random(seed)
    with Path(path).open("a") as out:
        for n in range(responses):
            time.sleep(rng.uniform(0.5, 2.0))
            out.write("".join(line + "\n" for line in _response(rng, seed * 1_000_000 + n)))
            out.flush()
            queue.put(seed)
    queue.put(None)


def _live(root: Path, writers: int, seconds: float) -> dict[str, float]:
    responses = max(1, int(seconds / 1.25))
    queue: Any = multiprocessing.Queue()
    procs = []
    for w in range(writers):
        path = root / f"live/instance-{w}/projects/p/s.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        procs.append(
            multiprocessing.Process(target=_writer, args=(str(path), responses, w + 1, queue))
        )
    ledger = UsageLedger()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for proc in procs:
        proc.start()
    done = reads = 0
    while done < writers:
        if queue.get() is None:
            done += 1
            continue
        ledger.read_tree(root / "live")  # what the orchestrator does on a hook event
        reads += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    for proc in procs:
        proc.join()
    check = UsageLedger()
    check.read_tree(root / "live")
    return {
        "reader_cpu_percent_of_a_core": cpu / wall * 100,
        "reads": reads,
        "responses": ledger.responses,
        "totals_match": float(
            ledger.total == check.total and ledger.responses == writers * responses
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    before = load()
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as folder:
        root = Path(folder)
        lines, expected = write_transcripts(root / "set", args.lines)
        ledger_s, baseline_s = [], []
        for _ in range(args.rounds):
            ledger_s.append(_ledger(root / "set", expected))
            baseline_s.append(_baseline(root / "set"))
        live = _live(root, args.writers, args.seconds)
    ledger_rate = lines / statistics.median(ledger_s)
    baseline_rate = lines / statistics.median(baseline_s)
    result: dict[str, Any] = {
        **stamp(),
        "lines": lines,
        "rounds": {"ledger_s": ledger_s, "baseline_json_loads_s": baseline_s},
        "ledger_lines_per_s": ledger_rate,
        "baseline_lines_per_s": baseline_rate,
        "ratio_to_baseline": ledger_rate / baseline_rate,
        "live": {**live, "writers": args.writers, "seconds": args.seconds},
        "goals": {"ingest >= 100k lines/s": ledger_rate >= 100_000},
    }
    table = [
        f"Ledger, {result['date']}, {lines} lines, {args.rounds} rounds, median (range); "
        f"{load_note(before)}.",
        "",
        "| measure | result | baseline |",
        "|---|---|---|",
        f"| ingest, lines/s | {spread([lines / t for t in ledger_s], digits=0)} "
        f"({result['ratio_to_baseline']:.2f}x, medians) | "
        f"json.loads of every line: {spread([lines / t for t in baseline_s], digits=0)} |",
        f"| reader CPU, {args.writers} instances writing | "
        f"{live['reader_cpu_percent_of_a_core']:.2f} % of a core ({live['reads']:.0f} reads) | — |",
        f"| live totals equal the files' | {'yes' if live['totals_match'] else 'NO'} | — |",
        "",
        f"Goal: ingest ≥ 100k lines/s: {'met' if ledger_rate >= 100_000 else 'NOT met'}.",
    ]
    write_results("ledger", result, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
