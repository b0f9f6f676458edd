"""Runtimes: chosen by plugin, the sandbox's command built from the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra.errors import ConfigError, PrerequisiteError
from claude_orchestra.plugins import PluginHost
from claude_orchestra.runtimes.base import RuntimeContext
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.container import ContainerPolicy
from claude_orchestra.runtimes.sandbox import SandboxPolicy, SandboxRuntime, git_mounts
from claude_orchestra.runtimes.tmux import TmuxServer


def context(tmp_path: Path) -> RuntimeContext:
    return RuntimeContext(
        socket_name="orchestra-test",
        tmux_config=tmp_path / "tmux.conf",
        workspace=tmp_path / "ws",
        instances_dir=tmp_path / "ws" / ".orchestra" / "instances",
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
        "orchestrator.json: runtime: no plugin provides 'vm' (built-in: local, sandbox, container)"
    )


def test_the_sandbox_needs_bubblewrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(PrerequisiteError, match="bwrap: the sandbox runtime needs bubblewrap"):
        SandboxPolicy.for_run(context(tmp_path))


def layout(tmp_path: Path, worker: str = "worker-1") -> tuple[Path, Path, Path, Path]:
    """A workspace as the orchestrator makes it: the clone's git dir, a worker's worktree
    and its private git dir, and the worker's home."""
    home = tmp_path / "ws" / ".orchestra" / "instances" / worker
    worktree = tmp_path / "ws" / "worktrees" / worker
    common = tmp_path / "ws" / "repo" / ".git"
    private = common / "worktrees" / worker
    for folder in (worktree, private, common / "objects", common / "refs", common / "logs"):
        folder.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {private}\n")
    (private / "commondir").write_text("../..\n")
    return common, worktree, private, home


@pytest.mark.parametrize("dot_git", ["as made", "gitdir: /", "gitdir: {ws}/.orchestra", "gone"])
def test_the_git_mounts_come_from_the_layout_never_from_the_dot_git_file(
    tmp_path: Path, dot_git: str
) -> None:
    common, worktree, private, _ = layout(tmp_path)
    if dot_git == "gone":
        (worktree / ".git").unlink()
    elif dot_git != "as made":
        (worktree / ".git").write_text(dot_git.format(ws=tmp_path / "ws"))
    mounts = git_mounts(tmp_path / "ws" / "repo", worktree)
    assert mounts.writable == (private, common / "objects", common / "refs", common / "logs")
    assert mounts.read_only == (worktree / ".git", private / "commondir", private / "gitdir")
    manager = git_mounts(tmp_path / "ws" / "repo", tmp_path / "ws" / "repo")
    assert manager.writable == (common,)
    assert manager.read_only == (common / "config", common / "hooks", common / "worktrees")


