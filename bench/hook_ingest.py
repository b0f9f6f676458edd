"""Hook ingest: the hook app against a bare Starlette app under the same uvicorn, same run.

    .venv/bin/python bench/hook_ingest.py [--requests 3000] [--rounds 5] [--concurrency 8]

Both servers run in this process, on 127.0.0.1, behind ``claude_orchestra.intake.server``;
each hands what it receives to a memory stream read by a consumer task, as the
orchestrator's loop reads its events. A separate process posts real hook payloads over
keep-alive connections (Claude Code's instances each post from their own process). A
request's latency is from the client's send to the consumer's receive, both read from
CLOCK_MONOTONIC, which is system-wide on Linux. Rounds alternate between the two apps; the
figures are medians over rounds, and the result is the ratio hook app / bare app.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from _results import load, spread
from claude_orchestra._clock import SystemClock
from claude_orchestra.events import Event
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys

RESULTS = Path(__file__).parent / "results"
SECRET = "bench-secret-0123456789abcdef"
STOP = {
    "transcript_path": "/tmp/bench/session.jsonl",
    "cwd": "/tmp/bench/work",
    "permission_mode": "bypassPermissions",
    "effort": {"level": "medium"},
    "hook_event_name": "Stop",
    "stop_hook_active": False,
    "last_assistant_message": "Done: created greet.py and ticked the task. " * 4,
    "background_tasks": [],
    "session_crons": [],
}
TOOL = {
    "transcript_path": "/tmp/bench/session.jsonl",
    "cwd": "/tmp/bench/work",
    "hook_event_name": "PostToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "git add -A && git commit -qm work", "description": "Commit"},
    "tool_response": {"stdout": "[worker-1 7a955cd] work\n", "stderr": "", "interrupted": False},
    "tool_use_id": "toolu_bench",
    "duration_ms": 75,
}


def _post_raw(sock: socket.socket, path: str, body: bytes, reader: Any, token: str) -> None:
    """One keep-alive POST in one write (no Nagle stalls), then read the whole reply."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    status = reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"unexpected reply {status!r}")
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    reader.read(length)


def _poster(port: int, numbers: range, out: Any, done: Any, token: str) -> None:
    """In its own process (like a Claude Code instance): post each payload in turn."""
    stamps: dict[str, int] = {}
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for number in numbers:
            session = f"00000000-0000-4000-8000-{number:012d}"  # one per request: its key
            payload = dict(STOP if number % 2 else TOOL, session_id=session)
            body = json.dumps(payload).encode()
            stamps[session] = time.monotonic_ns()
            _post_raw(sock, "/hooks/worker-1/1", body, reader, token)
    out.put(stamps)
    done.wait()


def _bare_app(deliver: Any) -> Starlette:
    async def hook(request: Request) -> Response:
        await deliver(await request.body())
        return JSONResponse({})

    return Starlette(routes=[Route("/hooks/{instance}/{launch:int}", hook, methods=["POST"])])


def _session_of(item: Event | bytes) -> str:
    if isinstance(item, bytes):
        start = item.index(b'"session_id":') + len(b'"session_id":')
        return item[start:].split(b'"')[1].decode()
    return getattr(item, "session_id", "")


