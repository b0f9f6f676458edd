"""Forward an event to the hook app from a command hook or tmux (stdlib only).

Claude Code runs no HTTP hook for ``SessionStart``, and tmux's ``pane-died`` hook can only
run a shell command, so both call this script, which POSTs to the hook app with the run's
secret read from a private file. It runs as ``python -I -S _relay.py ...``: no site
packages, no imports of ours, quick to start. It never blocks its caller for long and never
fails it: errors go to stderr and the exit code is 0.

    _relay.py hook URL TOKEN_FILE            (body: the hook payload on stdin)
    _relay.py pane-died URL TOKEN_FILE STATUS SIGNAL
"""

from __future__ import annotations

import json
import sys
import urllib.request

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


def main(argv: list[str]) -> int:
    """Relay one event; always exit 0 so the caller is never disturbed."""
    try:
        match argv:
            case ["hook", url, token_file]:
                _post(url, token_file, sys.stdin.buffer.read())
            case ["pane-died", url, token_file, status, signal]:
                body = json.dumps({"status": status, "signal": signal}).encode()
                _post(url, token_file, body)
            case _:
                print(f"claude-orchestra relay: bad arguments {argv!r}", file=sys.stderr)
    except Exception as exc:
        print(f"claude-orchestra relay: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
