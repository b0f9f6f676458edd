"""Carrying a killed run's Claude Code sessions into the resumed run's homes on a host
(stdlib only).

Run on the host by the ``remote`` runtime as
``python -I -S - OLD_ROOT NEW_ROOT [NAME SESSION CONFIG CWD]...`` with this file on
standard input (never written there), once the killed run's processes have ended and
before its run folder is removed. ``CONFIG`` (the instance's ``CLAUDE_CONFIG_DIR``) and
``CWD`` (its worktree) are relative to both run folders.

``claude --resume SESSION`` finds a conversation only as
``$CLAUDE_CONFIG_DIR/projects/<project dir name of the cwd>/SESSION.jsonl``
(:func:`project_dir_name`), and the resumed run's folder is another one, so the name
changes: the transcript is copied from the old home's project folder to the new one's,
with the session's own folder beside it (``SESSION/``: subagents' transcripts, tool
results) when there is one. Nothing else of the home is copied (never a credential).

The old home is the instance's to tamper with: every folder and file there is opened
without following a symbolic link, only regular files and folders are copied, and a
session id that is not a UUID is refused. The copies are private to the user.

It prints, per instance, ``carried NAME``, ``empty NAME`` (its transcript holds no
conversation: nothing to resume) or ``lost NAME REASON``
(:func:`~claude_orchestra.runtimes.remote.carried.parse_carried` reads that).
"""

from __future__ import annotations

import os
import re
import stat
import sys

_HEX = "[0-9a-fA-F]"
_SESSION_ID = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")
_MAX_NAME = 200
_ANY_OTHER = re.compile(r"[^a-zA-Z0-9]")
_CHUNK = 1 << 20
_USER_TURN = b'"type":"user"'
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_MAX_DEPTH = 8


def _java_hash(text: str) -> int:
    """JavaScript's ``(h << 5) - h + charCode | 0`` over UTF-16 code units."""
    value = 0
    units = text.encode("utf-16-le")
    for i in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


def project_dir_name(cwd: str) -> str:
    """The folder under ``projects/`` that Claude Code (the pinned version) keeps ``cwd``'s
    sessions in: every character outside ``[a-zA-Z0-9]`` becomes ``-`` (two for one
    outside the BMP: JavaScript counts UTF-16 units); a name over 200 characters is cut to
    200 and gets ``-`` and the base-36 hash of ``cwd``."""
    name = _ANY_OTHER.sub(lambda m: "--" if ord(m[0]) > 0xFFFF else "-", cwd)  # UTF-16 units
    if len(name) <= _MAX_NAME:
        return name
    return f"{name[:_MAX_NAME]}-{_base36(abs(_java_hash(cwd)))}"


def _open_dir(parts: list[str], base: str) -> int:
    """The folder ``base/parts...``, each of ``parts`` opened without following a link."""
    fd = os.open(base, _DIR)
    try:
        for part in parts:
            below = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_dir(parts: list[str], base: str) -> int:
    """The folder ``base/parts...``, made private where missing."""
    path = os.path.join(base, *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return os.open(path, _DIR)


def _copy_file(name: str, source: int, target: int) -> bool:
    """Copy regular file ``name`` from folder ``source`` to ``target``; whether it holds a
    user turn."""
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=source)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            raise OSError(f"{name} is not a regular file")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        dst = os.open(name, flags, 0o600, dir_fd=target)
        found, tail = False, b""
        try:
            while chunk := os.read(src, _CHUNK):
                found = found or _USER_TURN in tail + chunk
                tail = chunk[-len(_USER_TURN) :]
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view) :]
        finally:
            os.close(dst)
        return found
    finally:
        os.close(src)


def _copy_tree(source: int, target: int, depth: int = 0) -> None:
    """The regular files and folders in folder ``source`` into ``target`` (links skipped)."""
    if depth > _MAX_DEPTH:
        return
    for entry in os.scandir(source):
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(entry.name, 0o700, dir_fd=target)
            below = os.open(entry.name, _DIR, dir_fd=source)
            into = os.open(entry.name, _DIR, dir_fd=target)
            try:
                _copy_tree(below, into, depth + 1)
            finally:
                os.close(below)
                os.close(into)
        elif entry.is_file(follow_symlinks=False):
            _copy_file(entry.name, source, target)


def _copy_session(session: str, source: int, target: int) -> str:
    """``session``'s transcript and folder from project folder ``source`` to ``target``."""
    if not _copy_file(f"{session}.jsonl", source, target):
        os.unlink(f"{session}.jsonl", dir_fd=target)
        return "empty"
    try:
        below = os.open(session, _DIR, dir_fd=source)
    except FileNotFoundError:
        return "carried"
    try:
        os.mkdir(session, 0o700, dir_fd=target)
        into = os.open(session, _DIR, dir_fd=target)
        try:
            _copy_tree(below, into)
        finally:
            os.close(into)
    finally:
        os.close(below)
    return "carried"


def carry(old_root: str, new_root: str, session: str, config: str, cwd: str) -> str:
    """Copy ``session``'s transcript (and its folder) from the old home to the new one;
    ``carried``, ``empty`` or ``lost REASON``."""
    if not _SESSION_ID.fullmatch(session):
        return "lost not a session id"
    home = [p for p in config.split("/") if p]
    if ".." in home or ".." in cwd.split("/"):
        return "lost a path outside the run folder"
    old_project = project_dir_name(os.path.join(os.path.realpath(old_root), cwd))
    new_project = project_dir_name(os.path.join(os.path.realpath(new_root), cwd))
    try:
        source = _open_dir([*home, "projects", old_project], old_root)
    except OSError as exc:
        return f"lost no project folder in the old home ({exc.strerror or exc})"
    try:
        target = _make_dir([*home, "projects", new_project], new_root)
        try:
            return _copy_session(session, source, target)
        finally:
            os.close(target)
    except OSError as exc:
        return f"lost its transcript could not be copied ({exc.strerror or exc})"
    finally:
        os.close(source)


def main(argv: list[str]) -> int:
    """``OLD_ROOT NEW_ROOT [NAME SESSION CONFIG CWD]...``: carry each, print the outcomes."""
    if len(argv) < 2 or (len(argv) - 2) % 4:
        print(f"claude-orchestra carrying: bad arguments {argv!r}", file=sys.stderr)
        return 2
    os.umask(0o077)
    old_root, new_root, rest = argv[0], argv[1], argv[2:]
    for i in range(0, len(rest), 4):
        name, session, config, cwd = rest[i : i + 4]
        outcome = carry(old_root, new_root, session, config, cwd)
        word, _, reason = outcome.partition(" ")
        print(f"{word} {name} {reason}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
