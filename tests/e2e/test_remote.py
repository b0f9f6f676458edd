"""Workers on a second host over SSH: the manager's side here, the workers in the host's own
tmux, origin and the fake API reached through reverse forwards. One run, with the SSH
connection killed mid-task: the worker is re-adopted (not restarted) and the run completes
with every commit on origin, and no secret on the host's disk."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import attrs

from claude_orchestra.runtimes.attach import RunTmux
from claude_orchestra.testing.faults import Fault, FaultKind
from claude_orchestra.testing.git_http import GitHttpServer
from claude_orchestra.testing.ledger import ApiRequest
from claude_orchestra.testing.sample import create_origin
from claude_orchestra.testing.ssh_host import SshHost
from claude_orchestra.testing.tools import pinned_claude
from claude_orchestra.testing.waiting import wait_until

from .conftest import KEY, Target, cli, open_target
from .test_resume import resume
from .test_rotation import set_options

TOKEN = "ghp-remote-e2e-token"
TASKS = "- [ ] Create `greet.py` that greets\n- [ ] Create `shout.py` that shouts\n"


@contextlib.contextmanager
def remote_target(tmp_path: Path, host: SshHost) -> Iterator[Target]:
    """A queue run over HTTP with a token in the URL, both workers on ``host``."""
    served = tmp_path / "served"
    create_origin(served, extra_files={"TASKS.md": TASKS})
    access = host.access
    claude = pinned_claude()
    assert claude is not None
    with (
        GitHttpServer(served, user="x-access-token", password=TOKEN) as server,
        open_target(tmp_path / "run", scheduler="queue", merger="queue") as target,
    ):
        set_options(
            target,
            repositoryUrl=server.url("origin.git", with_credentials=True),
            runtime="remote",
            maxRetries=6,  # the request cut with the connection is retried through the new one
            remoteHosts=[
                {
                    "name": "second",
                    "address": access.address,
                    "user": access.user,
                    "identityFile": str(access.identity_file),
                    "knownHosts": str(access.known_hosts),
                    "workers": 2,
                    "workdir": str(access.workdir),
                    "claudeCommand": str(claude),
                    "python": "/usr/bin/python3",
                }
            ],
        )
        yield target


def origin_log(tmp_path: Path) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(tmp_path / "served/origin.git"), "log", "--format=%an", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def assert_nothing_left_on(host: SshHost) -> None:
    """No file of a run, no process but sshd's, and no secret anywhere in the home."""
    access = host.access
    assert list(access.workdir.iterdir()) == []
    # the run's processes ended before the folder went (ending.py); an exited one may wait
    # a moment to be reaped, and the last SSH session to close
    anyio.run(
        functools.partial(wait_until, lambda: set(host.user_pids()) <= set(host.session_pids()))
    )
    for secret in (TOKEN, KEY):
        found = subprocess.run(
            ["grep", "-rl", secret, str(access.home)], capture_output=True, text=True, check=False
        )
        assert found.stdout == ""


def test_workers_on_a_second_host_survive_a_dropped_connection(
    tmp_path: Path, claude_binary: Path, tmux_binary: str, ssh_host: SshHost
) -> None:
    with remote_target(tmp_path, ssh_host) as target:
        target.fake.inject("*", Fault.hang(), times=1)  # a worker's first turn waits on us
        run = target.start()
        try:
            hung = target.fake.wait_for_request(lambda r: r.fault is FaultKind.HANG, timeout=180)
            for name in WORKERS:  # both launched (beside the loop) and at work
                target.fake.wait_for_request(lambda r, n=name: worker_of(r) == n, timeout=180)
            tmux = RunTmux.of(target.workspace)  # what `watch` and `attach` use: ssh
            assert {"worker-1", "worker-2"} <= set(tmux.windows())
            assert all(tmux.capture(name).strip() for name in ("worker-1", "worker-2"))
            for pid in ssh_host.session_pids():  # drop the orchestrator's SSH connection
                os.kill(pid, signal.SIGKILL)
            target.fake.release_hangs()
            _, err = run.communicate(timeout=400)
        finally:
            if run.poll() is None:
                run.terminate()
                _, err = run.communicate()
                print(err[-6000:])  # shown when the test fails
    assert run.returncode == 0, err[-4000:]
    report = target.report()
    assert report["totals"]["tasksDone"] == 2
    trouble = [i for i in report["incidents"] if i["kind"] == "runtime_trouble"]
    assert any("dropped" in i["evidence"] for i in trouble), report["incidents"]
    assert any("re-adopted" in i["action"] for i in trouble), report["incidents"]
    assert not [i for i in report["incidents"] if i["kind"] in {"instance_died", "instance_exited"}]
    assert hung.last_user_text  # a worker's turn was cut with the connection
    assert "worker-" in origin_log(tmp_path)
    assert_nothing_left_on(ssh_host)
    logs = "".join(p.read_text() for p in (target.workspace / ".orchestra/logs").iterdir())
    for secret in (TOKEN, KEY):
        assert secret not in err
        assert secret not in logs
        assert secret not in target.state("journal.jsonl").read_text()


