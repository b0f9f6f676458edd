"""Blocking git operations: the one door into git.

Every function here blocks. :mod:`claude_orchestra.worktree` runs them in worker threads
(``anyio.to_thread.run_sync``) and takes the main clone's lock around the ones that write
the shared ``.git``; nothing else should call them.

Each operation names its checkout as a :class:`~claude_orchestra.gitenv.Checkout` (work
tree, git dir and common dir fixed when the orchestrator made them) and runs ``git`` as a
subprocess with the configuration :mod:`claude_orchestra.gitenv` controls: nothing an
instance writes into a worktree or a git dir picks the repository, runs a hook, a helper or
a filter. Git runs non-interactively (no terminal prompt, no merge-message editor) and its
exit status and output are read rather than raised: a failure becomes one
:class:`~claude_orchestra.errors.GitError` whose reason is git's first meaningful line,
with credentials in URLs removed. No exception that quotes the command line (URL
included) is chained, so no traceback can show a token.

Nothing here moves a branch other than forward: no ``reset --hard``, ``clean``, forced
push, rebase or ``branch -D``. A failed merge ends in ``git merge --abort``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, final
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

from claude_orchestra import gitenv
from claude_orchestra._safe_files import write_private
from claude_orchestra.errors import GitError, MergeConflict, UnmergedWorkError
from claude_orchestra.gitenv import Checkout

REMOTE: Final = "origin"
"""The one remote the orchestra talks to."""

PRESERVED_PREFIX: Final = "refs/orchestra/preserved/"
"""Where tips are pinned before they could move other than forward.

The pins live on origin; the clone's refs of this name mirror origin's (a fetch prunes
them with the rest), so they are only ever written by :func:`preserve`.
"""

TRACKING: Final = "refs/orchestra/origin"
"""Where the orchestrator's own fetches put origin's branches.

Not ``refs/remotes/origin``: the instances fetch and push in worktrees that share the
clone's refs, and git updates a ref only if it still holds what it read first, so two
processes fetching into the same refs make one fail (``cannot lock ref``). The
orchestrator fetches after every turn; in a namespace of its own it never breaks an
instance's ``git fetch``, and an instance's fetch never changes what it reads.
"""


def tracking(branch: str) -> str:
    """The orchestrator's ref for origin's ``branch`` (as of its last fetch)."""
    return f"{TRACKING}/{branch}"


IDENTITY: Final = ("claude-orchestra", "orchestrator@claude-orchestra.invalid")
"""The author and committer of the merge commits the orchestrator makes itself."""

_FETCH_REFSPECS: Final = (
    f"+refs/heads/*:{TRACKING}/*",
    f"+{PRESERVED_PREFIX}*:{PRESERVED_PREFIX}*",
)
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
    if killed:  # killed at its deadline (gitenv.run)
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
    """One operation's git, in one checkout, run without raising."""

    def __init__(self, checkout: Checkout, op: str) -> None:
        self.checkout = checkout
        self.path = checkout.work_tree
        self.op = op

    def try_run(
        self, *args: str, timeout: float | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        """Run ``git <args>``; return its exit status, stdout and stderr."""
        try:
            return gitenv.run(
                ["git", *self.checkout.options(), *args],
                cwd=self.path,
                env={**self.checkout.environment(), **(env or {})},
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            missing = "git executable not found" if exc.filename == "git" else "no such directory"
            raise GitError(self.path, self.op, missing) from None

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
def session(where: Checkout, op: str) -> Iterator[Session]:
    """Git for one operation named ``op`` in the checkout ``where``.

    The git dir's ``commondir`` and the repository's config are checked first
    (:mod:`claude_orchestra.gitenv`).

    Raises:
        GitError: the checkout's folder or git dir is missing.
        UnsafeGitConfig: a config file it would read holds a key the orchestrator refuses.
    """
    if not where.work_tree.is_dir():
        raise GitError(where.work_tree, op, "no such directory")
    if not where.git_dir.is_dir() or not where.common_dir.is_dir():
        raise GitError(where.work_tree, op, "not a git repository")
    gitenv.check_commondir(where, op)
    gitenv.check_config(where, op)
    yield Session(where, op)


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
        _fetch(s, timeout)
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
        reason = reason_of(err, out, s._secrets()) if status != 0 else "refused"
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


def list_worktrees(where: Checkout) -> list[WorktreeInfo]:
    """Every checkout of the repository at ``path``, the main clone first."""
    with session(where, "worktree list") as s:
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


def add_worktree(where: Checkout, worktree: Path, *, branch: str, base: str) -> None:
    """Check ``branch`` out in a new worktree at ``worktree``, creating it if needed.

    An existing local branch is reused as it is; else a branch origin already has
    (a resumed run on a fresh clone); else a new one at ``origin/<base>``. Nothing is
    reset. A worktree already at ``worktree`` on ``branch`` is left as it is.
    """
    check_ref_name(branch)
    check_ref_name(base)
    with session(where, f"worktree add {branch}") as s:
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
            _check_git_dir(where, worktree, s.op)
            return
        remote_branch = tracking(branch)
        start = remote_branch if s.exists(remote_branch) else tracking(base)
        if not s.exists(start):
            raise GitError(where.work_tree, s.op, f"origin has no branch {base!r} (fetch first?)")
        s.run("worktree", "add", "--no-track", "-b", branch, str(worktree), start)
        _check_git_dir(where, worktree, s.op)


def add_detached_worktree(where: Checkout, worktree: Path, ref: str) -> None:
    """A worktree at ``worktree`` on a detached ``ref`` (the merge queue's own); kept if there."""
    with session(where, f"worktree add --detach {ref}") as s:
        s.run("worktree", "prune")
        for info in _parse_worktrees(s.run("worktree", "list", "--porcelain")):
            if info.path.resolve() == worktree.resolve():
                return
        s.run("worktree", "add", "--detach", str(worktree), s.resolve(ref))
        _check_git_dir(where, worktree, s.op)


def _check_git_dir(where: Checkout, worktree: Path, op: str) -> None:
    """Git named the new worktree's git dir as :meth:`Checkout.linked` expects (read once,
    right after git wrote it; never again)."""
    expected = where.linked(worktree).git_dir
    written = (worktree / ".git").read_text(encoding="utf-8").strip().removeprefix("gitdir:")
    if Path(written.strip()) != expected:
        raise GitError(worktree, op, f"git put its git dir at {written.strip()}, not {expected}")


def checkout_detached(where: Checkout, ref: str) -> str:
    """Put the checkout ``where`` on a detached ``ref``; returns its commit.

    Refuses a checkout with changes to tracked files or a merge in progress, so nothing is
    ever thrown away; use it only in a worktree that holds no work of its own.
    """
    with session(where, f"checkout {ref}") as s:
        dirty = _tracked_changes(s)
        if dirty or _merge_in_progress(s):
            raise GitError(where.work_tree, s.op, "the checkout has changes: " + ", ".join(dirty))
        sha = s.resolve(ref)
        s.run("checkout", "--quiet", "--detach", sha)
        return sha


def head(where: Checkout) -> str:
    """The commit checked out in ``where``."""
    with session(where, "rev-parse HEAD") as s:
        return s.resolve("HEAD")


def uncommitted(where: Checkout) -> list[str]:
    """Paths in ``where`` with changes not committed (tracked or untracked, not ignored)."""
    with session(where, "status") as s:
        out = s.run("status", "--porcelain", "--untracked-files=all", "-z")
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3 and entry[2] == " "})


