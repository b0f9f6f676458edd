"""Files in instance-writable places: writes replace symlinks, reads refuse them, FIFOs and
oversized files; a bad file in an instance's home or transcripts never hangs or crashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claude_orchestra._safe_files import UnsafeFileError, read_capped, write_private
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.costs.transcripts import UsageLedger, has_conversation, transcript_size
from claude_orchestra.runtimes.claude_home import (
    ClaudeHome,
    HookEndpoint,
    LaunchSpec,
    write_launch_env,
)

KEY = "sk-ant-test-0123456789abcdefghijklmnop"
SID = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_a_write_replaces_a_planted_symlink_and_never_writes_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    outside.chmod(0o644)
    home = tmp_path / "home"
    home.mkdir()
    (home / "launch-env.json").symlink_to(outside)
    write_private(home / "launch-env.json", "secret")
    assert outside.read_text() == "untouched"
    assert not (home / "launch-env.json").is_symlink()
    assert (home / "launch-env.json").read_text() == "secret"
    assert (home / "launch-env.json").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["launch-env.json"]  # no temp left


def test_a_write_into_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "config").symlink_to(real)
    with pytest.raises(UnsafeFileError):
        write_private(tmp_path / "config" / ".claude.json", "{}")
    assert list(real.iterdir()) == []


def test_an_existing_file_becomes_private(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("new", 0o600)


def test_reads_refuse_symlinks_fifos_devices_and_oversized_files(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 101)
    (tmp_path / "ok").write_bytes(b"x" * 100)
    for name in ("zero", "fifo", "big"):
        with pytest.raises(UnsafeFileError):
            read_capped(tmp_path / name, 100)
    with pytest.raises(UnsafeFileError):
        read_capped(Path("/dev/zero"), 100)
    assert read_capped(tmp_path / "ok", 100) == b"x" * 100


def credential() -> Credential:
    return Credential(
        name="k1", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret(KEY)}
    )


def seed(home: ClaudeHome) -> None:
    home.seed(
        instance="worker-1",
        launch=1,
        trusted=[Path("/w")],
        credential=credential(),
        endpoint=HookEndpoint(base_url="http://127.0.0.1:1"),
    )


@pytest.mark.parametrize(
    "plant",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_text("[1]"),
        lambda p: p.write_text('{"projects": 7, "customApiKeyResponses": {"approved": 3}}'),
        lambda p: p.write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}"),
        lambda p: p.symlink_to("/dev/zero"),
        os.mkfifo,
        lambda p: p.mkdir(),
        lambda p: (p.mkdir(), (p / "x").write_text("x")),
    ],
)
def test_a_bad_claude_json_is_rewritten_never_a_crash_or_a_hang(
    tmp_path: Path, plant: object
) -> None:
    home = ClaudeHome(path=tmp_path / "w1" / "config", host_dir=tmp_path / ".host" / "w1")
    home.path.mkdir(parents=True)
    state = home.path / ".claude.json"
    plant(state)  # type: ignore[operator]
    seed(home)
    written = json.loads(state.read_text())
    assert written["hasCompletedOnboarding"] is True
    assert written["projects"]["/w"]["hasTrustDialogAccepted"] is True
    assert KEY[-20:] in written["customApiKeyResponses"]["approved"]


@pytest.mark.parametrize("planted", ["symlink", "file"])
def test_a_planted_config_folder_is_reclaimed_not_followed(tmp_path: Path, planted: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = ClaudeHome(path=tmp_path / "w1" / "config", host_dir=tmp_path / ".host" / "w1")
    home.path.parent.mkdir()
    if planted == "symlink":
        home.path.symlink_to(elsewhere)
    else:
        home.path.write_text("x")
    (home.settings_file).symlink_to(elsewhere / "settings-target")
    seed(home)
    assert list(elsewhere.iterdir()) == []
    assert home.path.is_dir()
    assert not home.path.is_symlink()
    assert (home.path / ".claude.json").is_file()
    assert not home.settings_file.is_symlink()


def test_the_launch_environment_is_written_outside_the_instance_home(tmp_path: Path) -> None:
    home = ClaudeHome(path=tmp_path / "w1" / "config", host_dir=tmp_path / ".host" / "w1")
    spec = home.launch_spec(
        instance="worker-1",
        launch=3,
        endpoint=HookEndpoint(base_url="http://127.0.0.1:9"),
        claude=("claude",),
        cwd=tmp_path,
        credential=credential(),
        hook_token="tok-of-launch-3",
        identity="worker-1",
    )
    assert spec.env_file == tmp_path / ".host" / "w1" / "launch-env.json"
    assert "http://127.0.0.1:9/panes/worker-1/3/died" in spec.supervisor
    assert "tok-of-launch-3" not in " ".join(spec.argv)
    assert write_launch_env(spec) == {}
    assert json.loads(spec.env_file.read_text())["CLAUDE_ORCHESTRA_HOOK_TOKEN"] == "tok-of-launch-3"
    assert isinstance(spec, LaunchSpec)


def test_transcripts_that_are_fifos_or_symlinks_are_skipped(tmp_path: Path) -> None:
    projects = tmp_path / "projects" / "-w"
    projects.mkdir(parents=True)
    os.mkfifo(projects / "fifo.jsonl")
    (projects / "zero.jsonl").symlink_to("/dev/zero")
    (projects / "gone.jsonl").symlink_to(tmp_path / "missing")
    line = {
        "type": "assistant",
        "message": {"id": "m1", "model": "claude-haiku-4-5", "usage": {"input_tokens": 5}},
    }
    (projects / f"{SID}.jsonl").write_text('{"type":"user"}\n' + json.dumps(line) + "\n")
    ledger = UsageLedger()
    ledger.read_tree(tmp_path / "projects")
    assert ledger.total.input_tokens == 5
    assert transcript_size(tmp_path / "projects") == (projects / f"{SID}.jsonl").stat().st_size
    named = [str(projects / "fifo.jsonl"), str(projects / f"{SID}.jsonl")]
    assert has_conversation(SID, named, tmp_path / "projects")
    outside = tmp_path / f"{SID}.jsonl"
    outside.write_text('{"type":"user"}\n')
    assert not has_conversation(SID, [str(outside)], tmp_path / "projects")  # not its own


def test_discarding_checkouts_removes_only_what_the_run_made(tmp_path: Path) -> None:
    from claude_orchestra.workspace import Workspace

    workspace = Workspace(tmp_path)
    repo, worktrees = workspace.checkouts
    repo.mkdir()
    worktrees.mkdir()
    (worktrees / "yours.txt").write_text("kept")
    workspace.discard_checkouts([repo, tmp_path / "elsewhere"])
    assert not repo.exists()
    assert (worktrees / "yours.txt").read_text() == "kept"
