#!/usr/bin/env python3
"""The dashboard under load, in headless Chromium (Playwright, the system's browser).

Usage: dashboard_load.py DASHBOARD_URL JOBS

Opens the page, prints READY once it is live, then waits until it counts JOBS completed
jobs. Checks that it never fell behind the feed (no `lagged` notice) and that it stays
usable: a filter by job id answers within a second, the table holds at most its window.
Prints one JSON line of measurements and exits 0; exits 1 with the reason on stderr.
"""

import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

COMPLETED_JS = """(n) => Number(document.querySelector('#totals [data-count="completed"]').textContent) === n"""


def fail(message):
    print(f"dashboard load check failed: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    url, jobs = sys.argv[1], int(sys.argv[2])
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector('#conn[data-state="live"]', timeout=30_000)
        print("READY", flush=True)
        started = time.monotonic()
        try:
            page.wait_for_function(COMPLETED_JS, arg=jobs, timeout=120_000, polling=250)
        except Exception as error:
            shown = page.evaluate("() => document.querySelector('#totals [data-count=\"completed\"]').textContent")
            fail(f"the page counted {shown} of {jobs} completed jobs ({error}); notice: {page.text_content('#notice')}")
        caught_up = time.monotonic() - started
        notice = page.text_content("#notice") or ""
        if "skipped" in notice:
            fail(f"the page fell behind the feed: {notice}")
        rows = page.locator("#job-rows tr").count()
        window = page.text_content("#jobs-info")
        # A filter on a job of the window answers quickly.
        target = str(jobs - 7)
        started = time.monotonic()
        page.fill("#filter-id", target)
        page.wait_for_function(
            "(id) => { const rows = document.querySelectorAll('#job-rows tr');"
            " return rows.length >= 1 && [...rows].every((tr) => tr.dataset.id.startsWith(id)); }",
            arg=target, timeout=5_000)
        filtered_ms = (time.monotonic() - started) * 1000
        tracked = int(page.text_content("#tracked"))
        browser.close()
    if errors:
        fail(f"page errors: {errors}")
    if rows > 200:
        fail(f"the table drew {rows} rows")
    if filtered_ms > 1000:
        fail(f"a filter took {filtered_ms:.0f} ms")
    print(json.dumps({"caught_up_s": round(caught_up, 2), "rows": rows, "window": window,
                      "filter_ms": round(filtered_ms), "tracked": tracked}), flush=True)


if __name__ == "__main__":
    main()
