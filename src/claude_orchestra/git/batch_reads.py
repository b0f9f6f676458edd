"""One round's reads of origin in a constant number of git processes.

:func:`read_round` answers, for a round of the origin watch, every file (``(commit,
path)``) and every commit range (``(tip, base)``) the cache could not: the files and the
commits they name through one exchange with a long-lived
:class:`~claude_orchestra.git.catfile.CatFile`, and all the ranges through one
``git rev-list --timestamp --parents ^<base> <tip>...`` (:func:`split_ranges` takes each
range out of the union, in git's order). So a round after a merge, which moves the run
branch and so every worker's list and range, costs one ``rev-list`` however many workers
there are, where reading them one by one forked three or four ``git`` processes per file
and per range.

The answers are those of :func:`~claude_orchestra.git.ops.read_file` and
:func:`~claude_orchestra.git.ops.commit_ids`, errors included (returned as values, so the
caller raises the one it would have met first). A path cat-file's line protocol cannot
carry as it is (a newline, a trailing carriage return, ``.`` or empty components, a
leading ``:``) is read by :func:`~claude_orchestra.git.ops.read_file` instead. Blocking:
run it in a worker thread.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import final

import attrs

from claude_orchestra.errors import GitError
from claude_orchestra.git import ops as gitops
from claude_orchestra.git.catfile import BatchObject, CatFile
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.session import session
from claude_orchestra.git.strings import reason_of

FileKey = tuple[str, str]
"""``(commit, path)``: a file at a commit (a commit id or a ref)."""
RangeKey = tuple[str, str]
"""``(tip, base)``: the commits in ``base..tip``."""


@final
@attrs.frozen(kw_only=True)
class RoundReads:
    """What a round read: each answer, or the :class:`GitError` reading it raised."""

    files: Mapping[FileKey, str | GitError | None]
    """File -> its text (``None``: the commit has no such file)."""
    ranges: Mapping[RangeKey, tuple[str, ...] | GitError]
    """Range -> its commits, oldest first (empty when the tip names no commit)."""


def read_round(
    objects: CatFile, where: Checkout, files: Sequence[FileKey], ranges: Sequence[RangeKey]
) -> RoundReads:
    """Read ``files`` and ``ranges`` in ``where``: one cat-file exchange, at most one
    ``rev-list`` per distinct base (a round has one), and ``read_file`` for odd paths.

    Raises:
        GitError: The checkout is unsafe or gone, or cat-file died twice.
    """
    batched = [key for key in files if _batchable(key[1])]
    revs = list(dict.fromkeys([c for c, _ in batched] + [r for key in ranges for r in key]))
    names = [f"{rev}^{{commit}}" for rev in revs]
    names += [f"{commit}:{path.strip('/')}" for commit, path in batched]
    answers = objects.objects(names, cap=gitops.MAX_FILE_READ) if names else []
    commits = {rev: _commit(found) for rev, found in zip(revs, answers, strict=False)}
    texts = dict(zip(batched, answers[len(revs) :], strict=True))
    read: dict[FileKey, str | GitError | None] = {}
    for commit, path in files:
        if (commit, path) not in texts:
            read[commit, path] = _read_file(where, commit, path)
        elif commits[commit] is None:
            read[commit, path] = _unknown(where, f"show {commit}:{path}", commit)
        else:
            read[commit, path] = _text(where, commit, path, texts[commit, path])
    return RoundReads(files=read, ranges=_ranges(where, ranges, commits))


def _batchable(path: str) -> bool:
    """Whether ``<commit>:<path>`` on one line names what ``ls-tree -- <path>`` lists."""
    inner = path.strip("/")
    parts = inner.split("/")
    return (
        bool(inner)
        and "\n" not in inner
        and not inner.endswith("\r")
        and not inner.startswith(":")
        and all(part not in ("", ".", "..") for part in parts)
    )


def _commit(found: BatchObject | None) -> str | None:
    return found.oid if found is not None and found.kind == "commit" else None


def _unknown(where: Checkout, op: str, rev: str) -> GitError:
    return GitError(where.work_tree, op, f"unknown revision {rev!r}")


def _read_file(where: Checkout, commit: str, path: str) -> str | GitError | None:
    try:
        return gitops.read_file(where, commit, path)
    except GitError as exc:
        return exc


def _text(
    where: Checkout, commit: str, path: str, found: BatchObject | None
) -> str | GitError | None:
    if found is None or found.kind != "blob":
        return None
    if found.data is None:  # an instance wrote it: never read it whole
        over = f"{path} at {commit} is {found.size} bytes, over {gitops.MAX_FILE_READ}"
        return GitError(where.work_tree, f"show {commit}:{path}", reason_of(over))
    return found.data.decode("utf-8", "replace")


def _ranges(
    where: Checkout, ranges: Sequence[RangeKey], commits: Mapping[str, str | None]
) -> dict[RangeKey, tuple[str, ...] | GitError]:
    """Each range, the ranges of one base read by one ``rev-list``."""
    found: dict[RangeKey, tuple[str, ...] | GitError] = {}
    by_base: dict[str, list[RangeKey]] = {}
    for tip, base in ranges:
        if commits[tip] is None:
            found[tip, base] = ()
        elif commits[base] is None:
            found[tip, base] = _unknown(where, "rev-list", base)
        else:
            by_base.setdefault(base, []).append((tip, base))
    for base, keys in by_base.items():
        tips = list(dict.fromkeys(str(commits[tip]) for tip, _ in keys))
        try:
            with session(where, "rev-list") as s:
                listing = s.run("rev-list", "--timestamp", "--parents", f"^{commits[base]}", *tips)
        except GitError as exc:
            found.update(dict.fromkeys(keys, exc))
            continue
        split = split_ranges(listing, tips)
        found.update({(tip, b): split[str(commits[tip])] for tip, b in keys})
    return found


def split_ranges(listing: str, tips: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each tip's commits, oldest first, out of ``git rev-list --timestamp --parents ^base
    tip...``, in the order ``git rev-list --reverse base..tip`` gives them.

    The listing holds every commit some tip reaches and the base does not, each with its
    commit time and parents. A commit is in ``base..tip`` exactly when the tip reaches it
    through listed commits (a path through a commit the base reaches would make the base
    reach it too). The order is not the listing's: a walk from several tips interleaves
    them differently where commit times tie, so each tip's walk is replayed as git walks a
    range: take the newest commit waiting (the first to wait, among equals), then queue
    its parents not yet seen, in order, each after every waiting commit at least as new.
    """
    times: dict[str, int] = {}
    parents: dict[str, list[str]] = {}
    for line in listing.splitlines():
        time, commit, *up = line.split()
        times[commit] = int(time)
        parents[commit] = up
    return {tip: _walk(tip, times, parents) for tip in tips}


def _walk(tip: str, times: Mapping[str, int], parents: Mapping[str, list[str]]) -> tuple[str, ...]:
    if tip not in parents:
        return ()
    waiting, keys = [tip], [-times[tip]]  # newest first; keys ascending
    seen = {tip}
    shown: list[str] = []
    while waiting:
        commit = waiting.pop(0)
        keys.pop(0)
        shown.append(commit)
        for parent in parents[commit]:
            if parent in parents and parent not in seen:
                seen.add(parent)
                at = bisect.bisect_right(keys, -times[parent])
                waiting.insert(at, parent)
                keys.insert(at, -times[parent])
    return tuple(reversed(shown))
