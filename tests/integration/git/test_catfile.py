"""The long-lived ``git cat-file --batch`` on real git: objects by name, odd names, a cap,
and a process that dies (between exchanges, and in the middle of one) or is never closed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_orchestra.errors import GitError
from claude_orchestra.git.catfile import (
    BatchObject,
    CatFile,
    Launch,
    cat_file_command,
    launch_cat_file,
)
from claude_orchestra.git.env import Checkout
from claude_orchestra.testing.gitrepos import commit, git

from .test_worktree import isolated_git

__all__ = ["isolated_git"]  # its autouse fixture applies here too

BINARY = bytes(range(256)) * 4


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    commit(path, "README.md", "hello\n")
    (path / "blob.bin").write_bytes(BINARY)
    (path / "with space ü.txt").write_text("odd\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "more")
    return path


@pytest.fixture
def objects(clone: Path) -> Iterator[CatFile]:
    with CatFile(Checkout.clone(clone)) as catfile:
        yield catfile


def shown(found: BatchObject | None) -> tuple[str, bytes | None] | None:
    return (found.kind, found.data) if found is not None else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_objects_come_back_in_order_with_their_bytes(objects: CatFile) -> None:
    readme, binary, odd, missing, tree, head = objects.objects(
        ["HEAD:README.md", "HEAD:blob.bin", "HEAD:with space ü.txt", "HEAD:nope", "HEAD:", "HEAD"],
        cap=1 << 20,
    )
    assert [shown(o) for o in (readme, binary, odd, missing)] == [
        ("blob", b"hello\n"),
        ("blob", BINARY),
        ("blob", b"odd\n"),
        None,
    ]
    assert [o.kind if o else None for o in (tree, head)] == ["tree", "commit"]
    assert objects.starts == 1


def test_an_object_over_the_cap_comes_back_without_its_bytes(objects: CatFile) -> None:
    big, after = objects.objects(["HEAD:blob.bin", "HEAD:README.md"], cap=100)
    assert (shown(big), big.size if big else 0) == (("blob", None), len(BINARY))
    assert shown(after) == ("blob", b"hello\n")  # the stream stayed in step


def test_many_names_go_in_chunks_and_one_process_answers_them_all(objects: CatFile) -> None:
    answers = objects.objects(["HEAD:README.md", "HEAD:nope"] * 500, cap=100)
    assert [a.data if a else None for a in answers] == [b"hello\n", None] * 500
    assert objects.starts == 1


def test_a_process_killed_between_exchanges_is_started_again(objects: CatFile) -> None:
    objects.objects(["HEAD:README.md"], cap=100)
    first = objects.pid
    assert first is not None
    os.kill(first, 9)
    (readme,) = objects.objects(["HEAD:README.md"], cap=100)
    assert shown(readme) == ("blob", b"hello\n")
    assert objects.starts == 2
    assert objects.pid != first


def dying(lines: int, times: int) -> tuple[list[int], Launch]:
    """A launcher whose first ``times`` processes pass on ``lines`` requests and end (the
    git behind them answers those and exits): a death in the middle of an exchange."""
    launched: list[int] = []

    def launch(where: Checkout) -> subprocess.Popen[bytes]:
        through = ["sh", "-c", f'head -n {lines} | "$@"', "sh", *cat_file_command(where)]
        process = launch_cat_file(where, through if len(launched) < times else ())
        launched.append(process.pid)
        return process

    return launched, launch


def test_a_process_that_dies_mid_exchange_is_restarted_and_asked_again(clone: Path) -> None:
    launched, launch = dying(lines=1, times=1)
    objects = CatFile(Checkout.clone(clone), launch=launch)
    try:
        answers = objects.objects(["HEAD:README.md", "HEAD:blob.bin", "HEAD:nope"], cap=1 << 20)
        assert [a.data if a else None for a in answers] == [b"hello\n", BINARY, None]
        assert objects.starts == 2
        assert not alive(launched[0])
    finally:
        objects.close()


def test_a_process_that_dies_twice_is_a_git_error(clone: Path) -> None:
    _, launch = dying(lines=0, times=2)
    objects = CatFile(Checkout.clone(clone), launch=launch)
    try:
        with pytest.raises(GitError, match="cat-file --batch"):
            objects.objects(["HEAD:README.md"], cap=100)
        assert objects.pid is None
        (readme,) = objects.objects(["HEAD:README.md"], cap=100)  # the third one lives
        assert shown(readme) == ("blob", b"hello\n")
    finally:
        objects.close()


def test_close_ends_the_process_and_a_later_read_starts_another(objects: CatFile) -> None:
    objects.objects(["HEAD:README.md"], cap=100)
    pid = objects.pid
    assert pid is not None
    objects.close()
    objects.close()
    assert objects.pid is None
    assert not alive(pid)
    objects.objects(["HEAD:README.md"], cap=100)
    assert objects.starts == 2


def test_one_never_closed_is_killed_with_a_resource_warning(clone: Path) -> None:
    held = [CatFile(Checkout.clone(clone))]
    held[0].objects(["HEAD:README.md"], cap=100)
    pid = held[0].pid
    assert pid is not None
    with pytest.warns(ResourceWarning, match="never closed"):
        held.clear()  # the last reference: collected here
    assert not alive(pid)


def test_an_unsafe_config_is_refused_before_cat_file_is_asked(
    clone: Path, objects: CatFile
) -> None:
    git(clone, "config", "core.pager", "less")  # overridden on the command line: allowed
    assert objects.objects(["HEAD:README.md"], cap=100)[0] is not None
    git(clone, "config", "filter.x.smudge", "touch /tmp/pwned")
    with pytest.raises(GitError, match=r"filter\.x\.smudge"):
        objects.objects(["HEAD:README.md"], cap=100)