def test_the_command_opens_what_the_instance_may_write_then_hides(tmp_path: Path) -> None:
    common, worktree, private, home = layout(tmp_path)
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'ws' / '.orchestra'}\n")  # ignored
    policy = SandboxPolicy(
        bwrap="/usr/bin/bwrap",
        hidden_dirs=(home.parent,),
        hidden_files=(tmp_path / "config" / "api-keys.json",),
        writable=(tmp_path / "origin.git",),
        clone=tmp_path / "ws" / "repo",
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
    assert str(tmp_path / "ws" / ".orchestra") not in argv  # the rewritten .git is not read
    hide = argv.index("--tmpfs")
    opens = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert opens == [
        str(worktree),
        str(private),
        str(common / "objects"),
        str(common / "refs"),
        str(common / "logs"),
        str(tmp_path / "origin.git"),
        str(home),  # inside the hidden folder: opened again after it
    ]
    frozen = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind-try"]
    assert frozen[:3] == [
        str(worktree / ".git"),
        str(private / "commondir"),
        str(private / "gitdir"),
    ]
    # bwrap applies in order: every writable bind but the home, then the read-only files
    # inside them, then the hiding (no writable bind can show a hidden folder again).
    last_writable = max(i for i, a in enumerate(argv) if a == "--bind" and argv[i + 1] != str(home))
    assert last_writable < argv.index("--ro-bind-try") < hide
    assert hide < argv.index(str(home)) - 1
    assert argv[argv.index("--ro-bind", hide) + 1 : argv.index("--ro-bind", hide) + 3] == [
        "/dev/null",
        str(tmp_path / "config" / "api-keys.json"),
    ]
    assert wrapped.env["TMPDIR"] == str(home / "tmp")
    assert (home / "tmp").is_dir()
    assert "--unshare-pid" in argv


def shared(common: Path) -> tuple[Path, ...]:
    return (common / "objects", common / "refs", common / "logs")


def test_the_container_command_mounts_at_host_paths_and_names_variables_without_values(
    tmp_path: Path,
) -> None:
    common, worktree, private, home = layout(tmp_path, "worker-2")
    (private / "gitdir").write_text(f"{worktree / '.git'}\n")
    (tmp_path / "hook-token").write_text("t")
    policy = ContainerPolicy(
        engine="/usr/bin/podman",
        image="claude-orchestra:test",
        run="orchestra-abcd",
        readable=(tmp_path / "hook-token", tmp_path / "absent-credentials"),
        writable=(tmp_path / "origin.git",),
        user="1000:1000",
        clone=tmp_path / "ws" / "repo",
    )
    spec = LaunchSpec(
        command=("/host/tools/claude", "--settings", str(home / "orchestra-settings.json")),
        cwd=worktree,
        env={"CLAUDE_CONFIG_DIR": str(home / "config"), "ANTHROPIC_API_KEY": "sk-ant-y"},
        supervisor=("relay", "run", "--env-file", str(home / "launch-env.json"), "--"),
    )
    wrapped = policy.wrap(spec, "worker-2")
    argv = list(wrapped.argv)
    assert argv[5:9] == ["/usr/bin/podman", "run", "--rm", "--interactive"]
    assert "sk-ant-y" not in " ".join(argv)
    envs = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert envs == sorted(["ANTHROPIC_API_KEY", "CLAUDE_CONFIG_DIR", "HOME", "TMPDIR"])
    assert wrapped.env["ANTHROPIC_API_KEY"] == "sk-ant-y"  # for the engine to pass on
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    assert mounts == [
        f"type=bind,source={worktree},target={worktree}",
        f"type=bind,source={home},target={home}",
        *(f"type=bind,source={p},target={p}" for p in (private, *shared(common))),
        f"type=bind,source={tmp_path / 'origin.git'},target={tmp_path / 'origin.git'}",
        *(
            f"type=bind,source={p},target={p},readonly"
            for p in (worktree / ".git", private / "commondir", private / "gitdir")
        ),
        f"type=bind,source={tmp_path / 'hook-token'},target={tmp_path / 'hook-token'},readonly",
    ]
    assert argv[argv.index("--name") + 1] == "orchestra-abcd-worker-2"
    assert argv[argv.index("--label") + 1] == "io.claude-orchestra.run=orchestra-abcd"
    assert argv[argv.index("--network") + 1] == "host"
    assert argv[argv.index("--user") + 1] == "1000:1000"
    image = argv.index("claude-orchestra:test")
    assert argv[image + 1 :] == ["claude", "--settings", str(home / "orchestra-settings.json")]


def test_the_container_runtime_needs_an_engine_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = PluginHost(load_entry_points=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(PrerequisiteError, match="needs docker or podman"):
        host.runtime("container", context(tmp_path))
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(
        "claude_orchestra.defaults.runtimes.engine_problem",
        lambda engine: f"{engine} info: Cannot connect to the Docker daemon",
    )
    with pytest.raises(PrerequisiteError, match="cannot run containers: /usr/bin/docker info"):
        host.runtime("container", context(tmp_path))
