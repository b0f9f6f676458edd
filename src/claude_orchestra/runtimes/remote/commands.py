"""The shell commands the ``remote`` runtime runs on a host (pure: strings out).

Every value is quoted with :func:`shlex.quote`; secrets never appear here (they travel on
a command's standard input). The run's tmux server on the host is ``tmux -L <socket>``,
started from ``<run>/tmux.conf``; its one session is ``orchestra``, a window per instance.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import PurePosixPath

from claude_orchestra.runtimes.claude_home import SCRUBBED_ENV
from claude_orchestra.runtimes.remote.carried import Carry

SESSION = "orchestra"

GIT_USER_ENV = "CLAUDE_ORCHESTRA_GIT_USERNAME"
GIT_PASSWORD_ENV = "CLAUDE_ORCHESTRA_GIT_PASSWORD"  # noqa: S105 (a variable name)
CREDENTIAL_HELPER = (
    f'!f() {{ test -n "${GIT_PASSWORD_ENV}" || exit 0; echo "username=${GIT_USER_ENV}"; '
    f'echo "password=${GIT_PASSWORD_ENV}"; }}; f'
)
"""git's credential helper on a host: the user and password from the environment (the
instance's, which reached it through the SSH channel), so none is stored on the host."""


def q(value: str | PurePosixPath) -> str:
    """One shell word."""
    return shlex.quote(str(value))


def tmux(socket: str, *args: str) -> str:
    """A command for the run's tmux server on the host."""
    return shlex.join(["tmux", "-L", socket, *args])


def target(name: str) -> str:
    """Instance ``name``'s window, by exact names."""
    return f"={SESSION}:={name}"


def tmux_config() -> str:
    """The host's tmux config: kept dead panes, no inherited credential variable. (No
    ``pane-died`` hook: the relay reports every exit itself.)"""
    lines = [
        "set -g remain-on-exit on",
        "set -g history-limit 10000",
        *(f"set-environment -gu {name}" for name in SCRUBBED_ENV),
    ]
    return "\n".join(lines) + "\n"


def new_window(
    socket: str, config: PurePosixPath, name: str, cwd: PurePosixPath, command: str
) -> str:
    """Start ``command`` in window ``name`` (the first one starts the server and session);
    prints the pane's pid."""
    window = tmux(socket, "new-window", "-d", "-t", f"{SESSION}:", "-n", name, "-c", str(cwd),
                  "-P", "-F", "#{pane_pid}", command)  # fmt: skip
    session = shlex.join(["tmux", "-L", socket, "-f", str(config), "new-session", "-d",
                          "-s", SESSION, "-n", name, "-x", "200", "-y", "50", "-c", str(cwd),
                          "-P", "-F", "#{pane_pid}", command])  # fmt: skip
    exists = tmux(socket, "has-session", "-t", f"={SESSION}")
    return f"if {exists} 2>/dev/null; then {window}; else {session}; fi"


def respawn(socket: str, name: str, cwd: PurePosixPath, command: str) -> str:
    """Replace window ``name``'s process; prints the new pid."""
    return (
        tmux(socket, "respawn-pane", "-k", "-t", target(name), "-c", str(cwd), command)
        + " && "
        + tmux(socket, "display-message", "-p", "-t", target(name), "#{pane_pid}")
    )


def make_fifo(fifo: PurePosixPath) -> str:
    """A fresh named pipe only this user may open."""
    return f"mkdir -p -m 700 {q(fifo.parent)} && rm -f {q(fifo)} && mkfifo -m 600 {q(fifo)}"


def write_fifo(fifo: PurePosixPath) -> str:
    """Standard input into the pipe (blocks until the relay opens it)."""
    return f"test -p {q(fifo)} && cat > {q(fifo)}"


def write_file(path: PurePosixPath) -> str:
    """Standard input into ``path``, private to the user (replaced, never written through a
    link the instance may have planted)."""
    tmp = f"{path}.tmp"
    return (
        f"umask 077 && mkdir -p {q(path.parent)} && rm -f {q(tmp)} && cat > {q(tmp)} "
        f"&& mv -f {q(tmp)} {q(path)}"
    )


def paste(socket: str, name: str) -> str:
    """Paste standard input into the pane exactly, then press Enter."""
    buffer = f"orchestra-{name}"
    return (
        tmux(socket, "load-buffer", "-b", buffer, "-")
        + " && "
        + tmux(socket, "paste-buffer", "-p", "-d", "-b", buffer, "-t", target(name))
        + " && "
        + tmux(socket, "send-keys", "-t", target(name), "Enter")
    )


def terminate(socket: str, name: str) -> str:
    """SIGTERM to the pane's process unless it has exited."""
    show = tmux(socket, "display-message", "-p", "-t", target(name), "#{pane_dead} #{pane_pid}")
    return f'set -- $({show}) && if [ "$1" = 0 ]; then kill -TERM "$2" 2>/dev/null || true; fi'


