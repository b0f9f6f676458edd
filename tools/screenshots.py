"""Take the docs' screenshots of a real run: ``docs/images/dashboard.png`` (the web dashboard
in headless Chromium) and ``docs/images/watch.svg`` (``watch`` in a 150x40 tmux terminal,
its ``capture-pane -e`` rendered by rich).

The run is the demo's: real Claude Code on the built-in fake API, three workers, the queue
scheduler and merger, replies slowed, and every reply held once the fourth task is handed
out, so that the pictures show a run mid-way. Run it from a checkout after ``make setup``::

    PYTHONPATH=. .venv/bin/python tools/screenshots.py [OUT_DIR]
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from rich.console import Console
from rich.text import Text
from tests.e2e.conftest import QUEUED_TASKS, open_target

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.fake_api import ApiRequest
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS

COLUMNS, ROWS = 150, 40


def _task(request: ApiRequest) -> object:
    tag = parse_prompt_tag(request.last_user_text or "") or {}
    return tag.get("task") if tag.get("action") == "task" else None


def _watch_svg(workspace: Path, out: Path) -> None:
    socket = f"screenshots-{time.time_ns()}"
    tmux = ["tmux", "-L", socket]
    command = f"{sys.executable} -m claude_orchestra watch --workspace {workspace}"
    subprocess.run(
        [
            *tmux,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            str(COLUMNS),
            "-y",
            str(ROWS),
            command,
        ],
        check=True,
    )
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while "Run running" not in screen or "worker-3" not in screen:  # a bounded poll:
            # a screen has no event
            if time.monotonic() > deadline:
                raise TimeoutError(screen)
            time.sleep(0.2)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "0"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        time.sleep(1.5)  # one more redraw, so the screen preview has caught up
        ansi = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-t", "0"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    console = Console(
        record=True,
        width=COLUMNS,
        force_terminal=True,
        color_system="truecolor",
        file=io.StringIO(),
    )
    console.print(Text.from_ansi(ansi.rstrip("\n")), end="")
    out.write_text(console.export_svg(title="claude-orchestra watch"))


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="orchestra-screenshots-") as tmp,
        open_target(
            Path(tmp),
            files={"TASKS.md": QUEUED_TASKS},
            workers=3,
            scheduler="queue",
            merger="queue",
            dashboard=True,
        ) as target,
    ):
        fake, workspace = target.fake, target.workspace
        fake.inject("*", Fault.slow(delay=0.15))
        run = target.start()
        try:
            fake.wait_for_request(lambda r: _task(r) == DEFAULT_TASKS[3], timeout=300)
            fake.clear_faults()
            fake.inject("*", Fault.hang())  # the turns wait while the pictures are taken
            url = (workspace / ".orchestra/instances/.host/dashboard.url").read_text().strip()
            _watch_svg(workspace, out_dir / "watch.svg")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                expect(page.locator("#instances tbody tr")).to_have_count(3, timeout=30_000)
                expect(page.locator(".screen pre").first).not_to_be_empty(timeout=30_000)
                expect(page.locator("#cost polyline.spend")).to_be_attached(timeout=30_000)
                page.screenshot(path=out_dir / "dashboard.png", full_page=True)
                browser.close()
            fake.clear_faults()
            fake.release_hangs()
            run.wait(timeout=600)
        finally:
            if run.poll() is None:  # stopped as Ctrl-C would: nothing is left running
                run.terminate()
                run.wait(timeout=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
