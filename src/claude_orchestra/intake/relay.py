"""Forward events to the hook app from a command hook, tmux, or an instance's own pane.

Stdlib only, run as ``python -I -S relay.py ...``: no site packages, no imports of ours,
quick to start. Three uses:

    relay.py hook URL                                  (SessionStart: payload on stdin)
    relay.py hook URL --spool FOLDER                   (every hook, on a remote host)
    relay.py drain URL FOLDER                          (token on stdin: replay the spool)
    relay.py pane-died BASE INSTANCE KEY_FILE STATUS SIGNAL PID   (tmux's pane-died hook)
    relay.py run URL [--env-file FILE] -- COMMAND...   (every pane's process)
    relay.py run URL --env-fifo FIFO -- COMMAND...     (a pane on a remote host)

Each launch of an instance has its own hook token (see ``claude_orchestra.intake.keys``).
``hook`` runs inside the instance (a command hook of claude's) and takes the token from its
environment. ``run`` starts COMMAND (claude) as its child on the same terminal, with the
variables of the JSON object in FILE added to its environment (the file is deleted once
read: secrets never travel on a command line or through tmux's environment), passes SIGTERM
and SIGHUP on to it, waits for it, reports its exit status to URL with the token from that
environment, and exits the same way; a ``run`` started under ``nice`` gives its whole
session (the pane) that niceness for the CPU (:func:`set_session_nice`). With
``--env-fifo`` the variables come through a named pipe instead (the ``remote`` runtime
writes them into it over SSH), so they never touch a remote host's disk. ``pane-died``
runs on the host for tmux; KEY_FILE holds the instance's current launch and token, and the
report goes to ``BASE/panes/INSTANCE/<launch>/died``. Files are opened without following
symlinks and read with a cap.
tmux 3.3a sometimes leaves a killed pane process unreaped, so its ``pane-died`` hook never
fires; the wrapper reports every exit itself (the tmux hook stays as a fallback).

On a remote host every hook is a command hook of this kind with ``--spool`` (Claude Code
would post an HTTP hook itself, and lose it while the SSH connection, and with it the
forward to the hook app, is down). The payload is first written into FOLDER (one file
per event, named by the time it was spooled, so the oldest sorts first); then the folder
is drained: under an exclusive lock on ``FOLDER/.lock``, each event is posted oldest first
and removed once the hook app has answered, until one cannot be posted (the app is out of
reach: the rest wait). So a new event never overtakes an older one, and an event is never
lost, only perhaps sent twice (if the relay is killed between a post and the removal; the
loop tolerates a repeated event). ``drain`` does the same with the token on standard input:
the ``remote`` runtime runs it for each instance when the connection is back, for the
events spooled while it was down. The spool holds the payloads and nothing more: never
the token.

The relay never blocks its caller for long and never fails it: errors go to stderr and
the hook modes exit 0 (``drain`` exits 1 when events are left).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

_TIMEOUT_SECONDS = 5
_MAX_FILE_BYTES = 1024 * 1024
_MAX_HOOK_BYTES = 4 * _MAX_FILE_BYTES

HOOK_TOKEN_ENV = "CLAUDE_ORCHESTRA_HOOK_TOKEN"  # noqa: S105 (a variable name)
"""The variable holding the hook token of the process's launch."""

_SPOOLED = re.compile(r"\d{20}-\d{1,10}\.json")
"""A spooled event's file name: when it was spooled (monotonic ns), and by which pid."""


