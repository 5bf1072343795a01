"""The notice pages in a real browser (Debian's chromium, Playwright): the home page's banner
leads to the notice, the diff is styled (its stylesheet passes the Content-Security-Policy),
a phone needs no horizontal scrolling, and no console error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from notice_helpers import admin, write

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def test_banner_notice_and_diff_in_a_browser(notices_server, tmp_path):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    seed = admin(notices_server, "policy", "show").stdout
    changed = seed.replace("IP addresses will never be shared or displayed publicly.",
                           "IP addresses will never be shared, displayed publicly, or kept longer "
                           "than the retention period of the deployment, whatever happens.")
    assert admin(notices_server, "policy", "publish", write(tmp_path / "v2.md", changed),
                 "--summary", "Retention stated.", "--material").returncode == 0
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1200, "height": 900}),
                                   ("phone", {"width": 390, "height": 844})):
                context = browser.new_context(viewport=viewport, timezone_id="UTC",
                                              is_mobile=name == "phone")
                page = context.new_page()
                problems: list[str] = []
                page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(notices_server.url + "/")
                page.click('[data-testid="latest-notice"] a[href="/notices/1"]')
                page.wait_for_url("**/notices/1")
                assert page.text_content("h1") == "Privacy policy version 2"
                page.click('a[href="/privacy/policy/v2/changes"]')
                page.wait_for_url("**/privacy/policy/v2/changes")
                added = page.locator("ins.added")
                assert added.count() == 1 and "retention period" in added.text_content()
                background = added.evaluate("e => getComputedStyle(e).backgroundColor")
                assert background == "rgb(230, 244, 234)", "notices.css is applied"
                width = page.evaluate("() => document.documentElement.scrollWidth")
                assert width <= viewport["width"], "no horizontal scrolling of the page itself"
                page.screenshot(path=artifacts / f"notices-policy-changes-{name}.png", full_page=True)
                assert problems == []
                context.close()
        finally:
            browser.close()
