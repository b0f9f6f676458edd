"""The relay's ``--env-fifo``: the launch environment comes through a named pipe (the
remote runtime writes it over SSH), which is read once and removed, and only this user's
pipe is accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from claude_orchestra.runtimes.claude_home import relay_command

NOWHERE = "http://127.0.0.1:9/panes/worker-1/1/died"  # the exit report fails quietly


def relay(env_fifo: Path, code: str) -> subprocess.CompletedProcess[str]:
    """The relay running ``python -c code`` with the environment from ``env_fifo``."""
    return subprocess.run(
        [
            *relay_command("run", NOWHERE, "--env-fifo", str(env_fifo), "--"),
            *(sys.executable, "-c", code),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_environment_comes_through_the_pipe_and_the_pipe_is_removed(tmp_path: Path) -> None:
    fifo = tmp_path / "env"
    os.mkfifo(fifo, 0o600)
    writer = threading.Thread(target=fifo.write_text, args=('{"SECRET_FOR_TEST": "s3"}',))
    writer.start()
    done = relay(fifo, "import os; print(os.environ['SECRET_FOR_TEST'])")
    writer.join(10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "s3"
    assert not fifo.exists()


def test_a_regular_file_in_the_pipes_place_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "env"
    planted.write_text('{"SECRET_FOR_TEST": "planted"}')
    done = relay(planted, "print('started')")
    assert done.returncode != 0
    assert "started" not in done.stdout
    assert "not this user's named pipe" in done.stderr
