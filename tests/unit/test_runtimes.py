"""Runtimes: chosen by plugin, the sandbox's command built from the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra.claude_home import LaunchSpec
from claude_orchestra.errors import ConfigError, PrerequisiteError
from claude_orchestra.plugins import PluginHost
from claude_orchestra.runtime import RuntimeContext
from claude_orchestra.sandbox import SandboxPolicy, SandboxRuntime, worktree_git_dirs
from claude_orchestra.tmux import TmuxServer


def context(tmp_path: Path) -> RuntimeContext:
    return RuntimeContext(
        socket_name="orchestra-test",
        tmux_config=tmp_path / "tmux.conf",
        workspace=tmp_path / "ws",
        instances_dir=tmp_path / "ws" / ".orchestra" / "instances",
        token_file=tmp_path / "ws" / ".orchestra" / "hook-token",
        config_dir=tmp_path / "config",
        local_origin=tmp_path / "origin.git",
    )


def test_the_builtin_runtimes_are_plugins_and_an_unknown_name_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = PluginHost(load_entry_points=False)
    assert isinstance(host.runtime("local", context(tmp_path)), TmuxServer)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    sandbox = host.runtime("sandbox", context(tmp_path))
    assert isinstance(sandbox, SandboxRuntime)
    with pytest.raises(ConfigError) as caught:
        host.runtime("vm", context(tmp_path))
    assert str(caught.value).endswith(
        "orchestrator.json: runtime: no plugin provides 'vm' (built-in: local, sandbox)"
    )


def test_the_sandbox_needs_bubblewrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(PrerequisiteError, match="bwrap: the sandbox runtime needs bubblewrap"):
        SandboxPolicy.for_run(context(tmp_path))


def test_the_command_hides_first_then_opens_what_the_instance_may_write(tmp_path: Path) -> None:
    home = tmp_path / "ws" / ".orchestra" / "instances" / "worker-1"
    worktree = tmp_path / "ws" / "worktrees" / "worker-1"
    common = tmp_path / "ws" / "repo" / ".git"
    private = common / "worktrees" / "worker-1"
    for folder in (worktree, private, common / "objects", common / "refs", common / "logs"):
        folder.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {private}\n")
    (private / "commondir").write_text("../..\n")
    assert worktree_git_dirs(worktree) == (
        private,
        common / "objects",
        common / "refs",
        common / "logs",
    )
    policy = SandboxPolicy(
        bwrap="/usr/bin/bwrap",
        hidden_dirs=(home.parent,),
        hidden_files=(tmp_path / "config" / "api-keys.json",),
        writable=(tmp_path / "origin.git",),
    )
    spec = LaunchSpec(
        command=("claude", "--settings", str(home / "orchestra-settings.json")),
        cwd=worktree,
        env={"CLAUDE_CONFIG_DIR": str(home / "config"), "ANTHROPIC_API_KEY": "sk-ant-x"},
        supervisor=("relay", "run", "--"),
    )
    wrapped = policy.wrap(spec)
    argv = list(wrapped.argv)
    assert argv[:4] == ["relay", "run", "--", "/usr/bin/bwrap"]  # the relay stays outside
    assert argv[-4:] == ["--", "claude", "--settings", str(home / "orchestra-settings.json")]
    assert "sk-ant-x" not in " ".join(argv)  # secrets stay in the environment
    hide = argv.index("--tmpfs")
    opens = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert opens == [
        str(worktree),
        str(home),
        str(private),
        str(common / "objects"),
        str(common / "refs"),
        str(common / "logs"),
        str(tmp_path / "origin.git"),
    ]
    assert hide < argv.index("--bind")  # bwrap applies in order: the home is opened again
    assert argv[argv.index("--ro-bind", hide) + 1 : argv.index("--ro-bind", hide) + 3] == [
        "/dev/null",
        str(tmp_path / "config" / "api-keys.json"),
    ]
    assert wrapped.env["TMPDIR"] == str(home / "tmp")
    assert (home / "tmp").is_dir()
    assert "--unshare-pid" in argv
