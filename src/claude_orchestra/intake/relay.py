"""Forward events to the hook app from a command hook, tmux, or an instance's own pane.

Stdlib only, run as ``python -I -S relay.py ...``: no site packages, no imports of ours,
quick to start. Three uses:

    relay.py hook URL                                  (SessionStart: payload on stdin)
    relay.py pane-died BASE INSTANCE KEY_FILE STATUS SIGNAL PID   (tmux's pane-died hook)
    relay.py run URL [--env-file FILE] -- COMMAND...   (every pane's process)
    relay.py run URL --env-fifo FIFO -- COMMAND...     (a pane on a remote host)

Each launch of an instance has its own hook token (see ``claude_orchestra.intake.keys``).
``hook`` runs inside the instance (a command hook of claude's) and takes the token from its
environment. ``run`` starts COMMAND (claude) as its child on the same terminal, with the
variables of the JSON object in FILE added to its environment (the file is deleted once
read: secrets never travel on a command line or through tmux's environment), passes SIGTERM
and SIGHUP on to it, waits for it, reports its exit status to URL with the token from that
environment, and exits the same way. With ``--env-fifo`` the variables come through a named
pipe instead (the ``remote`` runtime writes them into it over SSH), so they never touch a
remote host's disk. ``pane-died`` runs on the host for tmux; KEY_FILE holds
the instance's current launch and token, and the report goes to
``BASE/panes/INSTANCE/<launch>/died``. Files are opened without following symlinks and read
with a cap.
tmux 3.3a sometimes leaves a killed pane process unreaped, so its ``pane-died`` hook never
fires; the wrapper reports every exit itself (the tmux hook stays as a fallback).

The relay never blocks its caller for long and never fails it: errors go to stderr and
the hook modes exit 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import urllib.request
from types import FrameType

_TIMEOUT_SECONDS = 5
_MAX_FILE_BYTES = 1024 * 1024

HOOK_TOKEN_ENV = "CLAUDE_ORCHESTRA_HOOK_TOKEN"  # noqa: S105 (a variable name)
"""The variable holding the hook token of the process's launch."""


def _read_json(path: str) -> object:
    """The JSON in the regular file ``path`` (no symlink followed, never blocking, capped)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = f.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise OSError(f"{path}: too large")
    return json.loads(data)


def _post(url: str, token: str, body: bytes) -> None:
    request = urllib.request.Request(  # noqa: S310 (the URL is our own 127.0.0.1 hook app)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def _report(url: str, token: str, status: str, sig: str, pid: str) -> None:
    try:
        body = json.dumps({"status": status, "signal": sig, "pid": pid}).encode()
        _post(url, token, body)
    except Exception as exc:
        print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)


def _read_key(key_file: str) -> tuple[int, str]:
    """The launch and token in an instance's key file."""
    key = _read_json(key_file)
    if not isinstance(key, dict):
        raise TypeError(f"{key_file}: not an object")
    return int(key["launch"]), str(key["token"])


def _report_from_key_file(base: str, instance: str, key_file: str, facts: list[str]) -> None:
    """Report a death tmux saw (``facts``: status, signal, pid) for the current launch."""
    try:
        launch, token = _read_key(key_file)
    except Exception as exc:
        print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    status, sig, pid = facts
    _report(f"{base}/panes/{instance}/{launch}/died", token, status, sig, pid)


def _take_env(env_file: str) -> dict[str, str]:
    """The variables in ``env_file`` (a JSON object); the file is removed."""
    try:
        loaded = _read_json(env_file)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(env_file)
    if not isinstance(loaded, dict):
        raise TypeError(f"{env_file}: not an object")
    return {str(k): str(v) for k, v in loaded.items()}


def _take_fifo_env(fifo: str) -> dict[str, str]:
    """The variables written into the named pipe ``fifo`` (ours, owned by this user; opened
    without following a symlink; blocks until the writer comes); the pipe is removed."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISFIFO(info.st_mode) or info.st_uid != os.getuid():
                raise OSError(f"{fifo}: not this user's named pipe")
            data = f.read(_MAX_FILE_BYTES + 1)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(fifo)
    if len(data) > _MAX_FILE_BYTES:
        raise OSError(f"{fifo}: too large")
    loaded = json.loads(data)
    if not isinstance(loaded, dict):
        raise TypeError(f"{fifo}: not an object")
    return {str(k): str(v) for k, v in loaded.items()}


def run(
    url: str, command: list[str], env_file: str | None = None, *, env_fifo: str | None = None
) -> int:
    """Run ``command``, pass signals on, report its exit; returns its exit code."""
    env = {**os.environ, **_take_env(env_file)} if env_file else dict(os.environ)
    if env_fifo:
        env.update(_take_fifo_env(env_fifo))
    token = env.get(HOOK_TOKEN_ENV, "")
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to claude, not to us
    code = child.wait()
    status, sig = (str(code), "") if code >= 0 else ("", str(-code))
    _report(url, token, status, sig, str(os.getpid()))
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    """Relay one event, or run and watch a command."""
    match argv:
        case ["run", url, "--env-file", env_file, "--", *command] if command:
            return run(url, command, env_file)
        case ["run", url, "--env-fifo", fifo, "--", *command] if command:
            return run(url, command, env_fifo=fifo)
        case ["run", url, "--", *command] if command:
            return run(url, command)
        case ["hook", url]:
            try:
                body = sys.stdin.buffer.read(_MAX_FILE_BYTES * 4)
                _post(url, os.environ.get(HOOK_TOKEN_ENV, ""), body)
            except Exception as exc:
                print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)
        case ["pane-died", base, instance, key_file, status, sig, pid]:
            _report_from_key_file(base, instance, key_file, [status, sig, pid])
        case _:
            print(f"claude-orchestra relay: bad arguments {argv!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