async def _round(kind: str, requests: int, connections: int) -> dict[str, float]:
    """Serve ``kind``; ``connections`` processes post ``requests`` payloads between them."""
    send, receive = anyio.create_memory_object_stream[Event | bytes](10_000)
    arrived: dict[str, int] = {}
    token = SECRET  # the bare app checks none
    if kind == "hook app":
        keys = HookKeys()
        token = keys.issue("worker-1", 1).reveal()
        app = create_hook_app(keys=keys, deliver=send.send, clock=SystemClock())
    else:
        app = _bare_app(send.send)

    all_arrived = anyio.Event()

    async def consume() -> None:
        async for item in receive:  # the orchestrator's loop, minus the work
            arrived[_session_of(item)] = time.monotonic_ns()
            if len(arrived) == requests:
                all_arrived.set()

    context = multiprocessing.get_context("spawn")
    out, done = context.Queue(), context.Event()
    stamps: dict[str, int] = {}
    with send, receive:
        async with anyio.create_task_group() as tg:
            port = await tg.start(functools.partial(hookserver.serve, app))
            tg.start_soon(consume)
            posters = [
                context.Process(
                    target=_poster,
                    args=(port, range(i, requests, connections), out, done, token),
                )
                for i in range(connections)
            ]
            for poster in posters:
                poster.start()
            for _ in posters:
                # bounded: a poster that died (a refused post) fails the run, not hangs it
                stamps.update(
                    await anyio.to_thread.run_sync(functools.partial(out.get, timeout=120))
                )
            with anyio.fail_after(30):
                await all_arrived.wait()
            done.set()
            for poster in posters:
                await anyio.to_thread.run_sync(poster.join)
            tg.cancel_scope.cancel()
    latencies = sorted((arrived[k] - stamps[k]) / 1e6 for k in stamps)
    span = (max(arrived.values()) - min(stamps.values())) / 1e9
    return {
        "requests_per_second": requests / span,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


async def _measure(requests: int, rounds: int, concurrency: int) -> dict[str, Any]:
    """Alternate the apps round by round: latency on one quiet connection, throughput under
    ``concurrency`` busy ones."""
    kinds = ("bare starlette", "hook app")
    modes = {"latency": 1, "throughput": concurrency}
    raw: dict[str, dict[str, list[dict[str, float]]]] = {
        mode: {kind: [] for kind in kinds} for mode in modes
    }
    before = load()
    for kind in kinds:  # warm-up, discarded
        await _round(kind, min(requests, 500), concurrency)
    for _ in range(rounds):
        for mode, connections in modes.items():
            for kind in kinds:
                raw[mode][kind].append(await _round(kind, requests, connections))

    def median(mode: str, kind: str, metric: str) -> float:
        return statistics.median(r[metric] for r in raw[mode][kind])

    medians = {
        kind: {
            "p50_ms": median("latency", kind, "p50_ms"),
            "p99_ms": median("latency", kind, "p99_ms"),
            "requests_per_second": median("throughput", kind, "requests_per_second"),
            "p99_ms_under_load": median("throughput", kind, "p99_ms"),
        }
        for kind in kinds
    }
    app, bare = medians["hook app"], medians["bare starlette"]

    def per_round(mode: str, metric: str) -> list[float]:
        pairs = zip(raw[mode]["hook app"], raw[mode]["bare starlette"], strict=True)
        return [a[metric] / b[metric] for a, b in pairs]

    round_ratios = {
        "throughput": per_round("throughput", "requests_per_second"),
        "p50": per_round("latency", "p50_ms"),
        "p99": per_round("latency", "p99_ms"),
    }
    ratios = {
        "throughput": app["requests_per_second"] / bare["requests_per_second"],
        "p50": app["p50_ms"] / bare["p50_ms"],
        "p99": app["p99_ms"] / bare["p99_ms"],
    }
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "parameters": {"requests": requests, "rounds": rounds, "concurrency": concurrency},
        "rounds": raw,
        "medians": medians,
        "ratios": ratios,
        "round_ratios": round_ratios,
        "load_average_1min": {"before": before, "after": load()},
        "goals": {
            "p99 <= 1.25x": ratios["p99"] <= 1.25,
            "throughput >= 0.8x": ratios["throughput"] >= 0.8,
        },
    }


def _table(result: dict[str, Any]) -> str:
    medians, ratios = result["medians"], result["ratios"]
    spreads = {k: spread(v, "x", 2) for k, v in result["round_ratios"].items()}
    rows = [
        "| app | requests/s (busy) | p50 ms (quiet) | p99 ms (quiet) | p99 ms (busy) |",
        "|---|---|---|---|---|",
        *(
            f"| {kind} | {m['requests_per_second']:.0f} | {m['p50_ms']:.3f} "
            f"| {m['p99_ms']:.3f} | {m['p99_ms_under_load']:.2f} |"
            for kind, m in medians.items()
        ),
        f"| **ratio (hook app / bare), of the medians** | **{ratios['throughput']:.2f}x** "
        f"| **{ratios['p50']:.2f}x** | **{ratios['p99']:.2f}x** | |",
        f"| ratio round by round, median (range) | {spreads['throughput']} "
        f"| {spreads['p50']} | {spreads['p99']} | |",
    ]
    loads = result["load_average_1min"]
    p = result["parameters"]
    return (
        f"Hook ingest, {result['date']}, {result['machine']['cpus']} CPUs, Python "
        f"{result['machine']['python']}: {p['rounds']} rounds x {p['requests']} requests, "
        f"latency on 1 connection, throughput on {p['concurrency']} (one process each); "
        "medians over rounds. Latency: client send to the event read off the loop's "
        f"stream. Load average (1 min) {loads['before']:.2f} before, {loads['after']:.2f} "
        "after.\n\n" + "\n".join(rows) + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = anyio.run(_measure, args.requests, args.rounds, args.concurrency)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hook_ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "hook_ingest.md").write_text(_table(result))
    print(_table(result))
    print(
        "goals:",
        ", ".join(f"{g}: {'met' if ok else 'NOT met'}" for g, ok in result["goals"].items()),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
