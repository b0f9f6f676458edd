"""Blocking git operations over GitPython: the one door into git.

Every function here blocks. :mod:`claude_orchestra.worktree` runs them in worker threads
(``anyio.to_thread.run_sync``) and takes the main clone's lock around the ones that write
the shared ``.git``; nothing else should call them.

Each operation opens a ``git.Repo``, runs git and closes the repo again (GitPython keeps
``cat-file`` processes alive otherwise). Git runs non-interactively (no terminal prompt,
no merge-message editor) and its exit status and output are read rather than raised: a
failure becomes one :class:`~claude_orchestra.errors.GitError` whose reason is git's first
meaningful line, with credentials in URLs removed. No GitPython exception (whose message
quotes the command line, URL included) is chained, so no traceback can show a token.

Nothing here moves a branch other than forward: no ``reset --hard``, ``clean``, forced
push, rebase or ``branch -D``. A failed merge ends in ``git merge --abort``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, final
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs
import git

from claude_orchestra._safe_files import write_private
from claude_orchestra.errors import GitError, MergeConflict, UnmergedWorkError

REMOTE: Final = "origin"
"""The one remote the orchestra talks to."""

PRESERVED_PREFIX: Final = "refs/orchestra/preserved/"
"""Where tips are pinned before they could move other than forward.

The pins live on origin; the clone's refs of this name mirror origin's (a fetch prunes
them with the rest), so they are only ever written by :func:`preserve`.
"""

_FETCH_REFSPECS: Final = (
    f"+refs/heads/*:refs/remotes/{REMOTE}/*",
    f"+{PRESERVED_PREFIX}*:{PRESERVED_PREFIX}*",
)
# Git must never wait for a person: no credential prompt on a terminal, no editor for a
# merge message. Credential helpers still work (that is how private repos should be read).
_ENV: Final = {
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_EDITOR": "true",
}
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_NOISE: Final = ("hint:", "Cloning into", "Preparing worktree", "To ", "From ", "warning:")
_KILLED = re.compile(r"^Timeout: the command .* did not complete in (?P<seconds>\S+) secs")
_REF_COMPONENT_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


@final
@attrs.frozen(kw_only=True)
class WorktreeInfo:
    """One entry of ``git worktree list``: a checkout of the main clone's repository."""

    path: Path
    head: str | None
    """The commit checked out, or ``None`` before the first commit."""
    branch: str | None
    """The branch checked out (``worker-1``), or ``None`` for a detached HEAD."""
    is_main: bool
    """Whether this is the main clone itself rather than a linked worktree."""
    locked: bool = False
    prunable: bool = False
    """Git knows the worktree but its directory is gone."""


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with the user information of every URL and each of ``secrets`` removed.

    Args:
        text: Anything git printed.
        secrets: Values to blank out wherever they appear (a URL's password or token).

    Returns:
        The text, with ``https://user:token@host`` shown as ``https://***@host``.
    """
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that may be credentials: its password, else its user name.

    A token is often given as the user name alone (``https://TOKEN@host/repo.git``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found = [parts.password] if parts.password else [parts.username]
    return tuple({v for s in found if s for v in (s, unquote(s))})


def reason_of(stderr: str, stdout: str = "", secrets: Sequence[str] = ()) -> str:
    """Git's first meaningful line of output, credentials removed.

    A push's ``! [rejected] ...`` line and ``fatal:``/``error:`` lines come first, without
    their prefix; hints and progress lines never count.
    """
    killed = _KILLED.search(stderr)
    if killed:  # GitPython's watchdog killed git (kill_after_timeout)
        return f"timed out after {killed['seconds']} s"
    lines = [" ".join(line.split()) for line in f"{stderr}\n{stdout}".splitlines()]
    lines = [line for line in lines if line and not line.startswith(_NOISE)]
    for index, line in enumerate(lines):
        prefix = next((p for p in ("! ", "fatal: ", "error: ") if line.startswith(p)), None)
        if prefix is not None:
            # ssh and the server explain *why* just before git's generic last word.
            why = [p for p in lines[:index] if p.startswith(("ssh: ", "remote: "))][:1]
            return redact("; ".join([*why, line.removeprefix(prefix)]), secrets)
    return redact(lines[0], secrets) if lines else "failed"


def check_ref_name(name: str) -> str:
    """``name`` if git accepts it as a branch or ref name, else :class:`ValueError`."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("-")
        or name.endswith((".", "/"))
        or _REF_COMPONENT_BAD.search(name)
        or any(not p or p.startswith(".") or p.endswith(".lock") for p in parts)
        or name == "@"
    ):
        raise ValueError(f"not a valid git ref name: {name!r}")
    return name


