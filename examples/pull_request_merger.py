"""A third-party merger: open a pull request for each worker's branch instead of merging.

    .venv/bin/python examples/pull_request_merger.py [EMPTY_FOLDER]

Select it with ``"merger": "pull-request"`` and register it, for every run through the
``claude_orchestra`` entry-point group::

    [project.entry-points.claude_orchestra]
    pull-request = "pull_request_merger:PullRequestMerger.from_environment"

or for one run: ``Orchestrator(config, plugins=[PullRequestMerger(...)])``.

When a worker finishes work, ``orchestra_merge`` answers
:class:`~claude_orchestra.MergeDelivered`: the orchestrator does not merge the branch and
does not wait for it on the run branch; the task counts as done and the worker goes on
from its branch. The plugin opens one pull request per worker branch (GitHub's REST shape:
``POST {api}/repos/{repository}/pulls``); later work on the same branch updates that pull
request by itself, so it only notes it. Hooks must not block, so each call is made from a
thread; a forge that is down costs a log line, never the run. The token comes from the
environment and is sent only as a header.

Run as a script, it does a whole run offline: the built-in fake Anthropic API, the queue
scheduler with a task file, and a local HTTP server standing in for the forge.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from claude_orchestra import (
    AuthMode,
    Credential,
    CredentialKind,
    MergeDelivered,
    MergePlan,
    OrchestraConfig,
    Orchestrator,
    RunConfig,
    RunView,
    Secret,
    WorkerFinished,
    hookimpl,
)
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin

logger = logging.getLogger(__name__)

NAME = "pull-request"
"""The strategy name to put in ``orchestrator.json``: ``"merger": "pull-request"``."""


class PullRequestMerger:
    """Delivers finished branches as pull requests."""

    def __init__(self, api_url: str, repository: str, token: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self.opened: dict[str, threading.Thread] = {}
        """Branch -> the thread that opened its pull request."""

    @classmethod
    def from_environment(cls) -> PullRequestMerger:
        """``$FORGE_API_URL`` (default GitHub's), ``$FORGE_REPOSITORY`` (``owner/name``),
        ``$FORGE_TOKEN``."""
        return cls(
            os.environ.get("FORGE_API_URL", "https://api.github.com"),
            os.environ.get("FORGE_REPOSITORY", ""),
            os.environ.get("FORGE_TOKEN"),
        )

    @hookimpl
    def orchestra_merge(self, run: RunView, finished: WorkerFinished) -> MergePlan | None:
        """Open a pull request for the branch (once), and say the work went there."""
        if run.merger != NAME:
            return None
        if finished.branch not in self.opened:
            body = {
                "title": f"{finished.branch}: work from claude-orchestra",
                "head": finished.branch,
                "base": run.run_branch,
                "body": f"{len(finished.commits)} commit(s) by {finished.instance}.",
            }
            self.opened[finished.branch] = self._post(f"repos/{self.repository}/pulls", body)
            return MergeDelivered(where=f"pull request {finished.branch} -> {run.run_branch}")
        return MergeDelivered(where=f"pull request {finished.branch} (updated)")

    def wait(self, timeout: float = 30) -> None:
        """Wait for the calls made so far (tests, and the end of the script)."""
        for thread in self.opened.values():
            thread.join(timeout)

    def _post(self, path: str, body: dict[str, Any]) -> threading.Thread:
        headers = {"Content-Type": "application/json", "Accept": "application/vnd.github+json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(  # noqa: S310 (the user's own forge)
            f"{self.api_url}/{path}", data=json.dumps(body).encode(), headers=headers
        )

        def send() -> None:
            try:
                with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                    pass
            except OSError as exc:
                logger.warning("pull request for %s: %s", body["head"], exc)

        thread = threading.Thread(target=send, name="pull-request", daemon=True)
        thread.start()
        return thread


class FakeForge(http.server.ThreadingHTTPServer):
    """A local stand-in for the forge: records every pull request asked for."""

    def __init__(self) -> None:
        self.pulls: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        super().__init__(("127.0.0.1", 0), _ForgeHandler)

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ForgeHandler(http.server.BaseHTTPRequestHandler):
    server: FakeForge

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.pulls.append(json.loads(self.rfile.read(length)))
        self.server.tokens.append(self.headers.get("Authorization", ""))
        self.send_response(201)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


TASKS = """# Tasks

- [ ] Create `greet.py` with a function that greets a person by name {#greet}
- [ ] Create `farewell.py` with a function that says goodbye
- [ ] Create `docs/usage.md` explaining `greet.py` {after: greet}
"""


def main(folder: Path) -> int:
    origin = create_origin(folder, extra_files={"TASKS.md": TASKS})
    key = f"sk-ant-example-{secrets.token_hex(12)}"
    forge = FakeForge()
    threading.Thread(target=forge.serve_forever, daemon=True).start()
    merger = PullRequestMerger(forge.url, "you/app", token=secrets.token_hex(8))
    try:
        with FakeAnthropicAPI() as fake:
            fake.register("key", key)
            credential = Credential(
                name="key",
                kind=CredentialKind.ENV,
                env={"ANTHROPIC_API_KEY": Secret(key), "ANTHROPIC_BASE_URL": fake.base_url},
            )
            config = RunConfig(
                config_dir=folder,
                orchestrator=OrchestraConfig(
                    repository_url=str(origin),
                    worker_count=2,
                    hook_server_port=0,
                    max_run_duration_minutes=10,
                    auth_mode=AuthMode.API_KEYS_ONLY,
                    scheduler="queue",
                    merger=NAME,
                ),
                credentials=(credential,),
            )
            summary = Orchestrator(config, plugins=[merger], load_entry_points=False).run_sync()
        merger.wait()
    finally:
        forge.shutdown()
        forge.server_close()
    for pull in forge.pulls:
        print(f"pull request: {pull['head']} -> {pull['base']}: {pull['title']}")
    print(f"run {summary.outcome}: {summary.tasks_done}/{summary.tasks_total} tasks delivered")
    return summary.exit_code


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    sys.exit(main(target))
