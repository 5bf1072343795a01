"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).

Opens / and a project page, changes the query, and checks that the charts' tables
show the numbers of the API (which test_api.py ties to the public tables); no
console error; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PROJECT = "astroflux"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    context.close()


def _table(page, testid: str) -> dict[str, dict[str, str]]:
    """period -> {series: cell text} of a chart's number table."""
    return page.evaluate("""(testid) => {
        const table = document.querySelector(`[data-testid="${testid}"]`);
        const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent).slice(1);
        const out = {};
        for (const tr of table.querySelectorAll("tbody tr")) {
            const cells = [...tr.querySelectorAll("td")].map((td) => td.textContent);
            out[cells[0]] = Object.fromEntries(names.map((n, i) => [n, cells[i + 1]]));
        }
        return out;
    }""", testid)


def _shown(number) -> str:
    return "–" if number is None else f"{number:,}"


def test_front_page_shows_each_projects_monthly_and_weekly_installs(published, page, artifacts):
    projects = httpx.get(published.url + "/api/v1/projects", timeout=10).json()["projects"]
    page.goto(published.url + "/")
    page.wait_for_selector(".spark canvas")
    for p in projects:
        for interval in ("week", "month"):
            shown = page.text_content(f'[data-testid="{interval}ly-{p["project"]}"]')
            released = p[interval]["installs"]
            assert shown == _shown(released["installs"] if released else None)
    # Each sparkline is drawn inside its card (it used to run past the card's right edge).
    overflow = page.evaluate("""() => [...document.querySelectorAll('.spark')].map((spark) => {
        const canvas = spark.querySelector('canvas').getBoundingClientRect();
        const card = spark.closest('.card').getBoundingClientRect();
        return canvas.right - (card.right - parseFloat(getComputedStyle(spark.closest('.card')).paddingRight));
    })""")
    assert overflow and max(overflow) <= 0.5, overflow
    page.screenshot(path=artifacts / "public-index.png", full_page=True)
    assert page.problems == []


def test_project_page_redraws_for_a_new_query(published, page, artifacts):
    page.goto(f"{published.url}/projects/{PROJECT}")
    page.wait_for_selector('[data-testid="main-table"] tbody tr')
    daily = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/active-installs",
                      params={"interval": "day"}, timeout=10).json()["rows"]
    table = _table(page, "main-table")
    assert {p: v["installations"] for p, v in table.items()} == \
        {r["period_start"]: _shown(r["installs"]) for r in daily}

    # A new query: weekly, by operating system; the URL holds it, the chart redraws.
    page.select_option('select[name="interval"]', "week")
    page.select_option('select[name="breakdown"]', "os")
    page.wait_for_function("() => document.querySelector('#main-title').textContent.includes('operating system')")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=main-table] tbody tr').length < 10")
    assert "interval=week" in page.url and "breakdown=os" in page.url
    weekly = httpx.get(f"{published.url}/api/v1/projects/{PROJECT}/active-installs",
                       params={"interval": "week", "breakdown": "os"}, timeout=10).json()["rows"]
    shown = {(p, name): v for p, row in _table(page, "main-table").items()
             for name, v in row.items() if name != "95% interval" and v != "–"}
    assert shown == {(r["period_start"], r["value"]): _shown(r["installs"]) for r in weekly
                     if r["installs"] is not None}
    assert page.locator("#main-chart canvas").count() == 1
    page.screenshot(path=artifacts / "public-project-weekly-os.png", full_page=True)

    # The shared URL opens the same view.
    page.goto(page.url)
    page.wait_for_selector('[data-testid="main-table"] tbody tr')
    assert page.input_value('select[name="breakdown"]') == "os"
    assert {p for p in _table(page, "main-table")} == {r["period_start"] for r in weekly}
    assert page.problems == []


def test_project_page_is_readable_on_a_phone(published, browser, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  device_scale_factor=2, timezone_id="UTC")
    page = context.new_page()
    page.goto(f"{published.url}/projects/{PROJECT}?metric=features&interval=week")
    page.wait_for_selector("#main-chart canvas")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, "no horizontal scrolling of the page itself"
    page.screenshot(path=artifacts / "public-project-phone.png", full_page=False)
    context.close()


def test_privacy_and_datasets_pages(published, page, artifacts):
    page.goto(published.url + "/privacy")
    assert page.text_content('[data-testid="param-k"]') == str(published.k)
    page.screenshot(path=artifacts / "public-privacy.png", full_page=True)
    page.goto(published.url + "/datasets")
    assert page.locator("a[href$='.parquet']").count() > 0
    page.screenshot(path=artifacts / "public-datasets.png", full_page=True)
    assert page.problems == []
