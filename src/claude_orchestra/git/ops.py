"""Blocking git operations on the clone and origin: the one door into git.

Cloning, fetching, pushing, preserving tips and reading commits live here; operations
inside one checkout (worktrees, merges) live in :mod:`claude_orchestra.git.checkout`. Every
function blocks. :mod:`claude_orchestra.git.worktree` runs them in worker threads
(``anyio.to_thread.run_sync``) and takes the main clone's lock around the ones that write
the shared ``.git``; nothing else should call them.

Each operation names its checkout as a :class:`~claude_orchestra.git.env.Checkout` (work
tree, git dir and common dir fixed when the orchestrator made them) and runs ``git``
through a :func:`~claude_orchestra.git.session.session`, with the configuration
:mod:`claude_orchestra.git.env` controls: nothing an instance writes into a worktree or a
git dir picks the repository, runs a hook, a helper or a filter. Git runs
non-interactively (no terminal prompt, no merge-message editor) and its exit status and
output are read rather than raised: a failure becomes one
:class:`~claude_orchestra.errors.GitError` whose reason is git's first meaningful line,
with credentials in URLs removed. No exception that quotes the command line (URL
included) is chained, so no traceback can show a token.

Nothing here moves a branch other than forward: no ``reset --hard``, ``clean``, forced
push, rebase or ``branch -D``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from claude_orchestra._safe_files import write_private
from claude_orchestra.errors import GitError
from claude_orchestra.git import env as gitenv
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.session import (
    PRESERVED_PREFIX,
    REMOTE,
    TRACKING,
    Session,
    fetch_origin,
    session,
    tracking,
)
from claude_orchestra.git.strings import check_ref_name, reason_of, split_credentials, url_secrets


def clone(
    url: str,
    dest: Path,
    *,
    branch: str,
    depth: int | None,
    timeout: float,
    credentials_file: Path | None = None,
) -> str:
    """Clone ``url`` into ``dest`` (absent or empty) with ``branch`` checked out.

    With ``credentials_file``, a user and password in an http(s) ``url`` go to that file
    (mode 0600) instead of the clone's config: origin's URL is stored without them and
    git's ``store`` helper reads them from the file, for the clone and every worktree. So
    no ``git remote -v`` in a worktree shows the token, and no command line holds it.

    Returns:
        Origin's URL as stored in the clone (without credentials).
    """
    op = "clone"
    secrets = url_secrets(url)
    store: str | None = None
    if credentials_file is not None:
        url, line = split_credentials(url)
        if line is not None:
            write_private(credentials_file, line + "\n")
            store = gitenv.credential_helper(credentials_file)
    check_ref_name(branch)
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    existed = dest.exists()
    if existed and (not dest.is_dir() or any(dest.iterdir())):
        raise GitError(dest, op, "destination exists and is not an empty directory")
    args = ["clone", "--origin", REMOTE, "--branch", branch]
    if depth is not None:
        args += ["--depth", str(depth), "--no-single-branch"]
    options: list[str] = []
    for key, value in gitenv.OVERRIDES:
        options += ["-c", f"{key}={value}"]
    if store is not None:
        options += ["-c", f"credential.helper={store}"]
    try:
        status, out, err = gitenv.run(
            ["git", *options, *args, "--", url, str(dest)],
            cwd=dest.parent if dest.parent.is_dir() else Path("/"),
            env=gitenv.clean_environment(),
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise GitError(dest, op, "git executable not found") from exc
    if status != 0:
        # Git leaves a partial clone behind when it is killed; dest held nothing of ours.
        _empty(dest, remove=not existed)
        if "not found in upstream" in err:
            raise GitError(dest, op, f"origin has no branch {branch!r}")
        raise GitError(dest, op, reason_of(err, out, secrets))
    checkout = Checkout.clone(dest, credentials_file=credentials_file if store else None)
    if store is not None:
        with session(checkout, "config credential.helper") as s:
            s.run("config", "credential.helper", "")  # no helper of the user's saves it
            s.run("config", "--add", "credential.helper", store)
    with session(checkout, "fetch") as s:  # the orchestrator's own view of origin
        fetch_origin(s, timeout)
    with session(checkout, "config remote.origin.url") as s:
        return s.run("config", "--get", f"remote.{REMOTE}.url").strip()


def _empty(directory: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
    elif directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def fetch(where: Checkout, *, timeout: float) -> None:
    """Fetch every branch and preserved ref of origin, pruning what origin deleted."""
    with session(where, "fetch") as s:
        fetch_origin(s, timeout)


def set_identity(where: Checkout, *, name: str, email: str) -> None:
    """Set ``user.name`` and ``user.email`` in the repository's own config."""
    with session(where, "config") as s:
        s.run("config", "user.name", name)
        s.run("config", "user.email", email)