def check_rev(rev: str) -> str:
    """``rev`` unless it could be read as an option (starts with ``-``) or is empty."""
    if not rev or rev.startswith("-") or "\x00" in rev:
        raise ValueError(f"not a revision: {rev!r}")
    return rev


@final
class Session:
    """A ``git.Repo`` opened for one operation, running git without raising."""

    def __init__(self, repo: git.Repo, path: Path, op: str) -> None:
        self.repo = repo
        self.path = path
        self.op = op

    def try_run(self, *args: str, timeout: float | None = None) -> tuple[int, str, str]:
        """Run ``git <args>``; return its exit status, stdout and stderr."""
        return self.repo.git.execute(
            ["git", *args],
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=timeout,
            env=_ENV,
        )

    def run(self, *args: str, timeout: float | None = None) -> str:
        """Run ``git <args>`` and return stdout, or raise :class:`GitError` with git's reason."""
        status, out, err = self.try_run(*args, timeout=timeout)
        if status != 0:
            raise self.error(err, out)
        return out

    def error(self, stderr: str, stdout: str = "") -> GitError:
        """The :class:`GitError` for output git printed while failing."""
        return GitError(self.path, self.op, reason_of(stderr, stdout, self._secrets()))

    def exists(self, rev: str) -> bool:
        """Whether ``rev`` names a commit."""
        status, _, _ = self.try_run(
            "rev-parse", "--verify", "--quiet", f"{check_rev(rev)}^{{commit}}"
        )
        return status == 0

    def resolve(self, rev: str) -> str:
        """The commit id ``rev`` names, or :class:`GitError` if it names none."""
        status, out, _ = self.try_run(
            "rev-parse", "--verify", "--quiet", f"{check_rev(rev)}^{{commit}}"
        )
        if status != 0:
            raise GitError(self.path, self.op, f"unknown revision {rev!r}")
        return out.strip()

    def _secrets(self) -> tuple[str, ...]:
        _, url, _ = self.try_run("config", "--get", f"remote.{REMOTE}.url")
        return url_secrets(url.strip())


@contextlib.contextmanager
def session(path: Path, op: str) -> Iterator[Session]:
    """Open the repository at ``path`` for one operation named ``op``; close it after."""
    try:
        repo = git.Repo(path)
    except git.NoSuchPathError as exc:
        raise GitError(path, op, "no such directory") from exc
    except git.InvalidGitRepositoryError as exc:
        raise GitError(path, op, "not a git repository") from exc
    try:
        yield Session(repo, path, op)
    except git.GitCommandNotFound as exc:
        raise GitError(path, op, "git executable not found") from exc
    finally:
        repo.close()


