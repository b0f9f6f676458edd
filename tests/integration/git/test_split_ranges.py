"""One ``rev-list`` of every branch, split per branch, against ``rev-list --reverse
base..tip`` for each, on random histories: merges, equal commit times, clocks that go back."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_orchestra.git.batch_reads import split_ranges

from .test_worktree import isolated_git

__all__ = ["isolated_git"]  # its autouse fixture applies here too


def run(repo: Path, *args: str, time: int = 0) -> str:
    env = {
        **os.environ,
        "GIT_COMMITTER_DATE": f"{1_700_000_000 + time} +0000",
        "GIT_AUTHOR_DATE": f"{1_700_000_000 + time} +0000",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True, input=""
    )
    return done.stdout.strip()


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[int, list[int]]], int, list[int]]:
    """Commits (time, earlier parents), a base and some tips, by index."""
    count = draw(st.integers(2, 10))
    commits = []
    for index in range(count):
        parents = (
            draw(st.lists(st.integers(0, index - 1), max_size=2, unique=True)) if index else []
        )
        commits.append((draw(st.integers(0, 3)), parents))
    base = draw(st.integers(0, count - 1))
    tips = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=4, unique=True))
    return commits, base, tips


@settings(max_examples=40)
@given(history=histories())
def test_each_range_is_what_rev_list_gives_for_it_alone(
    history: tuple[list[tuple[int, list[int]]], int, list[int]],
) -> None:
    commits, base, tips = history
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        run(repo, "init", "-q")
        tree = run(repo, "mktree")  # the empty tree
        ids: list[str] = []
        for number, (time, parents) in enumerate(commits):
            options = [arg for p in parents for arg in ("-p", ids[p])]
            ids.append(run(repo, "commit-tree", tree, *options, "-m", str(number), time=time))
        tip_ids = [ids[t] for t in tips]
        listing = run(repo, "rev-list", "--timestamp", "--parents", f"^{ids[base]}", *tip_ids)
        split = split_ranges(listing, tip_ids)
        for tip in tip_ids:
            alone = run(repo, "rev-list", "--reverse", f"{ids[base]}..{tip}").split()
            assert list(split[tip]) == alone
