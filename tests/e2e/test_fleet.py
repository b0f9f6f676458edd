"""A fleet that wastes nothing: no request on a credential known to be limited (before and
after ``run --resume``), and no worker prompted again for work its own branch shows done."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import WORKER_ACTIONS, Target, is_action, open_target
from .test_resume import kill_when, resume
from .test_rotation import add_second_key


def test_no_request_reaches_a_limited_key_during_its_cooldown_nor_after_a_resume(
    target: Target,
) -> None:
    # The manager starts on the first key, and so does a worker; the manager's first request
    # finds it limited (longer than the run): the idle worker moves before it is prompted.
    add_second_key(target)
    target.fake.inject("fake-api", Fault.rate_limit(retry_after=120))
    run = target.start()
    kill_when(target, run, lambda r: is_action(r, *WORKER_ACTIONS))
    taken_up = resume(target)
    _, err = taken_up.communicate(timeout=300)
    assert taken_up.returncode == 0, err[-3000:]
    on_first = [r for r in target.fake.requests if r.credential == "fake-api"]
    assert len(on_first) == 1, [(r.number, r.cwd) for r in on_first]  # the manager's first
    assert on_first[0].status == 429
    assert on_first[0].cwd == str(target.workspace / "repo")
    report = target.report()
    assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
    first = next(c for c in report["credentials"] if c["name"] == "fake-api")
    assert first["status"] == "cooling"  # carried over the resume, with its reset time
    # the workers that started on the limited key moved before their first prompt
    moved = [i for i in report["incidents"] if i["kind"] == "credential_unavailable"]
    assert moved
    assert all(i["instance"].startswith("worker-") for i in moved)
    assert all(i["action"] == "restart on second" for i in moved)


def test_eight_workers_in_the_manager_protocol_waste_no_turn(
    tmp_path: Path, claude_binary: Path, tmux_binary: str
) -> None:
    # More workers than tasks: each worker with a task does it once and waits for its
    # merge; nobody is prompted again for work its own branch already shows done.
    with open_target(tmp_path, workers=8) as target:
        result = target.run()
        assert result.returncode == 0, result.stderr[-3000:]
        report = target.report()
        assert report["incidents"] == []
        assert report["totals"]["tasksDone"] == len(DEFAULT_TASKS)
        prompted: Counter[tuple[str | None, str]] = Counter()
        for cwd in {r.cwd for r in target.fake.requests}:  # each worker's whole conversation
            last = max((r for r in target.fake.requests if r.cwd == cwd), key=lambda r: r.number)
            for typed in last.typed_prompts:
                tag = parse_prompt_tag(typed)
                if tag and tag.get("action") == "work":
                    prompted[cwd, str(tag["task"])] += 1
        assert len(prompted) == len(DEFAULT_TASKS)
        assert set(prompted.values()) == {1}, prompted
        journal = [
            json.loads(line) for line in target.state("journal.jsonl").read_text().splitlines()
        ]
        work = Counter(
            (e["instance"], e["task"])
            for e in journal
            if e["type"] == "Assignment" and e["kind"] == "work"
        )
        assert set(work.values()) == {1}, work
        latency = report["loopLatency"]
        assert latency["events"] > 0
        assert latency["p50Ms"] <= latency["p99Ms"] <= latency["maxMs"]
