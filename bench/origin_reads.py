"""The origin watch's reads at 16 branches: the batch reader against reading one at a time.

    .venv/bin/python bench/origin_reads.py [--workers 16] [--rounds 15]

A clone of a local origin with ``--workers`` worker branches, each worker's task list on
the run branch and on its own branch, commits on every branch, and a task file. Each round
makes three kinds of change, fetches once, then reads origin's facts with both readers,
in alternating order (``read(fetch=False)``: the fetch is the same for both and is measured
on its own):

- **run branch moved** (a merge: every worker's list and range are read again),
- **one branch moved** (a worker pushed: one list, one range),
- **nothing moved** (both answer from their per-commit cache).

The readers: :class:`~claude_orchestra.git.evidence.OriginReader` (one long-lived
``git cat-file --batch``, one ``rev-list`` for all ranges) and
:class:`~claude_orchestra.testing.forking_reader.ForkingOriginReader` (the code before:
``ls-tree`` + ``cat-file`` + ``rev-parse`` per file, ``rev-parse`` x3 + ``rev-list`` per
range). Per read: wall time, CPU time (this process's, its finished children's, and the
cat-file process's own, read from ``/proc``) and the processes started. Medians over
rounds, and the ratio batch / one at a time, in ``results/origin_reads.{md,json}``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from _results import stamp, write_results
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.tasklists import render_task_list, task_list_filename
from claude_orchestra.testing.forking_reader import ForkingOriginReader
from claude_orchestra.testing.gitrepos import advance_main, commit, git, make_origin

_TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("run branch moved", "one branch moved", "nothing moved")
READERS = ("one at a time", "batch")


_POPEN = subprocess.Popen


class _Counted(subprocess.Popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` that counts the processes started (the bench only)."""

    started = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _Counted.started += 1
        super().__init__(*args, **kwargs)


def _process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _cpu(batch: OriginReader) -> float:
    """CPU seconds so far: this process (every thread), its reaped children, cat-file."""
    times = os.times()
    return (
        time.process_time()
        + times.children_user
        + times.children_system
        + _process_cpu(batch.objects.pid)
    )


async def _measure(read: Callable[[], Awaitable[object]], batch: OriginReader) -> dict[str, float]:
    started, cpu, forks = time.perf_counter(), _cpu(batch), _Counted.started
    await read()
    return {
        "wall_ms": (time.perf_counter() - started) * 1000,
        "cpu_ms": (_cpu(batch) - cpu) * 1000,
        "processes": float(_Counted.started - forks),
    }


async def _setup(root: Path, workers: int) -> tuple[GitRepo, list[Worktree]]:
    repo = await GitRepo.clone(str(make_origin(root)), root / "ws" / "repo", branch="main")
    trees = [
        await repo.add_worktree(
            root / "ws" / "worktrees" / f"worker-{n}", branch=f"worker-{n}", base="main"
        )
        for n in range(1, workers + 1)
    ]
    for n in range(1, workers + 1):
        await advance_main(repo, task_list_filename(n), render_task_list(n, [f"task {n}"]))
    await advance_main(repo, "TASKS.md", "".join(f"- [ ] task {n}\n" for n in range(workers)))
    for tree in trees:
        git(tree.path, "merge", "-q", "origin/main")
        commit(tree.path, f"{tree.branch}.py", "x = 1\n")
        await tree.push()
    return repo, trees


async def _bench(workers: int, rounds: int) -> dict[str, Any]:
    subprocess.Popen = _Counted  # type: ignore[misc]
    try:
        return await _rounds(workers, rounds)
    finally:
        subprocess.Popen = _POPEN  # type: ignore[misc]


async def _rounds(workers: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="origin-reads-") as folder:
        repo, trees = await _setup(Path(folder), workers)
        numbers = tuple(range(1, workers + 1))
        branches = tuple(t.branch for t in trees)
        batch = OriginReader(
            repo=repo, run_branch="main", workers=numbers, branches=branches, task_file="TASKS.md"
        )
        naive = ForkingOriginReader(
            repo=repo, run_branch="main", workers=numbers, branches=branches, task_file="TASKS.md"
        )
        readers = {"one at a time": naive.read, "batch": batch.read}
        samples: dict[str, dict[str, list[dict[str, float]]]] = {
            kind: {name: [] for name in READERS} for kind in KINDS
        }
        fetches: list[dict[str, float]] = []
        async with batch:
            await repo.fetch()
            if await batch.read(fetch=False) != await naive.read(fetch=False):
                raise RuntimeError("the readers disagree")
            for index in range(rounds):
                for kind in KINDS:
                    if kind == "run branch moved":
                        await advance_main(repo, "TASKS.md", f"- [ ] round {index}\n")
                    elif kind == "one branch moved":
                        tree = trees[index % workers]
                        commit(tree.path, f"round-{index}.py", f"x = {index}\n")
                        await tree.push()
                    fetches.append(await _measure(repo.fetch, batch))
                    order = READERS if index % 2 == 0 else READERS[::-1]
                    for name in order:
                        read = readers[name]
                        sample = await _measure(functools.partial(read, fetch=False), batch)
                        samples[kind][name].append(sample)
            starts = batch.objects.starts
    return {"samples": samples, "fetches": fetches, "cat_file_starts": starts}


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def _table(result: dict[str, Any], workers: int, rounds: int) -> list[str]:
    samples = result["samples"]
    lines = [
        f"Origin reads, {result['date']}, {workers} branches, {rounds} rounds, medians "
        f"(load average {result['load_before']:.1f} before, {result['load_after']:.1f} after).",
        "",
        "| change since the last read | CPU: batch / one at a time | wall: batch / one at a time"
        " | git processes started |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        old, new = samples[kind]["one at a time"], samples[kind]["batch"]
        cpu_old, cpu_new = _median(old, "cpu_ms"), _median(new, "cpu_ms")
        wall_old, wall_new = _median(old, "wall_ms"), _median(new, "wall_ms")
        lines.append(
            f"| {kind} | {cpu_new / cpu_old:.2f}x ({cpu_new:.1f} vs {cpu_old:.1f} ms)"
            f" | {wall_new / wall_old:.2f}x ({wall_new:.1f} vs {wall_old:.1f} ms)"
            f" | {_median(new, 'processes'):.0f} vs {_median(old, 'processes'):.0f} |"
        )
    fetch_cpu, fetch_wall = (
        _median(result["fetches"], "cpu_ms"),
        _median(result["fetches"], "wall_ms"),
    )
    lines += [
        "",
        f"For scale, the round's fetch (the same for both): {fetch_cpu:.1f} ms CPU, "
        f"{fetch_wall:.1f} ms wall. The batch reader started cat-file "
        f"{result['cat_file_starts']} time(s) in the whole run.",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for key, value in {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }.items():
        os.environ[key] = value
    load_before = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile(suffix=".gitconfig") as config:
        os.environ["GIT_CONFIG_GLOBAL"] = config.name
        measured = anyio.run(_bench, args.workers, args.rounds)
    result = {
        **stamp(),
        "workers": args.workers,
        "rounds": args.rounds,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        **measured,
    }
    write_results("origin_reads", result, _table(result, args.workers, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
