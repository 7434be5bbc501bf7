#!/usr/bin/env python3
"""The dashboard across a server restart, in headless Chromium (Playwright, the system's
browser).

Usage: dashboard_reconnect.py DASHBOARD_URL FIRST_COMPLETED FINAL_COMPLETED

Opens the page, waits until it counts FIRST_COMPLETED completed jobs and prints SEEN; waits
until the page shows it lost the feed and prints DISCONNECTED; then waits until it is live
again with FINAL_COMPLETED completed jobs, prints the page's counters as one JSON line and
exits 0. Exits 1 with the reason on stderr when a wait times out.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 60_000

COUNTS_JS = """() => {
  const counts = {};
  for (const key of ['pending', 'processing', 'completed', 'failed', 'redelivered']) {
    counts[key] = Number(document.querySelector(`#totals [data-count="${key}"]`).textContent);
  }
  counts.connection = document.getElementById('conn').dataset.state;
  return counts;
}"""

COMPLETED_JS = """(n) => document.getElementById('conn').dataset.state === 'live'
  && Number(document.querySelector('#totals [data-count="completed"]').textContent) === n"""


def main():
    url, first, final = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            page.wait_for_function(COMPLETED_JS, arg=first, timeout=TIMEOUT_MS)
            print("SEEN", flush=True)
            page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=TIMEOUT_MS)
            print("DISCONNECTED", flush=True)
            page.wait_for_function(COMPLETED_JS, arg=final, timeout=TIMEOUT_MS)
            page.wait_for_timeout(300)  # anything counted twice would show by now
        except Exception as error:  # a timeout: say where
            print(f"dashboard reconnect check: {error}; page shows {page.evaluate(COUNTS_JS)}", file=sys.stderr)
            sys.exit(1)
        counts = page.evaluate(COUNTS_JS)
        browser.close()
    if errors:
        print(f"page errors: {errors}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
