"""Hook events sent on the second host while its SSH connection is down wait in the
launch's spool, and reach the hook app, in order and through its token check, when the
runtime replays them after the connection is back."""

from __future__ import annotations

import json
import shlex
from pathlib import PurePosixPath

import anyio
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.events import Event, PromptSubmitted, TurnStopped
from claude_orchestra.intake import relay as _relay
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.runtimes.claude_home import HOOK_TOKEN_ENV
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote.adoption import Launched, Spool
from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.runtimes.remote.link import HostLink
from claude_orchestra.runtimes.remote.replay import replay
from claude_orchestra.testing.ssh_host import SshHost

pytestmark = pytest.mark.anyio

NOWHERE = "http://127.0.0.1:9/hooks/worker-1/1"
"""Nothing listens there on the host: as when the connection, and its forward, is down."""
SESSION = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


def payloads() -> list[dict[str, str]]:
    return [
        {"hook_event_name": "UserPromptSubmit", "session_id": SESSION, "prompt": "do it"},
        {"hook_event_name": "Stop", "session_id": SESSION, "last_assistant_message": "done"},
    ]


async def hooks_on_the_host(link: HostLink, relay: PurePosixPath, spool: str, token: str) -> None:
    """Each payload through the relay as Claude Code runs a hook there (the token in its
    environment), while the hook app is out of reach."""
    command = shlex.join(["python3", "-I", "-S", str(relay), "hook", NOWHERE, "--spool", spool])
    for payload in payloads():
        done = await link.run(
            f"IFS= read -r {HOOK_TOKEN_ENV}; export {HOOK_TOKEN_ENV}; {command}",
            stdin=f"{token}\n{json.dumps(payload)}",
        )
        assert done == ""


async def test_events_spooled_during_a_drop_reach_the_hook_app_after_it(
    ssh_host: SshHost, remote_host: RemoteHost
) -> None:
    root = PurePosixPath(ssh_host.access.workdir) / "replay"
    relay = root / "relay.py"
    send, receive = anyio.create_memory_object_stream[Event](10)
    keys = HookKeys()
    token = keys.issue("worker-1", 1)
    app = create_hook_app(keys=keys, deliver=send.send, clock=SystemClock())
    link = HostLink(remote_host)
    async with anyio.create_task_group() as tg, send, receive:
        port = await tg.start(hookserver.serve, app)
        await link.open()
        url = f"http://127.0.0.1:{await link.forward(port)}/hooks/worker-1/1"
        spool = root / ".orchestra/spool/worker-1-1"
        await link.run(sh.write_file(relay), stdin=await anyio.Path(_relay.__file__).read_text())
        await hooks_on_the_host(link, relay, str(spool), token.reveal())
        assert len((await link.run(f"ls {sh.q(spool)}")).split()) == 2
        holding = f"grep -rlF -f - {sh.q(spool)} || true"  # the token, read from stdin
        assert await link.run(holding, stdin=token.reveal()) == ""  # never spooled
        launched = Launched(launch=1, pid=1, spool=Spool(folder=spool, url=url, token=token))
        sent = await replay(
            link, python="python3", relay=relay, launched={"worker-1": launched}, names=["worker-1"]
        )
        assert sent == 2
        with anyio.fail_after(10):
            events = [await receive.receive(), await receive.receive()]
        assert [type(e) for e in events] == [PromptSubmitted, TurnStopped]
        assert {e.instance for e in events} == {"worker-1"}
        assert await link.run(f"ls {sh.q(spool)}") == ""
        await link.run(f"rm -rf {shlex.quote(str(root))}")
        await link.close()
        tg.cancel_scope.cancel()
