"""The merge gate's command runs inside the run's runtime with a minimal environment
(issue #14, item 3): on the host for ``local``, in bubblewrap for ``sandbox``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import pytest

from claude_orchestra.runtimes.container import ContainerPolicy
from claude_orchestra.runtimes.gate import CommandResult, run_local
from claude_orchestra.runtimes.sandbox import SandboxPolicy, SandboxRuntime
from claude_orchestra.runtimes.tmux import TmuxServer

pytestmark = pytest.mark.anyio

needs_bwrap = pytest.mark.usefixtures("bwrap_binary")  # skipped locally, a failure under CI

PROBE = "; ".join(
    [
        "env | cut -d= -f1 | sort | tr '\\n' ' '; echo",
        "echo home=$HOME",
        "echo tmp=$TMPDIR",
        'cat "$SECRET_FILE" 2>/dev/null; echo secret=$?',
        'cat "$KEYS_FILE" 2>/dev/null | grep -c sk-ant; echo keys=$?',
        'touch "$OUTSIDE" 2>/dev/null; echo outside=$?',
        "touch built.txt; echo own=$?",
        'touch "$TMPDIR/scratch"; echo scratch=$?',
    ]
)


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A workspace with secrets beside the integration worktree, and the orchestrator's
    environment as a run has it (an API key, an OAuth token)."""
    ws = tmp_path / "ws"
    paths = {
        "cwd": ws / "integration",
        "state": ws / ".orchestra",
        "instances": ws / ".orchestra" / "instances",
        "secret": ws / ".orchestra" / "hook-token",
        "keys": tmp_path / "config" / "api-keys.json",
        "outside": tmp_path / "outside.txt",
    }
    for folder in ("cwd", "instances"):
        paths[folder].mkdir(parents=True)
    paths["keys"].parent.mkdir()
    paths["secret"].write_text("hook-secret-123")
    paths["keys"].write_text('{"keys": [{"name": "a", "key": "sk-ant-never"}]}')
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-orchestrator")
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "oauth-orchestrator")
    monkeypatch.setenv("ORCHESTRA_HOOK_TOKEN", "hook-secret-123")
    return paths


def probe(layout: dict[str, Path]) -> list[str]:
    # The paths reach the command inside it (the environment is minimal: no variable of
    # ours gets through, so they are written into the command line).
    prefix = (
        f"SECRET_FILE={layout['secret']} KEYS_FILE={layout['keys']} "
        f"OUTSIDE={layout['outside']}; export SECRET_FILE KEYS_FILE OUTSIDE; "
    )
    return ["bash", "-c", prefix + PROBE]


def facts(result: CommandResult) -> dict[str, str]:
    lines = result.output.splitlines()
    found = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    found["names"] = lines[0]
    return found


async def test_the_local_gate_runs_on_the_host_with_a_minimal_environment(
    layout: dict[str, Path],
) -> None:
    with anyio.fail_after(30):
        result = await run_local(probe(layout), cwd=layout["cwd"])
    assert result.passed, result.output
    seen = facts(result)
    names = set(seen["names"].split())
    assert names <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PWD", "SHLVL",
                     "_", "SECRET_FILE", "KEYS_FILE", "OUTSIDE", "OLDPWD"}  # fmt: skip
    assert "sk-ant" not in result.output
    assert "oauth-orchestrator" not in result.output
    assert seen["home"] != str(Path.home())
    assert seen["own"] == "0"
    assert (layout["cwd"] / "built.txt").exists()
    assert not await anyio.Path(seen["home"]).exists()  # the scratch HOME is removed after


@needs_bwrap
async def test_the_sandbox_gate_writes_only_its_worktree_and_sees_no_secret(
    layout: dict[str, Path],
) -> None:
    policy = SandboxPolicy(
        bwrap=shutil.which("bwrap") or "bwrap",
        hidden_dirs=(layout["instances"],),
        hidden_files=(layout["keys"],),
        state_dir=layout["state"],
    )
    runtime = SandboxRuntime(
        TmuxServer(socket_name="unused", config_file=Path("/dev/null")), policy
    )
    with anyio.fail_after(30):
        result = await runtime.run_command(probe(layout), cwd=layout["cwd"])
    assert result.passed, result.output
    seen = facts(result)
    assert "ANTHROPIC_API_KEY" not in seen["names"]
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in seen["names"]
    assert "ORCHESTRA_HOOK_TOKEN" not in seen["names"]
    assert "hook-secret-123" not in result.output
    assert seen["secret"] != "0"  # the orchestrator's folder is hidden
    assert seen["keys"] != "0"  # api-keys.json reads as empty
    assert seen["outside"] != "0"
    assert not layout["outside"].exists()
    assert seen["own"] == "0"
    assert seen["scratch"] == "0"
    assert (layout["cwd"] / "built.txt").exists()


async def test_a_gate_command_is_killed_with_all_it_started_at_its_deadline(
    tmp_path: Path,
) -> None:
    command = "(sleep 27.1828 </dev/null >/dev/null 2>&1 &) ; sleep 31.4159"
    with pytest.raises(TimeoutError), anyio.fail_after(1):
        await run_local(["bash", "-c", command], cwd=tmp_path)
    assert not still_running("sleep 27.1828")  # its background child too
    assert not still_running("sleep 31.4159")


def still_running(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return found.stdout.split()


def test_the_container_gate_mounts_only_the_worktree_and_its_scratch(tmp_path: Path) -> None:
    cwd = tmp_path / "integration"
    cwd.mkdir()
    (cwd / ".git").write_text("gitdir: /x\n")
    policy = ContainerPolicy(engine="/usr/bin/docker", run="orchestra-abcd", user="1000:1000")
    argv, env = policy.wrap_command(["bash", "-c", "make test"], cwd, tmp_path / "scratch")
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert mounts == [
        f"type=bind,source={cwd},target={cwd}",
        f"type=bind,source={tmp_path / 'scratch'},target={tmp_path / 'scratch'}",
        f"type=bind,source={cwd / '.git'},target={cwd / '.git'},readonly",
    ]
    passed = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert set(passed) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ"}
    assert argv[-4:] == ["claude-orchestra:latest", "bash", "-c", "make test"]
    assert not any(k.startswith(("ANTHROPIC", "CLAUDE")) for k in env)
