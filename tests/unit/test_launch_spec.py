"""The command line an instance's pane runs."""

from __future__ import annotations

from pathlib import Path

from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.runtimes.claude_home import (
    ClaudeHome,
    HookEndpoint,
    LaunchSpec,
    hook_settings,
)


def spec(tmp_path: Path, nice: int) -> LaunchSpec:
    home = ClaudeHome(path=tmp_path / "w1" / "config", host_dir=tmp_path / ".host" / "w1")
    return home.launch_spec(
        instance="worker-1",
        launch=1,
        endpoint=HookEndpoint(base_url="http://127.0.0.1:9"),
        claude=("claude",),
        cwd=tmp_path,
        credential=Credential(
            name="k1", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret("sk-a")}
        ),
        hook_token="tok",
        identity="worker-1",
        nice=nice,
    )


def test_a_nice_value_lowers_the_whole_pane_process_and_leaves_claude_first(
    tmp_path: Path,
) -> None:
    niced = spec(tmp_path, 10)
    assert niced.argv[:3] == ("nice", "-n", "10")
    assert niced.command[0] == "claude"  # the runtimes that rewrite claude's arguments
    assert "run" in niced.supervisor  # the relay still supervises


def test_nice_zero_runs_at_the_orchestrator_s_own_priority(tmp_path: Path) -> None:
    plain = spec(tmp_path, 0)
    assert "nice" not in plain.argv
    assert plain.argv[-len(plain.command) :] == plain.command


def test_the_settings_hold_the_hooks_of_this_launch_and_a_still_spinner() -> None:
    settings = hook_settings("worker-1", 3, HookEndpoint(base_url="http://127.0.0.1:9"))
    assert settings["prefersReducedMotion"] is True  # no redraws while the model thinks
    (stop,) = settings["hooks"]["Stop"]
    assert stop["hooks"][0]["url"] == "http://127.0.0.1:9/hooks/worker-1/3"
