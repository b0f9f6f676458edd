"""Secrets stay out of command lines and tmux while instances run."""

from __future__ import annotations

import json
import subprocess

from .conftest import KEY, Target


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False
    ).stdout


def test_no_key_is_on_a_command_line_or_in_tmux_while_the_run_works(target: Target) -> None:
    run = target.start()
    target.fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)
    socket = json.loads(target.state("run.json").read_text())["tmuxSocket"]
    session_env = tmux(socket, "show-environment", "-t", "orchestra")
    global_env = tmux(socket, "show-environment", "-g")
    processes = subprocess.run(
        ["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True
    ).stdout
    leftovers = list((target.workspace / ".orchestra" / "instances").glob("*/launch-env.json"))
    _, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-3000:]
    assert "ANTHROPIC_API_KEY" not in session_env  # later windows would inherit it
    assert KEY not in session_env
    assert KEY not in global_env
    assert KEY not in processes
    assert leftovers == []  # the relay deleted each file once it had read it
    assert target.report()["outcome"] == "complete"  # and every instance had its key
