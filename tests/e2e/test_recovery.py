"""Hangs and slow replies on a real run: stuck is found and recovered, slow is left alone."""

from __future__ import annotations

from claude_orchestra.testing.faults import Fault, FaultKind
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import Target
from .test_rotation import set_options


def at_work(target: Target) -> None:
    """Return once a worker has sent its first request."""
    target.fake.wait_for_request(lambda r: "You are worker" in (r.last_user_text or ""), timeout=60)


def test_a_hung_request_is_found_stuck_and_the_instance_recovers(target: Target) -> None:
    set_options(target, stuckThresholdMs=3000)  # quiet after 3 s, progress looked at 2 s later
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
    assert "no hook for 5 s" in incident["evidence"]
    assert incident["action"] == "restart with --resume, resend the prompt"
    # the restarted instance resumed its conversation and was given its prompt again
    later = [r for r in target.fake.requests if r.cwd == hung.cwd and r.number > hung.number]
    assert later
    assert later[0].session_id == hung.session_id
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    target.assert_nothing_left_running()


def test_a_slowly_streaming_reply_is_not_stuck(target: Target) -> None:
    set_options(target, stuckThresholdMs=3000)
    run = target.start()
    at_work(target)
    target.fake.inject("*", Fault.slow(delay=1.0), times=2)  # replies taking 10 s and more
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    slow = [r for r in target.fake.requests if r.fault is FaultKind.SLOW]
    assert len(slow) == 2
    assert all(r.status == 200 and r.usage is not None for r in slow)
    report = target.report()
    assert [i for i in report["incidents"] if i["kind"] in {"stuck", "gave_up"}] == []
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    # the watchdog did look: the turn was quiet long enough and was seen moving
    log = target.state("logs/orchestra.jsonl").read_text()
    assert "quiet but progressing" in log
