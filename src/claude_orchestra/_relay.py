"""Forward events to the hook app from a command hook, tmux, or an instance's own pane.

Stdlib only, run as ``python -I -S _relay.py ...``: no site packages, no imports of ours,
quick to start. Three uses:

    _relay.py hook URL TOKEN_FILE                       (SessionStart: payload on stdin)
    _relay.py pane-died URL TOKEN_FILE STATUS SIGNAL PID (tmux's pane-died hook)
    _relay.py run URL TOKEN_FILE [--env-file FILE] -- COMMAND...   (every pane's process)

``run`` starts COMMAND (claude) as its child on the same terminal, with the variables of
the JSON object in FILE added to its environment (the file is deleted once read: secrets
never travel on a command line or through tmux's environment), passes SIGTERM and
SIGHUP on to it, waits for it, reports its exit status to URL, and exits the same way.
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
import subprocess
import sys
import urllib.request
from types import FrameType

_TIMEOUT_SECONDS = 5


def _post(url: str, token_file: str, body: bytes) -> None:
    with open(token_file, encoding="utf-8") as f:
        token = f.read().strip()
    request = urllib.request.Request(  # noqa: S310 (the URL is our own 127.0.0.1 hook app)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def _report(url: str, token_file: str, status: str, sig: str, pid: str) -> None:
    try:
        body = json.dumps({"status": status, "signal": sig, "pid": pid}).encode()
        _post(url, token_file, body)
    except Exception as exc:
        print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)


def _take_env(env_file: str) -> dict[str, str]:
    """The variables in ``env_file`` (a JSON object); the file is removed."""
    try:
        with open(env_file, encoding="utf-8") as f:
            loaded = json.load(f)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(env_file)
    return {str(k): str(v) for k, v in loaded.items()}


def run(url: str, token_file: str, command: list[str], env_file: str | None = None) -> int:
    """Run ``command``, pass signals on, report its exit; returns its exit code."""
    env = {**os.environ, **_take_env(env_file)} if env_file else None
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to claude, not to us
    code = child.wait()
    status, sig = (str(code), "") if code >= 0 else ("", str(-code))
    _report(url, token_file, status, sig, str(os.getpid()))
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    """Relay one event, or run and watch a command."""
    match argv:
        case ["run", url, token_file, "--env-file", env_file, "--", *command] if command:
            return run(url, token_file, command, env_file)
        case ["run", url, token_file, "--", *command] if command:
            return run(url, token_file, command)
        case ["hook", url, token_file]:
            try:
                _post(url, token_file, sys.stdin.buffer.read())
            except Exception as exc:
                print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)
        case ["pane-died", url, token_file, status, sig, pid]:
            _report(url, token_file, status, sig, pid)
        case _:
            print(f"claude-orchestra relay: bad arguments {argv!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
