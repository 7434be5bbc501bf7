#!/usr/bin/env python3
"""Drives the worker-utils dashboard in headless Chromium, with Playwright's Python package
and the system's browser (never a downloaded one).

Usage: dashboard_check.py DASHBOARD_URL ADMIN_TOKEN JOBS SCREENSHOT_PNG

Opens the page read-only, waits until it shows JOBS jobs, all terminal, prints TERMINAL,
then reads one JSON line on stdin, the quickstart's summary
({"completed":N,"failed":N,"redelivered":N,"kinds":{"permanent":N,…}}), and checks that the
page's counters equal it. Checks that the read-only page shows no admin control, asked for
nothing under /api/, and that an admin request made from it is refused. Then opens a second
page, gives it the admin token through its admin field, requeues the first dead letter
through the UI (confirming the dialog), and waits until that job's history on the page reads
PENDING -> PROCESSING -> COMPLETED or FAILED. Saves a screenshot of that page, and fails if
either page logged an error (a Content-Security-Policy violation is one). Prints OK and
exits 0 when every check passes; prints what failed on stderr and exits 1 otherwise.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 60_000

COUNTS_JS = """() => {
  const get = (sel) => Number(document.querySelector(sel).textContent);
  const counts = {};
  for (const key of ['pending', 'processing', 'completed', 'failed', 'redelivered']) {
    counts[key] = get(`#totals [data-count="${key}"]`);
  }
  counts.kinds = {};
  for (const kind of ['transient', 'permanent', 'system', 'business_logic']) {
    counts.kinds[kind] = get(`[data-kind="${kind}"] b`);
  }
  return counts;
}"""

ALL_TERMINAL_JS = """(jobs) => {
  const get = (key) => Number(document.querySelector(`#totals [data-count="${key}"]`).textContent);
  return get('completed') + get('failed') === jobs && get('pending') === 0 && get('processing') === 0;
}"""


def fail(message):
    print(f"dashboard check failed: {message}", file=sys.stderr)
    sys.exit(1)


def console(errors, message):
    # The refused admin requests this check makes on purpose are logged as failed loads;
    # anything else (a Content-Security-Policy violation, a script error) is a failure.
    if message.type == "error" and "Failed to load resource" not in message.text:
        errors.append(f"console {message.type}: {message.text}")


def watch(page, errors, requests):
    page.on("console", lambda m: console(errors, m))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))


def main():
    url, admin_token, jobs, screenshot = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        errors, requests = [], []

        # 1. The read-only page: live, every job terminal, counters equal to the summary.
        reader = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        watch(reader, errors, requests)
        reader.goto(url)
        reader.wait_for_selector('#conn[data-state="live"]', timeout=TIMEOUT_MS)
        reader.wait_for_function(ALL_TERMINAL_JS, arg=jobs, timeout=TIMEOUT_MS)
        print("TERMINAL", flush=True)
        expected = json.loads(sys.stdin.readline())
        shown = reader.evaluate(COUNTS_JS)
        for key in ["completed", "failed", "redelivered"]:
            if shown[key] != expected[key]:
                fail(f"{key}: the page shows {shown[key]}, the quickstart printed {expected[key]} ({shown})")
        for kind, count in expected["kinds"].items():
            if shown["kinds"][kind] != count:
                fail(f"failed by kind {kind}: the page shows {shown['kinds'][kind]}, the quickstart printed {count}")

        # 2. Read-only: no admin control, no admin request, and the server refuses one.
        if reader.locator("button.admin-action").count() != 0:
            fail("the read-only page shows admin buttons")
        if reader.locator("#dead-section").is_visible():
            fail("the read-only page shows the dead-letter section")
        if any("/api/" in u for u in requests):
            fail(f"the read-only page requested admin data: {[u for u in requests if '/api/' in u]}")
        status = reader.evaluate("() => fetch('/api/dead-letters').then(r => r.status)")
        if status != 401:
            fail(f"an admin request without the token got {status}, not 401")
        status = reader.evaluate(
            "() => fetch('/api/dead-letters/delete', {method: 'POST', headers: {'Content-Type': 'application/json',"
            " Authorization: 'Bearer wrong'}, body: JSON.stringify({ids: [1]})}).then(r => r.status)")
        if status != 401:
            fail(f"an admin request with a wrong token got {status}, not 401")
        reader.fill("#admin-token", "wrong-token")
        reader.click("#admin-unlock")
        reader.wait_for_function(
            "() => document.getElementById('admin-state').textContent.includes('refused')", timeout=TIMEOUT_MS)
        if reader.locator("button.admin-action").count() != 0:
            fail("a refused admin token still shows admin buttons")

        # 3. The admin page: requeue a dead letter from the UI and watch it run again.
        admin = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        watch(admin, errors, [])
        admin.goto(url)
        admin.wait_for_selector('#conn[data-state="live"]', timeout=TIMEOUT_MS)
        admin.fill("#admin-token", admin_token)
        admin.click("#admin-unlock")
        admin.wait_for_selector("#dead-rows tr", timeout=TIMEOUT_MS)
        row = admin.locator("#dead-rows tr").first
        old_id = int(row.get_attribute("data-id"))
        row.locator("button.requeue").click()
        admin.wait_for_selector("#confirm[open]", timeout=TIMEOUT_MS)
        admin.click("#confirm-ok")
        admin.wait_for_function(
            "(old) => document.getElementById('detail-title').textContent.includes(`requeued dead letter ${old}`)",
            arg=old_id, timeout=TIMEOUT_MS)
        admin.wait_for_function(
            """() => [...document.querySelectorAll('#detail-history tr')]
                 .some((tr) => tr.dataset.status === 'COMPLETED' || tr.dataset.status === 'FAILED')""",
            timeout=TIMEOUT_MS)
        history = admin.evaluate(
            "() => [...document.querySelectorAll('#detail-history tr')].map((tr) => tr.dataset.status)")
        if history[:2] != ["PENDING", "PROCESSING"] or history[-1] not in ("COMPLETED", "FAILED") or len(history) < 3:
            fail(f"the requeued job's history is {history}, not PENDING -> PROCESSING -> outcome")
        # The read-only page sees the new job too, and still has no admin control.
        reader.wait_for_function(ALL_TERMINAL_JS, arg=jobs + 1, timeout=TIMEOUT_MS)
        if reader.locator("button.admin-action").count() != 0:
            fail("the read-only page shows admin buttons after the requeue")

        admin.wait_for_timeout(600)  # one more throughput bucket and table refresh
        admin.screenshot(path=screenshot, full_page=True)
        if errors:
            fail(f"the pages logged errors: {errors}")
        browser.close()
    print(f"requeued dead letter {old_id}: {' -> '.join(history)}", file=sys.stderr)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