def _read_regular(path: str, cap: int, *, folder: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (in ``folder`` when given; no symlink
    followed, never blocking, at most ``cap``)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(path, flags, dir_fd=folder)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = f.read(cap + 1)
    if len(data) > cap:
        raise OSError(f"{path}: too large")
    return data


def _read_json(path: str) -> object:
    """The JSON in the regular file ``path`` (no symlink followed, never blocking, capped)."""
    return json.loads(_read_regular(path, _MAX_FILE_BYTES))


def _post(url: str, token: str, body: bytes) -> None:
    request = urllib.request.Request(  # noqa: S310 (the URL is our own 127.0.0.1 hook app)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def _open_folder(folder: str, *, make: bool) -> int:
    """The spool folder (made private when ``make``), opened without following a link."""
    if make:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def _spool(folder: int, body: bytes) -> None:
    """``body`` as the newest event in ``folder`` (written whole, then renamed in)."""
    name = f"{time.monotonic_ns():020d}-{os.getpid()}.json"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(f".{name}.tmp", flags, 0o600, dir_fd=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    os.rename(f".{name}.tmp", name, src_dir_fd=folder, dst_dir_fd=folder)


def drain(url: str, token: str, folder: int) -> tuple[int, bool]:
    """Post the events spooled in ``folder`` oldest first, each removed once the hook app
    answered (a refusal too: sent again, it would be refused again); stop at the first the
    app cannot be reached for. Returns how many were sent, and whether none is left."""
    lock = os.open(".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                   dir_fd=folder)  # fmt: skip
    sent, gone = 0, set()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one drain at a time, so the order holds
        while names := sorted(
            n for n in os.listdir(folder) if _SPOOLED.fullmatch(n) and n not in gone
        ):
            for name in names:
                try:
                    body = _read_regular(name, _MAX_HOOK_BYTES, folder=folder)
                except OSError as exc:  # not an event the relay spooled: dropped
                    _warn(f"{name}: dropped: {exc}")
                    body = None
                if body is not None:
                    try:
                        _post(url, token, body)
                        sent += 1
                    except urllib.error.HTTPError as exc:  # answered: resent, refused again
                        _warn(f"{name}: the hook app answered {exc.code}")
                    except (OSError, http.client.HTTPException):  # out of reach: all wait
                        return sent, False
                gone.add(name)
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=folder)
        return sent, True
    finally:
        os.close(lock)


def _warn(message: str) -> None:
    print(f"claude-orchestra relay: {message}", file=sys.stderr)


def _spool_and_drain(url: str, folder: str, body: bytes) -> None:
    """A hook's event: spooled, then the spool drained (this event last)."""
    fd = _open_folder(folder, make=True)
    try:
        _spool(fd, body)
        drain(url, os.environ.get(HOOK_TOKEN_ENV, ""), fd)
    finally:
        os.close(fd)


def _drain_on_request(url: str, folder: str, token: str) -> int:
    """``drain``: prints how many events were sent; exits 1 when some are left."""
    try:
        fd = _open_folder(folder, make=False)
    except FileNotFoundError:  # nothing was ever spooled
        print(0)
        return 0
    try:
        sent, complete = drain(url, token, fd)
    finally:
        os.close(fd)
    print(sent)
    return 0 if complete else 1


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


AUTOGROUP = Path("/proc/self/autogroup")
"""The CPU group of this process's session, where the kernel groups sessions (Linux)."""


def set_session_nice(
    niceness: int,
    *,
    tries: int = 50,
    autogroup: Path = AUTOGROUP,
    wait: Callable[[float], None] = time.sleep,
) -> bool:
    """Give this session's CPU group ``niceness`` (when above 0); ``True`` once it is set
    or nothing needs it.

    Linux groups each session's processes for the CPU (``autogroup``, on by default on most
    distributions) and shares the CPU between groups as equals; a process's own nice value
    ranks it only within its group. Every tmux pane is a session of its own, so a pane at
    ``nice`` 10 still competed with the orchestrator's session as an equal (16 workers on 2
    cores, ``bench/throughput.py``: the loop's p99 71-179 ms, and 12 ms once the panes'
    groups ran at their niceness too). Without ``CAP_SYS_ADMIN`` the kernel takes such a change once
    every 0.1 s for the whole machine (``EAGAIN`` otherwise), so it is tried ``tries`` times,
    0.1 s apart; where there is no such group (another system, autogroup compiled out) there
    is nothing to do.
    """
    if niceness <= 0:
        return True
    for attempt in range(tries):
        if attempt:
            wait(0.1)
        try:
            with open(autogroup, "w", encoding="ascii") as group:
                group.write(str(niceness))
        except BlockingIOError:  # EAGAIN: another session's change was just taken
            continue
        except OSError:
            return True  # no autogroup here
        return True
    return False


def run(
    url: str, command: list[str], env_file: str | None = None, *, env_fifo: str | None = None
) -> int:
    """Run ``command``, pass signals on, report its exit; returns its exit code."""
    env = {**os.environ, **_take_env(env_file)} if env_file else dict(os.environ)
    if env_fifo:
        env.update(_take_fifo_env(env_fifo))
    token = env.get(HOOK_TOKEN_ENV, "")
    if not set_session_nice(os.nice(0), tries=1):  # refused for now: go on trying beside
        threading.Thread(target=set_session_nice, args=(os.nice(0),), daemon=True).start()
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
                body = sys.stdin.buffer.read(_MAX_HOOK_BYTES)
                _post(url, os.environ.get(HOOK_TOKEN_ENV, ""), body)
            except Exception as exc:
                _warn(f"{type(exc).__name__}: {exc}")
        case ["hook", url, "--spool", folder]:
            try:
                _spool_and_drain(url, folder, sys.stdin.buffer.read(_MAX_HOOK_BYTES))
            except Exception as exc:
                _warn(f"{type(exc).__name__}: {exc}")
        case ["drain", url, folder]:
            return _drain_on_request(url, folder, sys.stdin.readline().strip())
        case ["pane-died", base, instance, key_file, status, sig, pid]:
            _report_from_key_file(base, instance, key_file, [status, sig, pid])
        case _:
            print(f"claude-orchestra relay: bad arguments {argv!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