def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user and password, and a ``git credential-store`` line holding
    them (``None`` when an http(s) URL carries no password: it is left as it is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if parts.scheme not in {"http", "https"} or not parts.password:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, f"{parts.scheme}://{parts.netloc}"


def clone(
    url: str,
    dest: Path,
    *,
    branch: str,
    depth: int | None,
    timeout: float,
    credentials_file: Path | None = None,
) -> None:
    """Clone ``url`` into ``dest`` (absent or empty) with ``branch`` checked out.

    With ``credentials_file``, a user and password in an http(s) ``url`` go to that file
    (mode 0600) instead of the clone's config: origin's URL is stored without them and
    git's ``store`` helper reads them from the file, for the clone and every worktree. So
    no ``git remote -v`` in a worktree shows the token, and no command line holds it.
    """
    op = "clone"
    secrets = url_secrets(url)
    store: str | None = None
    helper: list[str] = []
    if credentials_file is not None:
        url, line = split_credentials(url)
        if line is not None:
            write_private(credentials_file, line + "\n")
            store = f"store --file={credentials_file}"
            helper = [
                "-c",
                "credential.helper=",
                "-c",
                f"credential.helper={store}",
            ]
    check_ref_name(branch)
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    existed = dest.exists()
    if existed and (not dest.is_dir() or any(dest.iterdir())):
        raise GitError(dest, op, "destination exists and is not an empty directory")
    args = ["clone", "--origin", REMOTE, "--branch", branch]
    if depth is not None:
        args += ["--depth", str(depth), "--no-single-branch"]
    runner = git.Git()
    try:
        status, out, err = runner.execute(
            ["git", *helper, *args, "--", url, str(dest)],
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=timeout,
            env=_ENV,
        )
    except git.GitCommandNotFound as exc:
        raise GitError(dest, op, "git executable not found") from exc
    finally:
        runner.clear_cache()
    if status != 0:
        # Git leaves a partial clone behind when it is killed; dest held nothing of ours.
        _empty(dest, remove=not existed)
        if "not found in upstream" in err:
            raise GitError(dest, op, f"origin has no branch {branch!r}")
        raise GitError(dest, op, reason_of(err, out, secrets))
    if store is not None:
        with session(dest, "config credential.helper") as s:
            s.run("config", "credential.helper", "")  # no helper of the user's saves it
            s.run("config", "--add", "credential.helper", store)


def _empty(directory: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
    elif directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def fetch(path: Path, *, timeout: float) -> None:
    """Fetch every branch and preserved ref of origin, pruning what origin deleted."""
    with session(path, "fetch") as s:
        _fetch(s, timeout)


_REF_RACE = ("cannot lock ref", ".lock': File exists")
"""What git says when another git process (a worker's own fetch or push in its worktree,
which shares the clone's refs) updated a ref at the same moment."""


def _fetch(s: Session, timeout: float, attempts: int = 4) -> None:
    """Fetch; a ref another git process moved meanwhile makes git give up on it, so the
    fetch is tried again (a back-off off the loop: this runs in a thread)."""
    for attempt in range(1, attempts + 1):
        status, out, err = s.try_run(
            "fetch", "--prune", "--quiet", REMOTE, *_FETCH_REFSPECS, timeout=timeout
        )
        if status == 0:
            return
        if attempt == attempts or not any(race in err for race in _REF_RACE):
            raise s.error(err, out)
        time.sleep(0.1 * attempt)


def set_identity(path: Path, *, name: str, email: str) -> None:
    """Set ``user.name`` and ``user.email`` in the repository's own config."""
    with session(path, "config") as s:
        s.run("config", "user.name", name)
        s.run("config", "user.email", email)


def read_file(path: Path, ref: str, file: str) -> str | None:
    """The text of ``file`` at ``ref``, or ``None`` if ``ref`` has no such file."""
    with session(path, f"show {ref}:{file}") as s:
        tree = s.repo.commit(s.resolve(ref)).tree
        try:
            item = tree / file.strip("/")
        except KeyError:
            return None
        if not isinstance(item, git.Blob):
            return None
        data: bytes = item.data_stream.read()
        return data.decode("utf-8", errors="replace")


def list_files(path: Path, ref: str, pattern: str) -> list[str]:
    """The names of the top-level files at ``ref`` matching the glob ``pattern``, sorted."""
    with session(path, f"ls-tree {ref}") as s:
        tree = s.repo.commit(s.resolve(ref)).tree
        return sorted(b.name for b in tree.blobs if fnmatch.fnmatchcase(b.name, pattern))


def commit_ids(path: Path, ref: str, base: str) -> list[str]:
    """The commits in ``base..ref``, oldest first; empty when ``ref`` does not exist."""
    with session(path, "rev-list") as s:
        if not s.exists(ref):
            return []
        out = s.run("rev-list", "--reverse", f"{s.resolve(base)}..{s.resolve(ref)}")
        return out.split()


def commits_ahead(path: Path, ref: str, base: str) -> int:
    """How many commits ``ref`` has that ``base`` lacks; 0 when ``ref`` does not exist."""
    with session(path, "rev-list") as s:
        if not s.exists(ref):
            return 0
        return int(s.run("rev-list", "--count", f"{s.resolve(base)}..{s.resolve(ref)}"))


def remote_branches(path: Path) -> dict[str, str]:
    """Origin's branches as of the last fetch or push: name to commit id."""
    prefix = f"refs/remotes/{REMOTE}/"
    with session(path, "for-each-ref") as s:
        out = s.run("for-each-ref", "--format=%(objectname) %(refname) %(symref)", prefix)
    branches: dict[str, str] = {}
    for line in out.splitlines():
        sha, ref, *symref = line.split()
        if not symref:
            branches[ref.removeprefix(prefix)] = sha
    return branches


def push(
    path: Path, src: str, dest_ref: str, *, timeout: float, set_upstream: bool = False
) -> None:
    """Push ``src`` to ``dest_ref`` on origin; never forced, a rejection is a GitError."""
    check_ref_name(dest_ref)
    with session(path, f"push {dest_ref}") as s:
        s.resolve(src)  # a clear error for a missing source
        upstream = ["--set-upstream"] if set_upstream else []
        s.run("push", "--quiet", *upstream, REMOTE, f"{src}:{dest_ref}", timeout=timeout)


def preserve(path: Path, ref: str, name: str, *, timeout: float) -> str:
    """Pin ``ref``'s commit as ``refs/orchestra/preserved/<name>`` on origin and here."""
    full = check_ref_name(PRESERVED_PREFIX + name)
    with session(path, f"preserve {ref}") as s:
        sha = s.resolve(ref)
        s.run("push", "--quiet", REMOTE, f"{sha}:{full}", timeout=timeout)
        # The local copy mirrors origin (fetch prunes it if origin drops the ref).
        s.run("update-ref", full, sha)
    return full


def is_reachable_on_origin(path: Path, sha: str) -> bool:
    """Whether an origin branch or preserved ref contains ``sha`` (as of the last fetch)."""
    with session(path, "for-each-ref") as s:
        if not s.exists(sha):
            return False
        out = s.run(
            "for-each-ref",
            "--count=1",
            "--format=%(refname)",
            f"--contains={s.resolve(sha)}",
            f"refs/remotes/{REMOTE}/",
            PRESERVED_PREFIX,
        )
        return bool(out.strip())


def list_worktrees(path: Path) -> list[WorktreeInfo]:
    """Every checkout of the repository at ``path``, the main clone first."""
    with session(path, "worktree list") as s:
        return _parse_worktrees(s.run("worktree", "list", "--porcelain"))


def _parse_worktrees(text: str) -> list[WorktreeInfo]:
    infos: list[WorktreeInfo] = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields or "bare" in fields:
            continue
        infos.append(
            WorktreeInfo(
                path=Path(fields["worktree"]),
                head=fields.get("HEAD"),
                branch=fields["branch"].removeprefix("refs/heads/") if "branch" in fields else None,
                is_main=not infos,
                locked="locked" in fields,
                prunable="prunable" in fields,
            )
        )
    return infos


def add_worktree(path: Path, worktree: Path, *, branch: str, base: str) -> None:
    """Check ``branch`` out in a new worktree at ``worktree``, creating it if needed.

    An existing local branch is reused as it is; else a branch origin already has
    (a resumed run on a fresh clone); else a new one at ``origin/<base>``. Nothing is
    reset. A worktree already at ``worktree`` on ``branch`` is left as it is.
    """
    check_ref_name(branch)
    check_ref_name(base)
    with session(path, f"worktree add {branch}") as s:
        # Forget worktrees whose directories are gone (a crashed run): no commit is lost,
        # their branches stay.
        s.run("worktree", "prune")
        for info in _parse_worktrees(s.run("worktree", "list", "--porcelain")):
            if info.path.resolve() == worktree.resolve():
                if info.branch == branch:
                    return
                on = f"branch {info.branch}" if info.branch else "a detached HEAD"
                raise GitError(worktree, s.op, f"already a worktree on {on}")
        if s.exists(f"refs/heads/{branch}"):
            s.run("worktree", "add", str(worktree), branch)
            return
        remote_branch = f"refs/remotes/{REMOTE}/{branch}"
        start = remote_branch if s.exists(remote_branch) else f"refs/remotes/{REMOTE}/{base}"
        if not s.exists(start):
            raise GitError(path, s.op, f"origin has no branch {base!r} (fetch first?)")
        s.run("worktree", "add", "--no-track", "-b", branch, str(worktree), start)


def add_detached_worktree(path: Path, worktree: Path, ref: str) -> None:
    """A worktree at ``worktree`` on a detached ``ref`` (the merge queue's own); kept if there."""
    with session(path, f"worktree add --detach {ref}") as s:
        s.run("worktree", "prune")
        for info in _parse_worktrees(s.run("worktree", "list", "--porcelain")):
            if info.path.resolve() == worktree.resolve():
                return
        s.run("worktree", "add", "--detach", str(worktree), s.resolve(ref))


def checkout_detached(path: Path, ref: str) -> str:
    """Put the checkout at ``path`` on a detached ``ref``; returns its commit.

    Refuses a checkout with changes to tracked files or a merge in progress, so nothing is
    ever thrown away; use it only in a worktree that holds no work of its own.
    """
    with session(path, f"checkout {ref}") as s:
        dirty = _tracked_changes(s)
        if dirty or _merge_in_progress(s):
            raise GitError(path, s.op, "the checkout has changes: " + ", ".join(dirty))
        sha = s.resolve(ref)
        s.run("checkout", "--quiet", "--detach", sha)
        return sha


def head(path: Path) -> str:
    """The commit checked out at ``path``."""
    with session(path, "rev-parse HEAD") as s:
        return s.resolve("HEAD")


def uncommitted(path: Path) -> list[str]:
    """Paths at ``path`` with changes not committed (tracked or untracked, not ignored)."""
    with session(path, "status") as s:
        out = s.run("status", "--porcelain", "--untracked-files=all", "-z")
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3 and entry[2] == " "})


