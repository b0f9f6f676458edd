"""The credential broker's cost: the fake API behind the broker against the fake direct.

    .venv/bin/python bench/broker.py [--rounds 3] [--requests 200]

Everything runs in processes of its own on this machine: two fake APIs (one answering at
once, one like a model: 0.3 s to the first token, 200 tokens/s), a broker in front of each
(``bench/_broker_server.py``, two keys), and this process as the client (httpx, one
keep-alive connection). Per round, alternating direct and brokered requests:

- **added latency**: ``--requests`` small requests (streamed) each way; the broker's p50
  and p99 minus the direct ones (goal <= 1 ms p50, <= 5 ms p99), and the broker process's
  CPU time per request (``/proc``, 10 ms ticks: a mean over the requests);
- **time to first token** against the model-like fake: brokered / direct, medians of 20
  (goal <= 1.05x);
- **MB/s**: a 1 MB reply streamed, 5 each way, brokered / direct (goal >= 0.8x);
- **429 -> same turn on the next key**: the fake refuses the next request once; seconds
  from sending it to the whole reply through the broker (goal <= 1 s; 1.3 s plus a lost
  turn by restart, bench/results/rotation.md);
- **broker CPU at 16 streams**: 16 concurrent streamed replies from the model-like fake
  through the broker; the broker process's CPU seconds over the wall seconds.

Each figure: the median over ``--rounds`` with its range. The load average is recorded
before and after. Results: ``bench/results/broker.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from _results import stamp, write_results

K1 = "sk-ant-bench-broker-one-" + "1" * 20
K2 = "sk-ant-bench-broker-two-" + "2" * 20
HERE = Path(__file__).parent
HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}


def body(text: str, *, stream: bool = True) -> bytes:
    message = {"role": "user", "content": [{"type": "text", "text": text}]}
    return json.dumps(
        {"model": "claude-bench", "max_tokens": 64, "stream": stream, "messages": [message]}
    ).encode()


@contextlib.contextmanager
def process(argv: list[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A child process and the first line it prints."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield child, child.stdout.readline().strip()
    finally:
        child.terminate()
        child.wait(timeout=10)


@contextlib.contextmanager
def fake(*latency: str) -> Iterator[str]:
    argv = [sys.executable, "-m", "claude_orchestra.testing.fake_api", "--script", "echo"]
    argv += ["--key", f"k1={K1}", "--key", f"k2={K2}", *latency]
    with process(argv) as (_, line):
        yield line.removeprefix("listening on ")


@contextlib.contextmanager
def broker(fake_url: str) -> Iterator[dict[str, Any]]:
    argv = [sys.executable, str(HERE / "_broker_server.py"), fake_url, K1, K2]
    with process(argv) as (_, line):
        yield json.loads(line)


def timed(client: httpx.Client, url: str, key: str, data: bytes) -> tuple[float, float, int]:
    """Seconds to the first byte and to the last, and the bytes of the body."""
    started = time.perf_counter()
    first, size = None, 0
    with client.stream(
        "POST", f"{url}/v1/messages", content=data, headers={**HEADERS, "x-api-key": key}
    ) as reply:
        if reply.status_code != 200:
            raise RuntimeError(f"{url}: {reply.status_code} {reply.read()[:200]!r}")
        for chunk in reply.iter_raw():
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
    return first or 0.0, time.perf_counter() - started, size


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(
    instant: str, model: str, near: dict[str, Any], far: dict[str, Any], requests: int
) -> dict[str, float]:
    small = body("ping")
    with httpx.Client(timeout=60) as client:
        for _ in range(20):  # warm both connections
            timed(client, instant, K1, small)
            timed(client, near["url"], near["token"], small)
        direct, brokered = [], []
        broker_cpu = 0.0
        for _ in range(requests):
            direct.append(timed(client, instant, K1, small)[1])
            before = cpu_seconds(near["pid"])
            brokered.append(timed(client, near["url"], near["token"], small)[1])
            broker_cpu += cpu_seconds(near["pid"]) - before
        ttft_direct = [timed(client, model, K1, small)[0] for _ in range(20)]
        ttft_broker = [timed(client, far["url"], far["token"], small)[0] for _ in range(20)]
        big = body("x" * 1_000_000)
        rate_direct = [(s / t) for _, t, s in (timed(client, instant, K1, big) for _ in range(5))]
        rate_broker = [
            (s / t)
            for _, t, s in (timed(client, near["url"], near["token"], big) for _ in range(5))
        ]
        client.post(
            f"{instant}/_fake/faults",
            json={"target": "*", "fault": {"kind": "rate_limit"}, "times": 1},
        )
        limited = timed(client, near["url"], near["token"], small)[1]
    streams = body("y" * 2000)
    cpu_before, wall_before = cpu_seconds(far["pid"]), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool, httpx.Client(timeout=120) as shared:
        list(pool.map(lambda _: timed(shared, far["url"], far["token"], streams), range(16)))
    cpu = (cpu_seconds(far["pid"]) - cpu_before) / (time.perf_counter() - wall_before)
    return {
        "added_p50_ms": (pct(brokered, 50) - pct(direct, 50)) * 1000,
        "added_p99_ms": (pct(brokered, 99) - pct(direct, 99)) * 1000,
        "direct_p50_ms": pct(direct, 50) * 1000,
        "broker_cpu_ms_per_request": broker_cpu / requests * 1000,
        "ttft_ratio": statistics.median(ttft_broker) / statistics.median(ttft_direct),
        "mb_per_s_direct": statistics.median(rate_direct) / 1e6,
        "mb_per_s_ratio": statistics.median(rate_broker) / statistics.median(rate_direct),
        "rotation_429_s": limited,
        "broker_cpu_16_streams": cpu,
    }


GOALS = {
    "added_p50_ms": "<= 1",
    "added_p99_ms": "<= 5",
    "direct_p50_ms": "-",
    "broker_cpu_ms_per_request": "-",
    "ttft_ratio": "<= 1.05",
    "mb_per_s_direct": "-",
    "mb_per_s_ratio": ">= 0.8",
    "rotation_429_s": "<= 1",
    "broker_cpu_16_streams": "-",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rounds = []
    latency = ["--latency", "--first-token", "0.3-0.3", "--tokens-per-second", "200-200"]
    with fake() as instant, fake(*latency) as model, broker(instant) as near, broker(model) as far:
        for n in range(args.rounds):
            rounds.append(one_round(instant, model, near, far, args.requests))
            print(f"round {n + 1}: {json.dumps({k: round(v, 4) for k, v in rounds[-1].items()})}")
    load_after = os.getloadavg()
    summary = {
        key: {
            "median": statistics.median(r[key] for r in rounds),
            "min": min(r[key] for r in rounds),
            "max": max(r[key] for r in rounds),
        }
        for key in rounds[0]
    }
    result = {
        **stamp(),
        "rounds": rounds,
        "summary": summary,
        "load_before": load_before,
        "load_after": load_after,
        "requests_per_round": args.requests,
    }
    table = [
        f"Broker, {result['date']}, {args.rounds} rounds of {args.requests} requests each "
        f"way; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"({os.cpu_count()} CPUs, shared).",
        "",
        "| figure | median | range | goal |",
        "|---|---|---|---|",
    ]
    for key, values in summary.items():
        table.append(
            f"| {key} | {values['median']:.3f} | {values['min']:.3f} to {values['max']:.3f} "
            f"| {GOALS[key]} |"
        )
    write_results("broker", result, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