def test_a_killed_run_resumes_and_cleanup_reaches_the_host(
    tmp_path: Path, claude_binary: Path, tmux_binary: str, ssh_host: SshHost
) -> None:
    with remote_target(tmp_path, ssh_host) as target:
        set_options(target, broker=True)  # the workers' spend is metered, and journaled
        run = target.start()
        try:
            for name in WORKERS:  # each worker is in a conversation ...
                target.fake.wait_for_request(lambda r, n=name: worker_of(r) == n, timeout=180)
            # ... and none may finish its task before the kill (a worker with nothing left
            # is rightly not prompted after the resume): every request from now on waits
            target.fake.inject("*", Fault.hang())
            for name in WORKERS:  # killed once each has run a tool: its work is on the host
                target.fake.wait_for_request(
                    lambda r, n=name: worker_of(r) == n and r.fault is FaultKind.HANG,
                    timeout=180,
                )
            os.kill(run.pid, signal.SIGKILL)
        finally:
            run.communicate(timeout=30)
        assert list(ssh_host.access.workdir.iterdir())  # the killed run's folder is there
        target.fake.clear_faults()
        target.fake.release_hangs()
        resumed = resume(target)
        _, err = resumed.communicate(timeout=400)
        assert resumed.returncode == 0, err[-4000:]
        cleaned = cli("cleanup", "--workspace", str(target.workspace))
    assert cleaned.returncode == 0, cleaned.stderr
    report = target.report()
    assert report["totals"]["tasksDone"] == 2
    assert not [i for i in report["incidents"] if "could not be carried" in i["evidence"]]
    # each worker went on in its LAST session, carried into the new run's folder on the host
    journal = target.state("journal.jsonl").read_text().splitlines()
    (entry,) = [json.loads(line) for line in journal if '"type": "RunResumed"' in line]
    assert set(WORKERS) <= set(entry["sessions"])
    for name in WORKERS:
        mine = [r for r in target.fake.requests if worker_of(r) == name and r.session_id]
        before = [r for r in mine if r.at < entry["recorded"]]
        after = [r for r in mine if r.at >= entry["recorded"]]
        assert before, name
        assert after, name
        assert after[0].session_id == before[-1].session_id, name
        assert after[0].cwd != before[-1].cwd  # another run folder: another project dir
    assert "worker-" in origin_log(tmp_path)
    assert_nothing_left_on(ssh_host)
    assert_spend_carried_over(target, journal, resumed_at=entry["recorded"])


def assert_spend_carried_over(target: Target, journal: list[str], *, resumed_at: float) -> None:
    """What the killed run's broker charged for the remote workers (their transcripts stay
    on the host) is in the resumed run's spending: each response as the fake served it,
    once."""
    charges = [json.loads(line) for line in journal if '"type": "ServedCharge"' in line]
    assert [c for c in charges if c["recorded"] < resumed_at]  # charged before the kill
    served = {r.message_id: r.usage for r in target.fake.requests if r.usage is not None}
    assert all(attrs.asdict(served[c["message_id"]]) == c["usage"] for c in charges)
    assert len({c["message_id"] for c in charges}) == len(charges)
    by_instance = target.report()["spending"]["byInstance"]
    for name in WORKERS:
        mine = [c for c in charges if c["attribution"]["instance"] == name]
        assert by_instance[name]["tokens"] == sum(sum(c["usage"].values()) for c in mine)


WORKERS = ("worker-1", "worker-2")


def worker_of(request: ApiRequest) -> str | None:
    """The worker whose worktree (on the host) sent ``request``."""
    if request.cwd is None or "/worktrees/" not in request.cwd:
        return None
    return request.cwd.rsplit("/", 1)[-1]


def test_behind_the_broker_remote_workers_are_counted_and_hold_no_key(
    tmp_path: Path, claude_binary: Path, tmux_binary: str, ssh_host: SshHost
) -> None:
    """With ``"broker": true`` the workers on the host reach the broker through the same
    reverse forwards: every request they make is metered as it streams and charged to the
    run's ledger (their transcripts stay on the host), and the key never leaves here."""
    with remote_target(tmp_path, ssh_host) as target:
        set_options(target, broker=True, maxRetries=0)
        result = target.run()
        cleaned = cli("cleanup", "--workspace", str(target.workspace))
    assert result.returncode == 0, result.stderr[-4000:]
    assert cleaned.returncode == 0, cleaned.stderr
    report = target.report()
    assert report["totals"]["tasksDone"] == 2
    broker = report["broker"]
    # every token the fake API served went through the broker, attributed to a worker there
    assert broker["total"]["tokens"] == attrs.asdict(target.fake.served_usage())
    assert set(broker["byInstance"]) == {"worker-1", "worker-2"}
    assert all(totals["requests"] > 0 for totals in broker["byInstance"].values())
    # ... and charged by the run's own ledger as each response ended (the transcripts are on
    # the host), so the report's spending and the budgets see the remote workers too
    assert report["totals"]["usage"] == broker["total"]["tokens"]
    by_instance = report["spending"]["byInstance"]
    assert all(by_instance[name]["tokens"] > 0 for name in ("worker-1", "worker-2"))
    # the requests came from the host's worktrees, through the forwards
    workdir = str(ssh_host.access.workdir)
    assert {r.cwd.startswith(workdir) for r in target.fake.requests if r.cwd} == {True}
    assert "worker-" in origin_log(tmp_path)
    assert_nothing_left_on(ssh_host)  # the key is in no file of the host's home
    for secret in (TOKEN, KEY):
        assert secret not in result.stderr
