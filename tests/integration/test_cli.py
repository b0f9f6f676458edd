"""The command line as a user meets it: help, errors, --version, colour, --json, init."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from claude_orchestra.cli import cli, main
from claude_orchestra.prerequisites import CLAUDE_CODE_VERSION

ROOT = Path(__file__).resolve().parents[2]
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m")


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m claude_orchestra ARGS`` with ``env`` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_version_names_the_package_and_the_pinned_claude(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("claude-orchestra ")
    assert f"Claude Code {CLAUDE_CODE_VERSION}" in out


def test_without_arguments_it_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "Usage: claude-orchestra" in err
    for name in cli.commands:
        assert name in err


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_a_description_and_an_example(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"Usage: claude-orchestra {name}" in out
    assert "Examples:" in out
    assert f"claude-orchestra {name}" in out.split("Examples:")[1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["status"], "Missing option '--workspace'"),
        (["run"], "--config: required"),
        (["run", "--resume"], "--resume: needs --workspace"),
        (["demo", "--workers", "25"], "'--workers'"),
        (["status", "--bogus"], "No such option '--bogus'"),
    ],
)
def test_bad_usage_is_one_line_on_stderr_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("claude-orchestra: ")
    assert says in line
    assert "claude-orchestra: claude-orchestra" not in line
    assert "Error:" not in line


def test_a_status_table_is_plain_in_a_pipe_and_json_on_request(tmp_path: Path) -> None:
    state = tmp_path / ".orchestra"
    state.mkdir()
    (state / "status.json").write_text(
        json.dumps(
            {
                "outcome": "complete",
                "updatedAt": 0,
                "tasks": {"total": 2, "done": 2},
                "instances": [
                    {"name": "manager", "state": "stopped", "credential": "oauth", "costUsd": 0.5},
                    {"name": "worker-1", "state": "stopped", "credential": "oauth"},
                ],
                "credentials": [{"name": "oauth", "status": "available"}],
                "spending": {"total": {"costUsd": 0.5, "tokens": 10}},
            }
        )
    )
    text = run("status", "--workspace", str(tmp_path))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("Run ended: complete")
    header = next(line for line in lines if line.startswith("instance"))
    manager = next(line for line in lines if line.startswith("manager"))
    assert header.index("state") == manager.index("stopped")  # aligned columns
    assert "\x1b[" not in text.stdout
    assert all(line == line.rstrip() for line in lines)
    document = json.loads(run("status", "--workspace", str(tmp_path), "--json").stdout)
    assert document["run"] == "ended: complete"


def test_colour_in_a_terminal_and_never_with_no_color() -> None:
    coloured = run("doctor", FORCE_COLOR="1")
    assert COLOUR.search(coloured.stdout)
    plain = run("doctor", FORCE_COLOR="1", NO_COLOR="1")
    assert plain.stdout
    assert not COLOUR.search(plain.stdout)


def test_doctor_json_is_a_document_a_script_can_read() -> None:
    result = run(
        "doctor", "--json", "--runtime", "sandbox", CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-t"
    )
    document = json.loads(result.stdout)
    assert document["claudeCodeVersion"] == CLAUDE_CODE_VERSION
    names = [check["name"] for check in document["checks"]]
    assert names[:1] == ["claude"]
    assert {"tmux", "git", "bwrap", "login"} <= set(names)
    assert all(c["status"] in {"ok", "warning", "problem"} for c in document["checks"])
    assert result.returncode == (0 if document["ok"] else 2)


def test_shell_completion_comes_from_click() -> None:
    result = run(_CLAUDE_ORCHESTRA_COMPLETE="bash_source")
    assert result.returncode == 0
    assert "_claude_orchestra_completion" in result.stdout


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def test_init_writes_a_folder_that_validates(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(repo)], check=True)
    git(repo, "switch", "-q", "-c", "orchestra-try")
    config = tmp_path / "config"

    made = run("init", "--repo", str(repo), str(config))
    assert made.returncode == 0, made.stderr
    settings = json.loads((config / "orchestrator.json").read_text())
    assert settings["repositoryUrl"] == str(origin)
    assert settings["branch"] == "orchestra-try"
    assert stat.S_IMODE((config / "api-keys.json").stat().st_mode) == 0o600
    assert "--dangerously-skip-permissions" in (config / "README.md").read_text()
    assert (repo / "PROJECT_DIRECTION.md").exists()
    assert git(repo, "status", "--porcelain") == "?? PROJECT_DIRECTION.md\n"  # not committed

    checked = run("validate", "--config", str(config), CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-t")
    assert checked.returncode == 0, checked.stderr
    assert "ok: 2 worker(s)" in checked.stdout
    verdict = json.loads(
        run(
            "validate", "--config", str(config), "--json", CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-t"
        ).stdout
    )
    assert verdict["ok"] is True
    assert verdict["branch"] == "orchestra-try"

    again = run("init", "--repo", str(repo), str(config))
    assert again.returncode == 2
    assert again.stderr.splitlines() == [f"claude-orchestra: CONFIG_DIR: {config} is not empty"]


def test_validate_refuses_a_machine_without_a_login(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "orchestrator.json").write_text(json.dumps({"repositoryUrl": str(tmp_path)}))
    env = {"HOME": str(tmp_path), "CLAUDE_CODE_OAUTH_TOKEN": "", "CLAUDE_CONFIG_DIR": ""}
    result = run("validate", "--config", str(config), **env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("claude-orchestra: login: ")
    assert "claude setup-token" in line
    verdict = json.loads(run("validate", "--config", str(config), "--json", **env).stdout)
    assert verdict["ok"] is False
    assert verdict["problems"][0].startswith("login: ")


def test_a_demo_that_cannot_start_leaves_nothing_behind(tmp_path: Path) -> None:
    """The demo checks before it makes anything: here tmux and git are missing."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    empty = tmp_path / "empty-path"
    empty.mkdir()
    claude = ROOT / "tools/node_modules/.bin/claude"
    result = run("demo", PATH=str(empty), TMPDIR=str(scratch), CLAUDE_ORCHESTRA_CLAUDE=str(claude))
    assert result.returncode == 2
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == ["tmux", "git"]
    assert list(scratch.iterdir()) == []
