"""The container runtime on a real run, where a container engine can run containers.

This machine's sandbox has a Docker client but no engine (and runc could not set rlimits
here anyway), so the test is skipped with the engine's own reason; the command the
runtime builds is unit-tested in ``tests/unit/runtimes/test_runtimes.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claude_orchestra.runtimes.container import DEFAULT_IMAGE, engine_problem
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import KEY, Target, environment, open_target
from .test_resume import lost_commits
from .test_rotation import set_options


def _why_not() -> str | None:
    engine = shutil.which("docker") or shutil.which("podman")
    if engine is None:
        return "no container engine client (docker, podman) is installed"
    problem = engine_problem(engine)
    if problem is not None:
        return f"the container engine cannot run containers here: {problem}"
    image = subprocess.run(
        [engine, "image", "inspect", DEFAULT_IMAGE], capture_output=True, check=False
    )
    if image.returncode != 0:
        return f"no {DEFAULT_IMAGE} image: docker build -t claude-orchestra -f docker/Dockerfile ."
    return None


WHY_NOT = _why_not()


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
def test_a_run_in_containers_completes_with_no_commit_lost(target: Target) -> None:
    set_options(target, runtime="container")
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    assert lost_commits(target) == set()
    target.assert_nothing_left_running()


def test_the_container_runtime_plumbing_with_a_stand_in_engine(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    """No isolation here (the stand-in runs the command on the host): this checks what the
    runtime asks of the engine, and that a whole (short: two tasks, no manager) run works
    through it."""
    tasks = "- [ ] Create `greet.py` that greets\n- [ ] Create `shout.py` that shouts\n"
    with open_target(
        tmp_path, files={"TASKS.md": tasks}, scheduler="queue", merger="queue"
    ) as target:
        run_through_a_stand_in_engine(target, tmp_path, claude_binary, workers=2)


def test_behind_the_broker_a_container_is_given_no_real_key(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    """The same plumbing with the broker on: what the container is given is the broker's
    URL and a token of its launch; the requests reach the API with the real key."""
    tasks = "- [ ] Create `greet.py` that greets\n"
    with open_target(
        tmp_path,
        files={"TASKS.md": tasks},
        workers=1,
        scheduler="queue",
        merger="queue",
        broker=True,
    ) as target:
        given = tmp_path / "engine-env.log"
        run_through_a_stand_in_engine(
            target, tmp_path, claude_binary, workers=1, more_env={"FAKE_ENGINE_ENV_LOG": str(given)}
        )
        environments = [json.loads(line) for line in given.read_text().splitlines()]
        assert environments
        for env in environments:
            assert KEY not in json.dumps(env)
            assert env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
            assert env["ANTHROPIC_API_KEY"]  # the broker's token for this launch
        served = target.fake.requests
        assert served
        assert {r.credential for r in served} == {"fake-api"}  # the real key, upstream
        # every request the API served went through the broker
        assert target.report()["broker"]["total"]["requests"] == len(served)


def run_through_a_stand_in_engine(
    target: Target,
    tmp_path: Path,
    claude_binary: Path,
    *,
    workers: int,
    more_env: dict[str, str] | None = None,
) -> None:
    """A whole run of ``workers`` workers (a task each) through the stand-in engine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    engine = bin_dir / "docker"
    engine.write_text(
        f'#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / "fake_engine.py"} "$@"\n'
    )
    engine.chmod(0o755)
    log = tmp_path / "engine.log"
    set_options(target, runtime="container")
    env = {
        **environment(),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_ENGINE_LOG": str(log),
        "FAKE_ENGINE_CLAUDE": str(claude_binary),
        **(more_env or {}),
    }
    result = target.run(env)
    assert result.returncode == 0, result.stderr[-3000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    runs = [c for c in calls if c[0] == "run"]
    names = {c[c.index("--name") + 1].split("-", 2)[-1] for c in runs}
    assert names == {f"worker-{n}" for n in range(1, workers + 1)}
    assert all(KEY not in " ".join(c) for c in calls)  # the key never on a command line
    assert all("ANTHROPIC_API_KEY" in c for c in runs)  # named, its value from the env
    assert any(c[:2] == ["ps", "--all"] for c in calls)  # close looked for leftovers
    assert target.report()["totals"]["tasksDone"] == workers
