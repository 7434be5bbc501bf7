#!/usr/bin/env python3
"""An external client for the worker-utils status server, built on Python's `websockets`.

Usage: status_client.py ws://127.0.0.1:PORT/ws

Connects, reads the snapshot up to `ready`, subscribes to the queue "py", waits for the
filtered snapshot's `ready`, prints READY on stdout, then expects three full job lifecycles
in that queue, checking the JSON of every message:
- job 1: PENDING -> PROCESSING -> COMPLETED;
- job 2: PENDING -> PROCESSING -> FAILED (permanent);
- job 3: PENDING -> PROCESSING -> PENDING (delivery 2, due later, the transient error that
  sent it back) -> PROCESSING (delivery 2) -> COMPLETED.
Exits 0 when all checks pass, 1 otherwise.
"""

import asyncio
import datetime
import json
import sys

import websockets

STATUS_KEYS = {"type", "seq", "job_id", "queue", "worker", "status", "attempt", "timestamp", "timestamp_ms"}
# Sent only when set.
OPTIONAL_KEYS = {"previous", "duration_ms", "due_at_ms", "error"}
# Per job: (status, attempt, previous) of every event, in order.
EXPECTED = {
    1: [("PENDING", 1, None), ("PROCESSING", 1, "PENDING"), ("COMPLETED", 1, "PROCESSING")],
    2: [("PENDING", 1, None), ("PROCESSING", 1, "PENDING"), ("FAILED", 1, "PROCESSING")],
    3: [
        ("PENDING", 1, None),
        ("PROCESSING", 1, "PENDING"),
        ("PENDING", 2, "PROCESSING"),
        ("PROCESSING", 2, "PENDING"),
        ("COMPLETED", 2, "PROCESSING"),
    ],
}
TIMEOUT = 20


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


async def next_json(ws):
    raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
    check(isinstance(raw, str), f"expected a text message, got {raw!r}")
    return json.loads(raw)


async def until_ready(ws):
    snapshot = []
    while True:
        message = await next_json(ws)
        if message["type"] == "ready":
            check(message["snapshot"] == len(snapshot), f"ready counts the snapshot: {message}")
            return snapshot
        check(message["type"] == "status", f"only status events before ready: {message}")
        snapshot.append(message)


def check_event(event):
    check(STATUS_KEYS <= set(event) <= STATUS_KEYS | OPTIONAL_KEYS, f"status keys: {sorted(event)}")
    check(all(event[key] is not None for key in OPTIONAL_KEYS & set(event)), f"no nulls: {event}")
    check(event["type"] == "status", "type is status")
    check(isinstance(event["seq"], int) and event["seq"] > 0, "seq is a positive integer")
    check(isinstance(event["job_id"], int), "job_id is an integer")
    check(event["queue"] == "py", "filtered to the py queue")
    check(isinstance(event["attempt"], int) and event["attempt"] >= 1, "attempt counts deliveries from 1")
    stamp = datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    check(int(stamp.timestamp() * 1000) == event["timestamp_ms"], "timestamp matches timestamp_ms")
    terminal = event["status"] in ("COMPLETED", "FAILED")
    check(("duration_ms" in event) == terminal, "duration only on terminal events")
    redelivery = event["status"] == "PENDING" and event.get("previous") == "PROCESSING"
    if event["status"] == "FAILED":
        error = event["error"]
        check(error["kind"] == "permanent", f"error kind: {error}")
        check("injected permanent failure" in error["message"], f"error message: {error}")
        check("due_at_ms" not in event, "no due time on FAILED")
    elif redelivery:
        error = event["error"]
        check(error["kind"] == "transient", f"the error that sent it back: {error}")
        check("injected transient failure" in error["message"], f"error message: {error}")
        check(event["due_at_ms"] >= event["timestamp_ms"] + 50, f"due after the 50 ms delay: {event}")
    else:
        check("error" not in event, "no error unless FAILED or redelivered")
        check("due_at_ms" not in event, "no due time unless redelivered")


async def main(url):
    async with websockets.connect(url, max_size=2**20) as ws:
        await until_ready(ws)
        await ws.send(json.dumps({"type": "subscribe", "queues": ["py"]}))
        reply = await next_json(ws)
        check(reply == {"type": "subscribed", "queues": ["py"], "job_ids": []}, f"subscribed: {reply}")
        await until_ready(ws)
        print("READY", flush=True)

        by_job = {}
        last_seq = 0
        while len([j for j, evs in by_job.items() if evs[-1]["status"] in ("COMPLETED", "FAILED")]) < 3:
            event = await next_json(ws)
            check_event(event)
            check(event["seq"] > last_seq, "seq increases")
            last_seq = event["seq"]
            by_job.setdefault(event["job_id"], []).append(event)

        check(sorted(by_job) == [1, 2, 3], f"only the py jobs: {sorted(by_job)}")
        for job, events in by_job.items():
            lifecycle = [(e["status"], e["attempt"], e.get("previous")) for e in events]
            check(lifecycle == EXPECTED[job], f"lifecycle of job {job}: {lifecycle}")
            check(all(e["worker"] == "py-worker" for e in events[1:]), f"worker of job {job}")
        print("OK", flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except CheckFailed as failure:
        print(f"CHECK FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
