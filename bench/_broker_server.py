"""A broker in a process of its own for ``bench/broker.py``: two keys on one fake API.

    python bench/_broker_server.py FAKE_URL KEY1 KEY2

prints one JSON line ``{"url": ..., "token": ..., "pid": ...}`` once it listens, and serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import json
import signal
import sys

import anyio

from claude_orchestra._clock import SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.broker import Broker
from claude_orchestra.broker.pool import RotatorPool


async def main(fake_url: str, keys: list[str]) -> None:
    pool = tuple(
        Credential(
            name=f"k{n}",
            kind=CredentialKind.ENV,
            env={"ANTHROPIC_API_KEY": Secret(key), "ANTHROPIC_BASE_URL": fake_url},
        )
        for n, key in enumerate(keys, 1)
    )
    rotator = AuthRotator(pool=pool, clock=SystemClock(), default_cooldown=5)
    rotator.assign_initial(["bench"])
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with Broker(RotatorPool(rotator=rotator, clock=SystemClock())) as broker:
            token = broker.launch_credential("bench", 1).environment()["ANTHROPIC_API_KEY"]
            line = {"url": broker.base_url, "token": token, "pid": __import__("os").getpid()}
            print(json.dumps(line), flush=True)
            async for _ in signals:
                break


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2:])
