"""An instance against forged hook events: another launch's events and deaths change
nothing, a session id that is not a UUID never reaches ``--resume``, transcript paths
outside its own ``projects/`` are not kept, typed prompts carry no control characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.events import PaneDied, SessionStarted, TurnStopped
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.runtimes.claude_home import HookEndpoint, LaunchSpec
from claude_orchestra.workspace import Workspace

pytestmark = pytest.mark.anyio

SID = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


class RecordingRuntime:
    """Launches nothing: hands out pids and records what it is asked."""

    def __init__(self) -> None:
        self.specs: list[LaunchSpec] = []
        self.typed: list[str] = []
        self.next_pid = 100

    async def launch(self, name: str, spec: LaunchSpec) -> int:
        self.specs.append(spec)
        self.next_pid += 1
        return self.next_pid

    async def respawn(self, name: str, spec: LaunchSpec) -> int:
        return await self.launch(name, spec)

    async def type_text(self, name: str, text: str) -> None:
        self.typed.append(text)

    async def send_keys(self, name: str, *keys: str) -> None:
        pass

    async def capture(self, name: str) -> str:
        return ""

    async def terminate(self, name: str) -> None:
        pass

    async def kill(self, name: str) -> None:
        pass

    async def close(self) -> None:
        pass


def make(tmp_path: Path) -> tuple[Instance, RecordingRuntime, HookKeys]:
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    runtime = RecordingRuntime()
    keys = HookKeys(folder=workspace.host_dir)
    instance = Instance(
        "worker-1",
        Role.WORKER,
        tmp_path,
        workspace.home("worker-1"),
        worker=1,
        backend=runtime,
        credential=Credential(
            name="k1", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret("sk-a")}
        ),
        settings=LaunchSettings(
            claude=("claude",), endpoint=HookEndpoint(base_url="http://127.0.0.1:1"), keys=keys
        ),
        clock=ManualClock(),
    )
    return instance, runtime, keys


async def test_each_launch_has_its_own_token_and_only_its_events_count(tmp_path: Path) -> None:
    instance, runtime, keys = make(tmp_path)
    await instance.start()
    first_pid = instance.pid
    assert instance.launch == 1
    for launch in (0, 2):
        forged = SessionStarted(
            instance="worker-1", at=0.0, session_id=SID, source="startup", launch=launch
        )
        assert instance.is_stale(forged)
    instance.observe(
        SessionStarted(instance="worker-1", at=0.0, session_id=SID, source="startup", launch=1)
    )
    assert instance.state is InstanceState.IDLE
    await instance.restart(resume=False)
    assert instance.launch == 2
    tokens = [spec.env["CLAUDE_ORCHESTRA_HOOK_TOKEN"] for spec in runtime.specs]
    assert len(set(tokens)) == 2
    assert keys.accepts("worker-1", 2, f"Bearer {tokens[1]}")
    assert not keys.accepts("worker-1", 2, f"Bearer {tokens[0]}")
    old_death = PaneDied(
        instance="worker-1", at=0.0, exit_status=0, signal=None, pid=first_pid or 0, launch=1
    )
    wrong_pid = PaneDied(instance="worker-1", at=0.0, exit_status=0, signal=None, pid=1, launch=2)
    assert instance.is_stale(old_death)
    assert instance.is_stale(wrong_pid)


async def test_a_forged_session_id_never_reaches_resume(tmp_path: Path) -> None:
    instance, runtime, _ = make(tmp_path)
    instance.adopt("x --model evil", None)
    assert instance.session_id is None
    await instance.start()
    forged = TurnStopped(
        instance="worker-1", at=0.0, session_id="; rm -rf ~", last_message="", launch=1
    )
    instance.observe(forged)
    assert instance.session_id is None
    await instance.restart(resume=True)
    assert "--resume" not in runtime.specs[-1].command


async def test_transcript_paths_outside_its_own_projects_are_not_kept(tmp_path: Path) -> None:
    instance, _, _ = make(tmp_path)
    await instance.start()
    own = instance.home.projects_dir / "-w" / f"{SID}.jsonl"
    for path in ("/dev/zero", f"{instance.home.projects_dir}/../../../x.jsonl", str(own)):
        instance.observe(
            TurnStopped(
                instance="worker-1",
                at=0.0,
                session_id=SID,
                transcript_path=path,
                last_message="",
                launch=1,
            )
        )
    assert instance.transcripts == {str(own)}


async def test_typed_prompts_carry_no_escape(tmp_path: Path) -> None:
    instance, runtime, _ = make(tmp_path)
    await instance.start()
    instance.observe(
        SessionStarted(instance="worker-1", at=0.0, session_id=SID, source="startup", launch=1)
    )
    await instance.send("do it\x1b[201~\x03\r")
    assert runtime.typed == ["do it\ufffd[201~\ufffd\n"]
