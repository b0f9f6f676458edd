"""copy_worktree_files: local, usually git-ignored files copied into a worktree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_orchestra.errors import ConfigError
from claude_orchestra.git.worktree_files import copy_worktree_files


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "config").write_text("[core]\n")
    return path


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktrees" / "worker-1"
    path.mkdir(parents=True)
    return path


def test_env_files_are_copied_and_missing_ones_skipped(source: Path, worktree: Path) -> None:
    (source / ".env").write_text("A=1\n")
    assert copy_worktree_files(source, worktree) == [Path(".env")]
    assert (worktree / ".env").read_text() == "A=1\n"
    assert not (worktree / ".env.local").exists()


def test_nothing_to_copy(source: Path, worktree: Path) -> None:
    assert copy_worktree_files(source, worktree) == []


def test_worktreeinclude_paths_dirs_and_globs(source: Path, worktree: Path) -> None:
    (source / ".env.local").write_text("B=2\n")
    (source / ".worktreeinclude").write_text(
        "# local files\n\n  config/local  \n/secrets/*.pem\nmissing.txt\n**/*.cache\n"
    )
    (source / "config" / "local" / "nested").mkdir(parents=True)
    (source / "config" / "local" / "a.json").write_text("{}")
    (source / "config" / "local" / "nested" / "b.json").write_text("[]")
    (source / "secrets").mkdir()
    (source / "secrets" / "one.pem").write_text("1")
    (source / "secrets" / "two.txt").write_text("2")
    (source / "deep" / "er").mkdir(parents=True)
    (source / "deep" / "er" / "x.cache").write_text("x")
    (source / ".git" / "y.cache").write_text("never from .git")

    copied = copy_worktree_files(source, worktree)

    assert copied == [
        Path(".env.local"),
        Path("config/local/a.json"),
        Path("config/local/nested/b.json"),
        Path("deep/er/x.cache"),
        Path("secrets/one.pem"),
    ]
    assert (worktree / "config" / "local" / "nested" / "b.json").read_text() == "[]"
    assert not (worktree / "secrets" / "two.txt").exists()


def test_symlinks_are_copied_as_files(source: Path, worktree: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared.env"
    shared.write_text("SHARED=1\n")
    (source / ".env").symlink_to(shared)
    assert copy_worktree_files(source, worktree) == [Path(".env")]
    assert not (worktree / ".env").is_symlink()
    assert (worktree / ".env").read_text() == "SHARED=1\n"


def test_existing_files_are_never_overwritten(source: Path, worktree: Path) -> None:
    (source / ".env").write_text("NEW=1\n")
    (worktree / ".env").write_text("MINE=1\n")
    assert copy_worktree_files(source, worktree) == []
    assert (worktree / ".env").read_text() == "MINE=1\n"


def test_file_modes_are_kept(source: Path, worktree: Path) -> None:
    (source / ".worktreeinclude").write_text("run.sh\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    copy_worktree_files(source, worktree)
    assert os.access(worktree / "run.sh", os.X_OK)


def test_escaping_lines_are_refused_and_nothing_is_copied(source: Path, worktree: Path) -> None:
    (source / ".env").write_text("A=1\n")
    (source / ".worktreeinclude").write_text("ok.txt\n../x\nsub/../../y\n.git/config\n")
    with pytest.raises(ConfigError) as caught:
        copy_worktree_files(source, worktree)
    assert caught.value.problems == (
        "line 2: ../x: escapes the repository",
        "line 3: sub/../../y: escapes the repository",
        "line 4: .git/config: inside .git",
    )
    assert list(worktree.iterdir()) == []


def test_a_symlinked_directory_in_the_worktree_is_not_written_through(
    source: Path, worktree: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (worktree / "config").symlink_to(outside)
    (source / ".worktreeinclude").write_text("config\n")
    (source / "config").mkdir()
    (source / "config" / "a.json").write_text("{}")
    assert copy_worktree_files(source, worktree) == []
    assert list(outside.iterdir()) == []
