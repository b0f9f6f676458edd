"""The relay's spool (``hook URL --spool FOLDER`` and ``drain URL FOLDER``): a hook event
the hook app cannot be reached for waits in the folder, without the token, and is sent
once the app is back, oldest first and with the launch's token; a new event never
overtakes an older one."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_orchestra.runtimes.claude_home import HOOK_TOKEN_ENV, relay_command

TOKEN = "hook-token-for-the-spool-test"


class App(http.server.ThreadingHTTPServer):
    """A stand-in for the hook app: records each POST, answers ``status``."""

    allow_reuse_address = True

    def __init__(self, port: int, status: int = 200) -> None:
        self.posts: list[tuple[str, str, bytes]] = []
        self.status = status
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: App

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers["Authorization"], body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> int:
    """A port nothing listens on (until a test starts its app there)."""
    with App(0) as probe:
        return probe.server_address[1]


@pytest.fixture
def app(port: int) -> Iterator[App]:
    """The hook app, not yet serving: :func:`serving` starts it."""
    with App(port) as server:
        yield server


def serving(app: App) -> threading.Thread:
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    return thread


def hook(url: str, folder: Path, body: bytes) -> subprocess.CompletedProcess[bytes]:
    """A hook event, as Claude Code runs the hook on a remote host."""
    return subprocess.run(
        relay_command("hook", url, "--spool", str(folder)),
        input=body,
        capture_output=True,
        env={**os.environ, HOOK_TOKEN_ENV: TOKEN},
        timeout=30,
        check=False,
    )


def drain(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """What the runtime runs once the connection is back: the token on standard input."""
    return subprocess.run(
        relay_command("drain", url, str(folder)),
        input=f"{TOKEN}\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def spooled(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_events_sent_while_the_app_is_out_of_reach_are_replayed_in_order(
    port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{port}/hooks/worker-1/2"
    folder = tmp_path / "spool/worker-1-2"
    for n in range(3):  # the forward is gone: nothing listens
        done = hook(url, folder, b'{"hook_event_name": "PostToolUse", "n": %d}' % n)
        assert done.returncode == 0, done.stderr
    assert len(spooled(folder)) == 3
    assert (folder.stat().st_mode & 0o777) == 0o700
    for path in folder.iterdir():  # the payloads, never the token
        assert TOKEN.encode() not in path.read_bytes()
    with App(port) as app:
        serving(app)
        replayed = drain(url, folder)
        app.shutdown()
    assert (replayed.returncode, replayed.stdout.strip()) == (0, "3"), replayed.stderr
    assert [(path, auth) for path, auth, _ in app.posts] == [
        ("/hooks/worker-1/2", f"Bearer {TOKEN}")
    ] * 3
    assert [body[-3:] for _, _, body in app.posts] == [b" 0}", b" 1}", b" 2}"]
    assert spooled(folder) == []


def test_a_new_event_is_sent_after_those_still_waiting(port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{port}/hooks/worker-1/1"
    folder = tmp_path / "spool"
    hook(url, folder, b'{"n": "older"}')
    with App(port) as app:
        serving(app)
        hook(url, folder, b'{"n": "newer"}')  # the forward is back; no drain ran yet
        app.shutdown()
    assert [body for _, _, body in app.posts] == [b'{"n": "older"}', b'{"n": "newer"}']
    assert spooled(folder) == []


def test_with_the_app_still_out_of_reach_the_drain_keeps_every_event(
    port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{port}/hooks/worker-1/1"
    folder = tmp_path / "spool"
    hook(url, folder, b"{}")
    replayed = drain(url, folder)
    assert (replayed.returncode, replayed.stdout.strip()) == (1, "0")
    assert len(spooled(folder)) == 1
    nothing = drain(url, tmp_path / "never-spooled")
    assert (nothing.returncode, nothing.stdout.strip()) == (0, "0")


def test_an_event_the_app_refuses_is_not_sent_again(app: App, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{app.server_address[1]}/hooks/worker-1/1"
    folder = tmp_path / "spool"
    app.status = 401
    serving(app)
    done = hook(url, folder, b"{}")
    app.shutdown()
    assert b"answered 401" in done.stderr
    assert spooled(folder) == []
    assert len(app.posts) == 1


def test_a_planted_link_in_the_spool_is_never_followed(app: App, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{app.server_address[1]}/hooks/worker-1/1"
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": "not for the hook app"}')
    (folder / f"{0:020d}-1.json").symlink_to(secret)
    serving(app)
    done = hook(url, folder, b'{"n": "real"}')
    app.shutdown()
    assert b"dropped" in done.stderr
    assert [body for _, _, body in app.posts] == [b'{"n": "real"}']
    assert secret.exists()
