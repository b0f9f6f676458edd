"""Hangs and slow replies on a real run: stuck is found and recovered, slow is left alone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import attrs

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.faults import Fault, FaultKind
from claude_orchestra.testing.messages import ToolUseBlock
from claude_orchestra.testing.sample import DEFAULT_TASKS
from claude_orchestra.testing.scripted import (
    UNWORKABLE,
    MessagesRequest,
    OrchestraScript,
    Reply,
    bash,
    text_reply,
    tool_reply,
)

from .conftest import QUICK_TASKS, WORKER_ACTIONS, Target, is_action, open_target


def at_work(target: Target) -> None:
    """Return once a worker has sent its first request."""
    target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)


def test_a_hung_request_is_found_stuck_and_the_instance_recovers(queued_target: Target) -> None:
    # The shipped defaults: stuck after 30 s without progress (the end-to-end figure, hang to
    # working again, is measured by bench/recovery.py).
    target = queued_target
    run = target.start()
    at_work(target)
    target.fake.inject("*", Fault.hang(), times=1)  # the next request never answers
    _, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-3000:]
    report = target.report()
    hung = next(r for r in target.fake.requests if r.fault is FaultKind.HANG)
    stuck = [i for i in report["incidents"] if i["kind"] == "stuck"]
    assert len(stuck) == 1, report["incidents"]
    (incident,) = stuck
    name = incident["instance"]
    folder = "repo" if name == "manager" else f"worktrees/{name}"
    assert hung.cwd == str(target.workspace / folder)
    quiet = re.search(r"no hook for (\d+) s, .* for (\d+) s;", incident["evidence"])
    assert quiet, incident["evidence"]
    # not before 30 s without progress (no false alarm), and found well within 45 s
    assert 30 <= int(quiet[2]) <= int(quiet[1]) < 45
    assert incident["action"] == "restart with --resume, resend the prompt"
    # the restarted instance resumed its conversation and was given its prompt again
    later = [r for r in target.fake.requests if r.cwd == hung.cwd and r.number > hung.number]
    assert later
    assert later[0].session_id == hung.session_id
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)
    target.assert_nothing_left_running()


@attrs.define
class LongBuild:
    """The orchestra script, except that one worker's commit runs a 40 s "build" first (a
    long tool call: no hook until it ends, and no streamed token either)."""

    inner: OrchestraScript = attrs.field(factory=OrchestraScript)
    built: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def respond(self, request: MessagesRequest) -> Reply:
        reply = self.inner.respond(request)
        tag = parse_prompt_tag(request.prompt) if request.prompt else None
        if tag and tag.get("action") == "task" and request.step == 2:
            with self.lock:
                if not self.built:
                    self.built.append(str(request.cwd))
                    (block,) = reply.blocks
                    assert isinstance(block, ToolUseBlock)
                    # Claude Code 2.1.328 refuses a command that starts with a long
                    # `sleep` ("Blocked: sleep 40 followed by: ..."), so the build waits
                    # in Python: a real 40 s tool call.
                    build = "python3 -c 'import time; time.sleep(40)'"
                    command = f"{build} && {block.input['command']}"
                    return tool_reply(bash(command, "Build, then commit and push"))
        return reply


def test_slow_replies_and_long_tool_calls_are_not_stuck(queued_target: Target) -> None:
    # The shipped defaults: a reply streaming for more than 30 s and a 40 s tool call are
    # both quiet for longer than the stuck threshold, and both are left alone.
    target = queued_target
    script = LongBuild()
    target.fake.script = script
    run = target.start()
    at_work(target)
    target.fake.inject("*", Fault.slow(delay=4.0), times=1)  # frames 4 s apart: 40 s and more
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    (slow,) = [r for r in target.fake.requests if r.fault is FaultKind.SLOW]
    assert slow.status == 200
    assert slow.usage is not None
    assert script.built
    transcripts = [p.read_text() for p in target.state("instances").rglob("*.jsonl")]
    assert transcripts
    assert not [t for t in transcripts if "<tool_use_error>" in t]  # the build really ran
    report = target.report()
    assert [i for i in report["incidents"] if i["kind"] in {"stuck", "gave_up"}] == []
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)
    # the watchdog did look: the turns were quiet long enough and were seen moving
    log = target.state("logs/orchestra.jsonl").read_text()
    assert "quiet but progressing" in log


def test_a_task_a_worker_cannot_finish_goes_back_to_the_manager(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    tasks = [
        "Create `greet.py` with a function that greets a person by name",
        f"Create `farewell.py` with a function that says goodbye {UNWORKABLE}",
    ]
    with open_target(tmp_path, tasks=tasks) as target:
        result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    kinds = [(i["kind"], i["instance"], i["action"]) for i in report["incidents"]]
    assert kinds[:2] == [
        ("idle_without_work", "worker-2", "prompt again"),
        ("gave_up", "worker-2", "hand the task back to the manager"),
    ]
    assert set(kinds) == set(kinds[:2])  # (a second replan, if the first failed, is the same)
    # the manager reworded the task, the worker did it, and it is on main
    assert "farewell.py" in target.git("ls-tree", "-r", "--name-only", "main").split()
    assert "Replan: reword handed-back tasks" in target.git("log", "main", "--format=%s")
    assert report["totals"]["tasksDone"] == 2
    refused = [r for r in target.fake.requests if is_action(r, *WORKER_ACTIONS, worker=2)]
    assert len({r.typed_prompts for r in refused}) >= 3  # the task, the follow-up, the redo


def claude_pid(target: Target, name: str) -> int:
    """The pid of instance ``name``'s ``claude`` process."""
    marker = str(target.workspace / ".orchestra" / "instances" / name)
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "/claude " in args and marker in args and "relay.py" not in args:
            return int(pid)
    raise AssertionError(f"no claude process for {name}")


