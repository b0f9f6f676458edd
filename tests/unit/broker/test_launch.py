"""An instance behind the broker: each launch gets the broker's URL and a token of its
own, never the real key or login; its credential is the one the rotator holds for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.broker import Broker
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.events import FailureKind
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.runtimes.claude_home import HookEndpoint
from claude_orchestra.workspace import Workspace

from ..test_instance_hostile import RecordingRuntime

pytestmark = pytest.mark.anyio

KEY = "sk-ant-launch-test-key-" + "4" * 24
LOGIN = "sk-ant-oat01-launch-test-" + "5" * 24


async def test_a_launch_holds_a_token_and_the_real_credentials_stay_in_the_broker(
    tmp_path: Path,
) -> None:
    login_file = tmp_path / "login.json"
    login_file.write_text(json.dumps({"claudeAiOauth": {"accessToken": LOGIN}}))
    pool = (
        Credential(name="login", kind=CredentialKind.OAUTH, oauth_file=str(login_file)),
        Credential(name="k1", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret(KEY)}),
    )
    clock = ManualClock()
    rotator = AuthRotator(pool=pool, clock=clock)
    credentials = rotator.assign_initial(["worker-1"])
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    runtime = RecordingRuntime()
    async with Broker(RotatorPool(rotator=rotator, clock=clock), clock=clock) as broker:
        instance = Instance(
            "worker-1",
            Role.WORKER,
            tmp_path,
            workspace.home("worker-1"),
            worker=1,
            backend=runtime,
            credential=credentials["worker-1"],
            settings=LaunchSettings(
                claude=("claude",),
                endpoint=HookEndpoint(base_url="http://127.0.0.1:1"),
                keys=HookKeys(folder=workspace.host_dir),
                broker=broker,
            ),
            clock=clock,
        )
        await instance.start()
        await instance.restart(resume=False)
        assert instance.credential.name == "login"
        broker.pool.failed("worker-1", "login", FailureKind.RATE_LIMIT, reset_at=None, detail="")
        assert instance.credential.name == "k1"  # moved between two requests, no restart
        assert instance.snapshot().credential == "k1"
    first, second = (spec.env for spec in runtime.specs)
    assert first["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert first["ANTHROPIC_API_KEY"].startswith("sk-orchestra-broker-")
    assert first["ANTHROPIC_API_KEY"] != second["ANTHROPIC_API_KEY"]  # one per launch
    assert broker.tokens.holder(first["ANTHROPIC_API_KEY"]) is None  # replaced: refused
    home = workspace.instances / "worker-1"
    written = "".join(p.read_text() for p in home.rglob("*") if p.is_file())
    for secret in (KEY, LOGIN, KEY[-20:], LOGIN[-20:]):
        assert secret not in written
        assert secret not in json.dumps([dict(spec.env) for spec in runtime.specs])
    assert not (home / "config" / ".credentials.json").exists()
    # the token is approved as Claude Code's key, so the TUI asks nothing
    state = json.loads((home / "config" / ".claude.json").read_text())
    assert second["ANTHROPIC_API_KEY"][-20:] in state["customApiKeyResponses"]["approved"]
