"""The main clone's local files (``.env``, what ``.worktreeinclude`` lists) copied into a
new worktree: copied, never linked, and never over a file the worktree has."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Final

from claude_orchestra.errors import ConfigError
from claude_orchestra.git.worktree import absolute

_ALWAYS_COPIED: Final = (".env", ".env.local")
_INCLUDE_FILE: Final = ".worktreeinclude"
_GLOB_CHARS: Final = frozenset("*?[")


def _include_entries(source: Path) -> list[str]:
    include = source / _INCLUDE_FILE
    if not include.is_file():
        return []
    lines = include.read_text(encoding="utf-8").splitlines()
    problems: list[str] = []
    entries: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # A leading "/" anchors a pattern at the repository's root, as in .gitignore.
        entry = line.lstrip("/")
        parts = PurePosixPath(entry).parts
        if ".." in parts or "\\" in entry or not parts:
            problems.append(f"line {number}: {line}: escapes the repository")
        elif parts[0] == ".git":
            problems.append(f"line {number}: {line}: inside .git")
        else:
            entries.append(entry)
    if problems:
        raise ConfigError(include, problems)
    return entries


def _expand(source: Path, entry: str) -> Iterable[Path]:
    if _GLOB_CHARS.isdisjoint(entry):
        candidate = source / entry
        return [candidate] if candidate.exists() else []
    return sorted(source.glob(entry))


def _files_under(top: Path) -> Iterable[Path]:
    if top.is_file():
        yield top
        return
    for directory, dirnames, filenames in os.walk(top):  # symlinked dirs are not entered
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in sorted(filenames):
            yield Path(directory, name)


def copy_worktree_files(source: Path, worktree: Path) -> list[Path]:
    """Copy the main clone's local files (usually git-ignored) into a worktree.

    Copies ``.env``, ``.env.local`` and every path listed in the source's
    ``.worktreeinclude``: one path or glob per line, relative to the repository root;
    ``#`` comments and blank lines are ignored and directories are copied recursively.
    Files are copied, never linked, and a file the worktree already has is never
    overwritten (so tracked files and a worker's own edits are safe). Missing paths are
    skipped. Blocking; call it in a thread.

    Args:
        source: The main clone.
        worktree: The worktree to fill.

    Returns:
        The files copied, relative to the repository root, sorted.

    Raises:
        ConfigError: A ``.worktreeinclude`` line escapes the repository (``../x``) or
            points into ``.git``; nothing is copied then.
    """
    source = absolute(source)
    worktree = absolute(worktree)
    inside = worktree.resolve()
    entries = [*_ALWAYS_COPIED, *_include_entries(source)]
    copied: set[Path] = set()
    for entry in entries:
        for top in _expand(source, entry):
            for file in _files_under(top):
                relative = file.relative_to(source)
                if relative.parts[0] == ".git" or not file.is_file():
                    continue
                target = worktree / relative
                if target.exists() or target.is_symlink():
                    continue
                if not target.parent.resolve().is_relative_to(inside):
                    continue  # a symlinked directory in the worktree points elsewhere
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)  # follows a symlinked source: a copy, no link
                shutil.copymode(file, target)
                copied.add(relative)
    return sorted(copied)