def exclude_locally(where: Checkout, files: Sequence[str]) -> None:
    """Add ``files`` (repository-relative) to the clone's ``info/exclude``, shared by its
    worktrees, so no ``git add -A`` ever picks them up."""
    exclude = where.common_dir / "info" / "exclude"
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


def merge(
    where: Checkout,
    ref: str,
    *,
    branch: str | None = None,
    identity: tuple[str, str] = IDENTITY,
) -> None:
    """Merge ``ref`` into the branch checked out in ``where``.

    Args:
        where: The main clone or a worktree.
        ref: What to merge (``origin/main``, ``worker-1``).
        branch: If given, the branch that must be checked out in ``where``.
        identity: The merge commit's author and committer (name, email); the host's git
            reads no global config, so it is passed on the command line.

    Raises:
        GitError: The checkout has uncommitted changes to tracked files, a merge is
            already in progress, or git failed.
        MergeConflict: The merge stopped on conflicts; it was aborted.
    """
    op = f"merge {ref}"
    with session(where, op) as s:
        head_status, head, _ = s.try_run("symbolic-ref", "--quiet", "--short", "HEAD")
        if branch is not None and (head_status != 0 or head.strip() != branch):
            raise GitError(where.work_tree, op, f"branch {branch} is not checked out")
        if _merge_in_progress(s):
            raise GitError(where.work_tree, op, "a merge is already in progress")
        # Refusing a dirty checkout keeps `merge --abort` exact: git cannot always give
        # back uncommitted changes when it aborts.
        dirty = _tracked_changes(s)
        if dirty:
            raise GitError(
                where.work_tree, op, "uncommitted changes to tracked files: " + ", ".join(dirty)
            )
        s.resolve(ref)  # a clear error for a missing ref
        name, email = identity
        who = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        status, out, err = s.try_run("merge", "--no-edit", "--ff", "--no-verify", ref, env=who)
        if status == 0:
            return
        files = _unmerged_files(s)
        if files or _merge_in_progress(s):
            abort_status, _, abort_err = s.try_run("merge", "--abort")
            if abort_status != 0:
                reason = reason_of(abort_err)
                raise GitError(
                    where.work_tree, op, f"merge failed and merge --abort failed: {reason}"
                )
            if files:
                raise MergeConflict(where.work_tree, ref, files)
        raise s.error(err, out)


def remove_worktree(where: Checkout, worktree: Path, *, branch: str, timeout: float) -> None:
    """Remove the worktree at ``worktree`` unless that would lose work.

    Fetches first, so "on origin" means now. The branch itself is kept.

    Raises:
        UnmergedWorkError: The branch (or the worktree's HEAD) has commits that no
            origin branch and no preserved ref contains.
        GitError: Tracked files have uncommitted changes, or git failed.
    """
    op = "worktree remove"
    with session(where, op) as s:
        _fetch(s, timeout)
        known = [
            i.path.resolve() for i in _parse_worktrees(s.run("worktree", "list", "--porcelain"))
        ]
        if not worktree.exists():
            s.run("worktree", "prune")  # nothing on disk; the branch keeps its commits
            return
        if worktree.resolve() not in known[1:]:
            raise GitError(worktree, op, f"not a worktree of {where.work_tree}")
    with session(where.linked(worktree), op) as w:
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
    with session(where, op) as s:
        # --force only because untracked files do not count as work; the checks above
        # made sure no commit and no tracked change is lost.
        s.run("worktree", "remove", "--force", str(worktree))
