"""Notifications from a real run: a stalled run tells a webhook on 127.0.0.1 and a command
about each instance given up and about the stall, once each, with nothing secret."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

from claude_orchestra.testing.faults import Fault

from .conftest import KEY, Target


def test_a_stalled_run_notifies_each_instance_given_up_and_the_stall_once(
    queued_target: Target, tmp_path: Path
) -> None:
    target = queued_target
    posted: list[dict[str, object]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "notified.jsonl"
    settings = json.loads((target.config / "orchestrator.json").read_text())
    settings["notify"] = {
        "webhook": f"http://127.0.0.1:{server.server_port}/run",
        "command": f"cat >> {out}; echo >> {out}",
    }
    (target.config / "orchestrator.json").write_text(json.dumps(settings))
    target.fake.inject("fake-api", Fault.auth())  # the only key is revoked: nothing can run
    try:
        result = target.run()
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 5, result.stderr[-3000:]  # stalled
    report = target.report()
    gave_up = sorted(i["instance"] for i in report["incidents"] if i["kind"] == "gave_up")
    assert gave_up  # the run exits only once its notifications went out:
    commanded = [json.loads(line) for line in out.read_text().splitlines()]
    for values in (posted, commanded):
        assert sorted(v["instance"] for v in values if v["kind"] == "instance_gave_up") == gave_up
        assert [v["kind"] for v in values][-1] == "run_stalled"
        assert [v["kind"] for v in values].count("run_stalled") == 1
        text = json.dumps(values)
        assert KEY not in text
        assert "You are worker" not in text  # no prompt
    stalled = commanded[-1]
    assert stalled["outcome"] == "stalled"
    assert stalled["exitCode"] == 5
    assert report["config"]["notify"]["command"] == "cat ..."  # the report hides its arguments
