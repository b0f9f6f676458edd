"""`claude-orchestra watch` driven in a terminal (tmux send-keys, capture-pane) on a real
run: every instance listed, state changes appear, the attach key works and comes back."""

from __future__ import annotations

import pytest

from claude_orchestra.testing.faults import Fault
from tests.terminal import terminal

from .conftest import HOME, Target

pytestmark = pytest.mark.anyio


async def test_watch_follows_a_run_and_attaches_to_a_pane_and_back(queued_target: Target) -> None:
    target = queued_target
    target.fake.inject("*", Fault.hang())  # the workers' turns wait while we look
    run = target.start()
    try:
        target.fake.wait_for_request(
            lambda r: "You are worker" in (r.last_user_text or ""), timeout=60
        )
        with terminal("e2e-watch", cwd=target.workspace.parent, env={"HOME": str(HOME)}) as term:
            await term.wait_for(lambda screen: bool(screen.strip()))
            term.type(f"claude-orchestra watch --workspace {target.workspace}")
            live = await term.wait_for(lambda s: "Run running" in s and "worker-2" in s)
            assert "worker-1" in live
            assert " merges · " in live
            assert " incidents · spent $" in live
            assert "worker-1's screen" in live  # the first instance is selected
            term.keys("j")  # select worker-2
            await term.wait_for(lambda s: "worker-2's screen" in s)
            term.keys("Enter")  # attach to its pane
            attached = await term.wait_for(lambda s: "1:worker-2*" in s)  # tmux status line
            assert "Run running" not in attached  # the whole terminal is the pane now
            term.keys("C-b", "d")
            await term.wait_for(lambda s: "worker-2's screen" in s)  # back in the view
            target.fake.clear_faults()
            target.fake.release_hangs()  # the run goes on to its end, which the view shows
            ended = await term.wait_for(
                lambda s: "Run ended: complete" in s and "tasks 2/2 done" in s, limit=240
            )
            assert "worker-1" in ended  # a finished run still shows
            term.keys("q")
            await term.wait_for(lambda s: "worker-2's screen" not in s)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
