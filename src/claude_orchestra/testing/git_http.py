"""A git server over HTTP with Basic authentication, on 127.0.0.1, for tests of
credentials in repository URLs (``https://user:token@host/repo.git`` and the like).

It serves the bare repositories under ``root`` through git's own ``git http-backend``
(a CGI program) and refuses every request without the expected user and password::

    with GitHttpServer(root, user="x-access-token", password="s3cret") as server:
        url = server.url("origin.git", with_credentials=True)
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import final


def _backend() -> str:
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


@final
class GitHttpServer:
    """Serves ``root``'s bare repositories over smart HTTP, Basic auth required."""

    def __init__(self, root: Path, *, user: str, password: str) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.denied = 0
        """Requests refused for lack of (or wrong) credentials."""
        self.seen_authorizations: list[str] = []
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._backend = _backend()

    def url(self, repository: str, *, with_credentials: bool = False) -> str:
        """The repository's URL, with the user and password in it if asked."""
        auth = ""
        if with_credentials:
            quoted = urllib.parse.quote(self.password, safe="")
            auth = f"{urllib.parse.quote(self.user, safe='')}:{quoted}@"
        return f"http://{auth}127.0.0.1:{self._server.server_address[1]}/{repository}"

    def __enter__(self) -> GitHttpServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: GitHttpServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner = self.owner
        expected = base64.b64encode(f"{owner.user}:{owner.password}".encode()).decode()
        given = self.headers.get("Authorization", "")
        owner.seen_authorizations.append(given)
        if given != f"Basic {expected}":
            owner.denied += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(owner.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": owner.user,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        done = subprocess.run(
            [owner._backend], input=body, capture_output=True, env=env, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass
