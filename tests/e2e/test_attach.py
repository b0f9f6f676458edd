"""`claude-orchestra attach` on a real run: a terminal shows a worker's Claude Code, and
detaching leaves the run going."""

from __future__ import annotations

import pytest

from claude_orchestra.testing.faults import Fault
from tests.terminal import terminal

from .conftest import HOME, Target

pytestmark = pytest.mark.anyio


async def test_attach_shows_a_workers_claude_code_and_detach_returns(
    queued_target: Target,
) -> None:
    target = queued_target
    target.fake.inject("*", Fault.slow(delay=0.3), times=8)  # the run lasts while we look
    run = target.start()
    try:
        target.fake.wait_for_request(
            lambda r: "You are worker" in (r.last_user_text or ""), timeout=60
        )
        with terminal("e2e-attach", cwd=target.workspace.parent, env={"HOME": str(HOME)}) as term:
            await term.wait_for(lambda screen: bool(screen.strip()))
            term.type(f"claude-orchestra attach --workspace {target.workspace} worker-1")
            screen = await term.wait_for(lambda s: "You are worker" in s or "for shortcuts" in s)
            assert "worker-1" in screen  # tmux's status line names the window shown
            term.keys("C-b", "d")
            back = await term.wait_for(lambda s: "[detached" in s)
            assert "claude-orchestra attach" in back
        assert run.poll() is None  # detaching ended nothing
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err[-3000:]
        assert "claude-orchestra attach --workspace" in err  # `run` tells how to look
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
