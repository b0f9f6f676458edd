"""Handing a killed run over to the run that resumes it, on the second host: the clone and
worktrees move into the new run folder as they are (uncommitted work too), each worker's
session is copied under the project folder Claude Code names after the new worktree, and
the old folder goes. A host that cannot be reached loses its workers' sessions."""

from __future__ import annotations

import secrets
import shlex
from pathlib import Path

import attrs
import pytest

from claude_orchestra.runtimes.base import CarriedSessions
from claude_orchestra.runtimes.remote.carrying import project_dir_name
from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.testing.ssh_host import SshHost

from .test_remote_close import on_host, runtime

pytestmark = pytest.mark.anyio

SESSION = "c58a1925-2c49-4b50-ad51-7c545b47ac5a"
HOME = ".orchestra/instances/worker-1/config"


def killed_run(root: Path) -> str:
    """Shell commands leaving what a killed run leaves in ``root``: a clone, worker-1's
    worktree with uncommitted work, its transcript."""
    q = shlex.quote
    repo, worktree = root / "repo", root / "worktrees/worker-1"
    project = root / HOME / "projects" / project_dir_name(str(root / "worktrees/worker-1"))
    git = "git -c user.name=t -c user.email=t@t"
    return " && ".join(
        [
            f"mkdir -p {q(str(project))}",
            f"git init -q -b main {q(str(repo))}",
            f"{git} -C {q(str(repo))} commit -q --allow-empty -m init",
            f"git -C {q(str(repo))} worktree add -q -b worker-1 {q(str(worktree))}",
            f"echo draft > {q(str(worktree / 'greet.py'))}",
            f'echo \'{{"type":"user"}}\' > {q(str(project / (SESSION + ".jsonl")))}',
        ]
    )


async def test_the_checkouts_and_the_session_go_on_in_the_new_run_folder(
    tmp_path: Path, ssh_host: SshHost, remote_host: RemoteHost
) -> None:
    old, new = f"orchestra-{secrets.token_hex(4)}", f"orchestra-{secrets.token_hex(4)}"
    workdir = ssh_host.access.workdir.resolve()
    await on_host(ssh_host, killed_run(workdir / old))
    handed = await runtime(tmp_path, remote_host, old).hand_over(
        {"worker-1": SESSION, "manager": SESSION}, successor=new
    )
    assert handed == CarriedSessions(carried=frozenset({"worker-1"}))
    assert not (workdir / old).exists()
    worktree = workdir / new / "worktrees/worker-1"
    assert (worktree / "greet.py").read_text() == "draft\n"
    assert (worktree / ".git").read_text().strip().startswith(f"gitdir: {workdir / new}/repo/")
    project = workdir / new / HOME / "projects" / project_dir_name(str(worktree))
    assert (project / f"{SESSION}.jsonl").read_text() == '{"type":"user"}\n'


async def test_a_host_out_of_reach_loses_its_workers_sessions(
    tmp_path: Path, remote_host: RemoteHost
) -> None:
    gone = attrs.evolve(remote_host, address="127.0.0.1", port=1)
    handed = await runtime(tmp_path, gone, "orchestra-old").hand_over(
        {"worker-1": SESSION}, successor="orchestra-new"
    )
    assert handed.carried == frozenset()
    assert list(handed.lost) == ["worker-1"]
    assert handed.lost["worker-1"].startswith("second: ")
