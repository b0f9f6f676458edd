"""One real Claude Code instance in real tmux, driven by its hooks, on the fake API."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest
from anyio.abc import ObjectReceiveStream

from claude_orchestra._clock import SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.events import Event, PaneDied, TurnFailed
from claude_orchestra.instance import Instance, LaunchSettings, Role
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.runtimes.claude_home import HookEndpoint
from claude_orchestra.runtimes.tmux import TmuxServer, tmux_config
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.scripted import EchoScript
from claude_orchestra.testing.waiting import wait_until
from claude_orchestra.workspace import Workspace

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-instance-0123456789abcdefghij"
NICE = 7


@attrs.define
class Rig:
    instance: Instance
    events: ObjectReceiveStream[Event]
    tmux: TmuxServer
    workdir: Path
    log: Path

    async def until(self, state: InstanceState, *, limit: float = 60) -> list[Event]:
        """Apply events until the instance reaches ``state``; returns what arrived.

        Like the coordinator, press Enter again while a prompt waits to be accepted.
        """
        seen: list[Event] = []
        with anyio.move_on_after(limit):
            while self.instance.state is not state:
                with anyio.move_on_after(2):
                    event = await self.events.receive()
                    seen.append(event)
                    self.instance.observe(event)
                    continue
                if self.instance.state is InstanceState.PROMPTED:
                    await self.instance.press("Enter")
        if self.instance.state is not state:
            screen = await self.tmux.capture(self.instance.name)
            panes = await anyio.run_process(
                [
                    "tmux",
                    "-L",
                    self.tmux.socket_name,
                    "list-panes",
                    "-a",
                    "-F",
                    "#{pane_pid} dead=#{pane_dead} #{pane_dead_status}/#{pane_dead_signal}",
                ]
            )
            log = self.log.read_text() if self.log.exists() else "(no relay log)"
            pytest.fail(
                f"still {self.instance.state.value} after {seen}; pid {self.instance.pid}; "
                f"panes {panes.stdout!r}; relay log {log!r}; screen:\n{screen}"
            )
        return seen


@asynccontextmanager
async def running_instance(
    tmp_path: Path, claude: Path, fake: FakeAnthropicAPI
) -> AsyncIterator[Rig]:
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    workdir = tmp_path / "work"
    await anyio.run_process(["git", "init", "-q", str(workdir)])
    keys = HookKeys(folder=workspace.host_dir)
    send, receive = anyio.create_memory_object_stream[Event](100)
    app = create_hook_app(keys=keys, deliver=send.send, clock=SystemClock())
    with send, receive:
        async with anyio.create_task_group() as tg:
            port = await tg.start(hookserver.serve, app)
            endpoint = HookEndpoint(base_url=f"http://127.0.0.1:{port}")
            workspace.tmux_config.write_text(
                tmux_config(
                    base_url=endpoint.base_url,
                    key_file=keys.key_file,
                    relay_log=workspace.logs / "relay.log",
                )
            )
            tmux = TmuxServer(
                socket_name=f"test-instance-{port}", config_file=workspace.tmux_config
            )
            credential = Credential(
                name="k1",
                kind=CredentialKind.ENV,
                env={"ANTHROPIC_API_KEY": Secret(KEY), "ANTHROPIC_BASE_URL": fake.base_url},
            )
            instance = Instance(
                "worker-1",
                Role.WORKER,
                workdir,
                workspace.home("worker-1"),
                worker=1,
                backend=tmux,
                credential=credential,
                settings=LaunchSettings(
                    claude=(str(claude),),
                    endpoint=endpoint,
                    keys=keys,
                    knobs={"CLAUDE_CODE_MAX_RETRIES": "0"},
                    nice=NICE,
                ),
                clock=SystemClock(),
            )
            try:
                yield Rig(
                    instance=instance,
                    events=receive,
                    tmux=tmux,
                    workdir=workdir,
                    log=workspace.logs / "relay.log",
                )
            finally:
                await tmux.close()
                tg.cancel_scope.cancel()


async def test_start_prompt_tool_and_stop_are_all_seen_through_hooks(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", KEY)
        async with running_instance(tmp_path, claude_binary, fake) as rig:
            await rig.instance.start()
            await rig.until(InstanceState.IDLE)
            assert rig.instance.session_id is not None

            await rig.instance.send("please run: echo made-by-bash > proof.txt")
            seen = await rig.until(InstanceState.IDLE)
            names = [type(e).__name__ for e in seen]
            assert names[0] == "PromptSubmitted"
            assert "ToolUsed" in names
            assert names[-1] == "TurnStopped"
            assert (rig.workdir / "proof.txt").read_text() == "made-by-bash\n"

            await rig.instance.stop()
            await rig.until(InstanceState.STOPPED)
            evidence = [change.evidence for change in rig.instance.history]
            assert evidence[:2] == ["launched", "SessionStart startup"]
            assert evidence[-1].startswith("SessionEnd")
            # the API key was approved by the seeding: no dialog ever stood in the way
            assert fake.requests[0].credential == "k1"


async def test_a_killed_process_is_reported_by_tmux_as_a_pane_death(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", KEY)
        async with running_instance(tmp_path, claude_binary, fake) as rig:
            await rig.instance.start()
            await rig.until(InstanceState.IDLE)
            await rig.instance.send("hello")
            await rig.until(InstanceState.IDLE)
            (transcript,) = rig.instance.transcripts
            # Claude Code writes the transcript a moment after the turn ends
            await wait_until(
                lambda: (
                    Path(transcript).exists()
                    and '"type":"assistant"' in Path(transcript).read_text()
                )
            )
            assert rig.instance.pid is not None
            # the pane runs the relay's wrapper; claude is its child
            children = Path(f"/proc/{rig.instance.pid}/task/{rig.instance.pid}/children")
            (claude,) = map(int, (await anyio.Path(children).read_text()).split())
            # both run behind the orchestrator for the CPU
            assert os.getpriority(os.PRIO_PROCESS, rig.instance.pid) == NICE
            assert os.getpriority(os.PRIO_PROCESS, claude) == NICE
            # ... and where Linux groups sessions for the CPU, so does the pane's session
            group = anyio.Path(f"/proc/{rig.instance.pid}/autogroup")
            if await group.exists():
                assert (await group.read_text()).split()[1:] == ["nice", str(NICE)]
            os.kill(claude, signal.SIGKILL)
            seen = await rig.until(InstanceState.DEAD)
            died = [e for e in seen if isinstance(e, PaneDied)]
            assert died
            assert died[0].signal == signal.SIGKILL

            session = rig.instance.session_id
            await rig.instance.restart(resume=True)
            await rig.until(InstanceState.IDLE)
            assert rig.instance.history[-1].evidence == "SessionStart resume"
            assert rig.instance.session_id == session
            await rig.instance.send("are you back?")
            await rig.until(InstanceState.IDLE)
            # the fake saw the earlier turn in the resumed conversation, same session
            last = fake.requests[-1]
            assert last.typed_prompts[0] == "hello"
            assert last.typed_prompts[-1] == "are you back?"
            assert last.session_id == session


async def test_an_api_error_ends_the_turn_in_stop_failure(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", KEY)
        fake.inject("k1", Fault.rate_limit(retry_after=3600))
        async with running_instance(tmp_path, claude_binary, fake) as rig:
            await rig.instance.start()
            await rig.until(InstanceState.IDLE)
            await rig.instance.send("hello")
            seen = await rig.until(InstanceState.RATE_LIMITED)
            failure = seen[-1]
            assert isinstance(failure, TurnFailed)
            assert "429" in failure.detail


async def test_when_the_relay_itself_is_killed_tmux_reports_the_death_with_the_launch_key(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    """The pane-died fallback runs on the host: it reads the instance's current launch and
    token from its key file (outside every instance's home) and posts to that launch."""
    with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", KEY)
        async with running_instance(tmp_path, claude_binary, fake) as rig:
            await rig.instance.start()
            await rig.until(InstanceState.IDLE)
            relay = rig.instance.pid
            assert relay is not None
            children = Path(f"/proc/{relay}/task/{relay}/children")
            (claude,) = map(int, (await anyio.Path(children).read_text()).split())
            os.kill(relay, signal.SIGKILL)  # nobody left to report the exit but tmux
            os.kill(claude, signal.SIGKILL)
            seen = await rig.until(InstanceState.DEAD)
            died = [e for e in seen if isinstance(e, PaneDied)]
            assert [(e.launch, e.pid) for e in died] == [(1, relay)]
            assert died[0].signal == signal.SIGKILL