MAX_FILE_READ: Final = 4 * 1024 * 1024
"""The largest file read from a commit (task lists, the task file: instances write them)."""


def read_file(where: Checkout, ref: str, file: str) -> str | None:
    """The text of ``file`` at ``ref``, or ``None`` if ``ref`` has no such file."""
    with session(where, f"show {ref}:{file}") as s:
        # Plumbing only: cat-file prints the blob as stored, no filter or textconv runs.
        listed = s.run("ls-tree", "-z", "-l", s.resolve(ref), "--", file.strip("/"))
        entry = listed.split("\0")[0]
        meta, _, _ = entry.partition("\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != "blob":
            return None
        if int(fields[3]) > MAX_FILE_READ:  # an instance wrote it: never read it whole
            raise s.error(f"{file} at {ref} is {fields[3]} bytes, over {MAX_FILE_READ}")
        return s.run("cat-file", "blob", fields[2])


def list_files(where: Checkout, ref: str, pattern: str) -> list[str]:
    """The names of the top-level files at ``ref`` matching the glob ``pattern``, sorted."""
    with session(where, f"ls-tree {ref}") as s:
        listed = s.run("ls-tree", "-z", s.resolve(ref))
    names = []
    for entry in listed.split("\0"):
        meta, _, name = entry.partition("\t")
        if meta.split()[1:2] == ["blob"] and fnmatch.fnmatchcase(name, pattern):
            names.append(name)
    return sorted(names)


def commit_ids(where: Checkout, ref: str, base: str) -> list[str]:
    """The commits in ``base..ref``, oldest first; empty when ``ref`` does not exist."""
    with session(where, "rev-list") as s:
        if not s.exists(ref):
            return []
        out = s.run("rev-list", "--reverse", f"{s.resolve(base)}..{s.resolve(ref)}")
        return out.split()


def commits_ahead(where: Checkout, ref: str, base: str) -> int:
    """How many commits ``ref`` has that ``base`` lacks; 0 when ``ref`` does not exist."""
    with session(where, "rev-list") as s:
        if not s.exists(ref):
            return 0
        return int(s.run("rev-list", "--count", f"{s.resolve(base)}..{s.resolve(ref)}"))


def remote_branches(where: Checkout) -> dict[str, str]:
    """Origin's branches as of the last fetch or push: name to commit id."""
    prefix = f"{TRACKING}/"
    with session(where, "for-each-ref") as s:
        out = s.run("for-each-ref", "--format=%(objectname) %(refname) %(symref)", prefix)
    branches: dict[str, str] = {}
    for line in out.splitlines():
        sha, ref, *symref = line.split()
        if not symref:
            branches[ref.removeprefix(prefix)] = sha
    return branches


def push(
    where: Checkout, src: str, dest_ref: str, *, timeout: float, set_upstream: bool = False
) -> None:
    """Push ``src`` to ``dest_ref`` on origin; never forced, a rejection is a GitError."""
    check_ref_name(dest_ref)
    with session(where, f"push {dest_ref}") as s:
        sha = s.resolve(src)  # a clear error for a missing source
        upstream = ["--set-upstream"] if set_upstream else []
        s.run(
            "push", "--quiet", *_receive_pack(s), *upstream, REMOTE, f"{src}:{dest_ref}",
            timeout=timeout,
        )  # fmt: skip
        if dest_ref.startswith("refs/heads/"):  # origin has it now: so does our view of it
            s.run("update-ref", tracking(dest_ref.removeprefix("refs/heads/")), sha)


def push_branches(
    where: Checkout, branches: Sequence[str], *, timeout: float
) -> dict[str, str | None]:
    """Push each local branch to origin's branch of the same name, in one ``git push``.

    Never forced. One refused branch does not stop the others.

    Returns:
        Branch -> ``None`` (pushed, or origin had it already) or git's reason for refusing it.

    Raises:
        GitError: git failed for every branch (origin unreachable, say).
    """
    if not branches:
        return {}
    specs = [f"refs/heads/{check_ref_name(b)}:refs/heads/{b}" for b in branches]
    with session(where, "push") as s:
        status, out, err = s.try_run(
            "push", "--porcelain", *_receive_pack(s), "--set-upstream", REMOTE, *specs,
            timeout=timeout,
        )  # fmt: skip
        results: dict[str, str | None] = {}
        for line in out.splitlines():
            flag, _, rest = line.partition("\t")
            spec, _, summary = rest.partition("\t")
            if ":refs/heads/" not in spec:
                continue
            branch = spec.split(":refs/heads/", 1)[1]
            results[branch] = (summary.strip() or "refused") if flag == "!" else None
        if status != 0 and not results:
            raise s.error(err, out)
        for branch, refused in results.items():
            if refused is None:  # origin has it now: so does our view of it
                s.run("update-ref", tracking(branch), s.resolve(f"refs/heads/{branch}"))
        reason = reason_of(err, out, s.secrets()) if status != 0 else "refused"
        return {b: results.get(b, reason) for b in branches}


_SAFE_RECEIVE_PACK: Final = (
    f"git -c core.hooksPath={os.devnull} -c core.alternateRefsCommand=true"
    " -c receive.autogc=false -c gc.auto=0 receive-pack"
)


def _receive_pack(s: Session) -> list[str]:
    """For an origin that is a folder on this machine, the push's receiving git runs on the
    host too, in a repository an instance may write (the sandbox lets pushes write there):
    it gets the overrides that keep its hooks and auto gc from running."""
    _, url, _ = s.try_run("config", "--get", f"remote.{REMOTE}.url")
    url = url.strip()
    remote = "://" in url and not url.startswith("file://")
    scp_like = re.match(r"^[\w.-]+@[\w.-]+:", url) is not None
    return [] if remote or scp_like else [f"--receive-pack={_SAFE_RECEIVE_PACK}"]


def preserve(where: Checkout, ref: str, name: str, *, timeout: float) -> str:
    """Pin ``ref``'s commit as ``refs/orchestra/preserved/<name>`` on origin and here."""
    full = check_ref_name(PRESERVED_PREFIX + name)
    with session(where, f"preserve {ref}") as s:
        sha = s.resolve(ref)
        s.run("push", "--quiet", *_receive_pack(s), REMOTE, f"{sha}:{full}", timeout=timeout)
        # The local copy mirrors origin (fetch prunes it if origin drops the ref).
        s.run("update-ref", full, sha)
    return full


def is_reachable_on_origin(where: Checkout, sha: str) -> bool:
    """Whether an origin branch or preserved ref contains ``sha`` (as of the last fetch)."""
    with session(where, "for-each-ref") as s:
        if not s.exists(sha):
            return False
        out = s.run(
            "for-each-ref",
            "--count=1",
            "--format=%(refname)",
            f"--contains={s.resolve(sha)}",
            f"{TRACKING}/",
            PRESERVED_PREFIX,
        )
        return bool(out.strip())