def test_a_worker_killed_mid_task_is_restarted_and_the_run_completes(queued_target: Target) -> None:
    target = queued_target
    run = target.start()
    first = target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    # mid-task: its first tool has run, so the transcript holds the conversation
    seen = target.fake.wait_for_request(
        lambda r: r.cwd == first.cwd and r.number > first.number, timeout=60
    )
    name = Path(seen.cwd or "").name
    os.kill(claude_pid(target, name), signal.SIGKILL)
    _, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-3000:]
    report = target.report()
    died = [i for i in report["incidents"] if i["kind"] == "instance_died"]
    assert [(i["instance"], i["action"]) for i in died] == [(name, "restart with --resume")]
    later = [r for r in target.fake.requests if r.cwd == seen.cwd and r.number > seen.number]
    assert later[0].session_id == seen.session_id  # the same conversation, resumed
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)
    target.assert_nothing_left_running()


def test_a_worker_that_dies_again_is_restarted_after_a_back_off(queued_target: Target) -> None:
    target = queued_target
    run = target.start()
    first = target.fake.wait_for_request(lambda r: is_action(r, *WORKER_ACTIONS), timeout=60)
    name = Path(first.cwd or "").name
    os.kill(claude_pid(target, name), signal.SIGKILL)
    again = target.fake.wait_for_request(  # the restarted process at work
        lambda r: r.cwd == first.cwd and r.number > first.number, timeout=60
    )
    os.kill(claude_pid(target, name), signal.SIGKILL)
    _, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-3000:]
    report = target.report()
    died = [i for i in report["incidents"] if i["kind"] == "instance_died"]
    assert [i["action"] for i in died] == ["restart with --resume", "restart with --resume in 5 s"]
    back = next(r for r in target.fake.requests if r.cwd == first.cwd and r.number > again.number)
    assert back.at - died[1]["at"] >= 5  # it waited out its back-off
    assert report["totals"]["tasksDone"] == len(QUICK_TASKS)


@attrs.define
class CutOffBeforeCommit:
    """The orchestra script, except that the first worker turn ends after writing its files,
    before it commits them (as when a process is killed between the two)."""

    inner: OrchestraScript = attrs.field(factory=OrchestraScript)
    cut: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def respond(self, request: MessagesRequest) -> Reply:
        tag = parse_prompt_tag(request.prompt) if request.prompt else None
        if tag and tag.get("action") == "work" and request.step == 2:
            with self.lock:
                if not self.cut:
                    self.cut.append(str(request.cwd))
                    return text_reply("(the turn ends here, before the commit)")
        return self.inner.respond(request)


def test_work_left_uncommitted_is_committed_on_request_not_redone(target: Target) -> None:
    script = CutOffBeforeCommit()
    target.fake.script = script
    result = target.run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.report()
    (name,) = {Path(cwd).name for cwd in script.cut}
    asked = [i for i in report["incidents"] if i["kind"] == "idle_without_work"]
    assert [(i["instance"], i["action"]) for i in asked] == [(name, "ask it to commit them")]
    number = name.removeprefix("worker-")
    assert f"WORKER_{number}_TASK_LIST.md" in asked[0]["evidence"]  # its ticked list, unsaved
    subjects = target.git("log", "main", "--no-merges", "--format=%s").splitlines()
    assert any(s.endswith("(left uncommitted)") for s in subjects)
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    target.assert_worker_commits_on_origin()
