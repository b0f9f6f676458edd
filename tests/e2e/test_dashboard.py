"""The web dashboard in headless Chromium (Debian's, driven by Playwright) on a real run:
the URL `run --dashboard` prints opens it, every instance is listed, the page follows the
run as hook events arrive (no reload), screens and the spend chart are drawn, and a wrong
or missing token is refused.

(The docs' screenshots come from ``tools/screenshots.py``, on a three-worker run.)"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright

from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.testing.fake_api import ApiRequest
from claude_orchestra.testing.faults import Fault
from claude_orchestra.testing.sample import DEFAULT_TASKS

from .conftest import Target, is_action, open_queued_target

WAIT = 90_000
"""Milliseconds a page may take to show what the run does (a real Claude Code turn)."""


def task_of(request: ApiRequest) -> str | None:
    tag = parse_prompt_tag(request.last_user_text or "") if is_action(request, "task") else None
    return None if tag is None else str(tag.get("task"))


def refuses_a_wrong_or_missing_token(browser: Browser, base: str, token: str) -> None:
    stranger = browser.new_page()
    wrong = stranger.goto(f"{base}?token={'x' * len(token)}")
    assert wrong is not None
    assert wrong.status == 403
    for route in ("", "events", "state", "static/dashboard.js"):
        missing = stranger.goto(base + route)
        assert missing is not None
        assert missing.status == 401, route
    assert "needs the token" in stranger.content()
    stranger.close()


def test_the_dashboard_follows_a_real_run_in_chromium(
    tmp_path: Path, claude_binary: Path, tmux_binary: str, chromium_binary: str
) -> None:
    # two rounds of tasks: the page is watched while a merge lands between them
    with open_queued_target(tmp_path, tasks=DEFAULT_TASKS) as target:
        follow_a_run(target, chromium_binary, tmp_path)


def follow_a_run(target: Target, chromium_binary: str, tmp_path: Path) -> None:
    run = target.start("--dashboard")
    try:
        target.fake.wait_for_request(lambda r: task_of(r) == DEFAULT_TASKS[0], timeout=60)
        url = (target.state("instances/.host/dashboard.url")).read_text().strip()
        base, token = url.split("?token=")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_binary)
            try:
                refuses_a_wrong_or_missing_token(browser, base, token)

                page = browser.new_page(viewport={"width": 1440, "height": 900})
                opened = page.goto(url)
                assert opened is not None
                assert opened.ok
                assert page.url == base  # the token left the address bar for a cookie
                assert token not in page.content()
                page.evaluate("window.notReloaded = true")
                expect(page.locator("#connection")).to_have_text("live", timeout=WAIT)
                expect(page.locator("#instances tbody tr")).to_have_count(2, timeout=WAIT)
                for name in ("worker-1", "worker-2"):
                    expect(page.locator(f'.screen[data-name="{name}"] pre')).to_contain_text(
                        "worker", timeout=WAIT
                    )
                # Hooks arrive as the run goes on, and the page follows them: the first
                # merge reaches the timeline and the spend chart gets its points.
                handed = target.fake.wait_for_request(
                    lambda r: task_of(r) == DEFAULT_TASKS[2], timeout=240
                )
                assert handed is not None
                target.fake.inject("*", Fault.hang())  # the turns wait while we look
                expect(page.locator('#timeline li[data-kind="merge"]').first).to_be_visible(
                    timeout=WAIT
                )
                # Whichever worker still has a turn going shows it (the one that took the
                # third task may have finished it before the hang began: the fake answers at
                # once, and this thread shares two cores with Chromium).
                working = page.locator('#instances tbody td.state[data-state="working"]')
                expect(working.first).to_have_text("working", timeout=WAIT)
                expect(page.locator("#cost polyline.spend")).to_be_attached(timeout=WAIT)
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=shot, full_page=True)  # kept with the test's files

                target.fake.clear_faults()
                target.fake.release_hangs()  # the run goes on to its end, which the page shows
                headline = page.locator("#headline")
                expect(headline).to_contain_text("Run ended: complete", timeout=240_000)
                expect(headline).to_contain_text("tasks 4/4 done")
                expect(page.locator("#connection")).to_have_text(
                    "the run has ended; this page no longer updates"
                )
                assert page.evaluate("window.notReloaded") is True
            finally:
                browser.close()
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err[-3000:]
        assert f"dashboard: {url}" in err  # `run` printed it, to the terminal only
        for log in (target.workspace / ".orchestra/logs").iterdir():
            assert token not in log.read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)