def drain(python: str, relay: PurePosixPath, url: str, spool: PurePosixPath) -> str:
    """Send the hook events spooled in ``spool`` to ``url`` (the launch's hook token comes
    on standard input); prints how many were sent, fails when some are left."""
    return shlex.join([python, "-I", "-S", str(relay), "drain", url, str(spool)])


def windows(socket: str) -> str:
    """``<name> <pid> <dead>`` per window (nothing when the server is not running)."""
    listed = tmux(socket, "list-panes", "-s", "-t", f"={SESSION}", "-F",
                  "#{window_name} #{pane_pid} #{pane_dead}")  # fmt: skip
    return f"{listed} 2>/dev/null || true"


def end_processes(python: str, socket: str, grace: float) -> str:
    """End the run's tmux server and wait (at most ``grace`` seconds, then ``SIGKILL``) for
    every process it held to end; the script
    (:mod:`~claude_orchestra.runtimes.remote.ending`) comes on standard input. A no-op when
    no server runs."""
    return shlex.join([python, "-I", "-S", "-", socket, f"{grace:g}"])


def carry_sessions(
    python: str, old: PurePosixPath, new: PurePosixPath, sessions: Sequence[Carry]
) -> str:
    """Copy each of ``sessions`` from run folder ``old`` into run folder ``new``; the script
    (:mod:`~claude_orchestra.runtimes.remote.carrying`) comes on standard input."""
    argv = [python, "-I", "-S", "-", str(old), str(new)]
    return shlex.join([*argv, *(a for c in sessions for a in c.argv())])


def clone(url: str, repo: PurePosixPath, branch: str) -> str:
    """Clone origin into ``repo`` once (credentials from the environment, none stored); a
    clone that is there already (a resumed run's, moved in) is pointed at ``url``, this
    connection's forward."""
    helper = shlex.quote(f"credential.helper={CREDENTIAL_HELPER}")
    return (
        f"{{ test -d {q(repo / '.git')} || git -c {helper} clone -q --branch {q(branch)} "
        f"{q(url)} {q(repo)}; }} && git -C {q(repo)} remote set-url origin {q(url)} "
        f"&& git -C {q(repo)} config credential.helper {q(CREDENTIAL_HELPER)}"
    )


def move_checkouts(old: PurePosixPath, new: PurePosixPath) -> str:
    """Move run folder ``old``'s clone and worktrees (commits, changes and untracked files
    as they are) into run folder ``new``, and mend the links between them; a no-op when
    ``old`` holds no clone."""
    repo, worktrees = new / "repo", new / "worktrees"
    return (
        f"test -d {q(old / 'repo' / '.git')} || exit 0; test ! -e {q(repo)} && "
        f"mkdir -p -m 700 {q(new)} && mv {q(old / 'repo')} {q(repo)} && "
        f"{{ test ! -d {q(old / 'worktrees')} || mv {q(old / 'worktrees')} {q(worktrees)}; }} && "
        f"set -- {q(worktrees)}/* && "
        f'if [ -e "$1" ]; then git -C {q(repo)} worktree repair "$@"; fi'
    )


def worktree(repo: PurePosixPath, path: PurePosixPath, branch: str, base: str) -> str:
    """Worker ``branch``'s worktree at ``path``, from origin's branch when it has one (a
    resumed run), else from ``base``; kept as it is when it exists."""
    origin_branch = f"origin/{branch}"
    return (
        f"test -e {q(path)} || {{ git -C {q(repo)} fetch -q origin && "
        f"if git -C {q(repo)} rev-parse -q --verify {q(origin_branch)} >/dev/null; "
        f"then start={q(origin_branch)}; else start={q('origin/' + base)}; fi && "
        f'git -C {q(repo)} worktree add -q -B {q(branch)} {q(path)} "$start"; }}'
    )


def push_all(repo: PurePosixPath, worktrees: PurePosixPath, url: str) -> str:
    """Push every worker branch's commits to origin at ``url`` (never forced); a branch
    origin refuses is pinned as ``refs/orchestra/preserved/<branch>/<sha>`` instead, so no
    commit stays only on the host."""
    return (
        f"test -d {q(worktrees)} || exit 0; git -C {q(repo)} remote set-url origin {q(url)}; "
        f"for w in {q(worktrees)}/*; do "
        f'b=$(basename "$w"); '
        f'if ! git -C "$w" push -q origin "HEAD:refs/heads/$b" 2>/dev/null; then '
        f'sha=$(git -C "$w" rev-parse --short=12 HEAD); '
        f'git -C "$w" push -q origin "HEAD:refs/orchestra/preserved/$b/$sha" '
        f'|| echo "kept $w: its commits could not be pushed"; fi; done'
    )


def with_git_login(command: str) -> str:
    """``command`` with the git user and password read from the first two lines of
    standard input into its environment (for the credential helper); nothing is stored."""
    return (
        f"IFS= read -r {GIT_USER_ENV}; IFS= read -r {GIT_PASSWORD_ENV}; "
        f"export {GIT_USER_ENV} {GIT_PASSWORD_ENV}; {command}"
    )