def exclude_locally(path: Path, files: Sequence[str]) -> None:
    """Add ``files`` (repository-relative) to the clone's ``info/exclude``, shared by its
    worktrees, so no ``git add -A`` ever picks them up."""
    with session(path, "exclude") as s:
        exclude = Path(s.run("rev-parse", "--git-common-dir").strip())
    exclude = (path / exclude if not exclude.is_absolute() else exclude) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    known = set(exclude.read_text(encoding="utf-8").splitlines()) if exclude.exists() else set()
    lines = [f"/{f}" for f in files if f"/{f}" not in known]
    if lines:
        with exclude.open("a", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in lines))


def _tracked_changes(s: Session) -> list[str]:
    out = s.run("status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in out.splitlines() if line.strip()]


def _unmerged_files(s: Session) -> list[str]:
    out = s.run("ls-files", "--unmerged", "-z")
    return sorted({entry.split("\t", 1)[1] for entry in out.split("\0") if "\t" in entry})


def _merge_in_progress(s: Session) -> bool:
    status, _, _ = s.try_run("rev-parse", "--verify", "--quiet", "MERGE_HEAD")
    return status == 0


def merge(path: Path, ref: str, *, branch: str | None = None) -> None:
    """Merge ``ref`` into the branch checked out at ``path``.

    Args:
        path: The main clone or a worktree.
        ref: What to merge (``origin/main``, ``worker-1``).
        branch: If given, the branch that must be checked out at ``path``.

    Raises:
        GitError: The checkout has uncommitted changes to tracked files, a merge is
            already in progress, or git failed.
        MergeConflict: The merge stopped on conflicts; it was aborted.
    """
    op = f"merge {ref}"
    with session(path, op) as s:
        head_status, head, _ = s.try_run("symbolic-ref", "--quiet", "--short", "HEAD")
        if branch is not None and (head_status != 0 or head.strip() != branch):
            raise GitError(path, op, f"branch {branch} is not checked out")
        if _merge_in_progress(s):
            raise GitError(path, op, "a merge is already in progress")
        # Refusing a dirty checkout keeps `merge --abort` exact: git cannot always give
        # back uncommitted changes when it aborts.
        dirty = _tracked_changes(s)
        if dirty:
            raise GitError(path, op, "uncommitted changes to tracked files: " + ", ".join(dirty))
        s.resolve(ref)  # a clear error for a missing ref
        status, out, err = s.try_run("merge", "--no-edit", "--ff", ref)
        if status == 0:
            return
        files = _unmerged_files(s)
        if files or _merge_in_progress(s):
            abort_status, _, abort_err = s.try_run("merge", "--abort")
            if abort_status != 0:
                reason = reason_of(abort_err)
                raise GitError(path, op, f"merge failed and merge --abort failed: {reason}")
            if files:
                raise MergeConflict(path, ref, files)
        raise s.error(err, out)


def remove_worktree(path: Path, worktree: Path, *, branch: str, timeout: float) -> None:
    """Remove the worktree at ``worktree`` unless that would lose work.

    Fetches first, so "on origin" means now. The branch itself is kept.

    Raises:
        UnmergedWorkError: The branch (or the worktree's HEAD) has commits that no
            origin branch and no preserved ref contains.
        GitError: Tracked files have uncommitted changes, or git failed.
    """
    op = "worktree remove"
    with session(path, op) as s:
        _fetch(s, timeout)
        known = [
            i.path.resolve() for i in _parse_worktrees(s.run("worktree", "list", "--porcelain"))
        ]
        if not worktree.exists():
            s.run("worktree", "prune")  # nothing on disk; the branch keeps its commits
            return
        if worktree.resolve() not in known[1:]:
            raise GitError(worktree, op, f"not a worktree of {path}")
    with session(worktree, op) as w:
        dirty = _tracked_changes(w)
        if dirty:
            raise GitError(
                worktree, op, "uncommitted changes to tracked files: " + ", ".join(dirty)
            )
        tips = ["HEAD"] + ([f"refs/heads/{branch}"] if w.exists(f"refs/heads/{branch}") else [])
        count = int(
            w.run(
                "rev-list",
                "--count",
                *tips,
                "--not",
                f"--remotes={REMOTE}",
                f"--glob={PRESERVED_PREFIX}*",
            )
        )
        if count:
            raise UnmergedWorkError(worktree, branch, count)
    with session(path, op) as s:
        # --force only because untracked files do not count as work; the checks above
        # made sure no commit and no tracked change is lost.
        s.run("worktree", "remove", "--force", str(worktree))
