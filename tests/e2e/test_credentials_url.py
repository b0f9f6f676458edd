"""A repository URL with a token: the run works over HTTP, and the token stays in one
private file, out of the clone, the worktrees and every instance's conversation."""

from __future__ import annotations

import subprocess
from pathlib import Path

from claude_orchestra.testing.git_http import GitHttpServer
from claude_orchestra.testing.sample import create_origin

from .conftest import open_target
from .test_rotation import set_options

TOKEN = "ghp-e2e-token-never-in-a-worktree"
TASKS = "- [ ] Create `greet.py` that greets\n- [ ] Create `shout.py` that shouts\n"


def test_a_run_over_http_with_a_token_in_the_url_keeps_it_in_one_private_file(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    served = tmp_path / "served"
    create_origin(served, extra_files={"TASKS.md": TASKS})
    with (
        GitHttpServer(served, user="x-access-token", password=TOKEN) as server,
        open_target(tmp_path / "run", scheduler="queue", merger="queue") as target,
    ):
        set_options(target, repositoryUrl=server.url("origin.git", with_credentials=True))
        result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    assert TOKEN not in result.stdout + result.stderr
    report = target.report()
    assert report["totals"]["tasksDone"] == 2
    assert report["config"]["repositoryUrl"].startswith("http://***@127.0.0.1:")
    holders = grep(TOKEN, target.workspace)
    assert holders == [str(target.workspace / ".orchestra" / "git-credentials")]
    pushed = git(served / "origin.git", "log", "--format=%s", "main")
    assert "worker-" in pushed  # the workers' work reached the HTTP origin


def grep(text: str, folder: Path) -> list[str]:
    found = subprocess.run(
        ["grep", "-rl", text, str(folder)], capture_output=True, text=True, check=False
    )
    return sorted(found.stdout.split())


def git(origin: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(origin), *args], capture_output=True, text=True, check=True
    ).stdout
